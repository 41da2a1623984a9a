"""The `triage` command: parse arguments, build the one Config, call the pipeline, render.

This is the only module that prints to the user or decides an exit status: library code raises
`TriageError`s, and `main` turns them into a one-line message and exit code 2 (usage/config)
or 1 (a failing gate, an unreachable service). Progress bars live here too, and switch off when
stderr is not a terminal so CI logs stay clean.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from triage import __version__
from triage.config import BaseFiles, Config, load
from triage.errors import GateFailed, TriageError, UsageError
from triage.gitrepo import DirTree, GitRepo, GitTree, Tree
from triage.models import PullRequest, Queue
from triage.policy import fail_on_matches
from triage.progress import pr_bar, step_bar
from triage.report.text import clean
from triage.timeutil import parse_iso8601

EXIT_OK, EXIT_USAGE = 0, 2  # gate failures exit 1 through GateFailed.exit_code


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        return parse_iso8601(value)
    except ValueError as exc:
        raise UsageError(f"--now: not an ISO-8601 date/time: {value!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Backpressure with accountability: a short, ranked, owned review queue.",
    )
    parser.add_argument("--version", action="version", version=f"pr-triage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: .triage.toml or pyproject.toml)")
    common.add_argument(
        "--llm",
        choices=("auto", "off", "on"),
        default=None,
        help="auto: use the LLM when an endpoint or key is configured (default)",
    )
    common.add_argument("--now", metavar="ISO", help="the clock for stale/age rules (default: now)")
    common.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    common.add_argument(
        "--fail-on", metavar="RULES", help="comma-separated rules or decisions that exit 1 (replaces [ci] fail_on)"
    )
    common.add_argument("--model", metavar="FILE", help="score risk with a calibrated model (replaces [risk] model)")

    run = sub.add_parser("run", parents=[common], help="triage patches, PR directories or a git range")
    run.add_argument("inputs", nargs="*", metavar="INPUT", help=".diff/.patch/.json files or directories")
    run.add_argument("--out", metavar="DIR", default="out", help="where to write queue.json/.md/.html")
    run.add_argument("--repo", metavar="DIR", help="a local git repository: history, full-file complexity")
    run.add_argument(
        "--base",
        metavar="DIR_OR_REV",
        help="the base branch: a directory snapshot, or a revision of --repo (default HEAD)",
    )
    run.add_argument("--git", metavar="BASE..HEAD", help="triage each commit of a range in --repo")
    run.add_argument("--squash", action="store_true", help="with --git: the whole range is one PR")
    run.add_argument(
        "--rows",
        type=int,
        default=None,
        metavar="N",
        help="rows of the terminal table, the head of the queue (default 50; 0: all); the files list all",
    )

    gh = sub.add_parser("github", parents=[common], help="triage all open PRs of a GitHub repository")
    gh.add_argument("--repo", required=True, metavar="OWNER/NAME")
    gh.add_argument("--apply", action="store_true", help="post comments, set labels, close (default: dry run)")
    gh.add_argument("--max-closes", type=int, default=10, metavar="N", help="close at most N PRs per run (default 10)")
    gh.add_argument("--max-writes", type=int, default=200, metavar="N", help="at most N writes per run (default 200)")
    gh.add_argument("--api-url", metavar="URL", help="GitHub API base URL (default: $GITHUB_API_URL)")
    gh.add_argument("--out", metavar="DIR", default="out")

    ci = sub.add_parser("ci", parents=[common], help="inside GitHub Actions: triage the event's PR")
    ci.add_argument("--api-url", metavar="URL", help="GitHub API base URL (default: $GITHUB_API_URL)")

    ev = sub.add_parser("eval", help="measure the risk score against lines added on labelled commits")
    ev.add_argument("--repo", required=True, metavar="DIR", help="a local clone holding the commits")
    ev.add_argument("--labels", metavar="CSV", help="commit,buggy rows (default: label the history by SZZ)")
    ev.add_argument("--model", metavar="FILE", help="score with a calibrated model file (triage calibrate)")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.add_argument("--config", metavar="FILE", help="config file (default: .triage.toml or pyproject.toml)")
    ev.add_argument("--slice", type=float, default=0.2, metavar="F", help="without --labels: newest share (0.2)")
    ev.add_argument("--issue-pattern", metavar="REGEX", help="without --labels: issue keys that mark a bug fix")
    ev.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    ev.add_argument("--workers", type=int, default=2, metavar="N", help="processes scoring commits (default 2)")
    ev.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    from triage.calibrate.cli import add_calibrate_parser

    add_calibrate_parser(sub)
    return parser


class _RevisionFiles:
    """Files at the root of one revision of a local repository: a `triage.config.BaseFiles`."""

    def __init__(self, repo: GitRepo, rev: str) -> None:
        self._repo = repo
        self._rev = rev
        self.label = f"base {rev[:12]}"

    def __call__(self, name: str) -> bytes | None:
        return self._repo.show(self._rev, name)


def _range_base_files(repo_dir: str, rev_range: str) -> _RevisionFiles | None:
    from triage.sources.git import parse_range

    try:
        repo = GitRepo(repo_dir)
        base = repo.rev_parse(parse_range(rev_range)[0])
    except TriageError:
        return None  # reported by the run itself, with the input named
    return _RevisionFiles(repo, base)


def _config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    repo_dir = getattr(args, "repo", None) if args.command == "run" else None
    fail_on = None
    if args.fail_on is not None:
        fail_on = tuple(v.strip() for v in args.fail_on.split(",") if v.strip())
    model = getattr(args, "model", None)
    base_files: BaseFiles | None = None
    if args.config is None and args.command in ("ci", "github"):
        # CI: the policy comes from the base branch, never from a working-directory file the PR
        # under review may have changed (issue 12 item 4).
        from triage.github import base_config

        base_files = (
            base_config.for_ci(environ, api_url=args.api_url)
            if args.command == "ci"
            else base_config.for_repository(environ, args.repo, api_url=args.api_url)
        )
    elif args.config is None and args.command == "run" and args.git:
        # A range is a branch judged against its base (GitLab merge request pipelines run
        # exactly this in the MR's checkout): the policy comes from the range's base revision,
        # so the branch under review cannot loosen it by editing its own .triage.toml.
        base_files = _range_base_files(args.repo or ".", args.git)
    return load(
        args.config,
        environ=environ,
        base_files=base_files,
        base_label=getattr(base_files, "label", "base branch"),
        llm_mode=args.llm,
        repo_dir=repo_dir,
        ci__fail_on=fail_on,
        risk__model=str(Path(model).absolute()) if model else None,
    )


class _CleanFormatter(logging.Formatter):
    """Warnings name PRs, paths and server messages: shown with controls made visible and
    credentials masked, like every report (`report.text.clean`)."""

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[PullRequest], None] | None]:
    """A rich progress bar on a terminal; nothing otherwise (CI logs, pipes, tests)."""
    if not enabled:
        yield None
        return
    with pr_bar(label) as advance:
        yield advance


def _inputs(args: argparse.Namespace, repo: GitRepo | None) -> Iterator[PullRequest]:
    from triage.sources import load_inputs
    from triage.sources.git import read_range

    if args.git:
        if repo is None:
            raise UsageError("--git needs --repo DIR (a local git repository)")
        yield from read_range(repo, args.git, squash=args.squash)
    if args.inputs:
        yield from load_inputs(args.inputs)


def _base_tree(args: argparse.Namespace, repo: GitRepo | None) -> Tree | None:
    base = args.base
    if args.git and base is None and repo is not None:
        base = args.git.split("..", 1)[0].rstrip(".") or None
    if base is None:
        return GitTree(repo, repo.default_base()) if repo is not None else None
    if Path(base).is_dir():
        return DirTree(base)
    if repo is None:
        raise UsageError(f"--base {base}: not a directory (a revision needs --repo)")
    return GitTree(repo, repo.rev_parse(base))


def _failing_gates(queue: Queue, cfg: Config) -> list[str]:
    """Items whose decision or reasons match `[ci] fail_on`."""
    hits = ((item.pr.id, fail_on_matches(item.decision, cfg)) for item in queue.items)
    return [f"{pid} ({', '.join(rules)})" for pid, rules in hits if rules]


def cmd_run(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from triage.metrics.history import HistoryCache
    from triage.pipeline import RunContext, run
    from triage.report import print_table, write_reports
    from triage.report.terminal import TABLE_ROWS
    from triage.sources.git import parse_range

    if not args.inputs and not args.git:
        raise UsageError("triage run: give at least one INPUT or --git BASE..HEAD")
    if args.squash and not args.git:
        raise UsageError("--squash only applies to --git BASE..HEAD")
    if args.rows is not None and args.rows < 0:
        raise UsageError(f"--rows {args.rows}: must be 0 (all) or a positive number of rows")
    cfg = _config(args, environ)
    repo = GitRepo(args.repo) if args.repo else None
    # With --git, the history log is read once from the range head: every commit's base is in it.
    tip = parse_range(args.git)[1] if args.git and repo is not None else None
    ctx = RunContext(
        now=_parse_now(args.now), base=_base_tree(args, repo), repo=repo, history_cache=HistoryCache(tip=tip)
    )
    show = not args.no_progress and sys.stderr.isatty()
    with _progress(show, "triage") as advance:
        queue = run(_inputs(args, repo), cfg, ctx, progress=advance)
    paths = write_reports(queue, Path(args.out))
    print_table(queue, console, TABLE_ROWS if args.rows is None else args.rows)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", markup=False, highlight=False)
    failing = _failing_gates(queue, cfg)
    if failing:
        raise GateFailed(f"gates configured to fail CI fired for: {'; '.join(failing)}")
    return EXIT_OK


def cmd_github(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from triage.github.batch import check_now, run_batch

    # Refused before any request, the base branch's config included.
    check_now(_parse_now(args.now) if args.now else None, apply=args.apply, real_now=datetime.now(UTC))
    cfg = _config(args, environ)
    api_url = args.api_url or environ.get("GITHUB_API_URL") or "https://api.github.com"
    show = not args.no_progress and sys.stderr.isatty()
    with _progress(show, "github") as advance:
        run_batch(
            cfg,
            args.repo,
            api_url=api_url,
            token=environ.get("GITHUB_TOKEN"),
            apply=args.apply,
            out_dir=Path(args.out),
            console=console,
            now=_parse_now(args.now) if args.now else None,
            progress=advance,
            max_closes=args.max_closes,
            max_writes=args.max_writes,
        )
    return EXIT_OK


def cmd_ci(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from triage.github.ci import run_ci

    cfg = _config(args, environ)
    env = dict(environ)
    if args.api_url:
        env["GITHUB_API_URL"] = args.api_url
    return run_ci(cfg, env, now=_parse_now(args.now) if args.now else None)


def cmd_eval(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    import json

    from triage.calibrate.evaluate import format_report, run_eval

    if args.bootstrap < 0 or args.workers < 1:
        raise UsageError("--bootstrap must be >= 0 and --workers >= 1")
    cfg = load(args.config, environ=environ, llm_mode="off", repo_dir=args.repo)
    repo = GitRepo(args.repo)
    show = not args.no_progress and sys.stderr.isatty()
    with _steps(show) as step:
        report = run_eval(
            repo,
            cfg,
            labels_path=Path(args.labels) if args.labels else None,
            model_path=Path(args.model) if args.model else None,
            newest=args.slice,
            issue_pattern=args.issue_pattern,
            rounds=args.bootstrap,
            workers=args.workers,
            progress=step,
        )
    if args.json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(format_report(report), markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


@contextmanager
def _steps(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar for (step name, done, total) callbacks; nothing when stderr is no terminal."""
    if not enabled:
        yield None
        return
    with step_bar() as step:
        yield step


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, console: Console | None = None
) -> int:
    """Entry point. Returns the exit code (the console script passes it to sys.exit)."""
    env = os.environ if environ is None else environ
    # No rich markup on the real console: paths, ids and messages carry user text, and `[/x]`
    # in an `--out` path must print as typed, not raise a MarkupError.
    out = console or Console(markup=False, highlight=False)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its usage message
        return EXIT_USAGE if exc.code else EXIT_OK
    from triage.calibrate.cli import cmd_calibrate

    handlers = {"run": cmd_run, "github": cmd_github, "ci": cmd_ci, "eval": cmd_eval, "calibrate": cmd_calibrate}
    # Library warnings (a config key ignored, a cache that cannot be used) go to stderr in the
    # same one-line shape as errors.
    warn = logging.StreamHandler(sys.stderr)
    warn.setLevel(logging.WARNING)
    warn.setFormatter(_CleanFormatter("triage: warning: %(message)s"))
    package_log = logging.getLogger("triage")
    package_log.addHandler(warn)
    try:
        return handlers[args.command](args, env, out)
    except TriageError as exc:
        print(f"triage: error: {clean(exc.format_message())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("triage: interrupted", file=sys.stderr)
        return 130
    finally:
        package_log.removeHandler(warn)


if __name__ == "__main__":
    sys.exit(main())

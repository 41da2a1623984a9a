"""The `triage` command: parse arguments, build the one Config, call the pipeline, render.

This is the only module that prints to the user or decides an exit status: library code raises
`TriageError`s, and `main` turns them into a one-line message and exit code 2 (usage/config)
or 1 (a failing gate, an unreachable service). Progress bars live here too, and switch off when
stderr is not a terminal so CI logs stay clean.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from triage import __version__
from triage.config import Config, load
from triage.errors import GateFailed, TriageError, UsageError
from triage.gitrepo import DirTree, GitRepo, GitTree, Tree
from triage.models import PullRequest, Queue
from triage.policy import fail_on_matches
from triage.timeutil import parse_iso8601

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


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

    gh = sub.add_parser("github", parents=[common], help="triage all open PRs of a GitHub repository")
    gh.add_argument("--repo", required=True, metavar="OWNER/NAME")
    gh.add_argument("--apply", action="store_true", help="post comments, set labels, close (default: dry run)")
    gh.add_argument("--max-closes", type=int, default=10, metavar="N", help="close at most N PRs per run (default 10)")
    gh.add_argument("--max-writes", type=int, default=200, metavar="N", help="at most N writes per run (default 200)")
    gh.add_argument("--api-url", metavar="URL", help="GitHub API base URL (default: $GITHUB_API_URL)")
    gh.add_argument("--out", metavar="DIR", default="out")

    ci = sub.add_parser("ci", parents=[common], help="inside GitHub Actions: triage the event's PR")
    ci.add_argument("--api-url", metavar="URL", help="GitHub API base URL (default: $GITHUB_API_URL)")

    from triage.calibrate.cli import add_calibrate_parser

    add_calibrate_parser(sub)
    return parser


def _config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    repo_dir = getattr(args, "repo", None) if args.command == "run" else None
    fail_on = None
    if args.fail_on is not None:
        fail_on = tuple(v.strip() for v in args.fail_on.split(",") if v.strip())
    model = getattr(args, "model", None)
    return load(
        args.config,
        environ=environ,
        llm_mode=args.llm,
        repo_dir=repo_dir,
        ci__fail_on=fail_on,
        risk__model=str(Path(model).absolute()) if model else None,
    )


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[object]:
    """A rich progress bar on a terminal; nothing otherwise (CI logs, pipes, tests)."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(pr: PullRequest) -> None:
            bar.update(task, advance=1, description=f"{label} {pr.id}")

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
    from triage.pipeline import RunContext, run
    from triage.report import print_table, write_reports

    if not args.inputs and not args.git:
        raise UsageError("triage run: give at least one INPUT or --git BASE..HEAD")
    if args.squash and not args.git:
        raise UsageError("--squash only applies to --git BASE..HEAD")
    cfg = _config(args, environ)
    repo = GitRepo(args.repo) if args.repo else None
    ctx = RunContext(now=_parse_now(args.now), base=_base_tree(args, repo), repo=repo)
    show = not args.no_progress and sys.stderr.isatty()
    with _progress(show, "triage") as advance:
        queue = run(_inputs(args, repo), cfg, ctx, progress=advance)  # type: ignore[arg-type]
    paths = write_reports(queue, Path(args.out))
    print_table(queue, console)
    console.print(f"wrote {', '.join(str(p) for p in paths)}")
    failing = _failing_gates(queue, cfg)
    if failing:
        raise GateFailed(f"gates configured to fail CI fired for: {'; '.join(failing)}")
    return EXIT_OK


def cmd_github(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from triage.github.batch import run_batch

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
            progress=advance,  # type: ignore[arg-type]
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


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, console: Console | None = None
) -> int:
    """Entry point. Returns the exit code (the console script passes it to sys.exit)."""
    env = os.environ if environ is None else environ
    out = console or Console()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its usage message
        return EXIT_USAGE if exc.code else EXIT_OK
    from triage.calibrate.cli import cmd_calibrate

    handlers = {"run": cmd_run, "github": cmd_github, "ci": cmd_ci, "calibrate": cmd_calibrate}
    try:
        return handlers[args.command](args, env, out)
    except TriageError as exc:
        print(f"triage: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("triage: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

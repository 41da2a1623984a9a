"""The `triage calibrate` subcommand: arguments, progress on stderr, the summary, the file.

Kept out of `triage.cli` so the main command module stays a list of subcommands; like it, this
is the only place here that prints or picks an exit status (through `TriageError`s that
`triage.cli.main` turns into one line and a code).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from triage.errors import InputError, UsageError

__all__ = ["add_calibrate_parser", "cmd_calibrate", "repo_display_name"]

DEFAULT_OUT = "triage-model.json"


def add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="learn a risk model from a repository's own history (SZZ labels, time-respecting validation)",
    )
    p.add_argument("--repo", required=True, metavar="CLONE", help="a local clone with the history to learn from")
    p.add_argument("--until", metavar="DATE|REV", help="only history up to this date (ISO 8601) or revision")
    p.add_argument("--out", metavar="FILE", default=DEFAULT_OUT, help=f"model file to write (default {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="write the model even when it does not beat lines added")
    p.add_argument(
        "--issue-pattern", metavar="REGEX", help="tracker issue keys, e.g. 'ZOOKEEPER-\\d+' (a fix must name one)"
    )
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: one per core)")
    p.add_argument(
        "--validation", type=float, default=0.2, metavar="FRACTION", help="newest share held out (default 0.2)"
    )
    p.add_argument(
        "--prior",
        choices=("default", "zero"),
        default="default",
        help="shrink the fit toward the default weights (default: measured to rank better) or toward zero",
    )
    p.add_argument("--name", metavar="NAME", help="repository name recorded in the model (default: origin or dir)")
    p.add_argument("--config", metavar="FILE", help="config file (classification rules)")
    p.add_argument("--no-progress", action="store_true", help="no progress on stderr")


_USERINFO = re.compile(r"//[^/@]*@")


def repo_display_name(repo_path: Path, origin: str | None) -> str:
    """The repository's name for the model file: its origin URL without credentials, else its
    directory name."""
    if origin:
        clean = _USERINFO.sub("//", origin.strip()).removesuffix(".git").rstrip("/")
        tail = "/".join(clean.replace(":", "/").split("/")[-2:])
        if tail:
            return tail[:200]
    name = repo_path.name
    if name in ("repo", ".git") or name.endswith(".git"):
        name = f"{repo_path.parent.name}/{name}".removesuffix(".git")
    return name[:200]


@contextmanager
def _progress(mode: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich bar on a terminal, a line per tenth in a log, nothing with --no-progress."""
    if mode == "off":
        yield None
        return
    if mode == "lines":
        shown: dict[str, int] = {}

        def line(stage: str, done: int, total: int) -> None:
            tenth = (10 * done) // total if total else 10
            if shown.get(stage, -1) < tenth:
                shown[stage] = tenth
                print(f"calibrate: {stage} {done}/{total}", file=sys.stderr, flush=True)

        yield line
        return
    from triage.progress import step_bar

    with step_bar() as update:
        yield update


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write the model atomically: a reader never sees half a file."""
    text = json.dumps(data, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def cmd_calibrate(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from triage.calibrate.fit import ModelRejected
    from triage.calibrate.run import calibrate
    from triage.config import load
    from triage.gitrepo import GitRepo
    from triage.metrics.risk_model import describe

    if not 0.05 <= args.validation <= 0.5:
        raise UsageError(f"--validation {args.validation}: must be between 0.05 and 0.5")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    if args.issue_pattern:
        try:
            re.compile(args.issue_pattern)
        except re.error as exc:
            raise UsageError(f"--issue-pattern {args.issue_pattern!r}: not a regular expression ({exc})") from exc
    cfg = load(args.config, environ=environ, llm_mode="off")
    repo = GitRepo(args.repo)
    origin = None
    try:
        origin = repo.git("config", "--get", "remote.origin.url").decode("utf-8", "replace").strip() or None
    except InputError:  # no origin configured: the directory name will do
        origin = None
    name = args.name or repo_display_name(repo.path, origin)
    mode = "off" if args.no_progress else ("bar" if sys.stderr.isatty() else "lines")
    with _progress(mode) as progress:
        cal = calibrate(
            repo,
            cfg,
            repo_name=name,
            until=args.until,
            issue_pattern=args.issue_pattern,
            workers=args.jobs,
            validation_fraction=args.validation,
            progress=progress,
            prior=args.prior == "default",
        )
    r = cal.result
    t = r.model.training
    v = r.model.validation
    console.print(
        f"window: {cal.commits_in_window} commits up to {cal.window.rev[:12]}"
        + (f" (until {cal.window.label})" if cal.window.label else "")
        + f"; {cal.fixes} fix commits, {t.buggy} of {t.commits} measured commits fix-inducing",
        markup=False,
        highlight=False,
    )
    console.print(
        f"time: labelling {cal.seconds_labelling:.1f} s, measuring {cal.seconds_mining:.1f} s "
        f"({cal.workers} workers), fitting {cal.seconds_fitting:.1f} s"
        f" (CPU {cal.cpu_labelling:.1f} s, {cal.cpu_mining:.1f} s, {cal.cpu_fitting:.1f} s)"
        + (f"; {len(cal.unmeasured)} commits could not be measured" if cal.unmeasured else ""),
        markup=False,
        highlight=False,
    )
    gain = (
        f"{r.validation_auc - r.lines_added_auc:+.3f}"
        if r.validation_auc is not None and r.lines_added_auc is not None
        else "n/a"
    )
    console.print(
        f"validation on the newest {r.validation_commits} commits ({v.first[:10]} .. {v.last[:10]}, "
        f"{r.validation_buggy} fix-inducing) in {len(r.folds)} forward fold(s): model AUC "
        f"{_auc(r.validation_auc)} vs lines added {_auc(r.lines_added_auc)} (gain {gain}, fold means); "
        f"{r.vocabulary} tokens, C={r.regularisation}" + (", time-adjusted" if r.time_adjusted else ""),
        markup=False,
        highlight=False,
    )
    for f in r.folds:
        console.print(
            f"  fold {f.first[:10]} .. {f.last[:10]}: {f.commits} commits, {f.buggy} fix-inducing, "
            f"model {f.auc:.3f} vs lines added {f.lines_added_auc:.3f}",
            markup=False,
            highlight=False,
        )
    out = Path(args.out)
    if not r.beats_lines_added:
        why = (
            "cannot be validated (the validation slice holds one class only)"
            if r.validation_auc is None or r.lines_added_auc is None
            else f"does not beat lines added on the validation folds ({_auc(r.validation_auc)} "
            f"<= {_auc(r.lines_added_auc)})"
        )
        if not args.force:
            raise ModelRejected(f"the calibrated model {why}; {out} not written (--force writes it anyway)")
        print(f"triage: warning: the calibrated model {why}; writing it because of --force", file=sys.stderr)
    _write(out, r.model.to_dict())
    console.print(f"wrote {out}: {describe(r.model)}", markup=False, highlight=False)
    return 0

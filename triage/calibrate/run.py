"""`triage calibrate`: a repository's own history -> a validated risk model.

    window  ->  SZZ labels (triage.calibrate.szz)  ->  features per commit (features.mine)
            ->  fit + time-respecting validation (fit.fit)  ->  the caller writes the JSON

The window is the history reachable from `--until REV`, or from HEAD up to `--until DATE`;
nothing after it is read, so a model can be calibrated "as of" a date and evaluated on what
came later. Progress goes to a callback (the CLI draws it on stderr); this module prints
nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from triage.calibrate.features import CommitFeatures, default_workers, mine, read_log
from triage.calibrate.fit import FitResult, fit
from triage.calibrate.szz import label_history
from triage.config import Config
from triage.errors import UsageError
from triage.gitrepo import GitRepo
from triage.kvstore import CACHE_FILE, KVStore
from triage.timeutil import parse_iso8601

__all__ = ["Calibration", "Window", "calibrate", "resolve_window"]

StageProgress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, slots=True)
class Window:
    rev: str  # the resolved commit the history is read from
    until: datetime | None  # commits authored after this are left out
    label: str | None  # what the user gave, for the model file


def resolve_window(repo: GitRepo, until: str | None) -> Window:
    """`--until` as a date (ISO 8601) or a revision; neither is a one-line usage error."""
    if not until:
        return Window(repo.rev_parse("HEAD"), None, None)
    text = until.strip()
    if len(text) >= 10 and text[:4].isdigit() and text[4] == "-":
        try:
            when = parse_iso8601(text if "T" in text else f"{text}T23:59:59Z")
        except ValueError as exc:
            raise UsageError(f"--until {until!r}: not an ISO-8601 date nor a revision") from exc
        return Window(repo.rev_parse("HEAD"), when, text)
    if not repo.has_revision(text):
        raise UsageError(f"--until {until!r}: not an ISO-8601 date nor a revision of the repository")
    return Window(repo.rev_parse(text), None, text)


@dataclass(frozen=True, slots=True)
class Calibration:
    result: FitResult
    window: Window
    commits_in_window: int
    fixes: int
    mined: int
    unmeasured: tuple[str, ...]  # "sha: why", for commits that could not be measured
    seconds_labelling: float
    seconds_mining: float
    seconds_fitting: float
    workers: int
    # CPU seconds (user + system) of each stage, this process and the processes it started and
    # waited for (git, the measuring workers): what the stage cost, whatever else ran alongside.
    cpu_labelling: float = 0.0
    cpu_mining: float = 0.0
    cpu_fitting: float = 0.0


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _label(
    repo: GitRepo, cfg: Config, window: Window, issue_pattern: str | None, progress: StageProgress | None
) -> tuple[dict[str, bool], int]:
    """SZZ labels of the window's commits, and how many fixes they rest on. Blame outcomes
    are kept in the tool's cache (`[cache]`): calibrating again, or up to a later date, blames
    only the fixes not seen before."""
    with blame_store(cfg) as store:
        result = label_history(
            repo,
            rev=window.rev,
            until=window.until,
            issue_pattern=issue_pattern,
            progress=None if progress is None else (lambda done, total: progress("labelling", done, total)),
            cache=store,
        )
    return {c.sha: c.buggy for c in result.commits}, result.fixes


@contextlib.contextmanager
def blame_store(cfg: Config) -> Iterator[KVStore | None]:
    """The tool's cache of SZZ blame outcomes (`[cache]`), shared by `calibrate` and `eval`;
    None when the cache is off or cannot be opened. Closed before the measuring stage starts
    its workers."""
    store = KVStore(Path(cfg.cache.dir).expanduser() / CACHE_FILE, "szz-blame") if cfg.cache.enabled else None
    try:
        yield store if store is not None and store.available else None
    finally:
        if store is not None:
            store.close()


def calibrate(
    repo: GitRepo,
    cfg: Config,
    *,
    repo_name: str,
    until: str | None = None,
    issue_pattern: str | None = None,
    labels: Mapping[str, bool] | None = None,
    workers: int | None = None,
    validation_fraction: float = 0.2,
    progress: StageProgress | None = None,
    prior: bool = True,
) -> Calibration:
    """Label (unless `labels` are given), mine and fit. Raises `ModelRejected` when there is
    too little to fit; the caller decides what to do with a model that does not beat lines added."""
    window = resolve_window(repo, until)
    t0, c0 = time.monotonic(), _cpu()
    fixes = 0
    if labels is None:
        labels, fixes = _label(repo, cfg, window, issue_pattern, progress)
    t1, c1 = time.monotonic(), _cpu()
    log = read_log(repo, window.rev)
    if window.until is not None:
        cutoff = window.until.timestamp()
        log = [c for c in log if c.time <= cutoff]
    n = workers or default_workers()
    rows: list[CommitFeatures] = mine(
        repo,
        log,
        [c.commit.sha for c in log if c.commit.sha in labels],
        cfg,
        workers=n,
        progress=(lambda done, total: progress("measuring", done, total)) if progress else None,
    )
    t2, c2 = time.monotonic(), _cpu()
    if progress:
        progress("fitting", 0, 1)
    result = fit(
        rows,
        labels,
        repo_name=repo_name,
        rev=window.rev,
        until=window.label,
        validation_fraction=validation_fraction,
        prior=prior,
    )
    t3, c3 = time.monotonic(), _cpu()
    if progress:
        progress("fitting", 1, 1)
    return Calibration(
        result=result,
        window=window,
        commits_in_window=len(log),
        fixes=fixes,
        mined=len(rows),
        unmeasured=tuple(f"{r.sha[:12]}: {r.error}" for r in rows if r.error),
        seconds_labelling=t1 - t0,
        seconds_mining=t2 - t1,
        seconds_fitting=t3 - t2,
        workers=n,
        cpu_labelling=c1 - c0,
        cpu_mining=c2 - c1,
        cpu_fitting=c3 - c2,
    )

"""Mine a repository's history into one feature row per commit: what `triage calibrate` fits.

Input: a `GitRepo`, a revision, and the commits to describe; output: `CommitFeatures`, oldest
first. Each commit is measured exactly as `triage run --repo R --git C^..C` measures it (as
`bench/jit_eval.py` does): its diff against the first parent, parsed and measured by the
pipeline's own `parse_diff` and `measure`, contents read at the parent and at the commit, the
default risk model's factors computed by `assess_risk`. Their raw values are the numeric
features; the tokens of the change (`risk_model.change_tokens`) are the content signal.

Cost, which is what decides whether a 10,000-commit history fits in minutes:

* ONE `git log --topo-order --reverse --name-only` walk gives every commit's metadata and files.
  The history metrics (AGE, NUC, NDEV, EXP, SEXP) are computed from it with prefix arrays, in
  O(log n) per file, instead of one `git log` per parent as a batch of `triage run`s would read.
  "History at the parent" is the commits before it in that topological order: all of its
  ancestors come first, none of its descendants do. On a linear history this is exactly the
  parent's log (a test checks it against `metrics.history.file_history`); on a branchy one a
  few commits of parallel branches count as well.
* The per-commit work (its diff, blob reads, tree-sitter) runs in a process pool, one worker
  per core (started by a fork server); the log and its index reach each worker once, through
  the pool's initializer, not per task. A task's
  diffs come from one `git diff-tree --stdin` process (`GitRepo.commit_diffs`), the same bytes as
  `triage run --git` reads one process per commit for; blobs from one `cat-file --batch` per
  worker.
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from triage.classify import GitAttributes, unquote_c_path
from triage.config import Config
from triage.diff import parse_diff
from triage.gitrepo import _GIT_ENV, GitRepo, stop_process
from triage.metrics import measure
from triage.metrics.risk import assess_risk
from triage.metrics.risk_model import NUMERIC_FEATURES, change_tokens, numeric_raws
from triage.models import ChangeType, FileDiff, FileHistory, History, PullRequest
from triage.sources.git import _PATCH_ARGS, Commit, _commit_pr
from triage.timeutil import parse_iso8601_or_none

__all__ = ["CommitFeatures", "HistoryIndex", "mine", "read_log"]

Progress = Callable[[int, int], None]  # (done, total)
_TASK_COMMITS = 16
_TASKS_PER_WORKER = 4
# The local part of an e-mail, without GitHub's numeric noreply prefix: matched against logins.
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[^@]+)@")
_MAX_TOKENS_PER_COMMIT = 4000  # distinct tokens kept per commit: a vendored dump must not flood the pipe


@dataclass(frozen=True, slots=True)
class CommitFeatures:
    """One commit, measured: the numeric inputs (in `NUMERIC_FEATURES` order), its tokens, and
    its added lines over all files (the datasets' LA, the baseline to beat). `error` is why a
    commit could not be measured; such rows are left out of the fit."""

    sha: str
    time: int
    numeric: tuple[float, ...] = ()
    tokens: tuple[tuple[str, int], ...] = ()
    lines_added: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedCommit:
    commit: Commit
    time: int  # author time, seconds
    files: tuple[str, ...]  # paths as `--no-renames --name-only` lists them
    email: str  # mailmapped, lower-cased
    name: str  # mailmapped, case-folded


# %aE/%aN (mailmap applied) are what the history metrics match authors by, as HistoryCache does;
# %an/%ae are what the PR record carries, as `triage run --git` reads them.
_FORMAT = "%x1e%H%x1f%h%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cI%x1f%at%x1f%aE%x1f%aN%x1f%B%x1f"


_RECORD = re.compile("\x1e(?=(?:[0-9a-f]{40}|[0-9a-f]{64})\x1f)")


def read_log(repo: GitRepo, rev: str) -> list[LoggedCommit]:
    """The one history walk: every non-merge commit reachable from `rev`, oldest first."""
    raw = repo.git(
        "-c",
        "core.quotePath=true",
        "log",
        "--topo-order",
        "--reverse",
        "--no-merges",
        "--no-renames",
        f"--format={_FORMAT}",
        "--name-only",
        rev,
        "--",
    ).decode("utf-8", "replace")
    out: list[LoggedCommit] = []
    # A record starts at the separator *followed by a commit id*: a message may hold 0x1e itself.
    for record in _RECORD.split(raw):
        parts = record.split("\x1f", 10)
        if len(parts) != 11:
            continue
        sha, short, parents, name, email, authored, committed, at, mailmap_email, mailmap_name, rest = parts
        message, _, names = rest.rpartition("\x1f")
        if not at.strip().isdigit():
            continue
        commit = Commit(
            sha=sha,
            short=short,
            parents=tuple(parents.split()),
            author_name=name,
            author_email=email,
            authored=parse_iso8601_or_none(authored),
            committed=parse_iso8601_or_none(committed),
            subject=message.strip("\n").split("\n", 1)[0],
            message=message.strip("\n"),
        )
        files = tuple(unquote_c_path(line) for line in names.split("\n") if line.strip())
        out.append(LoggedCommit(commit, int(at), files, mailmap_email.strip().lower(), mailmap_name.strip().casefold()))
    return out


def _area(path: str) -> str:
    return path.partition("/")[0] if "/" in path else "."


class HistoryIndex:
    """Prefix arrays over the log: the history metrics of any commit from its position.

    Per path: positions of the commits that touched it, the running maximum of their times and
    the running count of distinct authors. Per author key (e-mail, name, e-mail local part):
    positions. Everything is built once, read-only afterwards.
    """

    def __init__(self, log: Sequence[LoggedCommit]) -> None:
        self.times = [c.time for c in log]
        self.areas = [frozenset(_area(p) for p in c.files) for c in log]
        positions: dict[str, list[int]] = defaultdict(list)
        last: dict[str, list[int]] = defaultdict(list)
        authors: dict[str, list[int]] = defaultdict(list)
        seen: dict[str, set[str]] = defaultdict(set)
        self.by_email: dict[str, list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_local: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(log):
            email, name = c.email, c.name
            key = email or name
            for path in c.files:
                positions[path].append(i)
                prev = last[path][-1] if last[path] else c.time
                last[path].append(max(prev, c.time))
                seen[path].add(key)
                authors[path].append(len(seen[path]))
            self.by_email[email].append(i)
            self.by_name[name].append(i)
            local = _NOREPLY.match(email)
            if local:
                self.by_local[local.group("login")].append(i)
        self.positions = dict(positions)
        self.last = dict(last)
        self.authors = dict(authors)

    def history(self, position: int, pr: PullRequest, files: Sequence[FileDiff], subsystems: Sequence[str]) -> History:
        """What `file_history(pr, files, subsystems, log at the parent)` gives, from the index."""
        ref_ts = pr.created_at.timestamp() if pr.created_at is not None else self._newest(position)
        per_file: list[FileHistory] = []
        for f in files:
            path = None if f.change is ChangeType.ADDED else (f.old_path or f.path)
            hits = self.positions.get(path, []) if path else []
            n = bisect.bisect_left(hits, position)
            if n == 0 or path is None:
                per_file.append(FileHistory(path=f.path, age_days=None, prior_changes=0, authors=0))
                continue
            last = self.last[path][n - 1]
            age = None if ref_ts is None else round(max(0.0, (ref_ts - last) / 86400.0), 3)
            per_file.append(FileHistory(path=f.path, age_days=age, prior_changes=n, authors=self.authors[path][n - 1]))
        email = pr.author_email.strip().lower() if pr.author_email else ""
        name = pr.author.strip().casefold() if pr.author else ""
        login = pr.author.strip().lower() if pr.author and " " not in pr.author.strip() else ""
        mine: set[int] = set()
        for key, table in ((email, self.by_email), (name, self.by_name), (login, self.by_local)):
            if key:
                hits = table.get(key, [])
                mine.update(hits[: bisect.bisect_left(hits, position)])
        areas = set(subsystems)
        sexp = sum(1 for i in mine if self.areas[i] & areas)
        return History(files=tuple(per_file), author_changes=len(mine), author_subsystem_changes=sexp)

    def _newest(self, position: int) -> float | None:
        return float(max(self.times[:position])) if position else None


class BlobReader:
    """File contents at any revision through one long-lived `git cat-file --batch`: a blob
    read costs a pipe round trip instead of a process start (the miner reads about ten per
    commit). A path the line protocol cannot carry (a newline in it) falls back to
    `GitRepo.show`."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._proc: subprocess.Popen[bytes] | None = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["git", "-C", str(self.repo.path), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **_GIT_ENV},
            )
        return self._proc

    def read(self, rev: str, path: str) -> bytes | None:
        if "\n" in path or "\r" in path:
            return self.repo.show(rev, path)
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{rev}:{path}\n".encode("utf-8", "surrogateescape"))
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) != 3 or not header[2].isdigit():
            return None  # "<spec> missing" / "ambiguous"
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after the contents
        return data if header[1] == b"blob" else None

    def close(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, timeout=2)
            self._proc = None


class _BatchTree:
    """A revision read through a `BlobReader` (the `Tree` protocol)."""

    def __init__(self, reader: BlobReader, rev: str) -> None:
        self.reader = reader
        self.rev = rev

    def read(self, path: str) -> bytes | None:
        return self.reader.read(self.rev, path)


# Worker state, set by the pool's initializer (read-only; sent once per worker). The blob
# reader is per process: each worker starts its own on first use.
_state: tuple[GitRepo, Config, Sequence[LoggedCommit], HistoryIndex] | None = None
_reader: BlobReader | None = None


def _blob_reader(repo: GitRepo) -> BlobReader:
    global _reader
    if _reader is None or _reader.repo is not repo:
        _reader = BlobReader(repo)
    return _reader


def _measure_one(position: int, patch: bytes | None = None) -> CommitFeatures:
    assert _state is not None
    repo, cfg, log, index = _state
    entry = log[position]
    commit = entry.commit
    try:
        parent = commit.parents[0]
        pr = _commit_pr(repo, commit, patch)
        reader = _blob_reader(repo)
        base = _BatchTree(reader, parent)
        attrs_data = base.read(".gitattributes")
        attributes = GitAttributes.from_text(attrs_data.decode("utf-8", "replace")) if attrs_data else None
        diff = parse_diff(pr.diff, classify=cfg.classify, attributes=attributes)
        metrics = measure(pr, diff, cfg, before=base, after=_BatchTree(reader, commit.sha))
        counted = tuple(f for f in diff.files if f.kind.counts) or diff.files
        history = index.history(position, pr, counted, metrics.subsystems)
        from dataclasses import replace

        metrics = replace(metrics, history=history)
        risk = assess_risk(pr, diff, metrics)
        raws = numeric_raws(risk.factors)
        tokens = change_tokens(pr, diff).most_common(_MAX_TOKENS_PER_COMMIT)
        return CommitFeatures(
            sha=commit.sha,
            time=entry.time,
            numeric=tuple(float(raws.get(name, 0.0)) for name in NUMERIC_FEATURES),
            tokens=tuple(tokens),
            lines_added=sum(f.added for f in diff.files),
        )
    except Exception as exc:  # one unreadable commit must not stop a 10,000-commit mining run
        return CommitFeatures(sha=commit.sha, time=entry.time, error=f"{type(exc).__name__}: {exc}")


def _init_worker(state: tuple[GitRepo, Config, Sequence[LoggedCommit], HistoryIndex] | None) -> None:
    global _state
    _state = state


def _measure_batch(positions: tuple[int, ...]) -> list[CommitFeatures]:
    """A task's commits, their diffs read by one `git diff-tree --stdin` process (a commit it
    could not answer reads its own, as `triage run` does, which records git's error)."""
    assert _state is not None
    repo, _, log, _ = _state
    # The commits of the log have one parent (merges are left out), so the diff against their
    # parents is the diff against the first one: the bytes `triage run --git` reads.
    diffs = repo.commit_diffs((log[p].commit.sha for p in positions), _PATCH_ARGS)
    return [_measure_one(p, d) for p, d in zip(positions, diffs, strict=True)]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def mine(
    repo: GitRepo,
    log: Sequence[LoggedCommit],
    wanted: Sequence[str] | None,
    cfg: Config,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[CommitFeatures]:
    """Features of the commits of `log` whose sha is in `wanted` (all when None), oldest first.
    Root commits are skipped (no parent to diff against); merges are not in the log."""
    global _state
    want = None if wanted is None else set(wanted)
    todo = [i for i, c in enumerate(log) if c.commit.parents and (want is None or c.commit.sha in want)]
    index = HistoryIndex(log)
    _state = (repo, cfg, log, index)
    n = workers or default_workers()
    out: list[CommitFeatures] = []
    try:
        for row in _stream(todo, n):
            out.append(row)
            if progress:
                progress(len(out), len(todo))
    finally:
        _state = None
        if _reader is not None:
            _reader.close()
    return out


def _stream(todo: list[int], workers: int) -> Iterator[CommitFeatures]:
    tasks = [tuple(todo[i : i + _TASK_COMMITS]) for i in range(0, len(todo), _TASK_COMMITS)]
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield from _measure_batch(task)
        return
    # forkserver, not fork: a forked worker would inherit this process's threads' locks (a
    # progress bar's refresh thread) and the pipes of its `git cat-file` processes, whose stdin
    # then never closes, so closing one of them waited forever (seen as a hung calibration).
    # The state travels once per worker, not per task.
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(_state,)) as pool:
        window: list[Future[list[CommitFeatures]]] = []
        pending = iter(tasks)
        for task in pending:
            window.append(pool.submit(_measure_batch, task))
            if len(window) >= workers * _TASKS_PER_WORKER:
                yield from window.pop(0).result()
        for future in window:
            yield from future.result()

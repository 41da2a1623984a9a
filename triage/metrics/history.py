"""Git history of the changed files and of the author: the history and experience metrics of
just-in-time defect prediction (Kamei et al. 2013, after Mockus & Weiss 2000).

Per changed file: AGE (days since its last change before the PR's base), NUC (earlier commits
that touched it) and NDEV (distinct authors of those commits). Per author: EXP (their earlier
commits in the repository) and SEXP (their earlier commits touching the subsystems this PR
touches). Authors are matched by e-mail, by name, or by a GitHub login equal to the local part
of a commit e-mail (`login@...`, `12345+login@users.noreply.github.com`).

Cost: ONE `git log --topo-order --name-only` per repository for a whole batch, read from the
newest revision the batch needs (the range head of `--git`, else HEAD) and parsed once into a
`SharedLog`. A PR based on an older commit gets a `RepoLog` *view* of it: the commits reachable
from its base, as a bit mask over log positions. Ancestry is computed exactly by walking parent
links from the base until the walk meets a base already computed (a `--git` range lists
parents before children, so each walk is a step or two), which keeps a 2,500-commit batch to one
log read and linear time instead of one log read per base commit (quadratic time and memory).
Counts are popcounts of mask intersections (author, subsystem), so per PR they cost a few
machine-word operations per 64 commits instead of a Python loop over the history.

The `HistoryCache` that holds all of this is passed in explicitly (no module-level state) and is
bounded: at most `max_logs` shared logs and `max_views` views, least recently used evicted. The
log is capped at `max_commits` commits from its tip: on very old repositories the metrics then
describe recent history, which is what matters for AGE and experience anyway.
"""

from __future__ import annotations

import re
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from triage.classify import unquote_c_path
from triage.errors import InputError
from triage.gitrepo import GitRepo
from triage.metrics.size import subsystem_of
from triage.models import ChangeType, FileDiff, FileHistory, History, PullRequest

__all__ = [
    "DEFAULT_MAX_COMMITS",
    "HistoryCache",
    "RepoLog",
    "SharedLog",
    "base_revision",
    "file_history",
    "parse_log",
]

DEFAULT_MAX_COMMITS = 50_000
DEFAULT_MAX_LOGS = 2
DEFAULT_MAX_VIEWS = 512
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[^@]+)@")
# %H sha and parents, author time, e-mail, name; records start with RS, fields end with US.
LOG_FORMAT = "%x1e%H %P%x1f%at%x1f%aE%x1f%aN"


@dataclass(frozen=True, slots=True)
class _Commit:
    time: int
    email: str  # lower-cased
    name: str  # case-folded
    files: tuple[str, ...]


def _mask(positions: Iterable[int], size: int) -> int:
    """A bit mask with the given positions set (built in a bytearray: shifting a Python int
    per bit would copy the whole number each time)."""
    buf = bytearray((size + 7) // 8)
    for p in positions:
        buf[p >> 3] |= 1 << (p & 7)
    return int.from_bytes(buf, "little")


K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small least-recently-used dict: every cache here is bounded."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


class SharedLog:
    """One parsed `git log --topo-order` of a tip revision, merges included (they carry the
    ancestry) but never counted. Position 0 is the tip; parents come after their children.

    Times are author times (`%at`): they survive rebases, so a file's age does not reset when
    someone rebases an old branch.
    """

    def __init__(self, raw: str) -> None:
        self.positions: dict[str, int] = {}
        parent_shas: list[tuple[str, ...]] = []
        self.times = array("q")
        self.emails: list[str] = []
        self.names: list[str] = []
        self.files: list[tuple[str, ...]] = []
        self.merges: set[int] = set()
        by_path: dict[str, list[int]] = {}
        by_area: dict[str, list[int]] = {}
        by_email: dict[str, list[int]] = {}
        by_name: dict[str, list[int]] = {}
        by_login: dict[str, list[int]] = {}
        strings: dict[str, str] = {}
        for record in raw.split("\x1e"):
            header, _, rest = record.partition("\n")
            parts = header.split("\x1f")
            if len(parts) != 4 or not parts[1].strip().isdigit():
                continue
            shas = parts[0].split()
            if not shas:
                continue
            pos = len(self.emails)
            self.positions[shas[0]] = pos
            parent_shas.append(tuple(shas[1:]))
            email = strings.setdefault(parts[2].strip().lower(), parts[2].strip().lower())
            name = strings.setdefault(parts[3].strip().casefold(), parts[3].strip().casefold())
            self.times.append(int(parts[1]))
            self.emails.append(email)
            self.names.append(name)
            if len(shas) > 2:
                self.merges.add(pos)
                self.files.append(())
                continue
            paths = (unquote_c_path(line) for line in rest.split("\n") if line.strip())
            files = tuple(strings.setdefault(path, path) for path in paths)
            self.files.append(files)
            for path in files:
                by_path.setdefault(path, []).append(pos)
            for area in {subsystem_of(path) for path in files}:
                by_area.setdefault(area, []).append(pos)
            if email:
                by_email.setdefault(email, []).append(pos)
                m = _NOREPLY.match(email)
                if m:
                    by_login.setdefault(m.group("login"), []).append(pos)
            if name:
                by_name.setdefault(name, []).append(pos)
        self.size = len(self.emails)
        # Parents outside the log (beyond max_commits) are simply not there: history stops.
        self.parents: list[tuple[int, ...]] = [
            tuple(self.positions[s] for s in ps if s in self.positions) for ps in parent_shas
        ]
        self.by_path = {p: array("i", v) for p, v in by_path.items()}
        self._by_area = {a: array("i", v) for a, v in by_area.items()}
        self._by_email = {k: array("i", v) for k, v in by_email.items()}
        self._by_name = {k: array("i", v) for k, v in by_name.items()}
        self._by_login = {k: array("i", v) for k, v in by_login.items()}
        # Whether the log reached the root commits (not cut at max_commits): only then is
        # ancestry answered here exact for every commit in it.
        self.complete = False
        self._merge_mask: int | None = None
        self._ancestors: Lru[int, int] = Lru(DEFAULT_MAX_VIEWS)
        self._author_masks: Lru[tuple[str | None, str | None, str | None], int] = Lru(1024)
        self._area_masks: Lru[str, int] = Lru(1024)

    def __contains__(self, sha: str) -> bool:
        return sha in self.positions

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is reachable from `descendant` (itself included); both in the log."""
        return bool((self.ancestors(self.positions[descendant]) >> self.positions[ancestor]) & 1)

    def count_between(self, base: str, head: str) -> int:
        """Non-merge commits reachable from `head` and not from `base` (what `git rev-list
        --count --no-merges base..head` answers); both in the log."""
        only = self.ancestors(self.positions[head]) & ~self.ancestors(self.positions[base])
        if self._merge_mask is None:
            self._merge_mask = _mask(self.merges, self.size)
        return only.bit_count() - (only & self._merge_mask).bit_count()

    def ancestors(self, pos: int) -> int:
        """Bit mask of the commits reachable from `pos` (itself included), exactly: a walk over
        parent links that stops at commits already covered by a mask computed before."""
        cached = self._ancestors.get(pos)
        if cached is not None:
            return cached
        covered = 0
        bits = bytearray((self.size + 7) // 8)
        stack = [pos]
        while stack:
            q = stack.pop()
            byte, bit = q >> 3, 1 << (q & 7)
            if bits[byte] & bit or (covered >> q) & 1:
                continue
            known = self._ancestors.get(q)
            if known is not None:
                covered |= known
                continue
            bits[byte] |= bit
            stack.extend(self.parents[q])
        mask = covered | int.from_bytes(bits, "little")
        self._ancestors.put(pos, mask)
        return mask

    def author_mask(self, email: str | None, name: str | None, login: str | None) -> int:
        key = (email, name, login)
        mask = self._author_masks.get(key)
        if mask is None:
            hits: list[int] = []
            if email:
                hits.extend(self._by_email.get(email, ()))
            if name:
                hits.extend(self._by_name.get(name, ()))
            if login:
                hits.extend(self._by_login.get(login, ()))
            mask = _mask(hits, self.size)
            self._author_masks.put(key, mask)
        return mask

    def area_mask(self, area: str) -> int:
        mask = self._area_masks.get(area)
        if mask is None:
            mask = _mask(self._by_area.get(area, ()), self.size)
            self._area_masks.put(area, mask)
        return mask


def parse_log(raw: str) -> RepoLog:
    """Parse `git log --topo-order --format=LOG_FORMAT --name-only` output: the view of its
    first commit (the whole log)."""
    shared = SharedLog(raw)
    if not shared.size:
        raise InputError("git log: no commits")
    return RepoLog(shared, 0)


class RepoLog:
    """The history as seen from one base commit: the commits of a `SharedLog` reachable from
    it (merges excluded from every count)."""

    __slots__ = ("_newest", "mask", "position", "shared")

    def __init__(self, shared: SharedLog, position: int) -> None:
        self.shared = shared
        self.position = position
        self.mask = shared.ancestors(position)
        self._newest: int | None = -1

    def __contains__(self, pos: int) -> bool:
        return bool((self.mask >> pos) & 1) and pos not in self.shared.merges

    def changes(self, path: str) -> list[int]:
        """Log positions of the commits in this view that touched `path`, newest first."""
        mask = self.mask
        return [p for p in self.shared.by_path.get(path, ()) if (mask >> p) & 1]

    @property
    def commits(self) -> tuple[_Commit, ...]:
        """The non-merge commits of the view, newest first (materialised on demand only)."""
        s = self.shared
        return tuple(
            _Commit(s.times[p], s.emails[p], s.names[p], s.files[p]) for p in range(self.position, s.size) if p in self
        )

    @property
    def newest_time(self) -> int | None:
        """Author time of the newest commit: where ages are measured from when the PR has no date."""
        if self._newest == -1:
            s = self.shared
            self._newest = max((s.times[p] for p in range(self.position, s.size) if p in self), default=None)
        return self._newest


class HistoryCache:
    """Shared logs and their views, per repository, for a whole batch (see the module docstring).

    `tip` is where a log starts when a base is not in any log read so far: the newest revision
    of the batch (the CLI passes the `--git` range head); without it, HEAD when the base is one
    of its ancestors, else the base itself. The object is passed explicitly (RunContext)
    instead of living in a module global, so tests and runs never share state; it holds no
    process handle and can be rebuilt in each worker process from its settings.
    """

    def __init__(
        self,
        max_commits: int = DEFAULT_MAX_COMMITS,
        *,
        tip: str | None = None,
        max_logs: int = DEFAULT_MAX_LOGS,
        max_views: int = DEFAULT_MAX_VIEWS,
    ) -> None:
        self.max_commits = max_commits
        self.tip = tip
        self.max_logs = max_logs
        self.max_views = max_views
        self._logs: Lru[tuple[str, str], SharedLog] = Lru(max_logs)
        self._views: Lru[tuple[str, str], RepoLog] = Lru(max_views)
        self.reads = 0  # git log runs, for tests and the bench

    def fresh(self) -> HistoryCache:
        """An empty cache with the same settings (for a worker process)."""
        return HistoryCache(self.max_commits, tip=self.tip, max_logs=self.max_logs, max_views=self.max_views)

    @property
    def logs(self) -> int:
        """Shared logs held right now."""
        return len(self._logs)

    @property
    def views(self) -> int:
        return len(self._views)

    def log(self, repo: GitRepo, rev: str) -> RepoLog:
        sha = repo.rev_parse(rev)
        key = (str(repo.path), sha)
        view = self._views.get(key)
        if view is not None:
            return view
        shared = self._shared_with(repo, sha)
        view = RepoLog(shared, shared.positions[sha])
        self._views.put(key, view)
        return view

    def loaded(self, repo: GitRepo, *shas: str) -> SharedLog | None:
        """A complete log already read for `repo` that holds all of `shas` (full ids), else None;
        never reads one. The base check asks it for ancestry it would otherwise ask git for."""
        where = str(repo.path)
        for (path, _), shared in list(self._logs._data.items()):
            if path == where and shared.complete and all(sha in shared for sha in shas):
                return shared
        return None

    def _shared_with(self, repo: GitRepo, sha: str) -> SharedLog:
        where = str(repo.path)
        for (path, tip), shared in list(self._logs._data.items()):
            if path == where and sha in shared:
                self._logs.get((path, tip))  # mark as recently used
                return shared
        for start in self._starts(repo, sha):
            shared = self._read(repo, start)
            if sha in shared:
                return shared
        return self._read(repo, sha)

    def _starts(self, repo: GitRepo, sha: str) -> list[str]:
        starts: list[str] = []
        if self.tip and repo.has_revision(self.tip):
            starts.append(repo.rev_parse(self.tip))
        else:
            head = repo.rev_parse("HEAD")
            if head != sha and repo.is_ancestor(sha, head):
                starts.append(head)
        return [s for s in starts if s != sha]

    def _read(self, repo: GitRepo, start: str) -> SharedLog:
        key = (str(repo.path), start)
        cached = self._logs.get(key)
        if cached is not None:
            return cached
        raw = repo.git(
            "-c",
            "core.quotePath=true",
            "log",
            "--topo-order",
            "--no-renames",
            f"--max-count={self.max_commits}",
            f"--format={LOG_FORMAT}",
            "--name-only",
            start,
            "--",
        )
        self.reads += 1
        shared = SharedLog(raw.decode("utf-8", "replace"))
        shared.complete = shared.size < self.max_commits
        self._logs.put(key, shared)
        return shared


def base_revision(pr: PullRequest, repo: GitRepo) -> str:
    """The PR's base commit when the repository has it, else HEAD (patches without metadata)."""
    if pr.base_sha and repo.has_revision(pr.base_sha):
        return pr.base_sha
    return "HEAD"


def _history_path(f: FileDiff) -> str | None:
    if f.change is ChangeType.ADDED:
        return None
    return f.old_path or f.path


def _author_keys(pr: PullRequest) -> tuple[str | None, str | None, str | None]:
    email = pr.author_email.strip().lower() if pr.author_email else None
    name = pr.author.strip().casefold() if pr.author else None
    login = pr.author.strip().lower() if pr.author and " " not in pr.author.strip() else None
    return email or None, name or None, login or None


def file_history(
    pr: PullRequest,
    files: Sequence[FileDiff],
    subsystems: Iterable[str],
    log: RepoLog,
    *,
    now: datetime | None = None,
) -> History:
    """History metrics of `files` from a parsed log (pure: all I/O happened in `HistoryCache`).

    Ages are measured from `now` (default: the PR's creation time, else the newest commit of
    the log, i.e. the base) and never go negative.
    """
    ref = now or pr.created_at
    ref_ts = ref.timestamp() if ref is not None else log.newest_time
    shared = log.shared
    per_file: list[FileHistory] = []
    for f in files:
        path = _history_path(f)
        hits = log.changes(path) if path else []
        if not hits:
            per_file.append(FileHistory(path=f.path, age_days=None, prior_changes=0, authors=0))
            continue
        last = max(shared.times[i] for i in hits)  # author dates need not follow log order
        age = None if ref_ts is None else max(0.0, (ref_ts - last) / 86400.0)
        authors = {shared.emails[i] or shared.names[i] for i in hits}
        per_file.append(
            FileHistory(
                path=f.path,
                age_days=None if age is None else round(age, 3),
                prior_changes=len(hits),
                authors=len(authors),
            )
        )
    email, name, login = _author_keys(pr)
    exp = 0
    sexp = 0
    if email or name or login:
        mine = shared.author_mask(email, name, login) & log.mask
        exp = mine.bit_count()
        if mine:
            areas = 0
            for area in set(subsystems):
                areas |= shared.area_mask(area)
            sexp = (mine & areas).bit_count()
    return History(files=tuple(per_file), author_changes=exp, author_subsystem_changes=sexp)

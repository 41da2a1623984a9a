"""Git history of the changed files and of the author: the history and experience metrics of
just-in-time defect prediction (Kamei et al. 2013, after Mockus & Weiss 2000).

Per changed file: AGE (days since its last change before the PR's base), NUC (earlier commits
that touched it) and NDEV (distinct authors of those commits). Per author: EXP (their earlier
commits in the repository) and SEXP (their earlier commits touching the subsystems this PR
touches). Authors are matched by e-mail, by name, or by a GitHub login equal to the local part
of a commit e-mail (`login@...`, `12345+login@users.noreply.github.com`).

Cost: ONE `git log --name-only` per (repository, base revision), parsed once and kept in a
`HistoryCache` that the caller passes in for a whole batch (no module-level state). The log is
capped at `max_commits` most recent non-merge commits: on very old repositories the metrics then
describe recent history, which is what matters for AGE and experience anyway.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from triage.classify import unquote_c_path
from triage.gitrepo import GitRepo
from triage.models import ChangeType, FileDiff, FileHistory, History, PullRequest

__all__ = ["DEFAULT_MAX_COMMITS", "HistoryCache", "RepoLog", "base_revision", "file_history"]

DEFAULT_MAX_COMMITS = 50_000
_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[^@]+)@")


@dataclass(frozen=True, slots=True)
class _Commit:
    time: int
    email: str  # lower-cased
    name: str  # case-folded
    files: tuple[str, ...]

    def by(self, email: str | None, name: str | None, login: str | None) -> bool:
        if email and self.email == email:
            return True
        if name and self.name == name:
            return True
        if login:
            m = _NOREPLY.match(self.email)
            if m and m.group("login") == login:
                return True
        return False


@dataclass(frozen=True, slots=True)
class RepoLog:
    """The parsed log of one revision (git's order: newest commit first), with a per-path index.

    Times are author times (`%at`): they survive rebases, so a file's age does not reset when
    someone rebases an old branch.
    """

    commits: tuple[_Commit, ...]
    by_path: dict[str, tuple[int, ...]] = field(default_factory=dict)  # path -> commit indices

    @property
    def newest_time(self) -> int | None:
        """Author time of the newest commit: where ages are measured from when the PR has no date."""
        return max((c.time for c in self.commits), default=None)


def parse_log(raw: str) -> RepoLog:
    """Parse `git log --format=%x1e%at%x1f%aE%x1f%aN --name-only` output."""
    commits: list[_Commit] = []
    index: dict[str, list[int]] = defaultdict(list)
    for record in raw.split("\x1e"):
        if not record.strip():
            continue
        header, _, rest = record.partition("\n")
        parts = header.split("\x1f")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        files = tuple(unquote_c_path(line) for line in rest.split("\n") if line.strip())
        position = len(commits)
        commits.append(_Commit(int(parts[0]), parts[1].strip().lower(), parts[2].strip().casefold(), files))
        for path in files:
            index[path].append(position)
    return RepoLog(tuple(commits), {p: tuple(v) for p, v in index.items()})


class HistoryCache:
    """Parsed logs keyed by (repository path, resolved base commit), shared across a batch.

    A batch of PRs against the same base reads the log once; the object is passed explicitly
    (RunContext) instead of living in a module global, so tests and runs never share state.
    """

    def __init__(self, max_commits: int = DEFAULT_MAX_COMMITS) -> None:
        self.max_commits = max_commits
        self._logs: dict[tuple[str, str], RepoLog] = {}

    def log(self, repo: GitRepo, rev: str) -> RepoLog:
        sha = repo.rev_parse(rev)
        key = (str(repo.path), sha)
        cached = self._logs.get(key)
        if cached is None:
            raw = repo.git(
                "-c",
                "core.quotePath=true",
                "log",
                "--no-merges",
                "--no-renames",
                f"--max-count={self.max_commits}",
                "--format=%x1e%at%x1f%aE%x1f%aN",
                "--name-only",
                sha,
                "--",
            )
            cached = parse_log(raw.decode("utf-8", "replace"))
            self._logs[key] = cached
        return cached


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
    per_file: list[FileHistory] = []
    for f in files:
        path = _history_path(f)
        hits = log.by_path.get(path, ()) if path else ()
        if not hits:
            per_file.append(FileHistory(path=f.path, age_days=None, prior_changes=0, authors=0))
            continue
        last = max(log.commits[i].time for i in hits)  # author dates need not follow log order
        age = None if ref_ts is None else max(0.0, (ref_ts - last) / 86400.0)
        authors = {log.commits[i].email or log.commits[i].name for i in hits}
        per_file.append(
            FileHistory(
                path=f.path,
                age_days=None if age is None else round(age, 3),
                prior_changes=len(hits),
                authors=len(authors),
            )
        )
    email, name, login = _author_keys(pr)
    areas = {s for s in subsystems}
    exp = 0
    sexp = 0
    if email or name or login:
        for commit in log.commits:
            if not commit.by(email, name, login):
                continue
            exp += 1
            if any((p.partition("/")[0] if "/" in p else ".") in areas for p in commit.files):
                sexp += 1
    return History(files=tuple(per_file), author_changes=exp, author_subsystem_changes=sexp)

"""SZZ: label a repository's history with the commits that later needed a fix.

No labelled data ships with a repository, but its history says which changes went wrong: a
later commit fixed them. SZZ (Śliwerski, Zimmermann & Zeller, MSR 2005) finds the fix commits
from their messages and blames the fix's parent for the lines the fix removed or changed; the
commits that last touched those lines "induced" the bug. This module implements that with the
refinements the literature found to matter (Kim et al. 2006; da Costa et al. 2017, "A Framework
for Evaluating the Results of the SZZ Approach"; Neto et al. 2018 on refactorings):

* **Fix commits** by message: fix/bug words in the subject (`fix`, `fixes`, `bugfix`,
  `hotfix`, `defect`, `regression`) or a bug report's symptom words (`deadlock`, `NPE`,
  `fails`, `wrong`, `cannot`...: issue-keyed projects title a fix by its issue's summary, as in
  `ZOOKEEPER-1839. Deadlock in NettyServerCnxn`); a PR template's declared type (`### What
  type of PR is it?` answered `Bug Fix`, or a checked `- [x] Bug fix` box) decides over the
  words either way; `Fixes #12` / `Resolves #12` (not `Closes #12`: merge scripts write it for
  every pull request), `Closes-Bug:` / `Partial-Bug:` trailers. When an `issue_pattern` is
  configured (e.g. `ZOOKEEPER-\\d+`) the tracker is the authority: a fix must also name such an
  issue (as the JIT datasets link fixes to tracker issues), and a key alone is not a fix
  (features carry keys too). Without a pattern, keys shaped like `PROJ-123` only group
  commits about the same issue (below). Measured against ApacheJIT's fix commits on the dev
  projects by `bench/szz_agreement.py`.
* **Reverts** (`This reverts commit <sha>`, or a `Revert "<subject>"` subject naming an earlier
  commit's subject) label the reverted commit directly: no blame is needed to know which
  commit went wrong.
* **Lines**: only lines a fix deleted or changed in *source* files count (the project's own
  file classifier: tests, docs, generated, vendored and lockfiles are skipped); changes that
  only re-indent are invisible (`git diff -w`), blank lines and comment lines are skipped.
* **Blame** of the fix's first parent with `git blame --porcelain -w -M -C`, all the line
  ranges of one file in one call: whitespace changes, moved and copied lines are followed to
  the commit that wrote them, and blame follows renames on its own.
* **Time**: a commit made after the bug was first known cannot have introduced it. The first
  known date of a fix's bug is the earliest commit naming the same issue (a first, partial
  fix) or else the fix itself; blamed commits after it are dropped.
* **Merges** are neither fixes nor candidates: the log walk lists non-merge commits only
  (every branch, not just the first parent, since blame points at the side-branch commit that
  wrote a line), and a line that blame pins on a merge (a conflict resolution) is dropped.
* **Large fixes** (more than `max_fix_files` source files) are skipped: they are refactorings
  or imports more often than fixes, and blame them would label half the history.
* **Outliers** (`drop_outliers`, off by default): ApacheJIT's two count filters, fixes
  blaming more commits than the mean + one standard deviation of all fixes, then commits
  blamed by more fixes than that cut. On the dev projects they lowered the agreement with
  ApacheJIT's final labels (fewer of their buggy commits found, few false ones removed), so
  they stay an option.

Cost: one `git log` walk for messages and dates; then, by batches of fixes, one
`git diff-tree --stdin` process for the batch's diffs and one `git blame` per file with
blamable lines (all its line ranges in one call), run by a small thread pool (git does the
work in its own processes, so two workers use both cores of a small machine). With a `cache`
(calibration passes the tool's cache), each fix's outcome is kept, keyed by the fix and a
digest of the labelling code: commits never change, so a second run, or one up to a later
date, blames only the fixes it has not seen. `progress(done, total)` is called as fixes finish.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from triage import __version__
from triage.diff import parse_diff
from triage.errors import InputError
from triage.gitrepo import GitRepo
from triage.models import ChangeType, FileKind
from triage.timeutil import from_timestamp, parse_iso8601

__all__ = [
    "DEFAULT_ISSUE_KEY",
    "BlameStore",
    "CommitLabel",
    "FixMessage",
    "SzzResult",
    "is_comment_line",
    "label_history",
    "parse_message",
]

# A tracker key such as ZOOKEEPER-1234 or PROJ-12: groups commits about one issue.
DEFAULT_ISSUE_KEY = r"\b[A-Z][A-Z0-9_]+-\d+\b"
DEFAULT_WORKERS = 2
DEFAULT_MAX_FIX_FILES = 50
_OUTLIER_MIN_VALUES = 10
_BATCH_FIXES = 16  # fixes per task: one diff process each, small enough to keep both workers busy
_CACHE_VERSION = 1  # bump when what an outcome means changes

_FIX_WORDS = re.compile(
    r"\b(?:fix(?:e[sd]|ing)?|bug(?:s|fix(?:es)?)?|hotfix(?:es)?|defects?|regressions?)\b",
    re.IGNORECASE,
)
# What a bug report's title says went wrong. Issue-keyed projects name the issue, not the
# action ("ZOOKEEPER-1839. Deadlock in NettyServerCnxn"), so a fix's subject is often the
# symptom; the words are the corrective-maintenance vocabulary of Mockus & Votta (2000)
# ("error", "fail", "problem", "incorrect") with the failure symptoms of bug titles.
_SYMPTOM_WORDS = re.compile(
    r"\b(?:errors?|exceptions?|npe|\w*nullpointer\w*|fail(?:s|ed|ing|ures?)?|crash(?:es|ed|ing)?|"
    r"hang(?:s|ing)?|deadlocks?|leak(?:s|ing)?|race|wrong(?:ly)?|incorrect(?:ly)?|broke(?:n)?|"
    r"breaks?|invalid|doesn'?t|does\s+not|don'?t|can'?t|cannot|unable|not\s+work\w*|missing|"
    r"should(?:n'?t)?|never|typos?|problems?|issue|mistakes?)\b",
    re.IGNORECASE,
)
# A PR template's "type of change" section (`### What type of PR is it?` then `Bug Fix`, or
# checkboxes `- [x] Bug fix (...)`): the author's own answer, so it decides over the words.
_TYPE_HEADING = re.compile(
    r"^\W*(?:what\s+)?(?:is\s+the\s+)?(?:kind|type)s?\s+of\s+(?:this\s+)?"
    r"(?:pr|pull\s+request|change|changes|patch)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
_CHECKED_BOX = re.compile(r"^\s*[-*]?\s*\[[xX]\]\s*(.+)$", re.MULTILINE)
_BUG_TYPE = re.compile(r"\b(?:bug|fix|hot\s*fix|hotfix)", re.IGNORECASE)

_CLOSES_REF = re.compile(r"\b(?:fix(?:e[sd])?|resolve[sd]?)\s*:?\s+(?:GH-|#)(\d+)\b", re.IGNORECASE)
_LAUNCHPAD = re.compile(r"^\s*(?:closes|partial)-bug:\s*#?(\d+)", re.IGNORECASE | re.MULTILINE)
_REVERTS_SHA = re.compile(r"\breverts?\s+commit\s+([0-9a-f]{7,40})\b", re.IGNORECASE)
_REVERT_SUBJECT = re.compile(r'^\s*Revert\s+"(.+)"\s*$')
_SHA_LINE = re.compile(rb"^([0-9a-f]{40}) \d+ (\d+)")

# Comment prefixes by file extension; files of other types use the union of the common ones.
_SLASH = ("//", "/*", "*", "*/")
_HASH = ("#",)
_COMMENTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            ".c",
            ".h",
            ".cc",
            ".cpp",
            ".cxx",
            ".hpp",
            ".hh",
            ".hxx",
            ".java",
            ".js",
            ".mjs",
            ".cjs",
            ".jsx",
            ".ts",
            ".tsx",
            ".mts",
            ".cts",
            ".go",
            ".rs",
            ".scala",
            ".kt",
            ".kts",
            ".cs",
            ".swift",
            ".groovy",
            ".dart",
            ".m",
            ".mm",
            ".css",
            ".scss",
            ".less",
            ".proto",
            ".thrift",
        ),
        _SLASH,
    ),
    ".php": (*_SLASH, "#"),
    **dict.fromkeys(
        (
            ".py",
            ".pyi",
            ".sh",
            ".bash",
            ".zsh",
            ".rb",
            ".pl",
            ".pm",
            ".r",
            ".yaml",
            ".yml",
            ".toml",
            ".cfg",
            ".ini",
            ".conf",
            ".cmake",
            ".mk",
            ".properties",
            ".tf",
            ".ps1",
            ".jl",
            ".ex",
            ".exs",
            ".nim",
            ".cr",
        ),
        _HASH,
    ),
    **dict.fromkeys((".sql", ".lua", ".hs", ".elm", ".ada", ".adb", ".ads"), ("--",)),
    **dict.fromkeys((".xml", ".html", ".htm", ".xhtml", ".vue", ".svg", ".jsp"), ("<!--", "-->")),
    **dict.fromkeys((".lisp", ".clj", ".cljs", ".el", ".scm", ".asm", ".s"), (";",)),
    ".erl": ("%",),
    ".tex": ("%",),
    ".vim": ('"',),
}
_FALLBACK_COMMENTS = ("//", "/*", "*/", "#", "<!--")
_PY_DOCSTRING = ('"""', "'''")


@dataclass(frozen=True)
class CommitLabel:
    """One commit of the history and what SZZ concluded about it.

    `time` is the author date (when the change was written, as the JIT datasets use);
    `buggy` means a later fix blamed at least one of its lines (or a revert undid it), and
    `fixed_by` names those fixes, oldest first.
    """

    sha: str
    time: datetime
    is_fix: bool
    buggy: bool
    fixed_by: tuple[str, ...]


@dataclass(frozen=True)
class SzzResult:
    """The labelled history, oldest first (git's date order: parents before children), and
    what the labelling did, so a caller can report how much evidence the labels rest on."""

    commits: tuple[CommitLabel, ...]
    reverts: int = 0  # fixes that were reverts (labelled without blame)
    skipped_fixes: int = 0  # fixes too large to blame, or whose diff could not be read
    blamed_lines: int = 0  # lines blamed across all fixes
    ignored_lines: int = 0  # removed lines skipped: blank, comment, test/doc/generated file
    dropped_late: int = 0  # blamed commits dropped: made after the bug was first known
    unknown_origin: int = 0  # blamed lines pinned on a merge or outside the walked history
    outlier_fixes: int = 0  # fixes dropped: they blamed unusually many commits
    outlier_candidates: int = 0  # commits not labelled: blamed by unusually many fixes

    @property
    def fixes(self) -> int:
        return sum(1 for c in self.commits if c.is_fix)

    @property
    def buggy(self) -> int:
        return sum(1 for c in self.commits if c.buggy)

    def by_sha(self) -> dict[str, CommitLabel]:
        return {c.sha: c for c in self.commits}


@dataclass(frozen=True)
class FixMessage:
    """What a commit message says: whether it is a fix, the issues it names, what it reverts."""

    is_fix: bool
    refs: tuple[str, ...] = ()
    reverts_sha: str | None = None
    reverts_subject: str | None = None


def parse_message(message: str, issue_pattern: str | None = None) -> FixMessage:
    """Classify one commit message: a fix when a revert, a `Fixes #12` / `Closes-Bug:`
    reference, the PR template's type, or else the subject's fix or symptom words say so.
    `issue_pattern`, when given, names the project's tracker keys: the tracker is then the
    authority, so a fix must also name such an issue (keys alone do not make a fix: features
    carry keys too). Without it, tracker-shaped keys are recorded as references only (they
    group partial fixes of one issue)."""
    subject = message.split("\n", 1)[0]
    refs: list[str] = []
    fix = False
    keyed = True
    if issue_pattern is not None:
        keys = re.findall(issue_pattern, message)
        keyed = bool(keys)
        refs += [k if isinstance(k, str) else k[0] for k in keys]
    else:
        refs += re.findall(DEFAULT_ISSUE_KEY, message)
    for number in _CLOSES_REF.findall(message):
        fix = True
        refs.append(f"#{number}")
    for number in _LAUNCHPAD.findall(message):
        fix = True
        refs.append(f"lp#{number}")
    reverts_sha = None
    reverts_subject = None
    if (m := _REVERTS_SHA.search(message)) is not None:
        reverts_sha = m.group(1).lower()
    if (m := _REVERT_SUBJECT.match(subject)) is not None:
        reverts_subject = m.group(1)
    revert = bool(reverts_sha or reverts_subject)
    if not fix and not revert:
        # Words count in the subject only: bodies carry quoted history, stack traces and
        # templates that would make every commit a fix.
        declared = pr_type_is_bug(message)
        worded = bool(_FIX_WORDS.search(subject) or _SYMPTOM_WORDS.search(subject))
        fix = keyed and (worded if declared is None else declared)
    return FixMessage(
        is_fix=fix or revert,
        refs=tuple(dict.fromkeys(refs)),
        reverts_sha=reverts_sha,
        reverts_subject=reverts_subject,
    )


def pr_type_is_bug(message: str) -> bool | None:
    """The type a PR template's answer declares: True for a bug fix, False for another type
    (improvement, feature, documentation, refactoring), None when the message has no answer
    (no template, or the unedited list of every type)."""
    if (m := _TYPE_HEADING.search(message)) is not None:
        for line in message[m.end() :].lstrip("\n").split("\n")[:3]:
            answer = line.strip().strip("-*[] ").strip()
            if not answer:
                continue
            if re.match(r"^\s*[-*]?\s*\[[ xX]\]", line):
                break  # checkboxes: the checked ones answer (below)
            if "|" in answer or answer.count(",") > 1:
                return None  # the template's list of choices, left as it was
            return bool(_BUG_TYPE.search(answer))
    checked = [re.sub(r"\(.*?\)", "", c) for c in _CHECKED_BOX.findall(message)]
    if checked:
        return any(_BUG_TYPE.search(c) for c in checked)
    return None


def is_comment_line(path: str, text: str) -> bool:
    """A line that is only a comment (or a comment delimiter) in the file's language."""
    stripped = text.strip()
    if not stripped:
        return True
    base = path.rpartition("/")[2].lower()
    dot = base.rfind(".")
    prefixes = _COMMENTS.get(base[dot:], _FALLBACK_COMMENTS) if dot > 0 else _FALLBACK_COMMENTS
    if base in ("makefile", "dockerfile", "cmakelists.txt", "build", "workspace"):
        prefixes = _HASH
    if base[dot:] in (".py", ".pyi") and stripped.startswith(_PY_DOCSTRING) and len(stripped) > 3:
        return stripped.endswith(_PY_DOCSTRING)  # a one-line docstring
    return stripped.startswith(prefixes)


# --------------------------------------------------------------------------------------------
# The walk


@dataclass(frozen=True, slots=True)
class _Commit:
    sha: str
    parent: str | None
    time: datetime
    subject: str
    message: FixMessage


@dataclass(slots=True)
class _FixOutcome:
    """What blaming one fix found: candidate -> lines blamed on it, and the line counts."""

    candidates: dict[str, int] = field(default_factory=dict)
    blamed: int = 0
    ignored: int = 0
    skipped: bool = False
    failed: bool = False  # git could not diff or blame it: worth trying again, never cached


def _resolve_tip(repo: GitRepo, rev: str, until: str | datetime | None) -> tuple[str, datetime | None]:
    """`until` is a date (the history up to then) or a revision (the history up to it)."""
    if until is None:
        return repo.rev_parse(rev), None
    if isinstance(until, datetime):
        return repo.rev_parse(rev), until
    if re.match(r"^\d{4}-\d{2}-\d{2}", until.strip()):
        try:
            return repo.rev_parse(rev), parse_iso8601(until)
        except ValueError:
            raise InputError(f"--until {until!r}: not an ISO-8601 date or a revision") from None
    return repo.rev_parse(until), None


def _walk(repo: GitRepo, tip: str, until: datetime | None, issue_pattern: str | None) -> list[_Commit]:
    raw = repo.git(
        "log",
        "--no-merges",
        "--date-order",
        "--reverse",
        "--no-color",
        "-z",  # NUL between commits: a message may hold any other control character
        "--format=%H%x1f%P%x1f%at%x1f%B",
        tip,
        "--",
    ).decode("utf-8", "replace")
    out: list[_Commit] = []
    for record in raw.split("\x00"):
        if not record.strip():
            continue
        sha, parents, stamp, body = record.split("\x1f", 3)
        time = from_timestamp(int(stamp))
        if until is not None and time > until:
            continue
        message = body.strip("\n")
        parent_list = parents.split()
        out.append(
            _Commit(
                sha=sha,
                parent=parent_list[0] if parent_list else None,
                time=time,
                subject=message.split("\n", 1)[0].strip(),
                message=parse_message(message, issue_pattern),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Blame


_DIFF_OPTIONS = ("-p", "-w", "-U0", "-M", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")
_DIFF_CONFIG = ("-c", "core.quotepath=off")


def _fix_diff(repo: GitRepo, fix: _Commit) -> bytes | None:
    """One fix's diff on its own (what a batch could not give); None when git cannot diff it."""
    assert fix.parent is not None
    try:
        return repo.git(*_DIFF_CONFIG, "diff-tree", *_DIFF_OPTIONS, fix.parent, fix.sha, "--")
    except InputError:
        return None


def _blame_fix(repo: GitRepo, fix: _Commit, diff: bytes | None, max_files: int) -> _FixOutcome:
    """Keep the removed source lines of the fix's diff (against its first parent) that carry
    code, and ask blame (at the parent) which commits wrote them."""
    outcome = _FixOutcome()
    assert fix.parent is not None
    if diff is None:
        outcome.skipped = outcome.failed = True
        return outcome
    if not diff.strip():
        return outcome
    parsed = parse_diff(diff)
    targets: list[tuple[str, list[int]]] = []
    for f in parsed.files:
        if f.binary or f.change is ChangeType.ADDED or not f.deleted:
            continue
        old_path = f.old_path or f.path
        if f.kind is not FileKind.SOURCE:
            outcome.ignored += f.deleted
            continue
        lines: list[int] = []
        for hunk in f.hunks:
            for line in hunk.lines():
                if line.kind != "-" or line.old_no is None:
                    continue
                if is_comment_line(old_path, line.text):
                    outcome.ignored += 1
                else:
                    lines.append(line.old_no)
        if lines:
            targets.append((old_path, lines))
    if len(targets) > max_files:
        outcome.skipped = True
        return outcome
    for path, lines in targets:
        args = ["blame", "--porcelain", "-w", "-M", "-C"]
        for start, end in _ranges(lines):
            args += ["-L", f"{start},{end}"]
        try:
            out = repo.git(*args, fix.parent, "--", path)
        except InputError:
            outcome.skipped = outcome.failed = True
            continue
        for sha in _porcelain_shas(out):
            outcome.blamed += 1
            outcome.candidates[sha] = outcome.candidates.get(sha, 0) + 1
    return outcome


def _blame_batch(repo: GitRepo, fixes: Sequence[_Commit], max_files: int) -> list[_FixOutcome]:
    """Blame a batch of fixes: their diffs come from one `git diff-tree --stdin` process
    (a fix it could not answer is diffed on its own), then one blame per file."""
    diffs = list(repo.commit_diffs((f.sha for f in fixes), _DIFF_OPTIONS, config=_DIFF_CONFIG))
    return [
        _blame_fix(repo, fix, diff if diff is not None else _fix_diff(repo, fix), max_files)
        for fix, diff in zip(fixes, diffs, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# The cache of blame outcomes


class BlameStore(Protocol):
    """Where blame outcomes persist between runs (a `triage.kvstore.KVStore` namespace)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...


@lru_cache(maxsize=1)
def _rules_digest() -> str:
    """What an outcome depends on besides the fix: the code of the labelling rules (this
    module, the diff parser, the file classifier). A change to any of them is a new key, so a
    cache written by another version is never read as this one's answer."""
    import triage.classify
    import triage.diff

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{_CACHE_VERSION}\0{__version__}\0".encode())
    for module in (sys.modules[__name__], triage.diff, triage.classify):
        try:
            h.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            h.update((module.__name__ or "").encode())
    return h.hexdigest()


def _cache_key(fix: _Commit, max_files: int) -> str:
    return f"szz:{_rules_digest()}:{fix.sha}:{fix.parent}:{max_files}"


def _encode(outcome: _FixOutcome) -> bytes:
    data = {"c": outcome.candidates, "b": outcome.blamed, "i": outcome.ignored, "s": outcome.skipped}
    return json.dumps(data, sort_keys=True).encode("ascii")


def _decode(raw: bytes | None) -> _FixOutcome | None:
    """A stored outcome, or None when absent or not one of ours (then the fix is blamed)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        candidates = {str(k): int(v) for k, v in data["c"].items()}
        return _FixOutcome(candidates, int(data["b"]), int(data["i"]), bool(data["s"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted line numbers as inclusive (start, end) runs, for blame's -L."""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _porcelain_shas(out: bytes) -> list[str]:
    """One sha per blamed line from `git blame --porcelain`: each line's group starts with
    `<sha> <orig line> <final line>`; the content line follows after a tab. Boundary commits
    (the root of a shallow history) are reported like any other and dropped by the caller."""
    shas: list[str] = []
    for line in out.split(b"\n"):
        if line.startswith(b"\t"):
            continue
        m = _SHA_LINE.match(line)
        if m is not None:
            shas.append(m.group(1).decode())
    return shas


# --------------------------------------------------------------------------------------------
# Labelling


def label_history(
    repo: GitRepo,
    *,
    rev: str = "HEAD",
    until: str | datetime | None = None,
    issue_pattern: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = DEFAULT_WORKERS,
    max_fix_files: int = DEFAULT_MAX_FIX_FILES,
    cache: BlameStore | None = None,
    drop_outliers: bool = False,
) -> SzzResult:
    """Label every non-merge commit reachable from `rev` (or up to `until`: a date, as a
    `datetime` or ISO-8601 text, or a revision): which are fixes, which a later fix blamed.
    `cache` keeps each fix's blame outcome for the next run (a commit never changes, so a
    history calibrated again, or up to a later date, only blames its new fixes).
    `drop_outliers` applies ApacheJIT's two count filters (off by default: see the module
    docstring)."""
    if issue_pattern is not None:
        try:
            re.compile(issue_pattern)
        except re.error as exc:
            raise InputError(f"issue pattern {issue_pattern!r}: not a regular expression ({exc})") from None
    tip, until_date = _resolve_tip(repo, rev, until)
    commits = _walk(repo, tip, until_date, issue_pattern)
    index = {c.sha: i for i, c in enumerate(commits)}
    by_subject: dict[str, str] = {}
    first_seen: dict[str, datetime] = {}
    for c in commits:
        by_subject.setdefault(c.subject, c.sha)
        for ref in c.message.refs:
            if ref not in first_seen or c.time < first_seen[ref]:
                first_seen[ref] = c.time

    fixed_by: dict[str, list[str]] = defaultdict(list)
    reverts = 0
    to_blame: list[_Commit] = []
    for c in commits:
        if not c.message.is_fix:
            continue
        target = _revert_target(c, commits, index, by_subject)
        if target is not None:
            reverts += 1
            fixed_by[target].append(c.sha)
        elif c.message.reverts_sha is None and c.message.reverts_subject is None and c.parent is not None:
            to_blame.append(c)

    links: dict[str, list[str]] = {}  # blamed fix -> the earlier commits it blames
    blamed = ignored = dropped = unknown = skipped = 0
    total = len(to_blame)
    if progress is not None:
        progress(0, total)
    for done, (fix, outcome) in enumerate(_outcomes(repo, to_blame, max_fix_files, workers, cache), 1):
        if progress is not None:
            progress(done, total)
        blamed += outcome.blamed
        ignored += outcome.ignored
        skipped += outcome.skipped
        known = min([fix.time, *(first_seen[r] for r in fix.message.refs if r in first_seen)])
        for sha, count in outcome.candidates.items():
            i = index.get(sha)
            if i is None or sha == fix.sha:
                unknown += count
            elif commits[i].time > known:
                dropped += 1
            else:
                links.setdefault(fix.sha, []).append(sha)

    outlier_fixes = outlier_candidates = 0
    if drop_outliers:
        links, outlier_fixes, outlier_candidates = _drop_outliers(links)
    for fix_sha, candidates in links.items():
        for sha in candidates:
            fixed_by[sha].append(fix_sha)

    labels = tuple(
        CommitLabel(
            sha=c.sha,
            time=c.time,
            is_fix=c.message.is_fix,
            buggy=bool(fixed_by.get(c.sha)),
            fixed_by=tuple(sorted(set(fixed_by.get(c.sha, ())), key=lambda s: index[s])),
        )
        for c in commits
    )
    return SzzResult(
        commits=labels,
        reverts=reverts,
        skipped_fixes=skipped,
        blamed_lines=blamed,
        ignored_lines=ignored,
        dropped_late=dropped,
        unknown_origin=unknown,
        outlier_fixes=outlier_fixes,
        outlier_candidates=outlier_candidates,
    )


def _count_limit(counts: Sequence[int]) -> int | None:
    """ApacheJIT's cut for an unusually large count: the integer part of mean + one
    (sample) standard deviation; None below ten values, too few to say what is unusual."""
    if len(counts) < _OUTLIER_MIN_VALUES:
        return None
    return int(statistics.fmean(counts) + statistics.stdev(counts))


def _drop_outliers(links: dict[str, list[str]]) -> tuple[dict[str, list[str]], int, int]:
    """Drop the fixes that blame unusually many commits (tangled changes: a refactoring or a
    merge of several fixes more often than one bug's repair), then the candidates blamed by
    unusually many fixes (an import or a core file's first version, blamed for whatever was
    fixed near it later), as ApacheJIT's construction did (Keshavarz & Nagappan, MSR 2022:
    both cut at mean + std)."""
    fix_limit = _count_limit([len(c) for c in links.values()])
    kept = {f: c for f, c in links.items() if fix_limit is None or len(c) <= fix_limit}
    per_candidate: dict[str, int] = defaultdict(int)
    for candidates in kept.values():
        for sha in candidates:
            per_candidate[sha] += 1
    cand_limit = _count_limit(list(per_candidate.values()))
    noisy = {s for s, n in per_candidate.items() if cand_limit is not None and n > cand_limit}
    out = {f: [s for s in c if s not in noisy] for f, c in kept.items()}
    return out, len(links) - len(kept), len(noisy)


def _outcomes(
    repo: GitRepo, fixes: Sequence[_Commit], max_files: int, workers: int, cache: BlameStore | None
) -> Iterator[tuple[_Commit, _FixOutcome]]:
    """Each fix with its blame outcome, in order: from the cache, or blamed in batches by a
    pool of threads (git does the work in its own processes, so two threads keep two cores
    busy). New outcomes are stored as they arrive, so an interrupted run keeps what it did."""
    known: dict[int, _FixOutcome] = {}
    if cache is not None:
        for i, fix in enumerate(fixes):
            if (hit := _decode(cache.get(_cache_key(fix, max_files)))) is not None:
                known[i] = hit
    todo = [i for i in range(len(fixes)) if i not in known]
    batches = [todo[k : k + _BATCH_FIXES] for k in range(0, len(todo), _BATCH_FIXES)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda batch: _blame_batch(repo, [fixes[i] for i in batch], max_files), batches)
        pending = iter(zip(batches, results, strict=True))
        for i, fix in enumerate(fixes):
            while i not in known:
                batch, outcomes = next(pending)
                for j, outcome in zip(batch, outcomes, strict=True):
                    known[j] = outcome
                    if cache is not None and not outcome.failed:
                        cache.put(_cache_key(fixes[j], max_files), _encode(outcome))
            yield fix, known.pop(i)


def _revert_target(
    revert: _Commit, commits: Sequence[_Commit], index: dict[str, int], by_subject: dict[str, str]
) -> str | None:
    """The earlier commit a revert undoes, by the sha its message names (a prefix is enough)
    or by the subject it quotes; None when it names nothing in the walked history."""
    me = index[revert.sha]
    if (prefix := revert.message.reverts_sha) is not None:
        if prefix in index:
            return prefix if index[prefix] < me else None
        for c in commits[:me]:
            if c.sha.startswith(prefix):
                return c.sha
        return None
    if (subject := revert.message.reverts_subject) is not None:
        sha = by_subject.get(subject)
        if sha is not None and index[sha] < me:
            return sha
    return None

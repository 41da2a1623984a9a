"""The cluster stage: `Assessment`s + `Decision`s in, `Decision`s out, with PRs that address
the same thing grouped so that only one of them takes a review slot.

Input: the whole batch (every open PR), after the gates. Output: one `Decision` per PR, same
order; members of a cluster carry a `ClusterInfo`, and every member but the canonical one that
would have competed for the queue (`review` or `throttled`) becomes `duplicate`, naming the
canonical PR and the evidence. The override label `<override_prefix>duplicate` keeps a PR in the
queue (its role is then `overridden`).

Why an index and not a comparison of every pair: a batch of 2,500 PRs has three million pairs,
and comparing their diffs is what would make the stage cost more than the rest of the run. Each
signal is an index from a key to the PRs that have it; only PRs that share a key are compared,
and a key shared by more than `[cluster] max_posting` PRs (the top of a changelog, the word
"error" in titles) says nothing and is dropped before pairs are made. A file or title words in
common can add up to 0.8 points at most (below the default link score): such pairs are scored
only when something else may add to them (`_Batch.candidates`), and the costly parts of a
pair's score (where the hunks overlap, the line samples' estimate) are skipped when the rest
cannot reach the link score. On 2,500 generated PRs that took the stage from 0.37 s to 0.19 s
and the per-PR fingerprints, read a hunk at a time with C-level string operations instead of a
line at a time, from 0.26 s to 0.20 s.

Signals, cheapest and strongest first:

* strong, each enough on its own (all PRs sharing the key join one cluster): the same linked
  issue (GitHub `Fixes #N` links, plus the first `[cluster] issue_key_pattern` match of the
  title, else of the head branch, else of the body: other keys a PR names are references);
  the same patch id (the same change, rebased or not); the same head branch pushed again by
  the same author (a re-submission);
* weak, scored per pair and summed, a pair joins when the score reaches `[cluster] link_score`
  (1.0 by default): overlapping changed hunks on the base side of one file (0.6; changelog
  files are left out: every PR edits their top lines; the spot is the changed lines, not the
  hunk's context); shared changed lines (Jaccard of the fingerprints' line samples, 0.4 from
  40 %, 0.8 from 80 %; lines more than `max_posting` PRs of the batch change are boilerplate
  and left out); similar titles (rapidfuzz `token_sort_ratio` at or above
  `text_threshold`: 0.4, rising to 0.7 at 100); the same head branch name from different
  authors (0.4); a changed file in common (0.1, only when no hunk overlaps). So text alone
  never makes a duplicate, even with a file in common (one author's eight "fix typo in
  index.md" PRs fix eight different typos); an overlapping change plus a similar title does.

PRs on different base branches are never clustered: a backport of a fix to a release branch is
its own review. Skipped PRs (drafts, unreadable input) take no part.

The canonical PR of a cluster is chosen by an explained rule. First, re-submissions: when one
author (their accountable owner, else their login) has several PRs in the cluster, the newest
replaces the older ones (role `resubmission`). Then, among the remaining PRs (one per author;
others are `competing`), the canonical one is the first by: has an accountable owner, passes
the gates, includes tests, smaller diff (counted lines), older, id. The rule text names the
criterion that decided against the runner-up.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import combinations
from typing import TypeVar

from rapidfuzz import fuzz

from triage.config import Config
from triage.models import (
    Assessment,
    ChangeType,
    ClusterInfo,
    ClusterRole,
    Decision,
    DecisionKind,
    Fingerprint,
    HunkRange,
    ParsedDiff,
    Reason,
)
from triage.timeutil import FAR_FUTURE, FAR_PAST, as_utc

__all__ = ["RULE", "cluster", "fingerprint", "issue_keys"]

RULE = "duplicate"

# A bottom-k sample of this many changed-line hashes per PR: enough to tell 40 % overlap from 80 %.
_SAMPLE = 64
# Lines read for the fingerprint of one PR: bounds the cost of a huge diff; the patch id of a
# diff longer than this still covers all of it.
_MAX_SAMPLED_LINES = 20_000
_HUNK_SLACK = 0  # lines between two changes that still count as one spot: adjacent lines do not
_BUCKET = 50  # base lines per hunk-index bucket
_MAX_BUCKETS = 21  # buckets indexed for one spot; a longer spot meets every spot on its file
# Evidence points of the weak signals (module docstring).
_OVERLAP = 0.6
_FILE = 0.1
_LINES_SOME = 0.4  # from 40 % of changed lines alike
_LINES_MOST = 0.8  # from 80 %
_TITLE_MIN = 0.4  # a title similarity at the threshold; _TITLE_MIN + _TITLE_RANGE at 100
_TITLE_RANGE = 0.3
_BRANCH = 0.4
# The most a pair scores without an overlapping change, changed lines alike or the same branch
# name: a file in common and the most similar title (`_Batch.candidates`).
_WITHOUT_INDEXED = _FILE + _TITLE_MIN + _TITLE_RANGE
_CHANGELOG = re.compile(r"^(changes|changelog|history|news|release[-_]?notes)([.-].*)?$", re.IGNORECASE)
_GENERIC_BRANCH = re.compile(
    r"^(main|master|develop|dev|trunk|patch(-\d+)?|fix|bugfix|hotfix|feature|update|docs|test|tests|"
    r"[0-9][0-9.x]*)$",
    re.IGNORECASE,
)
_CONVENTIONAL = re.compile(r"^\s*\[?[a-z]+(\([^)]*\))?\]?!?:\s*", re.IGNORECASE)
_ISSUE_REF = re.compile(r"(?:[\w.-]+/[\w.-]+)?#\d+")
_WORD = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "from",
        "by",
        "at",
        "as",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "not",
        "no",
        "into",
        "fix",
        "fixes",
        "fixed",
        "add",
        "adds",
        "added",
        "update",
        "updates",
        "updated",
        "remove",
        "removes",
        "removed",
        "use",
        "uses",
        "make",
        "makes",
        "support",
        "change",
        "changes",
        "docs",
        "doc",
        "test",
        "tests",
        "typo",
        "when",
        "if",
        "new",
        "pr",
        "issue",
        "bug",
        "minor",
        "small",
        "some",
        "more",
    ]
)


# ------------------------------------------------------------------------- per-PR fingerprint


# Every character `str.split()` splits on, but the newline: deleted from a hunk's changed lines
# in one pass (`str.translate`), so the patch id ignores whitespace as `git patch-id` does.
_SPACE = {c: None for c in range(0x3001) if chr(c).isspace() and c != 0x0A}
# A run of changed lines: '+' and '-' lines, and the "\\ No newline" markers among them.
_RUN = re.compile(r"(?:^[-+\\].*(?:\n|\Z))+", re.MULTILINE)
# In changed lines without whitespace (encoded), those that keep something but their '+' / '-'.
_KEPT = re.compile(rb"^[-+].+", re.MULTILINE)


def _hunk(body: str, old_start: int) -> tuple[int, int, str]:
    """The base-side spot of one hunk's changes (first and last base line, -1 when nothing
    changed) and the text of its changed lines.

    Read run by run with C-level string operations rather than line by line: this runs on
    every changed line of every PR, and a Python loop per line cost more than half of what
    clustering added to a run. The spot of a run of changes is the base lines it removes, or
    the base line it is inserted before when it removes none; lines between runs are context.
    """
    first = last = -1
    old_no = old_start
    pos = 0
    runs: list[str] = []
    for m in _RUN.finditer(body):
        run = m.group()
        old_no += body.count("\n", pos, m.start())  # the context lines since the last run
        pos = m.end()
        minus = run.count("\n-") + (run[0] == "-")
        if minus == 0 and run.count("\n+") + (run[0] == "+") == 0:
            continue  # markers only: no change, no base line
        if first < 0:
            first = old_no
        last = old_no + max(minus, 1) - 1
        old_no += minus
        runs.append(run)
    return first, last, "".join(runs)


def fingerprint(diff: ParsedDiff) -> Fingerprint | None:
    """The signals of one parsed diff (see `Fingerprint`); None when nothing was parsed."""
    if not diff.files:
        return None
    patch = hashlib.sha1(usedforsecurity=False)
    hunks: list[HunkRange] = []
    sampled: list[bytes] = []
    changed = False
    for f in sorted(diff.files, key=lambda f: f.path):
        patch.update(f.path.encode("utf-8", "surrogatepass") + b"\0")
        if f.binary:
            patch.update(b"binary\0")
            changed = True
        counted = f.kind.counts
        in_hunks = counted and not _CHANGELOG.match(f.path.rpartition("/")[2])
        base_path = f.old_path or f.path
        for hunk in f.hunks:
            first, last, text = _hunk(hunk.body, hunk.old_start)
            # kind + the line without whitespace, one a line, for each changed line that keeps some
            parts = _KEPT.findall(text.translate(_SPACE).encode("utf-8", "surrogatepass"))
            if parts:
                changed = True
                patch.update(b"\n".join(parts) + b"\n")
                if counted and len(sampled) < _MAX_SAMPLED_LINES:
                    sampled.extend([p[1:] for p in parts if len(p) >= 5])  # 4 bytes say something
            if in_hunks and first >= 0:
                if f.change is ChangeType.ADDED:
                    hunks.append(HunkRange(f.path, 0, 0))  # two PRs adding the same file overlap
                else:
                    hunks.append(HunkRange(base_path, first, max(first, last)))
    lines = frozenset(sorted(set(map(zlib.crc32, sampled[:_MAX_SAMPLED_LINES])))[:_SAMPLE])
    return Fingerprint(patch.hexdigest()[:16] if changed else None, tuple(hunks), lines)


def issue_keys(a: Assessment, pattern: re.Pattern[str] | None) -> tuple[str, ...]:
    """The issues one PR says it addresses: its linked issues (`Fixes #N`), and the tracker key
    that matches the configured pattern first in its title, else in its head branch, else in
    its body (upper-cased, so `proj-12` = `PROJ-12`).

    Why one key and not every key: the other keys a PR names are references ("Update the
    documentation for PROJ-12", "follow-up of PROJ-7"); counting them took the pairwise
    precision on ZooKeeper's pull requests from 0.72 down to 0.53 (bench/cluster_bench.py)."""
    keys = list(a.pr.linked_issues)
    if pattern is not None:
        for text in (a.pr.title, a.pr.head_ref or "", a.pr.body):
            m = pattern.search(text)
            if m is not None:
                key = m.group(0).upper()
                if key not in keys:
                    keys.append(key)
                break
    return tuple(keys)


def _title_text(title: str, pattern: re.Pattern[str] | None) -> str:
    """A title without what every title of a project shares: conventional-commit prefixes,
    issue references, punctuation and case."""
    text = _CONVENTIONAL.sub("", title)
    text = _ISSUE_REF.sub(" ", text)
    if pattern is not None:
        text = pattern.sub(" ", text)
    return " ".join(_WORD.findall(text.lower()))


def _similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard estimate of two bottom-k samples: the share of the k smallest hashes of their
    union that both contain (Broder 1997)."""
    if not a or not b or a.isdisjoint(b):
        return 0.0
    union = a | b
    if len(union) > _SAMPLE:
        union = frozenset(sorted(union)[:_SAMPLE])
    return len(union & a & b) / len(union)


def _may_be_alike(a: frozenset[int], b: frozenset[int]) -> bool:
    """False when `_similarity(a, b)` is surely below 0.4: the hashes both contain are fewer
    than 40 % of the smallest union sample the two can have. One set intersection, where the
    estimate sorts the union."""
    if not a or not b or a.isdisjoint(b):
        return False
    both = len(a & b)
    return both >= 0.4 * min(_SAMPLE, len(a) + len(b) - both)


# ------------------------------------------------------------------------- the batch stage


@dataclass(frozen=True, slots=True)
class _Edge:
    a: int
    b: int
    evidence: tuple[str, ...]


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _by_path(hunks: Sequence[HunkRange]) -> dict[str, list[HunkRange]]:
    by_path: dict[str, list[HunkRange]] = defaultdict(list)
    for h in hunks:
        by_path[h.path].append(h)
    return dict(by_path)


def _overlap(by_path: dict[str, list[HunkRange]], y: Sequence[HunkRange]) -> HunkRange | None:
    """The first base-side spot where hunks of two PRs overlap (one PR's by path), or None."""
    for h in y:
        for g in by_path.get(h.path, ()):
            if g.start <= h.end + _HUNK_SLACK and h.start <= g.end + _HUNK_SLACK:
                return HunkRange(h.path, max(g.start, h.start), min(g.end, h.end))
    return None


def _where(h: HunkRange) -> str:
    if h.start == 0:
        return f"{h.path} (both add it)"
    return f"{h.path}:{h.start}" if h.end <= h.start else f"{h.path}:{h.start}-{h.end}"


_K = TypeVar("_K")


def _postings(keys_of: Iterable[tuple[int, Iterable[_K]]]) -> dict[_K, list[int]]:
    index: dict[_K, list[int]] = defaultdict(list)
    for i, keys in keys_of:
        for key in set(keys):
            index[key].append(i)
    return index


def _buckets(hunks: Sequence[HunkRange]) -> tuple[set[str], set[str]]:
    """The hunk-index buckets of one PR's base-side spots ("path NUL bucket number": a string,
    which the garbage collector does not track, where a tuple would be), and the paths where a
    spot is too long to index bucket by bucket (a rewrite of most of a long file: `_MAX_BUCKETS`)."""
    out: set[str] = set()
    long: set[str] = set()
    for h in hunks:
        first, last = (h.start - _HUNK_SLACK) // _BUCKET, (h.end + _HUNK_SLACK) // _BUCKET
        if last - first >= _MAX_BUCKETS:
            long.add(h.path)
            last = first + _MAX_BUCKETS - 1
        out.update(f"{h.path}\0{b}" for b in range(first, last + 1))
    return out, long


def _pairs_of(index: dict[_K, list[int]], cap: int, n: int, known: set[int] | frozenset[int] = frozenset()) -> set[int]:
    """Every pair of PRs that share a key of `index` and is not `known`, keys of more than
    `cap` PRs left out; pair (i, j), i < j, as the number i * n + j. (Numbers, and a known pair
    skipped before it is stored: the stage's pairs are most of what it allocates, and tuples,
    unlike numbers, are what the garbage collector walks over the whole batch for.)"""
    pairs: set[int] = set()
    for members in index.values():
        if 1 < len(members) <= cap:
            coded = (i * n + j for i, j in combinations(sorted(members), 2))
            pairs.update((p for p in coded if p not in known) if known else coded)
    return pairs


class _Batch:
    """The indexes and pair scores of one batch (module docstring).

    Per-PR views (titles, spots by path, paths) are built when a pair first needs them: most
    PRs of a batch are in no candidate pair, and building them for all 2,500 PRs of a batch
    cost as much as scoring its pairs."""

    def __init__(self, assessments: Sequence[Assessment], decisions: Sequence[Decision], cfg: Config) -> None:
        self.a = assessments
        self.d = decisions
        self.cfg = cfg.cluster
        self.pattern = re.compile(self.cfg.issue_key_pattern, re.IGNORECASE) if self.cfg.issue_key_pattern else None
        self.members = [
            i
            for i, (a, d) in enumerate(zip(assessments, decisions, strict=True))
            if d.kind is not DecisionKind.SKIPPED and not a.errors
        ]
        # Changed lines that more than `max_posting` PRs of the batch share (boilerplate: `}`,
        # `return x`, a license header) say nothing about two PRs, as a too-common index key.
        seen = Counter(h for i in self.members if (fp := assessments[i].fingerprint) for h in fp.lines)
        common = {h for h, n in seen.items() if n > self.cfg.max_posting}
        self.lines = {
            i: (fp.lines - common if common else fp.lines) if (fp := assessments[i].fingerprint) else frozenset()
            for i in self.members
        }
        self._titles: dict[int, str] = {}
        self._spots: dict[int, dict[str, list[HunkRange]]] = {}
        self._paths: dict[int, frozenset[str]] = {}
        self.union = _Union(len(assessments))
        self.edges: list[_Edge] = []
        self.weaker: list[_Edge] = []  # scored pairs below the link score, within one cluster

    def title(self, i: int) -> str:
        if (t := self._titles.get(i)) is None:
            t = self._titles[i] = _title_text(self.a[i].pr.title, self.pattern)
        return t

    def spots(self, i: int) -> dict[str, list[HunkRange]]:
        if (s := self._spots.get(i)) is None:
            fp = self.a[i].fingerprint
            s = self._spots[i] = _by_path(fp.hunks) if fp else {}
        return s

    def paths(self, i: int) -> frozenset[str]:
        if (p := self._paths.get(i)) is None:
            p = self._paths[i] = frozenset(f.path for f in self.a[i].diff.files if f.kind.counts)
        return p

    def head(self, i: int) -> str | None:
        """The head branch name, when it says something (not `main`, `patch-1`, `fix`)."""
        head = self.a[i].pr.head_ref
        return head if head and not _GENERIC_BRANCH.match(head) else None

    def base(self, i: int) -> str | None:
        return self.a[i].pr.base_ref

    def author(self, i: int) -> str:
        """Whose PR it is: the accountable owner when known, else the author's login."""
        owner = self.d[i].owner
        return (owner.login if owner is not None else self.a[i].pr.author).lower()

    def same_base(self, i: int, j: int) -> bool:
        bi, bj = self.base(i), self.base(j)
        return bi is None or bj is None or bi == bj

    def link(self, i: int, j: int, *evidence: str) -> None:
        self.union.join(i, j)
        self.edges.append(_Edge(i, j, evidence))

    def group(self, members: list[int], evidence: str) -> None:
        """Join PRs that share a strong key, per base branch (a backport is its own review)."""
        by_base: dict[str | None, list[int]] = defaultdict(list)
        for i in members:
            by_base[self.base(i)].append(i)
        unknown = by_base.pop(None, [])
        groups = list(by_base.values()) or [[]]
        for g in groups:
            g.extend(unknown)  # a PR of unknown base joins each group it shares the key with
        for g in groups:
            for other in g[1:]:
                self.link(g[0], other, evidence)

    def strong(self) -> None:
        keys = _postings((i, issue_keys(self.a[i], self.pattern)) for i in self.members)
        for key, members in keys.items():
            if len(members) > 1:
                self.group(members, f"same issue {key}")
        patches = _postings(
            (i, [fp.patch_id] if (fp := self.a[i].fingerprint) and fp.patch_id else []) for i in self.members
        )
        for pid, members in patches.items():
            if len(members) > 1:
                self.group(members, f"identical change (patch id {pid})")
        branches = _postings((i, [(head, self.author(i))]) for i in self.members if (head := self.head(i)))
        for (head, _), members in branches.items():
            if len(members) > 1:
                self.group(members, f"branch {head} pushed again by the same author")

    def loose(self, known: set[int]) -> set[int]:
        """Pairs that share a changed file, or two uncommon title words (or the title is a
        single word), other than the `known` ones: alone, evidence that can reach at most
        `_WITHOUT_INDEXED` points."""
        cap = self.cfg.max_posting
        n = len(self.a)
        pairs = _pairs_of(_postings((i, self.paths(i)) for i in self.members), cap, n, known)
        words = _postings((i, [w for w in self.title(i).split() if w not in _STOP]) for i in self.members)
        shared: dict[tuple[int, int], int] = defaultdict(int)
        for members in words.values():
            if 1 < len(members) <= cap:
                for pair in combinations(sorted(members), 2):
                    shared[pair] += 1
        for (i, j), words_in_common in shared.items():
            single = min(len(self.title(i).split()), len(self.title(j).split())) <= 1
            if (words_in_common >= 2 or single) and (p := i * n + j) not in known:
                pairs.add(p)
        return pairs

    def candidates(self) -> tuple[set[int], set[int]]:
        """The pairs worth scoring, those that can reach the link score, and the other pairs
        that share a file or title words (`loose`).

        A pair scores more than `_WITHOUT_INDEXED` points (a file in common and the most
        similar title) only with an overlapping change (then the two share a hunk-index
        bucket, or one's spot is too long to index), changed lines alike (then they share
        enough lines of their samples) or the same branch name. So pairs are made from the
        bucket and branch indexes; of the pairs that share a file or title words, only those
        that may overlap in a bucket too crowded to make pairs (more than `max_posting` PRs),
        share a branch name that crowded, or whose samples may be alike are scored. On a
        batch of 2,500 PRs the file index alone made tens of thousands of pairs whose score
        could never link them. With a link score at or below `_WITHOUT_INDEXED` every such
        pair is a candidate."""
        cap = self.cfg.max_posting
        prints = {i: fp for i in self.members if (fp := self.a[i].fingerprint)}
        buckets = {i: _buckets(fp.hunks) for i, fp in prints.items()}
        index = _postings((i, b) for i, (b, _) in buckets.items())
        n = len(self.a)
        pairs = _pairs_of(index, cap, n)
        pairs |= _pairs_of(_postings((i, [head]) for i in self.members if (head := self.head(i))), cap, n)
        # A spot too long to index bucket by bucket meets every spot of another PR on its file.
        long = {i: paths for i, (_, paths) in buckets.items() if paths}
        if long:
            on_path = _postings((i, {h.path for h in fp.hunks}) for i, fp in prints.items())
            for i, paths in long.items():
                for path in paths:
                    others = on_path.get(path, [])
                    if len(others) <= cap:
                        pairs.update(min(i, j) * n + max(i, j) for j in others if j != i)
        loose = self.loose(pairs)
        if self.cfg.link_score <= _WITHOUT_INDEXED + 1e-9:
            return pairs | loose, set()
        crowded: dict[int, set[str]] = defaultdict(set)
        for key, members in index.items():
            if len(members) > cap:
                for i in members:
                    crowded[i].add(key)

        def may_overlap(i: int, j: int) -> bool:
            """May overlap in a crowded bucket or a long spot, or share a crowded branch name."""
            if (head := self.head(i)) is not None and head == self.head(j):
                return True
            ci, cj = crowded.get(i), crowded.get(j)
            if ci and cj and not ci.isdisjoint(cj):
                return True
            li, lj = long.get(i), long.get(j)
            return bool(li and not li.isdisjoint(self.spots(j))) or bool(lj and not lj.isdisjoint(self.spots(i)))

        lines = self.lines
        alike = {p for p in loose if _may_be_alike(lines[p // n], lines[p % n]) or may_overlap(p // n, p % n)}
        return pairs | alike, loose - alike

    def spot(self, i: int, j: int) -> HunkRange | None:
        fi, fj = self.a[i].fingerprint, self.a[j].fingerprint
        return _overlap(self.spots(i), fj.hunks) if fi and fj else None

    def text(self, i: int, j: int) -> float | None:
        """Title similarity (0-100; 0 below the threshold), None when a title is empty."""
        ti, tj = self.title(i), self.title(j)
        if not (ti and tj):
            return None
        return fuzz.token_sort_ratio(ti, tj, score_cutoff=self.cfg.text_threshold)  # 0 below the cutoff

    def text_points(self, text: float | None) -> float:
        threshold = self.cfg.text_threshold
        if text is None or text < threshold:
            return 0.0
        return _TITLE_MIN + _TITLE_RANGE * (text - threshold) / max(1, 100 - threshold)

    def same_name(self, i: int, j: int) -> bool:
        """The same branch name pushed by different authors."""
        hi = self.head(i)
        return hi is not None and hi == self.a[j].pr.head_ref and self.author(i) != self.author(j)

    def points(self, i: int, j: int) -> float:
        """The score of a pair, as `score` adds it up, without the evidence text; the costly
        parts are skipped when the rest cannot reach the link score."""
        li, lj = self.lines[i], self.lines[j]
        shared = _similarity(li, lj) if li and lj and not li.isdisjoint(lj) else 0.0
        lines = (_LINES_MOST if shared >= 0.8 else _LINES_SOME) if shared >= 0.4 else 0.0
        title = self.text_points(self.text(i, j))
        branch = _BRANCH if self.same_name(i, j) else 0.0
        if _OVERLAP + lines + title + branch < self.cfg.link_score:
            return 0.0  # below the link score whatever the hunks say
        if self.spot(i, j) is not None:
            first = _OVERLAP
        else:
            first = _FILE if not self.paths(i).isdisjoint(self.paths(j)) else 0.0
        return first + lines + title + branch

    def score(self, i: int, j: int) -> tuple[float, tuple[str, ...]]:
        points = 0.0
        evidence: list[str] = []
        spot = self.spot(i, j)
        if spot is not None:
            points += _OVERLAP
            evidence.append(f"overlapping change at {_where(spot)}")
        else:
            common = self.paths(i) & self.paths(j)
            if common:
                points += _FILE
                evidence.append(f"both change {min(common)}")
        shared = _similarity(self.lines[i], self.lines[j])
        if shared >= 0.4:
            points += _LINES_MOST if shared >= 0.8 else _LINES_SOME
            evidence.append(f"{round(shared * 100)} % of changed lines alike")
        text = self.text(i, j)
        if text is not None and text >= self.cfg.text_threshold:
            points += self.text_points(text)
            evidence.append(f"similar title ({round(text)} %)")
        if self.same_name(i, j):
            points += _BRANCH
            evidence.append(f"same branch name {self.head(i)}")
        return points, tuple(evidence)

    def weak(self) -> None:
        link = self.cfg.link_score
        pairs, rest = self.candidates()
        n = len(self.a)
        below: list[int] = []  # pairs as numbers (`_pairs_of`)
        scored_below: dict[int, tuple[str, ...]] = {}  # their evidence, once scored
        # Most candidate pairs of a big batch overlap and share nothing else, and an overlap
        # alone (0.6) is below the link score: such a pair is told apart here, inline, by the
        # three checks that could add to it (lines alike, the same branch name, a similar
        # title), before anything else of its score is computed.
        overlap_links = link <= _OVERLAP + 1e-9
        eager = link <= _WITHOUT_INDEXED + 1e-9
        lines, threshold = self.lines, self.cfg.text_threshold
        bases = [a.pr.base_ref for a in self.a]
        heads = [a.pr.head_ref for a in self.a]
        titles = [""] * len(self.a)
        for i in self.members:
            titles[i] = self.title(i)
        ratio = fuzz.token_sort_ratio
        scored: list[int] = []
        for p in pairs:
            i, j = divmod(p, n)
            bi, bj = bases[i], bases[j]
            if bi != bj and bi is not None and bj is not None:
                continue  # another base branch: a backport is its own review
            if not overlap_links:
                li, lj = lines[i], lines[j]
                if (li.isdisjoint(lj) or not _may_be_alike(li, lj)) and (heads[i] is None or heads[i] != heads[j]):
                    ti, tj = titles[i], titles[j]
                    if not (ti and tj and ratio(ti, tj, score_cutoff=threshold) >= threshold):
                        below.append(p)
                        continue
            scored.append(p)
        for p in sorted(scored):  # in order: the order edges are found is the evidence's
            i, j = divmod(p, n)
            if eager:  # a low link score: many pairs link, score each whole at once
                points, evidence = self.score(i, j)
                if points >= link:
                    self.link(i, j, *evidence)
                else:
                    below.append(p)
                    scored_below[p] = evidence
            elif self.points(i, j) >= link:
                self.link(i, j, *self.score(i, j)[1])
            else:
                below.append(p)
        # Weaker evidence explains a cluster only between PRs that something put together: the
        # pairs that share a file or title words are scored for it, but only within a cluster.
        root = [self.union.find(i) for i in range(len(self.a))]
        within = [p for p in below if root[p // n] == root[p % n]]
        within.extend(p for p in rest if root[p // n] == root[p % n] and self.same_base(p // n, p % n))
        for p in sorted(within):
            i, j = divmod(p, n)
            found = scored_below.get(p)
            if found is None:
                found = self.score(i, j)[1]
            if found:
                self.weaker.append(_Edge(i, j, found))

    def explained(self) -> list[_Edge]:
        """Every edge that explains a cluster: those that joined it, and weaker evidence between
        PRs that a stronger signal put together (an overlapping change of two PRs for one issue)."""
        return [*self.edges, *self.weaker]

    def clusters(self) -> list[list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for i in self.members:
            groups[self.union.find(i)].append(i)
        return [g for g in groups.values() if len(g) > 1]


# ------------------------------------------------------------------------- canonical and roles

_CRITERIA = ("has an accountable owner", "passes the gates", "includes tests", "smaller diff", "older", "first by id")


def _opened(a: Assessment) -> datetime | None:
    when = a.pr.created_at or a.pr.updated_at
    return as_utc(when) if when is not None else None


def _merit(a: Assessment, d: Decision) -> tuple[bool, bool, bool, int, datetime, str]:
    """Sort key of the canonical rule: smaller is better (module docstring)."""
    return (
        d.owner is None,
        d.kind not in (DecisionKind.REVIEW, DecisionKind.THROTTLED),
        not a.metrics.has_tests,
        a.metrics.changed_lines,
        _opened(a) or FAR_FUTURE,
        a.pr.id,
    )


def _why(best: tuple[object, ...], runner_up: tuple[object, ...], a: Assessment, b: Assessment) -> str:
    for n, (x, y) in enumerate(zip(best, runner_up, strict=True)):
        if x != y:
            if n == 3:
                return f"smaller diff ({a.metrics.changed_lines} vs {b.metrics.changed_lines} lines)"
            return _CRITERIA[n]
    return _CRITERIA[-1]


def _label_swap(labels: tuple[str, ...], kind: DecisionKind) -> tuple[str, ...]:
    kept = tuple(lb for lb in labels if not lb.startswith("triage/"))
    return (*kept, f"triage/{kind.value}")


def _evidence_of(i: int, edges: Sequence[_Edge], ids: Sequence[str]) -> tuple[str, ...]:
    """The evidence of the edges of PR `i` (`edges`: its own edges, in the order found)."""
    out: dict[str, None] = {}
    for e in edges:
        other = ids[e.b if e.a == i else e.a]
        for ev in e.evidence:
            out.setdefault(f"{ev} (with {other})")
    return tuple(out)


def cluster(assessments: Sequence[Assessment], decisions: Sequence[Decision], cfg: Config) -> tuple[Decision, ...]:
    """Group the batch's PRs that address the same thing and shed all but one of each group. Pure."""
    if len(assessments) != len(decisions):
        raise ValueError(f"cluster: {len(assessments)} assessments but {len(decisions)} decisions")
    out = list(decisions)
    if not cfg.cluster.enabled or len(assessments) < 2:
        return tuple(out)
    batch = _Batch(assessments, decisions, cfg)
    batch.strong()
    batch.weak()
    ids = [a.pr.id for a in assessments]
    override = f"{cfg.gates.override_prefix}{RULE}"
    # Each PR's own edges, indexed once: a cluster of n PRs explained by m edges costs O(m), not
    # O(n * m) (a big cluster of one issue made that the slowest part of the stage).
    edges_of: dict[int, list[_Edge]] = defaultdict(list)
    for e in batch.explained():
        edges_of[e.a].append(e)
        edges_of[e.b].append(e)
    for members in batch.clusters():
        # Re-submissions: per author, the newest PR replaces the older ones.
        by_author: dict[str, list[int]] = defaultdict(list)
        for i in members:
            by_author[batch.author(i)].append(i)
        newest: dict[int, int] = {}
        for own in by_author.values():
            own.sort(key=lambda i: (_opened(assessments[i]) or FAR_PAST, ids[i]))
            for i in own:
                newest[i] = own[-1]
        heads = sorted({newest[i] for i in members}, key=lambda i: _merit(assessments[i], decisions[i]))
        canon = heads[0]
        if len(heads) > 1:
            runner = heads[1]
            won = _why(
                _merit(assessments[canon], decisions[canon]),
                _merit(assessments[runner], decisions[runner]),
                assessments[canon],
                assessments[runner],
            )
            rule = (
                "canonical = first by: accountable owner, passes the gates, tests included, smaller diff, "
                f"older; {ids[canon]} wins over {ids[runner]}: {won}"
            )
        else:
            rule = f"one author's re-submissions: the newest, {ids[canon]}, replaces the older ones"
        order = [canon, *sorted((i for i in members if i != canon), key=lambda i: ids[i])]
        member_ids = tuple(ids[i] for i in order)
        cluster_id = f"cluster-{ids[canon]}"
        for i in order:
            d = decisions[i]
            evidence = _evidence_of(i, edges_of[i], ids)
            if i == canon:
                others = ", ".join(member_ids[1:])
                note = Reason(RULE, f"canonical PR of {cluster_id}: {others} address the same thing; {rule}")
                info = ClusterInfo(cluster_id, ids[canon], ClusterRole.CANONICAL, member_ids, evidence, rule)
                out[i] = replace(d, notes=(*d.notes, note), cluster=info)
                continue
            if newest[i] != i:
                role = ClusterRole.RESUBMISSION
                what = f"re-submitted: replaced by {ids[newest[i]]} of the same author" + (
                    f"; the review goes to {ids[canon]}" if newest[i] != canon else ""
                )
            else:
                role = ClusterRole.COMPETING
                what = f"duplicate of {ids[canon]} (by {assessments[canon].pr.author or 'unknown'})"
            message = f"{what}: {'; '.join(evidence) or 'same cluster'}"
            if override in assessments[i].pr.labels:
                info = ClusterInfo(cluster_id, ids[canon], ClusterRole.OVERRIDDEN, member_ids, evidence, rule)
                note = Reason(RULE, f"override {override}: stays in the queue although {message}")
                out[i] = replace(d, notes=(*d.notes, note), cluster=info)
                continue
            info = ClusterInfo(cluster_id, ids[canon], role, member_ids, evidence, rule)
            reason = Reason(RULE, message, override, DecisionKind.DUPLICATE)
            if d.kind in (DecisionKind.REVIEW, DecisionKind.THROTTLED):
                kind = DecisionKind.DUPLICATE
                out[i] = replace(
                    d, kind=kind, reasons=(reason, *d.reasons), labels=_label_swap(d.labels, kind), cluster=info
                )
            else:  # a stronger decision (reject, close, needs-split) stands; the cluster is a note
                out[i] = replace(d, notes=(*d.notes, reason), cluster=info)
    return tuple(out)

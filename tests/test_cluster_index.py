"""The cluster stage's indexes (triage.policy.cluster): what they leave out must never be a pair
that would link, and a file that many PRs touch is no evidence by itself while an overlapping
change on it still is. Also the fingerprint's one-pass reading of a hunk against a plain
line-by-line reading of the same hunk."""

from __future__ import annotations

import hashlib
import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import pytest

from bench.cluster_bench import flood_corpus
from tests.gitutil import ScratchRepo
from triage.config import ClusterConfig, Config
from triage.diff import parse_diff
from triage.models import ChangeType, Fingerprint, HunkRange, ParsedDiff, PullRequest
from triage.pipeline import RunContext, assess_all, run
from triage.policy import cluster as stage
from triage.policy.gates import PolicyContext, decide

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
CFG = Config(llm_mode="off")
# 1,300 lines: a spot of more than 21 hunk-index buckets (50 lines each) fits in it.
BIG = "".join(f"def f{i}(x):\n    return x * {i}\n\n\n" for i in range(325))


@pytest.fixture
def repo(tmp_path: Path) -> tuple[ScratchRepo, str]:
    r = ScratchRepo.create(tmp_path)
    r.write("src/big.py", BIG)
    r.write("src/other.py", "def other():\n    return 0\n")
    return r, r.commit("base")


def change(repo: tuple[ScratchRepo, str], path: str, old: str, new: str) -> bytes:
    r, base = repo
    r.git("checkout", "-q", "-B", "work", base)
    text = (r.root / path).read_text()
    assert old in text, (path, old)
    r.write(path, text.replace(old, new, 1))
    return r.diff(base, r.commit("change"))


def pr(pid: str, diff: bytes, **kw: object) -> PullRequest:
    fields: dict[str, object] = {
        "title": f"Change {pid}",
        "author": f"author-{pid}",
        "author_association": "MEMBER",
        "created_at": NOW - timedelta(days=3),
        "base_ref": "main",
        "source": f"test:{pid}",
    }
    fields.update(kw)
    return PullRequest(id=pid, diff=diff, **fields)  # type: ignore[arg-type]


def clustered(prs: list[PullRequest], cfg: Config = CFG) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for item in run(prs, cfg, RunContext(now=NOW)).items:
        if item.decision.cluster is not None:
            groups.setdefault(item.decision.cluster.id, set()).add(item.pr.id)
    return {frozenset(g) for g in groups.values()}


def test_a_file_many_prs_touch_is_no_evidence_but_an_overlap_on_it_is(repo) -> None:
    """Eight PRs (more than `max_posting`) change eight different functions of one file under
    one title: a file in common and the same title (0.8) do not make a duplicate. Two PRs
    that change the same function under similar titles do."""
    cfg = replace(CFG, cluster=ClusterConfig(max_posting=5))
    same_title = [
        pr(f"t{n}", change(repo, "src/big.py", f"x * {n * 20}\n", f"x * {n * 20} + 1\n"), title="Fix typo in big.py")
        for n in range(1, 9)
    ]
    x = pr("x", change(repo, "src/big.py", "x * 300\n", "x * 300 - 1\n"), title="Fix the off-by-one of f300")
    y = pr("y", change(repo, "src/big.py", "x * 300\n", "(x - 1) * 300\n"), title="Fix off-by-one in f300")
    for c in (cfg, CFG):
        assert clustered([*same_title, x, y], c) == {frozenset({"x", "y"})}


def test_an_overlap_in_a_crowded_spot_still_links_prs_another_index_pairs(repo) -> None:
    """Five PRs change the same line (more than `max_posting`: the spot makes no pairs by
    itself). Two of them share title words, so that index pairs them, and their overlap there
    plus the similar title still make one cluster; the three others have unrelated titles."""
    cfg = replace(CFG, cluster=ClusterConfig(max_posting=3))
    titles = {
        "x": "Guard parser overflow",
        "y": "Guard the parser overflow check",
        "p": "Speed up rendering",
        "q": "Document the cache",
        "r": "Rename a helper",
    }
    prs = [
        pr(pid, change(repo, "src/big.py", "x * 100\n", f"x * 100 + {n}\n"), title=title)
        for n, (pid, title) in enumerate(titles.items(), 1)
    ]
    assert clustered(prs, cfg) == {frozenset({"x", "y"})}


def test_a_long_spot_overlaps_a_change_far_inside_it(repo) -> None:
    """One PR rewrites 1,200 lines of a file (more buckets than one spot indexes); another
    changes line 1,100 of them under a similar title: the two overlap and are one cluster,
    though nothing else (no hunk-index bucket, no line, no two title words) links them."""
    r, base = repo
    r.git("checkout", "-q", "-B", "work", base)
    r.write("src/big.py", BIG.replace("return x *", "return x  *", 300))
    rewrite = r.diff(base, r.commit("rewrite"))
    spots = stage.fingerprint(parse_diff(rewrite)).hunks
    assert max(h.end - h.start for h in spots) > stage._MAX_BUCKETS * stage._BUCKET
    # Inside the rewritten range, a line the rewrite leaves alone; titles with one word in common.
    spot = change(repo, "src/big.py", "def f275(x):\n", "def f275(x: int):\n")
    a = pr("a", rewrite, title="Reformat multiplications")
    b = pr("b", spot, title="Reformat multiplication")
    assert clustered([a, b]) == {frozenset({"a", "b"})}


def _brute_force(assessments, decisions, cfg: Config) -> set[frozenset[str]]:
    """Clusters from the strong keys plus every pair whose whole score reaches the link
    score: the result the indexes must reproduce."""
    batch = stage._Batch(assessments, decisions, cfg)
    batch.strong()
    for i, j in combinations(batch.members, 2):
        if batch.same_base(i, j) and batch.score(i, j)[0] >= cfg.cluster.link_score:
            batch.union.join(i, j)
    return {frozenset(assessments[i].pr.id for i in g) for g in batch.clusters()}


def _indexed(assessments, decisions, cfg: Config) -> set[frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, d in zip(assessments, stage.cluster(assessments, decisions, cfg), strict=True):
        if d.cluster is not None:
            out.setdefault(d.cluster.id, set()).add(a.pr.id)
    return {frozenset(g) for g in out.values()}


@pytest.mark.parametrize("link_score", [1.0, 0.9, 0.85])
def test_the_indexes_lose_no_pair_that_would_link(link_score: float) -> None:
    """A generated batch with copies, competing PRs and shared branch names: the stage, which
    scores only the pairs its indexes make, finds the clusters that scoring every pair finds.
    (With a link score at or below 0.8, which title similarity and a file in common reach,
    titles are indexed by their words, a heuristic: a title-only pair can be missed.)"""
    rng = random.Random(5)
    prs = flood_corpus(160, seed=3)
    # Shared branch names (different authors), and copies under a title without shared words.
    prs = [
        replace(p, head_ref=rng.choice(["fix-cache", "retry-timeout", None, None, None]), linked_issues=())
        if n % 3 == 0
        else p
        for n, p in enumerate(prs)
    ]
    prs += [replace(prs[n], id=f"copy{n}", title=f"Variant {n}", linked_issues=(), author=f"x{n}") for n in (4, 9)]
    # Different changes under one branch name and a similar title: only the branch index pairs them.
    for n in (20, 40, 60):
        prs[n] = replace(prs[n], head_ref=f"topic-{n}", linked_issues=())
        prs[n + 1] = replace(prs[n + 1], head_ref=f"topic-{n}", title=f"{prs[n].title} again", linked_issues=())
    cfg = replace(CFG, cluster=ClusterConfig(link_score=link_score, max_posting=12))
    assessments = tuple(assess_all(iter(prs), cfg, RunContext(now=NOW)))
    decisions = decide(assessments, cfg, PolicyContext(now=NOW))
    want = _brute_force(assessments, decisions, cfg)
    assert want  # the batch has clusters to find
    assert _indexed(assessments, decisions, cfg) == want


# ----------------------------------------------------------------------------- the fingerprint


def _plain(diff: ParsedDiff) -> Fingerprint | None:
    """The fingerprint read one line at a time (`Hunk.rows`), as the module docstring says it."""
    if not diff.files:
        return None
    patch = hashlib.sha1(usedforsecurity=False)
    hunks: list[HunkRange] = []
    hashes: set[int] = set()
    changed = False
    for f in sorted(diff.files, key=lambda f: f.path):
        patch.update(f.path.encode("utf-8", "surrogatepass") + b"\0")
        if f.binary:
            patch.update(b"binary\0")
            changed = True
        for hunk in f.hunks:
            parts: list[str] = []
            old_no, first, last, replacing = hunk.old_start, -1, -1, False
            for kind, text in hunk.rows():
                if kind == " ":
                    old_no, replacing = old_no + 1, False
                    continue
                if kind == "-" or not replacing:
                    first = old_no if first < 0 else first
                    last = old_no
                if kind == "-":
                    old_no, replacing = old_no + 1, True
                norm = "".join(text.split())
                if norm:
                    parts.append(kind + norm)
                    if f.kind.counts and len(norm.encode("utf-8", "surrogatepass")) >= 4:
                        hashes.add(zlib.crc32(norm.encode("utf-8", "surrogatepass")))
            if parts:
                changed = True
                patch.update("\n".join(parts).encode("utf-8", "surrogatepass") + b"\n")
            if f.kind.counts and not stage._CHANGELOG.match(f.path.rpartition("/")[2]) and first >= 0:
                added = f.change is ChangeType.ADDED
                hunks.append(HunkRange(f.path, 0, 0) if added else HunkRange(f.old_path or f.path, first, last))
    sample = frozenset(sorted(hashes)[: stage._SAMPLE])
    return Fingerprint(patch.hexdigest()[:16] if changed else None, tuple(hunks), sample)


TRICKY = [
    # a replaced last line without a newline, then a marker, then an addition
    "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,4 @@\n a = 1\n b = 2\n-c = 3\n\\ No newline at end of file\n+c = 4\n+d = 5\n",
    # two runs, blank and whitespace-only changed lines, CRLF and unicode spaces
    "--- a/y.txt\n+++ b/y.txt\n@@ -10,6 +10,7 @@ section\n one\n-two \r\n+two\u00a0\r\n+\n three\n four\n"
    "-\t\n+five\u2003six\n seven\n",
    # a pure insertion, an empty context line, a deletion at the end
    "--- a/z.c\n+++ b/z.c\n@@ -5,4 +5,4 @@\n int a;\n+int b;\n\n int c;\n-int d;\n",
    # an added file, a changelog, a lockfile
    "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+def new():\n+    return 'long enough'\n"
    "--- a/CHANGELOG.md\n+++ b/CHANGELOG.md\n@@ -1,2 +1,3 @@\n # Changes\n+- a fix of something\n more\n"
    '--- a/package-lock.json\n+++ b/package-lock.json\n@@ -1,1 +1,1 @@\n-"version": "1.0"\n+"version": "1.1"\n',
    # markers on both sides, changes only of two-byte lines
    "--- a/w.txt\n+++ b/w.txt\n@@ -1,2 +1,2 @@\n-ab\n-cd\n\\ No newline at end of file\n"
    "+ab\n+ce\n\\ No newline at end of file\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_fingerprint_reads_a_hunk_as_a_line_by_line_reading_does(text: str) -> None:
    diff = parse_diff(text.encode())
    assert diff.files and not diff.errors
    assert stage.fingerprint(diff) == _plain(diff)


def test_fingerprint_matches_the_line_by_line_reading_on_a_generated_batch() -> None:
    for p in flood_corpus(120, seed=8):
        diff = parse_diff(p.diff)
        assert stage.fingerprint(diff) == _plain(diff), p.id

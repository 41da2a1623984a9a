"""The orchestrator end to end on in-memory PRs: nothing lost, errors kept per item, order kept."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from triage.config import Config
from triage.models import DecisionKind, PullRequest, ReviewSource, Trailer
from triage.pipeline import RunContext, assess_all, run

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)

GOOD = b"""diff --git a/app/util.py b/app/util.py
index 1111111..2222222 100644
--- a/app/util.py
+++ b/app/util.py
@@ -1,3 +1,6 @@
 def f(x):
-    return x
+    if x > 1:
+        return x - 1
+    return x
+
 # end
"""


def _pr(pid: str, diff: bytes, **kw: object) -> PullRequest:
    base = {
        "title": f"Fix {pid}",
        "author": "alice",
        "author_association": "MEMBER",
        "created_at": NOW - timedelta(days=2),
        "linked_issues": ("#1",),
        "source": f"test:{pid}",
    }
    base.update(kw)
    return PullRequest(id=pid, diff=diff, **base)  # type: ignore[arg-type]


def test_one_broken_pr_never_stops_the_batch() -> None:
    prs = [
        _pr("good-1", GOOD),
        _pr("garbage", b"this is not a diff at all\n"),
        _pr("empty", b""),
        _pr("binary-junk", bytes(range(256)) * 20),
        # Another file and issue: the same change for the same issue would be a duplicate.
        _pr("good-2", GOOD.replace(b"app/util.py", b"app/other.py"), author="bob", linked_issues=("#2",)),
    ]
    queue = run(prs, Config(llm_mode="off"), RunContext(now=NOW))
    ids = [item.pr.id for item in queue.items]
    assert sorted(ids) == sorted(p.id for p in prs)  # every input is an item
    by_id = {item.pr.id: item for item in queue.items}
    for bad in ("garbage", "empty", "binary-junk"):
        assert by_id[bad].errors, bad
        assert by_id[bad].decision.kind is DecisionKind.SKIPPED
        assert by_id[bad].rank is None
    for good in ("good-1", "good-2"):
        assert not by_id[good].errors
        assert by_id[good].decision.kind is DecisionKind.REVIEW
        assert by_id[good].rank is not None


def test_assessments_drop_diff_bytes_and_hunk_text() -> None:
    (assessment,) = assess_all([_pr("good", GOOD)], Config(llm_mode="off"), RunContext(now=NOW))
    assert assessment.pr.diff == b""
    assert all(not f.hunks for f in assessment.diff.files)
    assert assessment.metrics.lines_added == 4 and assessment.metrics.lines_deleted == 1


def test_heuristic_reviewer_runs_without_endpoint_and_report_says_so() -> None:
    queue = run([_pr("good", GOOD)], Config(), RunContext(now=NOW))
    assert queue.review_source == "heuristic"
    assert queue.items[0].assessment.review.source is ReviewSource.HEURISTIC
    assert "api_key" not in queue.config["llm"]


def test_bot_pr_without_human_never_enters_the_queue() -> None:
    bot = _pr("bot", GOOD, author="coding-agent[bot]", author_association="NONE")
    paired = _pr(
        "paired",
        GOOD,
        author="coding-agent[bot]",
        author_association="NONE",
        trailers=(Trailer("Co-authored-by", "Alice Doe <alice@example.com>"),),
    )
    queue = run([bot, paired], Config(llm_mode="off"), RunContext(now=NOW))
    by_id = {item.pr.id: item for item in queue.items}
    assert by_id["bot"].decision.owner is None
    assert by_id["bot"].rank is None
    assert by_id["paired"].decision.owner is not None
    assert "bot" not in by_id["paired"].decision.owner.login


def test_a_batch_whose_worker_died_is_triaged_in_process() -> None:
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from triage import pipeline

    batch = tuple(_pr(f"w{i}", GOOD) for i in range(3))
    dead: Future[list[object]] = Future()
    dead.set_exception(BrokenProcessPool("a worker was killed"))
    cfg = Config(llm_mode="off")
    statics = pipeline._results(batch, dead, cfg, RunContext(now=NOW), None)  # type: ignore[arg-type]
    assert [s.pr.id for s in statics] == ["w0", "w1", "w2"]
    assert all(s.ok and s.metrics.lines_added for s in statics)


@pytest.mark.slow
def test_large_batches_run_in_a_process_pool_with_identical_results() -> None:
    """Past the first PRs the static stage moves to worker processes; order and every record
    must be exactly what the in-process path produces, broken PRs included."""
    # 48 in-process, then several pool batches: one cut by count (32 PRs), one by size (a
    # ~600 KB diff), and a short last one.
    big = b"diff --git a/app/big.py b/app/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/big.py\n"
    big += b"@@ -0,0 +1,60000 @@\n" + b"".join(b"+x%d = %d\n" % (i, i) for i in range(60_000))
    prs = [
        _pr(f"p{i:03d}", big if i == 100 else GOOD if i % 7 else b"not a diff\n", author=f"dev{i % 5}")
        for i in range(149)
    ]
    cfg = Config(llm_mode="off")
    pooled = list(assess_all(prs, cfg, RunContext(now=NOW)))
    one_by_one = [next(assess_all([pr], cfg, RunContext(now=NOW))) for pr in prs]
    assert [a.pr.id for a in pooled] == [p.id for p in prs]
    assert pooled == one_by_one
    assert sum(1 for a in pooled if a.errors) == len([i for i in range(149) if i % 7 == 0])
    assert pooled[100].metrics.lines_added == 60_000 and not pooled[100].errors


@pytest.mark.slow
def test_repo_batches_run_in_the_pool_with_the_same_history_and_contents_as_serial(tmp_path: Path) -> None:
    """With --repo the workers open their own repository handle and history cache; every
    record (history metrics, full-file complexity from the commit's trees) must equal the
    in-process result for the same commit."""
    from gitutil import ScratchRepo

    from triage import pipeline
    from triage.gitrepo import GitRepo, GitTree
    from triage.metrics.history import HistoryCache
    from triage.sources.git import read_range

    scratch = ScratchRepo.create(tmp_path)
    for i in range(70):
        scratch.write(
            f"pkg{i % 3}/mod{i % 7}.py",
            "".join(f"def f{j}(x):\n    if x > {j}:\n        return {i}\n    return x\n" for j in range(i % 5 + 1)),
        )
        scratch.git("add", "-A")
        scratch.git("commit", "-q", "--no-verify", "-m", f"change {i}", f"--author=Dev{i % 4} <dev{i % 4}@example.com>")
    repo = GitRepo(scratch.root)
    cfg = Config(llm_mode="off")

    def ctx() -> RunContext:
        return RunContext(now=NOW, base=GitTree(repo, "HEAD~69"), repo=repo, history_cache=HistoryCache(tip="HEAD"))

    assert pipeline._workers(ctx()) == min(os.cpu_count() or 1, 8)
    prs = list(read_range(repo, "HEAD~69..HEAD"))
    pooled = list(assess_all(prs, cfg, ctx()))
    one_by_one = [next(assess_all([pr], cfg, ctx())) for pr in prs]
    assert [a.pr.id for a in pooled] == [p.id for p in prs]
    assert pooled == one_by_one
    assert all(a.metrics.history is not None for a in pooled)
    assert pooled[-1].metrics.history is not None and pooled[-1].metrics.history.author_changes > 10
    assert any(f.cognitive_before is not None for a in pooled for f in a.metrics.functions)


@pytest.mark.slow
def test_batches_this_process_takes_while_the_workers_are_busy_keep_order_and_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """static3 (#13): with one batch in flight per worker and tiny batches, the parent triages
    batches itself while the workers are busy; the stream must still be in input order and
    equal to the in-process result."""
    from triage import pipeline

    monkeypatch.setattr(pipeline, "_BATCHES_PER_WORKER", 1)
    monkeypatch.setattr(pipeline, "_BATCH_PRS", 2)
    prs = [_pr(f"q{i:03d}", GOOD if i % 5 else b"not a diff\n", author=f"dev{i % 3}") for i in range(130)]
    cfg = Config(llm_mode="off")
    pooled = list(assess_all(prs, cfg, RunContext(now=NOW)))
    one_by_one = [next(assess_all([pr], cfg, RunContext(now=NOW))) for pr in prs]
    assert [a.pr.id for a in pooled] == [p.id for p in prs]
    assert pooled == one_by_one

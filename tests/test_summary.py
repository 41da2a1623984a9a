"""`triage.report.summary.queue_summary`: the queue-level figures every report opens with."""

from __future__ import annotations

from dataclasses import replace

from factories import NOW, make

from triage.config import CapacityConfig, Config
from triage.models import Assessment, ParsedDiff, ReviewSource
from triage.policy import PolicyContext, decide
from triage.rank import rank
from triage.report.summary import Degraded, queue_summary

CFG = Config()


def run(batch: list[Assessment], cfg: Config = CFG):  # type: ignore[no-untyped-def]
    return rank(batch, decide(batch, cfg, PolicyContext(NOW)), cfg, NOW, "heuristic")


def test_queue_summary() -> None:
    # Fair share off: with 2 slots alice's second PR would wait for bob's (tests below).
    cfg = Config(capacity=CapacityConfig(reviewers=1, reviews_per_week=2, period_days=7, author_share=0))
    batch = [
        make("a1", lines=10, age_days=2),
        make("a2", lines=20, age_days=3),
        make("b1", lines=300, author="bob", age_days=9),
        make("split", lines=2000),
        make("draft", draft=True, age_days=100),
    ]
    summary = queue_summary(run(batch, cfg))
    assert (summary.received, summary.queued) == (5, 2)
    assert summary.shed == {"capacity": 1, "draft": 1, "size": 1}
    assert summary.oldest_waiting_id == "b1" and summary.oldest_waiting_days == 9.0
    assert summary.hours_needed == round((5 + 5 + 60) / 60, 1)
    assert [(o.login, o.queued, o.waiting, o.minutes_queued) for o in summary.load] == [
        ("alice", 2, 2, 10),
        ("bob", 0, 1, 0),
    ]


def test_summary_of_empty_queue() -> None:
    summary = queue_summary(run([]))
    assert (summary.received, summary.queued, summary.shed, summary.oldest_waiting_id) == (0, 0, {}, None)
    assert summary.degraded == Degraded()


def _unavailable(a: Assessment) -> Assessment:
    return replace(a, review=replace(a.review, source=ReviewSource.UNAVAILABLE, error="LLM review unavailable"))


def _load_error(a: Assessment, error: str) -> Assessment:
    """What the pipeline makes of a PR whose source reported a load error: the error on both."""
    return replace(a, pr=replace(a.pr, load_errors=(error,)), errors=(error,))


def _parse_error(a: Assessment, error: str) -> Assessment:
    return replace(a, diff=ParsedDiff(errors=(error,)), errors=(*a.errors, error))


def test_summary_counts_degraded_items_by_cause() -> None:
    crashed = make("crashed")
    crashed = replace(crashed, errors=("test:crashed: internal error while triaging: KeyError: 'x'",))
    fetch = "github:o/r#7: GitHub GET /repos/o/r/pulls/7: HTTP 502 after 5 attempts"
    batch = [
        make("fine"),
        make("fine-too", author="bob"),
        _unavailable(make("llm-1")),
        _unavailable(make("llm-2", author="bob")),
        _load_error(make("fetch"), fetch),
        _parse_error(make("garbled"), "test:garbled: not a unified diff"),
        crashed,
        # Two causes, one item: a parse error and a stage that raised after it.
        replace(
            _parse_error(make("both"), "test:both: truncated hunk"),
            errors=("test:both: truncated hunk", "test:both: internal error while triaging: boom"),
        ),
    ]
    summary = queue_summary(run(batch))
    # "both" counts once, under the parse error that came first
    assert summary.degraded == Degraded(total=6, load_errors=1, parse_errors=2, stage_errors=1, llm_unavailable=2)
    assert summary.received == 8  # degraded items are still items: each has a decision
    assert summary.degraded.causes() == (
        ("load_errors", 1),
        ("parse_errors", 2),
        ("stage_errors", 1),
        ("llm_unavailable", 2),
    )


def test_a_degraded_item_counts_under_the_first_stage_that_failed_it() -> None:
    """A diff that was never fetched is also unparseable: one load error, not two causes."""
    fetch = "github:o/r#7: GitHub GET /repos/o/r/pulls/7: HTTP 502 after 5 attempts"
    unfetched = _load_error(make("unfetched"), fetch)
    unfetched = replace(
        unfetched, diff=ParsedDiff(errors=("github:o/r#7: empty diff",)), errors=(fetch, "github:o/r#7: empty diff")
    )
    summary = queue_summary(run([unfetched, _unavailable(make("llm"))]))
    assert summary.degraded == Degraded(total=2, load_errors=1, llm_unavailable=1)


def test_nothing_degraded_in_a_clean_batch() -> None:
    summary = queue_summary(run([make("a"), make("b", author="bob", lines=2000), make("c", draft=True)]))
    assert summary.degraded == Degraded(total=0)

"""Properties of decide + rank on random batches (hypothesis):

* the queue never exceeds capacity (reviews in count mode, minutes in minutes mode);
* no queued item lacks a human owner, and every queued item passed every gate;
* every input becomes exactly one item; ranks and positions are 1..n without gaps;
* the same batch, in any input order, gives the same queue order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from factories import NOW, make
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.config import CapacityConfig, Config
from triage.models import Assessment, DecisionKind, Trailer
from triage.policy import PolicyContext, decide
from triage.policy.bots import is_bot_login
from triage.policy.codeowners import CodeOwners
from triage.rank import capacity_plan, rank

AUTHORS = ["alice", "bob", "eve", "copilot-swe-agent", "renovate[bot]", ""]
ASSOCIATIONS = ["MEMBER", "CONTRIBUTOR", "NONE", None]
TRAILERS = [
    (),
    (Trailer("Co-authored-by", "Carol <carol@example.com>"),),
    (Trailer("Co-authored-by", "Claude <noreply@anthropic.com>"),),
    (Trailer("Assisted-by", "Claude"),),
]
LABELS = [(), ("bug",), ("triage/override-size",), ("triage/override-author-cap",)]
CODEOWNERS = [None, CodeOwners.parse("/src/ @src-lead\n/web/ @org/web\n")]


@st.composite
def assessments(draw: st.DrawFn, index: int) -> Assessment:
    kw: dict[str, Any] = {
        "lines": draw(st.integers(0, 1500)),
        "areas": draw(st.sampled_from([("src",), ("web",), ("src", "web"), ("a", "b", "c", "d")])),
        "risk": draw(st.floats(0, 1)),
        "author": draw(st.sampled_from(AUTHORS)),
        "author_association": draw(st.sampled_from(ASSOCIATIONS)),
        "trailers": draw(st.sampled_from(TRAILERS)),
        "labels": draw(st.sampled_from(LABELS)),
        "draft": draw(st.booleans()),
        "linked_issues": draw(st.sampled_from([(), ("#1",)])),
        "created_at": NOW - timedelta(hours=draw(st.integers(0, 24 * 60))),
    }
    if draw(st.integers(0, 9)) == 0:
        kw["errors"] = ("broken diff",)
    return make(f"pr-{index:03d}", **kw)


@st.composite
def batches(draw: st.DrawFn) -> list[Assessment]:
    n = draw(st.integers(0, 40))
    return [draw(assessments(i)) for i in range(n)]


configs = st.builds(
    lambda reviewers, per_week, per_day, days: Config(
        capacity=CapacityConfig(
            reviewers=reviewers, reviews_per_week=per_week, minutes_per_day=per_day, period_days=days
        )
    ),
    st.integers(0, 5),
    st.integers(0, 8),
    st.sampled_from([0, 0, 30, 120]),
    st.integers(1, 14),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(batch=batches(), cfg=configs, codeowners=st.sampled_from(CODEOWNERS), seed=st.randoms())
def test_queue_invariants(batch: list[Assessment], cfg: Config, codeowners: CodeOwners | None, seed: Any) -> None:
    ctx = PolicyContext(now=NOW, codeowners=codeowners, codeowners_path="CODEOWNERS")
    decisions = decide(batch, cfg, ctx)
    queue = rank(batch, decisions, cfg, NOW, "heuristic")

    assert sorted(i.pr.id for i in queue.items) == sorted(a.pr.id for a in batch)
    queued = [i for i in queue.items if i.rank is not None]
    plan = capacity_plan(cfg, [i.estimated_review_minutes for i in queued])
    if plan.mode == "count":
        assert plan.reviews is not None and len(queued) <= plan.reviews
    else:
        assert queue.capacity.minutes_queued <= queue.capacity.minutes_available
    assert queue.capacity.minutes_queued == sum(i.estimated_review_minutes for i in queued)
    for item in queued:
        owner = item.decision.owner
        assert owner is not None and owner.login and not is_bot_login(owner.login, cfg.owners)
        assert item.decision.kind is DecisionKind.REVIEW and item.decision.reasons == ()
        assert not item.errors
    assert [i.rank for i in queued] == list(range(1, len(queued) + 1))
    positions = [i.position for i in queue.items if i.position is not None]
    assert positions == list(range(1, len(positions) + 1))

    shuffled = batch[:]
    seed.shuffle(shuffled)
    again = rank(shuffled, decide(shuffled, cfg, ctx), cfg, NOW, "heuristic")
    assert [i.pr.id for i in again.items if i.rank or i.position] == [
        i.pr.id for i in queue.items if i.rank or i.position
    ]
    assert rank(batch, decisions, cfg, NOW, "heuristic") == queue

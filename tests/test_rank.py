"""The rank stage: estimates, capacity in both modes, explained priority, stable order, the cut
line, and the queue summary the reports open with."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from factories import NOW, make

from triage.config import CapacityConfig, Config, GatesConfig, PriorityConfig, SizeConfig
from triage.models import Assessment, ChangeKind, DecisionKind, Metrics, Trailer
from triage.policy import PolicyContext, decide
from triage.rank import capacity_plan, estimate_minutes, priority, rank

CFG = Config()
K = DecisionKind


def run(batch: list[Assessment], cfg: Config = CFG):  # type: ignore[no-untyped-def]
    return rank(batch, decide(batch, cfg, PolicyContext(NOW)), cfg, NOW, "heuristic")


def metrics(lines: int) -> Metrics:
    return make(lines=lines).metrics


# ----------------------------------------------------------------------------- estimates


@pytest.mark.parametrize(("lines", "minutes"), [(0, 5), (20, 5), (25, 5), (26, 6), (300, 60), (301, 61), (1000, 200)])
def test_estimated_review_minutes(lines: int, minutes: int) -> None:
    assert estimate_minutes(metrics(lines), CFG) == minutes


def test_estimate_follows_config() -> None:
    cfg = Config(size=SizeConfig(loc_per_hour=600, min_review_minutes=10))
    assert estimate_minutes(metrics(50), cfg) == 10
    assert estimate_minutes(metrics(600), cfg) == 60


# ----------------------------------------------------------------------------- capacity


def test_count_mode_capacity() -> None:
    plan = capacity_plan(CFG, [5, 10, 60])
    assert (plan.mode, plan.reviews, plan.minutes) == ("count", 12, 12 * 10)  # 3 x 4 x 7/7; median 10


@pytest.mark.parametrize(("reviewers", "per_week", "days", "reviews"), [(3, 4, 14, 24), (2, 4, 3, 3), (1, 1, 1, 0)])
def test_count_mode_scales_with_period(reviewers: int, per_week: int, days: int, reviews: int) -> None:
    cfg = Config(capacity=CapacityConfig(reviewers=reviewers, reviews_per_week=per_week, period_days=days))
    assert capacity_plan(cfg, []).reviews == reviews


def test_count_mode_minutes_without_candidates_use_the_minimum() -> None:
    assert capacity_plan(CFG, []).minutes == 12 * 5


@pytest.mark.parametrize(("days", "working"), [(7, 5), (14, 10), (1, 1), (3, 2)])
def test_minutes_mode_capacity(days: int, working: int) -> None:
    cfg = Config(capacity=CapacityConfig(reviewers=2, minutes_per_day=60, period_days=days))
    plan = capacity_plan(cfg, [5])
    assert (plan.mode, plan.reviews, plan.minutes) == ("minutes", None, 2 * 60 * working)


# ----------------------------------------------------------------------------- priority


def test_priority_terms_are_explained() -> None:
    p = priority(make(lines=0, risk=0.5, change_type=ChangeKind.FIX, labels=("bug",), age_days=0), CFG, NOW)
    terms = {t.name: t for t in p.terms}
    assert list(terms) == ["size", "risk", "value", "age"]
    assert terms["size"].contribution == 1.0
    assert terms["risk"].contribution == 0.3
    assert terms["value"].value == 1.0 and terms["value"].contribution == 0.4
    assert terms["value"].detail == "linked issue #1, label bug, a fix"
    assert terms["age"].contribution == 0.0
    assert p.score == pytest.approx(1.7)
    assert p.score == pytest.approx(sum(t.contribution for t in p.terms))


def test_smaller_is_higher() -> None:
    assert priority(make(lines=10), CFG, NOW).score > priority(make(lines=300), CFG, NOW).score
    assert priority(make(lines=1000), CFG, NOW).terms[0].contribution == 0.0


def test_risk_raises_priority() -> None:
    assert priority(make(risk=0.9), CFG, NOW).score > priority(make(risk=0.1), CFG, NOW).score


def test_age_grows_linearly_and_is_unbounded() -> None:
    def age(days: float) -> float:
        return next(t.contribution for t in priority(make(age_days=days), CFG, NOW).terms if t.name == "age")

    assert age(14) == 0.5  # weight 0.5 x 14 / 14
    assert age(28) == 1.0
    assert age(3650) == round(0.5 * 3650 / 14, 4)  # a ten-year-old PR: large, finite
    huge_old = priority(make(lines=1000, risk=0.0, linked_issues=(), age_days=60), CFG, NOW)
    tiny_new = priority(make(lines=1, risk=1.0, labels=("bug",), age_days=0), CFG, NOW)
    assert huge_old.score > tiny_new.score  # anti-starvation


def test_age_term_can_be_switched_off() -> None:
    cfg = Config(priority=PriorityConfig(age_step_days=0))
    assert priority(make(age_days=400), cfg, NOW).terms[3].contribution == 0.0


# ----------------------------------------------------------------------------- order and cut


def test_order_by_priority_then_age_then_id() -> None:
    batch = [
        make("b", lines=10),
        make("a", lines=10),
        make("old", lines=10, age_days=1.0 + 1e-9),
        make("big", lines=400),
    ]
    queue = run(batch)
    assert [i.pr.id for i in queue.items] == ["old", "a", "b", "big"]
    assert [i.rank for i in queue.items] == [1, 2, 3, 4]


def test_same_input_any_order_same_queue() -> None:
    batch = [make(f"p{i}", lines=(i * 37) % 300 + 1, risk=(i % 5) / 5, age_days=i % 4) for i in range(30)]
    expected = [i.pr.id for i in run(batch).items]
    for seed in range(3):
        shuffled = batch[:]
        random.Random(seed).shuffle(shuffled)
        assert [i.pr.id for i in run(shuffled).items] == expected


def test_count_mode_cut_line_throttles_the_rest_with_positions() -> None:
    cfg = Config(capacity=CapacityConfig(reviewers=1, reviews_per_week=2, period_days=7))
    batch = [make(f"p{i}", lines=10 * (i + 1)) for i in range(5)]
    queue = run(batch, cfg)
    assert [(i.pr.id, i.rank, i.position, i.decision.kind) for i in queue.items] == [
        ("p0", 1, None, K.REVIEW),
        ("p1", 2, None, K.REVIEW),
        ("p2", None, 1, K.THROTTLED),
        ("p3", None, 2, K.THROTTLED),
        ("p4", None, 3, K.THROTTLED),
    ]
    cut = queue.items[2].decision
    assert [r.rule for r in cut.reasons] == ["capacity"]
    assert "2 of 2 reviews" in cut.reasons[0].message
    assert "#1 in line behind the cut" in cut.reasons[0].message
    assert cut.labels == ("size/M", "risk/low", "triage/throttled")
    cap = queue.capacity
    assert (cap.reviewers, cap.period_days, cap.minutes_queued) == (1, 7, 10)
    assert cap.minutes_needed == 5 + 5 + 6 + 8 + 10
    assert cap.minutes_available == 2 * 6  # 2 reviews x median estimate


def test_minutes_mode_fills_while_items_fit() -> None:
    cfg = Config(capacity=CapacityConfig(reviewers=1, minutes_per_day=30, period_days=1))  # 30 minutes
    batch = [make("small1", lines=20), make("mid", lines=100, risk=1.0, labels=("bug",)), make("small2", lines=25)]
    queue = run(batch, cfg)
    ranks = {i.pr.id: (i.rank, i.position) for i in queue.items}
    # mid (20 min) ranks first on risk+value, then small1 (5) fits, small2 (5) fits exactly: 30.
    assert ranks == {"mid": (1, None), "small1": (2, None), "small2": (3, None)}
    queue2 = run([*batch, make("another", lines=28)], cfg)  # 6 minutes, ranks last, no room left
    assert {i.pr.id: i.position for i in queue2.items}["another"] == 1
    assert queue2.capacity.minutes_queued == 30 and queue2.capacity.minutes_available == 30


def test_item_too_big_for_capacity_does_not_block_smaller_ones() -> None:
    cfg = Config(capacity=CapacityConfig(reviewers=1, minutes_per_day=30, period_days=1))
    batch = [make("huge", lines=900, risk=1.0, labels=("bug",), age_days=30), make("small", lines=5)]
    queue = run(batch, cfg)
    assert [(i.pr.id, i.rank, i.position) for i in queue.items] == [("small", 1, None), ("huge", None, 1)]


def test_only_review_decisions_with_owner_enter_the_queue() -> None:
    batch = [make("ok"), make("draft", draft=True), make("bot", author="x[bot]", author_association="NONE")]
    queue = run(batch)
    assert [(i.pr.id, i.rank) for i in queue.items] == [("ok", 1), ("draft", None), ("bot", None)]


def test_rank_does_not_re_decide_a_review_without_owner() -> None:
    """Holding an owner-less PR is policy's `no-owner` gate; rank refuses the broken contract."""
    batch = [make("x")]
    decisions = tuple(replace(d, owner=None) for d in decide(batch, CFG, PolicyContext(NOW)))
    with pytest.raises(ValueError, match="without an accountable owner: x"):
        rank(batch, decisions, CFG, NOW, "heuristic")


def test_policy_holds_a_pr_without_owner_before_rank() -> None:
    batch = [make("x", author="x[bot]", author_association="NONE")]
    queue = run(batch)
    assert queue.items[0].rank is None
    assert queue.items[0].decision.kind is not K.REVIEW


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="1 assessments but 0 decisions"):
        rank([make()], (), CFG, NOW, "heuristic")


def test_queue_fields() -> None:
    queue = run([make()])
    assert queue.generated_at == NOW and queue.review_source == "heuristic"


def test_created_at_unknown_sorts_last() -> None:
    batch = [make("nodate", created_at=None), make("dated", age_days=0)]
    batch[1] = replace(batch[1], pr=replace(batch[1].pr, created_at=NOW - timedelta(seconds=1)))
    assert [i.pr.id for i in run(batch).items] == ["dated", "nodate"]


# ---------------------------------------------------------------- fair share (issue #11, flood)


def _share_rules(queue) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {i.pr.id: (i.decision.reasons[-1].rule if i.decision.reasons else None) for i in queue.items}


def test_one_author_flooding_trivial_prs_gets_a_quarter_of_the_slots() -> None:
    # The `make triage` story: nine one-line typo PRs win every shortest-job-first comparison.
    typos = [make(f"typo-{i}", lines=1, author="typo-hunter", age_days=1 + i / 10) for i in range(9)]
    others = [make(f"work-{i}", lines=40, author=f"dev-{i}") for i in range(9)]
    queue = run([*typos, *others])  # default capacity: 3 x 4 = 12 reviews, share 0.25 -> 3
    queued = [i.pr.id for i in queue.items if i.rank is not None]
    assert len(queued) == 12
    assert sum(q.startswith("typo-") for q in queued) == 3
    assert all(f"work-{i}" in queued for i in range(9))
    held = [i for i in queue.items if i.pr.id.startswith("typo-") and i.rank is None]
    assert [i.position for i in held] == [1, 2, 3, 4, 5, 6]  # first in line behind the cut
    reason = held[0].decision.reasons[-1]
    assert reason.rule == "author-share" and reason.kind is K.THROTTLED
    assert reason.override_label == "triage/override-author-share"
    assert "typo-hunter already has 3 PRs" in reason.message and "25% of capacity: 3 review slots" in reason.message
    assert held[0].decision.labels[-1] == "triage/throttled"


def test_bots_behind_one_human_share_one_quota() -> None:
    carol = (Trailer("Co-authored-by", "Carol <carol@example.com>"),)
    cfg = Config(gates=GatesConfig(ai_pr_cap_per_human=0))  # the AI cap would hold them first
    bots = [
        make(f"bot-{i}", lines=2, author=login, trailers=carol, author_association="NONE")
        for i, login in enumerate(["copilot-swe-agent", "renovate[bot]", "dependabot[bot]", "devin-ai-integration"])
    ]
    own = [make("carol-own", lines=2, author="carol")]
    others = [make(f"work-{i}", lines=40, author=f"dev-{i}") for i in range(10)]
    queue = run([*bots, *own, *others], cfg)
    carols = [i for i in queue.items if i.decision.owner is not None and i.decision.owner.login.lower() == "carol"]
    assert len(carols) == 5
    assert sum(i.rank is not None for i in carols) == 3
    assert {r for i in carols if i.rank is None for r in [i.decision.reasons[-1].rule]} == {"author-share"}


def test_share_is_work_conserving_and_honest_about_why() -> None:
    # Only alice has PRs: her third PR waits for capacity, not for a share nobody else uses.
    cfg = Config(capacity=CapacityConfig(reviewers=1, reviews_per_week=8, period_days=7))  # 8 slots, share 2
    alone = [make(f"a{i}", lines=5 + i) for i in range(10)]
    queue = run(alone, cfg)
    assert sum(i.rank is not None for i in queue.items) == 8
    assert {_share_rules(queue)[f"a{i}"] for i in (8, 9)} == {"capacity"}
    # With one PR of bob's competing, alice keeps every slot bob cannot use.
    queue = run([*alone, make("b0", lines=900, author="bob")], cfg)
    assert sum(i.rank is not None and i.pr.author == "alice" for i in queue.items) == 7
    rules = _share_rules(queue)
    assert rules["b0"] is None  # bob's big PR got its slot over alice's smaller ones
    assert rules["a7"] == "author-share" and rules["a9"] == "capacity"


def test_share_override_label_and_switch_off() -> None:
    batch = [make(f"t{i}", lines=1, author="typo-hunter") for i in range(6)] + [
        make(f"w{i}", lines=40, author=f"dev-{i}") for i in range(12)
    ]
    assert sum(i.rank is not None and i.pr.author == "typo-hunter" for i in run(batch).items) == 3
    labelled = [replace(a, pr=replace(a.pr, labels=("triage/override-author-share",))) for a in batch[:6]]
    assert sum(i.rank is not None and i.pr.author == "typo-hunter" for i in run([*labelled, *batch[6:]]).items) == 6
    off = Config(capacity=CapacityConfig(author_share=0))
    assert sum(i.rank is not None and i.pr.author == "typo-hunter" for i in run(batch, off).items) == 6


def test_share_in_minutes_mode() -> None:
    # 1 reviewer x 100 minutes x 1 working day; a quarter is 25 minutes.
    cfg = Config(capacity=CapacityConfig(reviewers=1, minutes_per_day=100, period_days=1))
    small = [make(f"s{i}", lines=10, author="alice", age_days=2 - i / 10) for i in range(8)]  # 5 min each
    others = [make(f"o{i}", lines=50, author=f"dev-{i}", age_days=2 - i / 10) for i in range(8)]  # 10 min each
    queue = run([*small, *others], cfg)
    rules = _share_rules(queue)
    # 5 of alice's fill her 25 minutes; 7 others take 70; the 5 minutes left go to alice too.
    assert sorted(s for s in rules if s.startswith("s") and rules[s] is None) == [f"s{i}" for i in range(6)]
    assert all(rules[f"o{i}"] is None for i in range(7))
    assert rules["o7"] == "capacity"
    assert rules["s6"] == rules["s7"] == "author-share"
    reason = next(r for i in queue.items for r in i.decision.reasons if r.rule == "author-share")
    assert "25 review minutes" in reason.message
    # A human's first PR always fits, however far it is over the share.
    big = run([make("big", lines=300, author="zed"), *others[:2]], cfg)
    assert all(i.rank is not None for i in big.items)

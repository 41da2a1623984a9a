"""The write plan: sticky comment, labels, closing. Pure functions, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from triage.config import CIConfig, Config
from triage.github.comment import (
    MAX_COMMENT_CHARS,
    ActionKind,
    PrState,
    find_sticky,
    label_changes,
    plan_for_item,
    state_from_github,
    sticky_body,
    wanted_labels,
)
from triage.github.convert import STICKY_MARKER
from triage.models import (
    Assessment,
    Decision,
    DecisionKind,
    Metrics,
    ParsedDiff,
    Priority,
    PullRequest,
    QueueItem,
    Reason,
    Review,
    ReviewSource,
    Risk,
    RiskLevel,
    SizeBucket,
)

BOT = {"login": "github-actions[bot]", "type": "Bot"}


def item(
    kind: DecisionKind = DecisionKind.REVIEW,
    *,
    size: SizeBucket = SizeBucket.S,
    level: RiskLevel = RiskLevel.LOW,
    errors: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    reasons: tuple[Reason, ...] = (),
) -> QueueItem:
    metrics = Metrics(
        lines_added=20,
        lines_deleted=2,
        files=1,
        directories=1,
        subsystems=("src",),
        entropy=0.0,
        size_bucket=size,
        excluded_lines=0,
        source_lines=22,
        test_lines=0,
        docs_lines=0,
    )
    assessment = Assessment(
        pr=PullRequest(id="7", title="t", number=7),
        diff=ParsedDiff(),
        metrics=metrics,
        risk=Risk(score=0.1, level=level),
        review=Review(source=ReviewSource.HEURISTIC, summary="s"),
        errors=errors,
    )
    decision = Decision(kind=kind, reasons=reasons, labels=labels)
    return QueueItem(
        assessment=assessment,
        decision=decision,
        priority=Priority(score=1.0),
        estimated_review_minutes=5,
        rank=1 if kind is DecisionKind.REVIEW else None,
    )


def test_sticky_body_starts_with_the_marker_and_fits_githubs_limit():
    assert sticky_body("## Triage\nok") == f"{STICKY_MARKER}\n## Triage\nok\n"
    long = sticky_body("x" * 100_000)
    assert long.startswith(STICKY_MARKER) and len(long) <= MAX_COMMENT_CHARS
    assert "cut to fit" in long


def test_find_sticky_only_trusts_our_own_comments():
    comments = [
        {"id": 1, "user": {"login": "mallory", "type": "User"}, "body": f"{STICKY_MARKER} fake"},
        {"id": 2, "user": BOT, "body": "a different bot comment"},
        {"id": 3, "user": BOT, "body": f"{STICKY_MARKER}\nreal"},
        {"id": 4, "user": BOT, "body": f"{STICKY_MARKER}\nduplicate from a race"},
    ]
    assert find_sticky(comments)["id"] == 3
    assert find_sticky(comments, own_login="mallory")["id"] == 1  # a PAT acting as that user
    assert find_sticky(comments[:2]) is None


@pytest.mark.parametrize(
    ("current", "wanted", "add", "remove"),
    [
        ((), ("size/S", "triage/review"), ("size/S", "triage/review"), ()),
        (("size/XL", "bug"), ("size/S",), ("size/S",), ("size/XL",)),
        (("triage/override-size", "triage/reject"), ("triage/review",), ("triage/review",), ("triage/reject",)),
        (("risk/high", "size/S"), ("size/S", "risk/high"), (), ()),
        (("sizeable", "triage"), ("size/M",), ("size/M",), ()),  # not our namespaces
    ],
)
def test_label_changes(current, wanted, add, remove):
    assert label_changes(current, wanted) == (add, remove)


def test_wanted_labels_include_policy_labels_and_skip_size_when_unmeasured():
    wanted = wanted_labels(item(labels=("needs-issue",)))
    assert wanted == ("size/S", "risk/low", "triage/review", "needs-issue")
    assert wanted_labels(item(DecisionKind.REJECT, errors=("not a diff",))) == ("triage/reject",)


def test_first_run_plans_a_comment_and_labels():
    actions = plan_for_item(item(), PrState(number=7, labels=("bug",)), "## report", Config())
    assert [a.kind for a in actions] == [ActionKind.COMMENT, ActionKind.ADD_LABELS]
    assert actions[0].body == sticky_body("## report")
    assert actions[1].labels == ("size/S", "risk/low", "triage/review")


def test_unchanged_state_plans_nothing_and_a_changed_report_edits():
    body = sticky_body("## report")
    state = PrState(number=7, labels=("size/S", "risk/low", "triage/review"), sticky_id=55, sticky_body=body)
    assert plan_for_item(item(), state, "## report", Config()) == ()
    edited = plan_for_item(item(), state, "## new report", Config())
    assert [(a.kind, a.comment_id) for a in edited] == [(ActionKind.EDIT_COMMENT, 55)]


def test_close_only_for_close_decisions_when_allowed_and_open():
    stale = item(DecisionKind.CLOSE, reasons=(Reason("stale", "no human activity for 45 days"),))
    state = PrState(number=7)
    assert ActionKind.CLOSE not in [a.kind for a in plan_for_item(stale, state, "r", Config())]
    now = datetime(2026, 1, 31, tzinfo=UTC)
    warned = PrState(number=7, warned_at=datetime(2026, 1, 1, tzinfo=UTC))
    closing = plan_for_item(stale, warned, "r", Config(), allow_close=True, now=now)
    assert [a.kind for a in closing] == [ActionKind.COMMENT, ActionKind.ADD_LABELS, ActionKind.CLOSE]
    assert closing[-1].summary == "close (no human activity for 45 days)"
    assert ActionKind.CLOSE not in [
        a.kind for a in plan_for_item(stale, PrState(number=7, open=False), "r", Config(), allow_close=True, now=now)
    ]
    reject = plan_for_item(item(DecisionKind.REJECT), state, "r", Config(), allow_close=True, now=now)
    assert ActionKind.CLOSE not in [a.kind for a in reject]


def test_config_switches_and_unknown_comments():
    cfg = Config(ci=CIConfig(comment=False, labels=False))
    assert plan_for_item(item(), PrState(number=7), "r", cfg) == ()
    unknown = PrState(number=7, comments_known=False)
    assert [a.kind for a in plan_for_item(item(), unknown, "r", Config())] == [ActionKind.ADD_LABELS]


def test_state_from_github():
    pr = {"number": 7, "state": "open", "labels": [{"name": "bug"}, {"name": "size/L"}]}
    state = state_from_github(pr, [{"id": 9, "user": BOT, "body": f"{STICKY_MARKER}\nx"}])
    assert state == PrState(
        number=7, open=True, labels=("bug", "size/L"), sticky_id=9, sticky_body=f"{STICKY_MARKER}\nx"
    )

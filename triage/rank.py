"""The rank stage: `Assessment`s + `Decision`s -> `Queue` (ordered, explained, cut at capacity).

Only PRs whose decision is `review` (they passed every gate) and that have an accountable human
compete for the queue. They are ordered by an explained priority, and the team's review
capacity for the period draws the cut line: candidates above it get `rank` 1..n, the rest become
`throttled` with rule `capacity` and a `position` behind the cut. Backpressure is the point: the
queue is never longer than the team can drain.

Choices, so a reader of the report can check every number:

* Estimated review minutes = max(`size.min_review_minutes`, ceil(counted changed lines /
  `size.loc_per_hour` x 60)) (SmartBear: under 300-500 LOC/hour).
* Capacity, count mode (default): `reviewers x reviews_per_week x period_days / 7` reviews,
  rounded down (Google: ~4 reviews per reviewer per week); the queue holds at most that many
  items. Its minutes figure (`Capacity.minutes_available`) is that count times the median
  estimate of the candidates (times `min_review_minutes` when there are none): indicative only,
  the count is the binding limit.
* Capacity, minutes mode (`capacity.minutes_per_day > 0`): `reviewers x minutes_per_day x
  working days`, working days = round(period_days x 5 / 7), at least 1 (the same answer whatever
  weekday the run happens on). Candidates are taken in priority order while they fit; one that
  does not fit is throttled and smaller ones behind it may still fit, so one huge PR cannot
  block the whole queue.
* Priority = sum of four explained terms, each `weight x value`:
  - `size`: 1 - log(1+lines)/log(1+size.split_lines), clamped to [0, 1]: shortest job first;
  - `risk`: the risk score in [0, 1]: risky changes get eyes early;
  - `value`: 0.4 for a linked issue, 0.4 for a label in `priority.value_labels`, 0.2 for a fix
    (review change type), capped at 1;
  - `age`: days waiting / priority.age_step_days: linear and without bound (the aging of
    priority schedulers), so any PR that keeps waiting eventually outranks every fresh one
    (anti-starvation) while a few weeks of waiting do not drown size and risk. With the
    default weights the other terms sum to at most 2, so 8 weeks of waiting beats them all.
    Waiting starts at `created_at` (else `updated_at`; unknown = 0 days). A step of 0 switches
    the term off.
* Fair share (`author-share`, issue #11): while candidates are taken in priority order, no
  accountable human (the author, or the human behind a bot or agent, so several bots of one
  person count as one) takes more than `capacity.author_share` of the period: in count mode
  floor(share x reviews) slots, at least 1 (a quarter of 12 slots is 3); in minutes mode that
  share of the minutes, a human's first PR always fitting. Their further PRs are throttled
  with rule `author-share` and wait behind the cut with the capacity-cut PRs, in priority
  order. The cut is work-conserving: slots that no other candidate can use go to held PRs in
  priority order, so fairness never leaves reviewers idle. Without it, shortest-job-first
  hands a week's queue to whoever sends the most one-line PRs. Override label
  `triage/override-author-share`; `author_share = 0` switches it off.
* Order: priority descending, then `created_at` (oldest first; unknown last), then `id`: equal
  inputs always give the same order, whatever order they came in.
* `Queue.items`: queued items by rank, then capacity-throttled items by position, then every
  other item in input order.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from triage.config import Config
from triage.models import (
    Assessment,
    Capacity,
    ChangeKind,
    Decision,
    DecisionKind,
    Metrics,
    Priority,
    PriorityTerm,
    Queue,
    QueueItem,
    Reason,
)
from triage.timeutil import FAR_FUTURE, as_utc

AUTHOR_SHARE_RULE = "author-share"

__all__ = [
    "AUTHOR_SHARE_RULE",
    "CapacityPlan",
    "capacity_plan",
    "estimate_minutes",
    "priority",
    "rank",
    "share_key",
]


def estimate_minutes(metrics: Metrics, cfg: Config) -> int:
    """Minutes one reviewer needs for the PR's counted lines (never below the minimum)."""
    lines = metrics.changed_lines
    return max(cfg.size.min_review_minutes, math.ceil(lines / cfg.size.loc_per_hour * 60))


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """The review budget of one period: a number of reviews (count mode) or of minutes."""

    mode: str  # "count" | "minutes"
    reviews: int | None  # the binding limit in count mode
    minutes: int  # binding in minutes mode; indicative in count mode

    def fits(self, queued: int, queued_minutes: int, minutes: int) -> bool:
        if self.mode == "count":
            return self.reviews is not None and queued < self.reviews
        return queued_minutes + minutes <= self.minutes


def capacity_plan(cfg: Config, candidate_minutes: Sequence[int]) -> CapacityPlan:
    """The period's budget (module docstring for both modes)."""
    c = cfg.capacity
    if c.minutes_per_day > 0:
        working_days = max(1, round(c.period_days * 5 / 7))
        return CapacityPlan("minutes", None, c.reviewers * c.minutes_per_day * working_days)
    reviews = math.floor(c.reviewers * c.reviews_per_week * c.period_days / 7)
    typical = statistics.median_low(candidate_minutes) if candidate_minutes else cfg.size.min_review_minutes
    return CapacityPlan("count", reviews, reviews * typical)


def _waiting_since(a: Assessment) -> datetime | None:
    dt = a.pr.created_at or a.pr.updated_at
    return as_utc(dt) if dt is not None else None


def priority(a: Assessment, cfg: Config, now: datetime) -> Priority:
    """The explained priority of one PR (module docstring for the terms)."""
    p = cfg.priority
    lines = a.metrics.changed_lines
    size_value = 1.0 - min(1.0, math.log1p(lines) / math.log1p(max(1, cfg.size.split_lines)))
    size_value = max(0.0, size_value)

    risk_value = min(1.0, max(0.0, a.risk.score))

    value_parts: list[str] = []
    value = 0.0
    if a.pr.linked_issues:
        value += 0.4
        value_parts.append(f"linked issue {a.pr.linked_issues[0]}")
    wanted = {v.lower() for v in p.value_labels}
    hits = [lb for lb in a.pr.labels if lb.lower() in wanted]
    if hits:
        value += 0.4
        value_parts.append(f"label {hits[0]}")
    if a.review.change_type is ChangeKind.FIX:
        value += 0.2
        value_parts.append("a fix")
    value = min(1.0, value)

    since = _waiting_since(a)
    days = max(0.0, (as_utc(now) - since).total_seconds() / 86400) if since else 0.0
    age_value = days / p.age_step_days if p.age_step_days > 0 else 0.0

    terms = (
        PriorityTerm(
            "size",
            float(lines),
            round(p.size_weight * size_value, 4),
            f"{lines} counted lines: smaller reviews first (shortest job first)",
        ),
        PriorityTerm(
            "risk",
            round(risk_value, 4),
            round(p.risk_weight * risk_value, 4),
            f"risk {a.risk.level.value}: risky changes get eyes early",
        ),
        PriorityTerm(
            "value",
            round(value, 4),
            round(p.value_weight * value, 4),
            ", ".join(value_parts) if value_parts else "no linked issue, value label or fix",
        ),
        PriorityTerm(
            "age",
            round(days, 2),
            round(p.age_weight * age_value, 4),
            f"waiting {days:.1f} days: grows without bound so nothing starves"
            f" (+{p.age_weight:g} every {p.age_step_days:g} days)",
        ),
    )
    return Priority(round(sum(t.contribution for t in terms), 4), terms)


def _order_key(item: QueueItem) -> tuple[float, bool, datetime, str]:
    created = item.pr.created_at
    when = as_utc(created) if created else FAR_FUTURE
    return (-item.priority.score, created is None, when, item.pr.id)


def share_key(item: QueueItem, cfg: Config) -> str | None:
    """Whose share of capacity a PR counts against: its accountable human (the author, or the
    human behind a bot or agent), lower-cased. A PR routed to CODEOWNERS has no such human; it
    counts against its author's login when there is one. None = no share applies (no one to
    count it against, or the PR carries the `author-share` override label)."""
    if f"{cfg.gates.override_prefix}{AUTHOR_SHARE_RULE}" in item.pr.labels:
        return None
    owner = item.decision.owner
    if owner is not None and owner.source != "codeowners":
        return owner.login.strip().lower() or None
    return item.pr.author.strip().lower() or None


@dataclass(slots=True)
class _ShareLimit:
    """The fair share of one period (module docstring): what each accountable human has taken
    so far, and whether one more PR of theirs still fits."""

    fraction: float
    reviews: int | None  # count mode: review slots per human
    minutes: float | None  # minutes mode: review minutes per human
    taken: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (PRs, minutes)

    @classmethod
    def of(cls, plan: CapacityPlan, cfg: Config) -> _ShareLimit:
        fraction = cfg.capacity.author_share
        if not 0 < fraction < 1:
            return cls(fraction, None, None)
        if plan.mode == "count":
            return cls(fraction, max(1, math.floor(fraction * (plan.reviews or 0))), None)
        return cls(fraction, None, fraction * plan.minutes)

    def allows(self, key: str, minutes: int) -> bool:
        count, used = self.taken.get(key, (0, 0))
        if self.reviews is not None:
            return count < self.reviews
        if self.minutes is not None:
            # A human's first PR always fits: one large PR must not wait forever for its share.
            return count == 0 or used + minutes <= self.minutes
        return True

    def take(self, key: str, minutes: int) -> None:
        count, used = self.taken.get(key, (0, 0))
        self.taken[key] = (count + 1, used + minutes)

    def reason(self, item: QueueItem, cfg: Config, pos: int) -> Reason:
        key = share_key(item, cfg) or "?"
        count, used = self.taken.get(key, (0, 0))
        limit = (
            f"{self.reviews} review slots" if self.reviews is not None else f"{round(self.minutes or 0)} review minutes"
        )
        msg = (
            f"{key} already has {count} PRs ({used} min) in this {cfg.capacity.period_days}-day period's "
            f"queue, their fair share ({self.fraction:.0%} of capacity: {limit}); waits while other "
            f"authors' PRs do; #{pos} in line behind the cut"
        )
        label = f"{cfg.gates.override_prefix}{AUTHOR_SHARE_RULE}"
        return Reason(AUTHOR_SHARE_RULE, msg, label, DecisionKind.THROTTLED)


def _throttle(decision: Decision, reason: Reason) -> Decision:
    kept = tuple(lb for lb in decision.labels if not lb.startswith("triage/"))
    labels = (*kept, f"triage/{DecisionKind.THROTTLED.value}")
    return replace(decision, kind=DecisionKind.THROTTLED, reasons=(*decision.reasons, reason), labels=labels)


def _plain_cut(candidates: Sequence[int], items: Sequence[QueueItem], plan: CapacityPlan) -> set[int]:
    """The candidates the capacity cut alone would queue, in priority order."""
    taken: set[int] = set()
    used = 0
    for i in candidates:
        minutes = items[i].estimated_review_minutes
        if plan.fits(len(taken), used, minutes):
            taken.add(i)
            used += minutes
    return taken


def rank(
    assessments: Sequence[Assessment],
    decisions: Sequence[Decision],
    cfg: Config,
    now: datetime,
    review_source: str,
) -> Queue:
    """The ordered, capacity-cut queue of one batch. Pure."""
    if len(assessments) != len(decisions):
        raise ValueError(f"rank: {len(assessments)} assessments but {len(decisions)} decisions")
    items = [
        QueueItem(a, d, priority(a, cfg, now), estimate_minutes(a.metrics, cfg))
        for a, d in zip(assessments, decisions, strict=True)
    ]
    # Policy decides; rank only orders and cuts at capacity. A `review` decision without an
    # owner means policy broke its contract (its `no-owner` gate holds such PRs), so it is a
    # programming error here rather than a second, silent decision.
    orphans = [
        item.pr.id for item in items if item.decision.kind is DecisionKind.REVIEW and item.decision.owner is None
    ]
    if orphans:
        raise ValueError(f"rank: review decisions without an accountable owner: {', '.join(orphans[:5])}")
    candidates = [i for i, item in enumerate(items) if item.decision.kind is DecisionKind.REVIEW]
    others = [i for i, item in enumerate(items) if item.decision.kind is not DecisionKind.REVIEW]
    candidates.sort(key=lambda i: _order_key(items[i]))

    plan = capacity_plan(cfg, [items[i].estimated_review_minutes for i in candidates])
    share = _ShareLimit.of(plan, cfg)
    queued: list[int] = []
    cut: list[int] = []
    held: list[int] = []  # over their owner's fair share while others wait
    used = 0
    for i in candidates:
        minutes = items[i].estimated_review_minutes
        key = share_key(items[i], cfg)
        if key is not None and not share.allows(key, minutes):
            held.append(i)
        elif plan.fits(len(queued), used, minutes):
            queued.append(i)
            used += minutes
            if key is not None:
                share.take(key, minutes)
        else:
            cut.append(i)
    for i in list(held):  # work-conserving: capacity nobody else wants goes to the held PRs
        minutes = items[i].estimated_review_minutes
        if plan.fits(len(queued), used, minutes):
            held.remove(i)
            queued.append(i)
            used += minutes
    queued.sort(key=lambda i: _order_key(items[i]))
    # A held PR waits for its share only when the plain cut (no share) would have queued it;
    # one that would be below the cut anyway waits for capacity, and its reason says so.
    held_set = set(held) & _plain_cut(candidates, items, plan)
    cut = sorted((*cut, *held), key=lambda i: _order_key(items[i]))

    needed = sum(items[i].estimated_review_minutes for i in candidates)
    budget = (
        f"{len(queued)} of {plan.reviews} reviews"
        if plan.mode == "count"
        else f"{used} of {plan.minutes} review minutes"
    )
    for rank_no, i in enumerate(queued, start=1):
        items[i] = replace(items[i], rank=rank_no)
    for pos, i in enumerate(cut, start=1):
        if i in held_set:
            reason = share.reason(items[i], cfg, pos)
        else:
            msg = (
                f"below the capacity cut line ({budget} this {cfg.capacity.period_days}-day period "
                f"are taken by higher-priority PRs); #{pos} in line behind the cut"
            )
            reason = Reason("capacity", msg)
        items[i] = replace(items[i], decision=_throttle(items[i].decision, reason), position=pos)

    capacity = Capacity(
        reviewers=cfg.capacity.reviewers,
        period_days=cfg.capacity.period_days,
        minutes_available=plan.minutes,
        minutes_needed=needed,
        minutes_queued=used,
    )
    ordered = tuple(items[i] for i in (*queued, *cut, *others))
    return Queue(ordered, capacity, now, review_source)

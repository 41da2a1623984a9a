"""The queue-level view every report opens with, computed once from a `Queue`.

Input: `Queue`. Output: `QueueView`, a small frozen record that the JSON, Markdown, HTML and
terminal renderers all read, so the four reports can never disagree about what "queued" or
"shed" means. `QueueSummary` holds the figures that follow from what rank decided (queued, shed
by rule, oldest waiting, load per owner, degraded items); `QueueView` adds what the reports show.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from triage.models import DecisionKind, Queue, QueueItem, ReviewSource
from triage.timeutil import as_utc

# The order decisions are listed in every report: the queue first, then the ways of leaving it.
DECISION_ORDER: tuple[DecisionKind, ...] = (
    DecisionKind.REVIEW,
    DecisionKind.THROTTLED,
    DecisionKind.DUPLICATE,
    DecisionKind.NEEDS_SPLIT,
    DecisionKind.REJECT,
    DecisionKind.CLOSE,
    DecisionKind.SKIPPED,
)
SHED_KINDS: tuple[DecisionKind, ...] = DECISION_ORDER[1:]

# How each cause of degradation (`Degraded`) reads in the human reports.
DEGRADED_LABELS: dict[str, str] = {
    "load_errors": "load errors",
    "parse_errors": "parse errors",
    "stage_errors": "stage errors",
    "llm_unavailable": "LLM unavailable",
}


# ------------------------------------------------------------------------------ the summary


@dataclass(frozen=True, slots=True)
class OwnerLoad:
    """How much of the queue one accountable owner carries."""

    login: str
    queued: int
    waiting: int  # queued + throttled
    minutes_queued: int


@dataclass(frozen=True, slots=True)
class Degraded:
    """How many items got less than the full triage, by cause: what a batch run under failing
    dependencies (LLM endpoint, GitHub API) or on broken input gave up, so a report never
    looks complete when it is not.

    Each item is counted once, under the first stage that failed it, in pipeline order, so the
    causes add up to `total` (a later failure is mostly a consequence of an earlier one: a diff
    that was never fetched cannot be parsed, and neither is ever sent to the LLM):

    * `load_errors`: the PR could not be fully read (`PullRequest.load_errors`: a GitHub request
      that still failed after retries, a sidecar field that did not parse, an unreadable file);
    * `parse_errors`: it was read, but its diff's counts cannot be trusted (`ParsedDiff.errors`);
    * `stage_errors`: a stage raised on it: an error on the item that neither of the above
      explains (the pipeline records "internal error while triaging");
    * `llm_unavailable`: the LLM was asked and failed after its retries; the heuristic review
      and the static triage stand (`ReviewSource.UNAVAILABLE`).
    """

    total: int = 0
    load_errors: int = 0
    parse_errors: int = 0
    stage_errors: int = 0
    llm_unavailable: int = 0

    def causes(self) -> tuple[tuple[str, int], ...]:
        """(cause, items) for every cause, in pipeline order, zeros kept."""
        return (
            ("load_errors", self.load_errors),
            ("parse_errors", self.parse_errors),
            ("stage_errors", self.stage_errors),
            ("llm_unavailable", self.llm_unavailable),
        )


def _degraded_cause(item: QueueItem) -> str | None:
    """The first stage that failed this item (see `Degraded`), None when none did."""
    a = item.assessment
    if a.pr.load_errors:
        return "load_errors"
    if a.diff.errors:
        return "parse_errors"
    if a.errors:
        return "stage_errors"
    if a.review.source is ReviewSource.UNAVAILABLE:
        return "llm_unavailable"
    return None


def count_degraded(items: Sequence[QueueItem]) -> Degraded:
    """Count the degraded items of a queue by cause (see `Degraded`). Pure."""
    counts = Counter(cause for item in items if (cause := _degraded_cause(item)) is not None)
    return Degraded(total=sum(counts.values()), **counts)


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """The queue-level view every report opens with.

    `shed` counts each item that did not make the queue once, under the rule that decided it
    (its first reason); `oldest_waiting_*` looks at items still waiting for review (queued or
    throttled) by how long ago they were opened; `degraded` counts the items that got less
    than the full triage, by cause.
    """

    received: int
    queued: int
    shed: dict[str, int] = field(default_factory=dict)
    hours_needed: float = 0.0
    hours_available: float = 0.0
    hours_queued: float = 0.0
    oldest_waiting_id: str | None = None
    oldest_waiting_days: float | None = None
    load: tuple[OwnerLoad, ...] = ()
    degraded: Degraded = field(default_factory=Degraded)


def queue_summary(queue: Queue) -> QueueSummary:
    """Numbers for the head of every report, computed from the queue alone."""
    shed: Counter[str] = Counter()
    for item in queue.items:
        if item.rank is None:
            rule = item.decision.reasons[0].rule if item.decision.reasons else item.decision.kind.value
            shed[rule] += 1
    waiting = [
        i for i in queue.items if i.decision.kind in (DecisionKind.REVIEW, DecisionKind.THROTTLED) and i.pr.created_at
    ]
    oldest_id: str | None = None
    oldest_days: float | None = None
    if waiting:
        oldest = min(waiting, key=lambda i: (as_utc(i.pr.created_at or queue.generated_at), i.pr.id))
        assert oldest.pr.created_at is not None
        oldest_id = oldest.pr.id
        age = (as_utc(queue.generated_at) - as_utc(oldest.pr.created_at)).total_seconds() / 86400
        oldest_days = round(max(0.0, age), 1)

    loads: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in queue.items:
        owner = item.decision.owner
        if owner is None or item.decision.kind not in (DecisionKind.REVIEW, DecisionKind.THROTTLED):
            continue
        entry = loads[owner.login]
        entry[1] += 1
        if item.rank is not None:
            entry[0] += 1
            entry[2] += item.estimated_review_minutes
    load = tuple(
        sorted(
            (OwnerLoad(login, q, w, m) for login, (q, w, m) in loads.items()),
            key=lambda o: (-o.minutes_queued, -o.waiting, o.login),
        )
    )
    cap = queue.capacity
    return QueueSummary(
        received=len(queue.items),
        queued=sum(1 for i in queue.items if i.rank is not None),
        shed=dict(sorted(shed.items(), key=lambda kv: (-kv[1], kv[0]))),
        hours_needed=round(cap.minutes_needed / 60, 1),
        hours_available=round(cap.minutes_available / 60, 1),
        hours_queued=round(cap.minutes_queued / 60, 1),
        oldest_waiting_id=oldest_id,
        oldest_waiting_days=oldest_days,
        load=load,
        degraded=count_degraded(queue.items),
    )


@dataclass(frozen=True, slots=True)
class OldestWaiting:
    """The PR that has waited longest among those still meant to be reviewed (queued or
    throttled): the one the age term of the priority is there to protect."""

    id: str
    title: str
    created_at: datetime
    age_days: float


@dataclass(frozen=True, slots=True)
class ClusterView:
    """One cluster of PRs that address the same thing, as the reports list it."""

    id: str
    canonical: str  # PR id that gets the review
    canonical_title: str
    kind: str  # "competing" (several authors) or "resubmission" (one author's PRs)
    members: tuple[tuple[str, str, str], ...]  # (PR id, role, decision), canonical first
    minutes_saved: int  # estimated review minutes of the members shed as duplicates


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """What the LLM stage did for the queue, summed from the reviews themselves (each records
    its model, mode, requests, tokens, whether it came from the cache, and its fault), so every
    report says the same and a report re-rendered from a queue says what that run did.

    `asked` counts PRs whose review went to the LLM: answered now, from the cache, or fallen
    back to the static review (`fallbacks`, by fault kind in `failures`; "skipped" means not
    sent because the endpoint was already known to be unusable). Tokens and requests are this
    run's spend: a cached review costs none.
    """

    asked: int = 0
    answered: int = 0
    cached: int = 0
    fallbacks: int = 0
    failures: tuple[tuple[str, int], ...] = ()  # (fault kind, PRs), most first
    models: tuple[str, ...] = ()
    modes: tuple[tuple[str, int], ...] = ()  # (structured-output mode, reviews), most first
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def used(self) -> bool:
        return self.asked > 0

    @property
    def valid(self) -> int:
        """Reviews the model gave (now or from the cache) that passed validation."""
        return self.answered + self.cached


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def llm_usage(items: tuple[QueueItem, ...]) -> LLMUsage:
    """Sum the LLM side of every review (see `LLMUsage`)."""
    asked = answered = cached = fallbacks = requests = tokens_in = tokens_out = 0
    failures: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    models: dict[str, None] = {}
    for item in items:
        r = item.assessment.review
        if r.source is ReviewSource.HEURISTIC:
            continue
        asked += 1
        if r.model:
            models.setdefault(r.model, None)
        if r.source is ReviewSource.UNAVAILABLE:
            fallbacks += 1
            failures[r.fault or "unknown"] += 1
        elif r.cached:
            cached += 1
        else:
            answered += 1
        if r.source is ReviewSource.LLM and r.mode:
            modes[r.mode] += 1
        if not r.cached:
            requests += r.requests
            tokens_in += r.tokens_in
            tokens_out += r.tokens_out
    return LLMUsage(
        asked=asked,
        answered=answered,
        cached=cached,
        fallbacks=fallbacks,
        failures=_most_first(failures),
        models=tuple(models),
        modes=_most_first(modes),
        requests=requests,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )


@dataclass(frozen=True, slots=True)
class QueueView:
    received: int
    queued: int
    shed: int
    by_decision: tuple[tuple[str, int], ...]  # (decision value, count), in DECISION_ORDER, zeros kept
    shed_by_rule: tuple[tuple[str, int], ...]  # (rule that decided it, items), most first; sums to `shed`
    minutes_needed: int
    minutes_queued: int
    minutes_available: int
    oldest_waiting: OldestWaiting | None
    owner_load: tuple[OwnerLoad, ...]  # heaviest first
    errors: int  # items that carry at least one error
    degraded: Degraded  # items that got less than the full triage, by cause
    clusters: tuple[ClusterView, ...] = ()  # by canonical PR id (triage.policy.cluster)
    llm: LLMUsage = LLMUsage()  # what the LLM stage did (`llm_usage`)

    @property
    def duplicates_shed(self) -> int:
        return sum(1 for c in self.clusters for _, _, decision in c.members if decision == DecisionKind.DUPLICATE)

    @property
    def minutes_saved(self) -> int:
        """Review minutes the duplicates would have taken: what one review per cluster saves."""
        return sum(c.minutes_saved for c in self.clusters)

    @property
    def degraded_parts(self) -> tuple[tuple[str, int], ...]:
        """(human label, items) for each cause that degraded at least one item."""
        return tuple((DEGRADED_LABELS[cause], n) for cause, n in self.degraded.causes() if n)

    @property
    def hours_needed(self) -> float:
        return self.minutes_needed / 60

    @property
    def hours_queued(self) -> float:
        return self.minutes_queued / 60

    @property
    def hours_available(self) -> float:
        return self.minutes_available / 60


def ordered_items(queue: Queue) -> tuple[QueueItem, ...]:
    """Items in report order: the ranked queue, throttled by position, then the rest by decision.

    Within a decision, input order is kept (sorted() is stable), which is deterministic.
    """
    order = {kind: n for n, kind in enumerate(DECISION_ORDER)}

    def key(item: QueueItem) -> tuple[int, int]:
        place = item.rank if item.rank is not None else item.position
        return order.get(item.decision.kind, len(order)), place if place is not None else 1 << 30

    return tuple(sorted(queue.items, key=key))


def cluster_views(items: tuple[QueueItem, ...]) -> tuple[ClusterView, ...]:
    """The clusters of a queue, from the `ClusterInfo` each member's decision carries."""
    by_id = {i.pr.id: i for i in items}
    groups: dict[str, list[QueueItem]] = {}
    for item in items:
        info = item.decision.cluster
        if info is not None:
            groups.setdefault(info.id, []).append(item)
    views: list[ClusterView] = []
    for cluster_id, members in groups.items():
        info = members[0].decision.cluster
        assert info is not None
        order = {pr_id: n for n, pr_id in enumerate(info.members)}
        members.sort(key=lambda i: order.get(i.pr.id, len(order)))
        canonical = by_id.get(info.canonical)
        authors = {(i.decision.owner.login if i.decision.owner else i.pr.author).lower() for i in members}
        views.append(
            ClusterView(
                id=cluster_id,
                canonical=info.canonical,
                canonical_title=canonical.pr.title if canonical is not None else "",
                kind="competing" if len(authors) > 1 else "resubmission",
                members=tuple(
                    (i.pr.id, i.decision.cluster.role.value if i.decision.cluster else "", i.decision.kind.value)
                    for i in members
                ),
                minutes_saved=sum(
                    i.estimated_review_minutes for i in members if i.decision.kind is DecisionKind.DUPLICATE
                ),
            )
        )
    return tuple(sorted(views, key=lambda v: v.canonical))


def queue_view(queue: Queue) -> QueueView:
    """The queue-level view used by every report.

    The figures that follow from rank's decisions (queued, shed by rule, oldest waiting, load per
    owner) come from `queue_summary`; the view adds the per-decision counts and the details the
    reports show (title, dates).
    """
    summary = queue_summary(queue)
    counts = Counter(item.decision.kind for item in queue.items)
    oldest: OldestWaiting | None = None
    if summary.oldest_waiting_id is not None:
        first = next(i for i in queue.items if i.pr.id == summary.oldest_waiting_id)
        assert first.pr.created_at is not None  # queue_summary only considers dated items
        oldest = OldestWaiting(
            first.pr.id, first.pr.title, as_utc(first.pr.created_at), summary.oldest_waiting_days or 0.0
        )
    return QueueView(
        received=summary.received,
        queued=summary.queued,
        shed=summary.received - summary.queued,
        by_decision=tuple((kind.value, counts.get(kind, 0)) for kind in DECISION_ORDER),
        shed_by_rule=tuple(summary.shed.items()),
        minutes_needed=queue.capacity.minutes_needed,
        minutes_queued=queue.capacity.minutes_queued,
        minutes_available=queue.capacity.minutes_available,
        oldest_waiting=oldest,
        owner_load=summary.load,
        errors=sum(1 for i in queue.items if i.errors),
        degraded=summary.degraded,
        clusters=cluster_views(queue.items),
        llm=llm_usage(queue.items),
    )

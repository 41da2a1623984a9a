"""The decide stage: `Sequence[Assessment] -> tuple[Decision, ...]`, one per PR, same order.

Every gate is a named rule (DESIGN.md §4). A rule that fires pushes the PR towards a decision
kind, or only adds a note; the decision is the strongest kind any rule pushed for, with the
precedence skipped > close > reject > needs-split > throttled > review, and *every* rule that
fired is listed as a reason so the report can say all that is wrong at once (fixing one problem
should not reveal the next on the following run).

Gates never fail open. The security rule (`SECURITY_RULES`: `secret`) outranks every other
kind, so a draft, an unparseable PR or a stale one that adds a secret is decided `reject`, not
`skipped` or `close`. Every rule runs for every PR, whatever the others found, and
a rule that raises becomes an `internal-error` reason of its own without costing the others
(the secret rule's finding stands). `fail_on_matches` matches a `fail_on` entry against the
decision, every rule that fired, and every kind any of them pushed for: a PR rejected for a
missing issue still matches `fail_on = ["needs-split"]` when it is also too large. A PR whose
content could not be scanned (`unscanned`) is decided `skipped` like any unreadable input, but
it matches `fail_on` entries `reject` and `secret` as well: a secret cannot be ruled out.

Overrides: the label `[gates] override_prefix + rule` (default `triage/override-<rule>`) on a PR
disables that rule for that PR; the decision then records a note that the override was used.
Two rules cannot be overridden because the queue's guarantees rest on them: `unparseable` (there
is nothing trustworthy to review or rank) and `no-owner` (no item enters the queue without an
accountable human). Capacity is not a gate here; `triage.rank` draws that line.

Rules and the choices made where the design leaves room:

* `unparseable` -> skipped: the item has load/parse errors; the message quotes the first one.
* `draft` -> skipped: drafts are not asking for review yet.
* `no-owner` -> reject (or throttled when `[gates] reject_without_owner = false`), with the
  owner lookup's explanation.
* `unscanned` -> reject (the decision stays `skipped` through `unparseable`, which always
  fires with it): nothing of the PR's content could be scanned for secrets (the diff could not
  be fetched or parsed, or the scanner failed); a PR cannot pass a security gate unseen. When
  only part could be read (a truncated diff) that part is scanned, and the `unparseable`
  reason quotes why the rest is missing.
* `secret` -> reject until removed: a flag of the secrets scanner (`Flag.secret`, set by
  `triage.review.secrets.scan_diff` only), or any security flag of severity critical (from any
  reviewer: a critical finding holds the PR whoever made it).
* `stale` -> close once no human has acted for `warn_days + close_days` days; a note after
  `warn_days`. The clock is `last_human_activity_at`, else `updated_at`, else `created_at`;
  no date at all means no stale rule. Naive datetimes are taken as UTC.
* `size` / `areas` -> needs-split above `split_lines` counted lines or at `split_areas` or more
  top-level areas; a `suggest-split` note above `suggest_split_lines`.
* `linked-issue` -> reject ("link an issue") for external authors without a linked issue, when
  `require_linked_issue`. External = login not in `maintainers` and `author_association` not in
  `exempt_associations`. When the source carries no association and no maintainers are
  configured (patches, local git ranges) write access is unknown and the rule does not fire:
  rejecting every commit of one's own repository would make local runs useless.
* `author-cap` -> throttled for the (cap+1)th and later PR, oldest first by (created_at, id), of
  one author without write access (same unknown rule as above).
* `ai-cap` -> throttled for the (cap+1)th and later AI-assisted PR of one accountable owner
  (a team owner counts as one owner).
  Both caps count the batch's PRs that are not skipped (drafts and unparseable PRs are not
  asking for review); a cap of 0 disables the rule.
* `combine-trivial` (note): `combine_trivial_min` (default 3) or more trivial PRs (fewer
  counted lines than the XS bucket, with a typo/spelling/formatting/whitespace title or
  docs-only) of one accountable human and one file kind each get one note naming the others,
  suggesting one combined PR. The fair share of capacity per human is drawn by `triage.rank`.
* `already-landed` -> close: the change is already on the base (`BaseCheck.landed_in`, from a
  local clone: same patch id as a base commit since the merge-base, every commit's patch id
  there, every hunk applied in reverse, or the head merged); the message names the commit.
* `needs-rebase` -> throttled, with the label `needs-rebase` (as Prow's plugin of that name):
  GitHub says `mergeable: false` / `mergeable_state: "dirty"`, or the local three-way check
  (`git merge-tree`) found conflicting paths. Throttled rather than a new decision kind: like
  a capacity or cap hold, the change itself is not judged (a reject would read as a verdict on
  it), it only never enters the review queue until it applies; the author's action is named in
  the message and the label. `base-check` (note): what the local check could not do (an old
  git, a diff that does not apply to its own base).
* `codeowners-edit` (note): the PR edits a CODEOWNERS file; its routing still comes from the
  base branch. `ai-assisted` (note): why the PR counts as AI-assisted.

Labels on the decision: `size/<bucket>` and `risk/<level>` (not for unparseable items, whose
measurements are empty) and `triage/<decision>`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from triage.config import Config
from triage.models import (
    Assessment,
    Decision,
    DecisionKind,
    Flag,
    FlagKind,
    Owner,
    PullRequest,
    Reason,
    Severity,
)
from triage.policy.bots import ai_assistance
from triage.policy.codeowners import CODEOWNERS_LOCATIONS, CodeOwners
from triage.policy.owners import OwnerLookup, find_owner
from triage.timeutil import FAR_FUTURE, as_utc

__all__ = [
    "NOT_OVERRIDABLE",
    "PRECEDENCE",
    "SECURITY_RULES",
    "PolicyContext",
    "decide",
    "decision_labels",
    "fail_on_matches",
    "has_write_access",
    "is_secret_flag",
    "stale_clock",
]

# Strongest first. A decision is the first kind in this order that any fired rule asks for.
PRECEDENCE: tuple[DecisionKind, ...] = (
    DecisionKind.SKIPPED,
    DecisionKind.CLOSE,
    DecisionKind.REJECT,
    DecisionKind.NEEDS_SPLIT,
    DecisionKind.THROTTLED,
    DecisionKind.REVIEW,
)
_RANK = {kind: i for i, kind in enumerate(PRECEDENCE)}

NOT_OVERRIDABLE: frozenset[str] = frozenset({"unparseable", "no-owner", "internal-error"})

# Rules whose decision outranks every precedence above: what they hold must never be masked
# by a draft, an unreadable input or a stale close.
SECURITY_RULES: frozenset[str] = frozenset({"secret"})
# `fail_on` entries an unscanned PR matches besides its own rule and kinds.
_UNSCANNED_MATCHES: frozenset[str] = frozenset({"secret"})
_SECURITY_RANK = -1


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the policy needs besides the PRs: the clock and the base branch's CODEOWNERS."""

    now: datetime
    codeowners: CodeOwners | None = None
    codeowners_path: str | None = None


@dataclass(frozen=True, slots=True)
class _Fired:
    """One rule that fired for one PR. `kind` None = a note that does not change the decision."""

    rule: str
    kind: DecisionKind | None
    message: str


@dataclass(frozen=True, slots=True)
class _Facts:
    """Per-PR facts several rules need, computed once."""

    owner: OwnerLookup
    ai: str | None
    write: bool | None  # None = unknown


def stale_clock(pr: PullRequest) -> datetime | None:
    """When the stale clock started: the last human activity, else last update, else creation.
    Bot activity never resets it (sources fill `last_human_activity_at` with humans only)."""
    for dt in (pr.last_human_activity_at, pr.updated_at, pr.created_at):
        if dt is not None:
            return as_utc(dt)
    return None


def has_write_access(pr: PullRequest, cfg: Config) -> bool | None:
    """True/False when the source or the config can tell, None when nothing can."""
    maintainers = {m.strip().lower().lstrip("@") for m in cfg.gates.maintainers}
    if pr.author.strip().lower() in maintainers and pr.author.strip():
        return True
    association = (pr.author_association or "").upper()
    if association:
        return association in {a.upper() for a in cfg.gates.exempt_associations}
    return False if maintainers else None


def is_secret_flag(flag: Flag) -> bool:
    """A security flag that says a secret was added (see the module docstring)."""
    if flag.kind is not FlagKind.SECURITY:
        return False
    return flag.secret or flag.severity is Severity.CRITICAL


def _days(seconds: float) -> int:
    return int(seconds // 86400)


# ------------------------------------------------------------------------------ per-PR rules

_RuleFn = Callable[[Assessment, _Facts, Config, PolicyContext], tuple[_Fired, ...]]


def _unparseable(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if not a.errors:
        return ()
    more = f" (and {len(a.errors) - 1} more)" if len(a.errors) > 1 else ""
    return (_Fired("unparseable", DecisionKind.SKIPPED, f"cannot be triaged: {a.errors[0]}{more}"),)


def _unscanned(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if a.unscanned is not None:
        msg = (
            f"its content could not be scanned for secrets ({a.unscanned}); held until a run "
            "can read and scan the whole diff"
        )
        return (_Fired("unscanned", DecisionKind.REJECT, msg),)
    return ()


def _draft(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if not a.pr.draft:
        return ()
    return (_Fired("draft", DecisionKind.SKIPPED, "draft: triaged once it is marked ready for review"),)


def _no_owner(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if facts.owner.owner is not None:
        return ()
    if cfg.gates.reject_without_owner:
        msg = f"no accountable human: {facts.owner.explanation}; name one with a Co-authored-by trailer"
        return (_Fired("no-owner", DecisionKind.REJECT, msg),)
    msg = f"no accountable human: {facts.owner.explanation}; waits until a human is named"
    return (_Fired("no-owner", DecisionKind.THROTTLED, msg),)


def _secret(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if not cfg.gates.reject_secrets:
        return ()
    secrets = [f for f in a.review.flags if is_secret_flag(f)]
    if not secrets:
        return ()
    first = secrets[0]
    where = (
        f" in {first.file}:{first.line}" if first.file and first.line else (f" in {first.file}" if first.file else "")
    )
    more = f" (and {len(secrets) - 1} more)" if len(secrets) > 1 else ""
    msg = f"adds a secret{where}: {first.evidence}{more}; remove it from the branch history and rotate the credential"
    return (_Fired("secret", DecisionKind.REJECT, msg),)


def _stale(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    clock = stale_clock(a.pr)
    if not cfg.stale.enabled or clock is None:
        return ()
    idle = (as_utc(ctx.now) - clock).total_seconds()
    warn, close = cfg.stale.warn_days, cfg.stale.warn_days + cfg.stale.close_days
    days = _days(idle)
    since = clock.date().isoformat()
    if idle >= close * 86400:
        msg = (
            f"no human activity for {days} days (since {since}); closing proposed "
            f"(warned after {warn} days, closed {cfg.stale.close_days} days later)"
        )
        return (_Fired("stale", DecisionKind.CLOSE, msg),)
    if idle >= warn * 86400:
        left = max(0, close - days)
        msg = (
            f"no human activity for {days} days (since {since}); closing will be proposed in "
            f"{left} days unless a human acts"
        )
        return (_Fired("stale", None, msg),)
    return ()


def _size(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    lines = a.metrics.changed_lines
    if lines > cfg.size.split_lines:
        msg = (
            f"{lines} counted changed lines, above {cfg.size.split_lines}: split it into "
            'smaller PRs ("1000 lines is usually too large")'
        )
        return (_Fired("size", DecisionKind.NEEDS_SPLIT, msg),)
    if lines > cfg.size.suggest_split_lines:
        msg = (
            f"{lines} counted changed lines: reviews find fewer defects past "
            f"{cfg.size.suggest_split_lines} lines at a time; consider splitting"
        )
        return (_Fired("suggest-split", None, msg),)
    return ()


def _areas(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    areas = a.metrics.subsystems
    if cfg.size.split_areas and len(areas) >= cfg.size.split_areas:
        msg = (
            f"touches {len(areas)} top-level areas ({', '.join(areas)}), "
            f"{cfg.size.split_areas} or more: split it by area"
        )
        return (_Fired("areas", DecisionKind.NEEDS_SPLIT, msg),)
    return ()


def _linked_issue(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    if not cfg.gates.require_linked_issue or facts.write is not False or a.pr.linked_issues:
        return ()
    who = a.pr.author or "the author"
    msg = (
        f"external contribution by {who} without a linked issue: link an issue "
        '("Fixes #123") so maintainers agree on the change before reviewing it'
    )
    return (_Fired("linked-issue", DecisionKind.REJECT, msg),)


def _codeowners_edit(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    edited = sorted(
        {p for f in a.diff.files for p in (f.path, f.old_path) if p is not None and p in CODEOWNERS_LOCATIONS}
    )
    if not edited:
        return ()
    base = ctx.codeowners_path or "none"
    msg = (
        f"edits {', '.join(edited)}; its owners are routed by the base branch's file "
        f"({base}), never by this PR's version"
    )
    return (_Fired("codeowners-edit", None, msg),)


def _ai_note(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    return (_Fired("ai-assisted", None, f"AI-assisted: {facts.ai}"),) if facts.ai else ()


_LANDED_HOW = {
    "patch-id": "has the same patch id as {commit} on the base",
    "commits": "has every commit already on the base, by patch id: {commit}",
    "applied": "is already applied on the base: every hunk is there (last changed by {commit})",
    "merged": "is already merged: its head {commit} is part of the base",
}
NEEDS_REBASE_LABEL = "needs-rebase"


def _already_landed(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    check = a.base_check
    if check is None or check.landed_in is None:
        return ()
    how = _LANDED_HOW.get(check.landed_how, "is already on the base ({commit})").format(commit=check.landed_in)
    msg = f"superseded: the change {how}; closing proposed (nothing left to review)"
    return (_Fired("already-landed", DecisionKind.CLOSE, msg),)


def _needs_rebase(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    check = a.base_check
    if check is not None and check.landed_in is not None:
        return ()  # nothing to rebase: `already-landed` closes it
    evidence = ""
    if check is not None and check.conflicts:
        shown = ", ".join(check.conflicts[:5]) + (
            f" (and {len(check.conflicts) - 5} more)" if len(check.conflicts) > 5 else ""
        )
        evidence = f"conflicts with the base {check.base[:12]} in {shown} ({check.checked_with})"
    elif a.pr.mergeable is False or (a.pr.mergeable_state or "").lower() == "dirty":
        state = f"mergeable_state: {a.pr.mergeable_state}" if a.pr.mergeable_state else "mergeable: false"
        evidence = f"conflicts with its base branch (GitHub {state})"
    if not evidence:
        return ()
    msg = f"{evidence}: rebase it onto the base; it enters the queue once it applies"
    return (_Fired("needs-rebase", DecisionKind.THROTTLED, msg),)


def _base_check_notes(a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    check = a.base_check
    return tuple(_Fired("base-check", None, note) for note in check.notes) if check is not None else ()


_PER_PR_RULES: tuple[_RuleFn, ...] = (
    _unparseable,
    _unscanned,
    _draft,
    _no_owner,
    _secret,
    _stale,
    _size,
    _areas,
    _linked_issue,
    _codeowners_edit,
    _ai_note,
    _already_landed,
    _needs_rebase,
    _base_check_notes,
)


# ------------------------------------------------------------------------------- batch rules


def _age_key(i: int, assessments: Sequence[Assessment]) -> tuple[bool, datetime, str]:
    pr = assessments[i].pr
    created = as_utc(pr.created_at) if pr.created_at else FAR_FUTURE
    return (pr.created_at is None, created, pr.id)


def _caps(
    assessments: Sequence[Assessment], facts: Sequence[_Facts], counted: Sequence[bool], cfg: Config
) -> dict[int, list[_Fired]]:
    fired: dict[int, list[_Fired]] = defaultdict(list)
    cap = cfg.gates.author_open_pr_cap
    if cap:
        by_author: dict[str, list[int]] = defaultdict(list)
        for i, a in enumerate(assessments):
            if counted[i] and a.pr.author.strip() and facts[i].write is False:
                by_author[a.pr.author.strip().lower()].append(i)
        for indices in by_author.values():
            ordered = sorted(indices, key=lambda i: _age_key(i, assessments))
            for pos, i in enumerate(ordered[cap:], start=cap + 1):
                msg = (
                    f"{assessments[i].pr.author} has {len(ordered)} open PRs; contributors "
                    f"without write access get {cap} at a time; this is #{pos} by age"
                )
                fired[i].append(_Fired("author-cap", DecisionKind.THROTTLED, msg))
    ai_cap = cfg.gates.ai_pr_cap_per_human
    if ai_cap:
        by_owner: dict[str, list[int]] = defaultdict(list)
        for i, f in enumerate(facts):
            if counted[i] and f.ai and f.owner.owner is not None:
                by_owner[f.owner.owner.login.lower()].append(i)
        for indices in by_owner.values():
            ordered = sorted(indices, key=lambda i: _age_key(i, assessments))
            earlier = ", ".join(assessments[j].pr.id for j in ordered[:ai_cap])
            for pos, i in enumerate(ordered[ai_cap:], start=ai_cap + 1):
                owner = facts[i].owner.owner
                assert owner is not None
                msg = (
                    f"{owner.login} is accountable for {len(ordered)} AI-assisted PRs; "
                    f"{ai_cap} at a time ({earlier} first); this is #{pos} by age"
                )
                fired[i].append(_Fired("ai-cap", DecisionKind.THROTTLED, msg))
    return fired


# Titles that say a change is cosmetic: typos, spelling, wording, whitespace, formatting.
_TRIVIAL_TITLE = re.compile(
    r"\b(typos?|spelling|misspell\w*|wording|grammar|whitespace|formatting|format|reformat\w*|lint|style)\b",
    re.IGNORECASE,
)
_COMBINE_LISTED = 10


def _trivial_kind(a: Assessment, cfg: Config) -> str | None:
    """The file kind of a trivial PR (the one kind all its files share, else "mixed"), or None
    when the PR is not trivial: trivial = fewer counted lines than the XS bucket, and a
    cosmetic title or docs only."""
    if a.errors or not a.diff.files or a.metrics.changed_lines >= cfg.size.xs:
        return None
    kinds = {f.kind.value for f in a.diff.files}
    if not (_TRIVIAL_TITLE.search(a.pr.title) or kinds == {"docs"}):
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _share_owner(a: Assessment, facts: _Facts) -> str | None:
    """The accountable human a PR counts for (several bots of one person count as one);
    CODEOWNERS routing names no author, so such a PR counts for its author's login."""
    owner = facts.owner.owner
    if owner is not None and owner.source != "codeowners":
        return owner.login.strip().lower() or None
    return a.pr.author.strip().lower() or None


def _combine_trivial(
    assessments: Sequence[Assessment], facts: Sequence[_Facts], counted: Sequence[bool], cfg: Config
) -> dict[int, list[_Fired]]:
    """`combine-trivial` (note): `combine_trivial_min` or more trivial PRs of one accountable
    human and one file kind each get one note listing the others: one review instead of many."""
    fired: dict[int, list[_Fired]] = defaultdict(list)
    least = cfg.gates.combine_trivial_min
    if not least:
        return fired
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, a in enumerate(assessments):
        if not counted[i]:
            continue
        kind, who = _trivial_kind(a, cfg), _share_owner(a, facts[i])
        if kind is not None and who is not None:
            groups[(who, kind)].append(i)
    for (who, kind), indices in groups.items():
        if len(indices) < max(2, least):
            continue
        ordered = sorted(indices, key=lambda i: _age_key(i, assessments))
        for i in ordered:
            others = [assessments[j].pr.id for j in ordered if j != i]
            listed = ", ".join(others[:_COMBINE_LISTED]) + (" ..." if len(others) > _COMBINE_LISTED else "")
            msg = (
                f"one of {len(ordered)} trivial {kind} PRs by {who} (also {listed}): consider "
                f"combining them into one PR, one review instead of {len(ordered)}"
            )
            fired[i].append(_Fired("combine-trivial", None, msg))
    return fired


# ---------------------------------------------------------------------------------- decide


def decision_labels(a: Assessment, kind: DecisionKind) -> tuple[str, ...]:
    """`size/<bucket>`, `risk/<level>` (measured items only) and `triage/<decision>`."""
    labels: list[str] = []
    if not a.errors:
        labels += [f"size/{a.metrics.size_bucket.value}", f"risk/{a.risk.level.value}"]
    labels.append(f"triage/{kind.value}")
    return tuple(labels)


def _resolve(a: Assessment, owner: Owner | None, fired: Sequence[_Fired], cfg: Config) -> Decision:
    prefix = cfg.gates.override_prefix
    reasons: list[tuple[int, int, Reason]] = []
    notes: list[Reason] = []
    present = set(a.pr.labels)
    for order, f in enumerate(fired):
        label = None if f.rule in NOT_OVERRIDABLE else f"{prefix}{f.rule}"
        if label is not None and label in present:
            notes.append(Reason(f.rule, f"overridden by label {label}: {f.message}", label))
            continue
        if f.kind is None:
            notes.append(Reason(f.rule, f.message, label))
        else:
            rank = _SECURITY_RANK if f.rule in SECURITY_RULES else _RANK[f.kind]
            reasons.append((rank, order, Reason(f.rule, f.message, label, f.kind)))
    ordered_reasons = sorted(reasons, key=lambda t: (t[0], t[1]))
    first = ordered_reasons[0][2].kind if ordered_reasons else None
    kind = first if first is not None else DecisionKind.REVIEW
    ordered = tuple(r for _, _, r in ordered_reasons)
    labels = decision_labels(a, kind)
    if any(r.rule == "needs-rebase" for r in ordered):
        labels = (*labels, NEEDS_REBASE_LABEL)  # Prow's label of the same name, for the CI adapter
    return Decision(kind, ordered, owner, tuple(notes), labels)


def _run_rule(rule: _RuleFn, a: Assessment, facts: _Facts, cfg: Config, ctx: PolicyContext) -> tuple[_Fired, ...]:
    """One rule on one PR. A rule that raises costs only itself: the PR is skipped with the
    error as a reason, and every other rule's finding (a secret above all) still counts."""
    try:
        return rule(a, facts, cfg, ctx)
    except Exception as exc:  # a bug in one rule must not hide what the others found
        name = getattr(rule, "__name__", "rule").lstrip("_").replace("_", "-")
        msg = f"internal error in rule {name}: {type(exc).__name__}: {exc}"
        return (_Fired("internal-error", DecisionKind.SKIPPED, msg),)


def _facts(a: Assessment, cfg: Config, ctx: PolicyContext) -> _Facts:
    """The shared per-PR facts; a lookup that raises means "unknown", never a crashed batch."""
    try:
        owner = find_owner(a.pr, a.diff, cfg.owners, ctx.codeowners, ctx.codeowners_path)
    except Exception as exc:  # the no-owner rule then holds the PR, with this as its reason
        owner = OwnerLookup(None, f"owner lookup failed ({type(exc).__name__}: {exc})")
    try:
        ai = ai_assistance(a.pr, cfg.owners)
    except Exception:  # unknown AI assistance: the AI cap simply does not count this PR
        ai = None
    return _Facts(owner=owner, ai=ai, write=has_write_access(a.pr, cfg))


def decide(assessments: Sequence[Assessment], cfg: Config, ctx: PolicyContext) -> tuple[Decision, ...]:
    """One Decision per Assessment, in input order. Pure: same inputs, same decisions."""
    facts = [_facts(a, cfg, ctx) for a in assessments]
    per_pr = [
        [f for rule in _PER_PR_RULES for f in _run_rule(rule, a, facts[i], cfg, ctx)] for i, a in enumerate(assessments)
    ]
    prefix = cfg.gates.override_prefix

    def skipped(i: int) -> bool:
        labels = set(assessments[i].pr.labels)
        return any(
            f.kind is DecisionKind.SKIPPED and (f.rule in NOT_OVERRIDABLE or f"{prefix}{f.rule}" not in labels)
            for f in per_pr[i]
        )

    counted = [not skipped(i) for i in range(len(assessments))]
    batch = _caps(assessments, facts, counted, cfg)
    for i, notes in _combine_trivial(assessments, facts, counted, cfg).items():
        batch.setdefault(i, []).extend(notes)
    return tuple(
        _resolve(a, facts[i].owner.owner, [*per_pr[i], *batch.get(i, ())], cfg) for i, a in enumerate(assessments)
    )


def fail_on_matches(decision: Decision, cfg: Config) -> tuple[str, ...]:
    """The `[ci] fail_on` entries (rule names or decision kinds) a decision matches: what makes
    `triage run` and `triage ci` exit 1.

    An entry matches the decision's kind, any rule that fired (not overridden), or any kind one
    of those rules pushed for, whichever decision won: a gate never passes because a stronger
    decision masked it (a `reject` under a `skipped`, a `needs-split` under a `reject`)."""
    fired = {r.rule for r in decision.reasons} | {decision.kind.value}
    fired |= {r.kind.value for r in decision.reasons if r.kind is not None}
    if "unscanned" in fired:
        fired |= _UNSCANNED_MATCHES
    return tuple(sorted(fired & set(cfg.ci.fail_on)))

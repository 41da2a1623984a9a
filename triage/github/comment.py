"""What the tool writes on a PR: one sticky comment and its own labels, as a plan first.

Input: a `QueueItem`, the PR's current state on GitHub (`PrState`: open or not, labels, our
sticky comment if any) and the rendered Markdown. Output: `PlannedAction` records. Planning is a
pure function of those inputs, which gives three properties for free:

* dry run and `--apply` cannot disagree: apply performs exactly the list the dry run printed;
* idempotent and resumable: a run killed half-way plans only what is still missing next time
  (the sticky comment is found again by its hidden marker, labels already set are not re-added);
* never duplicated: there is at most one comment with the marker from us, edited in place.

Labels: `size/<bucket>`, `risk/<level>`, `triage/<decision>` and whatever the policy asks for
(`Decision.labels`, e.g. `needs-rebase`). Our stale labels in those namespaces (and
`needs-rebase` once the PR applies again) are removed; the override labels
(`triage/override-*`, `[gates] override_prefix`) are the maintainers' and are never touched.

Closing: only `close` decisions (stale past the grace period, or a rule that asks to close) and
only when the caller allows it (`triage github --apply`; `triage ci` never closes). `reject` gets
the comment and the `triage/reject` label but stays open: a human disposes.

No close without a warning: a PR is closed only when our stale warning (a comment of its own,
found again by `STALE_MARKER` and written by us) was posted after the PR's last human activity
and at least `[stale] close_days` before `now`. A PR due for closing without such a warning gets
the warning instead, and the close waits `close_days` from then; a warning that is too recent
plans nothing. So a wrong clock, a lost comment or a changed config can never close a PR that
nobody was told about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from triage.config import Config
from triage.github.client import GitHubClient
from triage.github.convert import OWN_LABEL_PREFIXES, OWN_LABELS, STALE_MARKER, STICKY_MARKER, is_bot
from triage.models import DecisionKind, QueueItem
from triage.policy.gates import stale_clock
from triage.report.text import clean
from triage.timeutil import as_utc, parse_iso8601_or_none

MAX_COMMENT_CHARS = 65536  # GitHub refuses longer bodies ("body is too long")


class ActionKind(StrEnum):
    COMMENT = "comment"
    WARN = "warn"
    EDIT_COMMENT = "edit-comment"
    ADD_LABELS = "add-labels"
    REMOVE_LABELS = "remove-labels"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One write to GitHub, described before it is done (printed on a dry run)."""

    kind: ActionKind
    number: int
    summary: str
    body: str | None = None  # the comment text, for comment/edit-comment
    labels: tuple[str, ...] = ()  # for add-labels/remove-labels
    comment_id: int | None = None  # for edit-comment


@dataclass(frozen=True, slots=True)
class PrState:
    """What is on GitHub now for one PR, as far as our writes are concerned."""

    number: int
    open: bool = True
    labels: tuple[str, ...] = ()
    sticky_id: int | None = None
    sticky_body: str | None = None
    # False when the comments could not be read: then no comment is planned at all, because
    # "no sticky found" would otherwise post a duplicate.
    comments_known: bool = True
    # When our latest stale warning comment was posted (None: no warning found).
    warned_at: datetime | None = None


def sticky_body(markdown: str) -> str:
    """The comment text: the hidden marker first (how we find it again), then the report,
    cut to GitHub's limit with a visible note rather than refused."""
    body = f"{STICKY_MARKER}\n{markdown.strip()}\n"
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    note = "\n\n_… cut to fit GitHub's comment limit; the full report is in the job summary._\n"
    closing = "\n</details>" * 8  # room to close every <details> left open by the cut
    head = body[: MAX_COMMENT_CHARS - len(note) - len(closing)]
    head = head[: head.rfind("\n") + 1] or head  # whole lines: no half table row or tag
    unclosed = max(0, head.count("<details>") - head.count("</details>"))
    return head + "\n</details>" * min(unclosed, 8) + note


def find_sticky(comments: Iterable[Mapping[str, Any]], own_login: str | None = None) -> Mapping[str, Any] | None:
    """Our sticky comment among the PR's issue comments: it carries the marker and was written
    by us (`own_login` when the token tells who it is, else any bot, which is what Actions'
    token posts as). Anyone can paste the marker; a human's comment is never taken for ours.
    With duplicates (two runs racing), the oldest wins so edits converge on one comment."""
    for comment in comments:
        if STICKY_MARKER not in str(comment.get("body") or ""):
            continue
        user = comment.get("user") or {}
        ours = user.get("login") == own_login if own_login else is_bot(user)
        if ours:
            return comment
    return None


def _ours(comment: Mapping[str, Any], own_login: str | None) -> bool:
    user = comment.get("user") or {}
    return bool(user.get("login") == own_login) if own_login else is_bot(user)


def find_warning(comments: Iterable[Mapping[str, Any]], own_login: str | None = None) -> datetime | None:
    """When our latest stale warning was posted: a comment of ours carrying `STALE_MARKER`.
    A human pasting the marker does not count as a warning."""
    latest: datetime | None = None
    for comment in comments:
        if STALE_MARKER not in str(comment.get("body") or "") or not _ours(comment, own_login):
            continue
        at = parse_iso8601_or_none(comment.get("created_at"))
        if at is not None and (latest is None or at > latest):
            latest = at
    return latest


def warning_body(days_idle: int, close_days: int) -> str:
    return (
        f"{STALE_MARKER}\nThis PR has had no human activity for {days_idle} days. It will be closed "
        f"in {close_days} days or later unless someone comments, pushes or reviews it.\n"
    )


def state_from_github(
    pr: Mapping[str, Any],
    comments: Iterable[Mapping[str, Any]],
    own_login: str | None = None,
    *,
    comments_known: bool = True,
) -> PrState:
    sticky = find_sticky(comments, own_login)
    return PrState(
        number=int(pr["number"]),
        open=pr.get("state", "open") == "open",
        labels=tuple(str(lb.get("name")) for lb in pr.get("labels") or () if lb.get("name")),
        sticky_id=int(sticky["id"]) if sticky else None,
        sticky_body=str(sticky.get("body") or "") if sticky else None,
        comments_known=comments_known,
        warned_at=find_warning(comments, own_login) if comments_known else None,
    )


def wanted_labels(item: QueueItem) -> tuple[str, ...]:
    """The labels this tool wants on the PR. No size/risk label when the PR could not be
    measured: an `XS` on a diff that failed to parse would be a lie."""
    labels: list[str] = []
    if not item.errors:
        labels.append(f"size/{item.assessment.metrics.size_bucket.value}")
        labels.append(f"risk/{item.assessment.risk.level.value}")
    labels.append(f"triage/{item.decision.kind.value}")
    for extra in item.decision.labels:
        if extra not in labels:
            labels.append(extra)
    return tuple(labels)


def label_changes(
    current: Sequence[str], wanted: Sequence[str], override_prefix: str = "triage/override-"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(to add, to remove). Only our own namespaces are ever removed, never an override."""
    add = tuple(lb for lb in wanted if lb not in current)
    remove = tuple(
        lb
        for lb in current
        if (lb.startswith(OWN_LABEL_PREFIXES) or lb in OWN_LABELS)
        and not lb.startswith(override_prefix)
        and lb not in wanted
    )
    return add, remove


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _warned_in_time(item: QueueItem, state: PrState, cfg: Config, now: datetime) -> bool:
    """Our warning was posted after the last human activity and `close_days` ago or more."""
    if state.warned_at is None:
        return False
    clock = stale_clock(item.pr)
    warned = as_utc(state.warned_at)
    if clock is not None and warned < clock:
        return False  # a human acted after that warning: it no longer counts
    return now - warned >= timedelta(days=cfg.stale.close_days)


def plan_for_item(
    item: QueueItem,
    state: PrState,
    markdown: str,
    cfg: Config,
    *,
    allow_close: bool = False,
    now: datetime | None = None,
) -> tuple[PlannedAction, ...]:
    """Every write needed to bring one PR in line with its triage result, and nothing more."""
    number = state.number
    actions: list[PlannedAction] = []
    decision = item.decision.kind.value
    if cfg.ci.comment and state.comments_known:
        body = sticky_body(markdown)
        if state.sticky_id is None:
            actions.append(PlannedAction(ActionKind.COMMENT, number, f"post triage comment ({decision})", body=body))
        elif state.sticky_body is None or not _same(state.sticky_body, body):
            actions.append(
                PlannedAction(
                    ActionKind.EDIT_COMMENT,
                    number,
                    f"update triage comment ({decision})",
                    body=body,
                    comment_id=state.sticky_id,
                )
            )
    if cfg.ci.labels:
        add, remove = label_changes(state.labels, wanted_labels(item), cfg.gates.override_prefix)
        if remove:
            actions.append(
                PlannedAction(ActionKind.REMOVE_LABELS, number, f"remove {', '.join(remove)}", labels=remove)
            )
        if add:
            actions.append(PlannedAction(ActionKind.ADD_LABELS, number, f"add {', '.join(add)}", labels=add))
    if allow_close and state.open and now is not None and state.comments_known:
        stale = any(r.rule == "stale" for r in (*item.decision.reasons, *item.decision.notes))
        due = item.decision.kind is DecisionKind.CLOSE
        if due and _warned_in_time(item, state, cfg, now):
            why = "; ".join(r.message for r in item.decision.reasons) or "decision: close"
            actions.append(PlannedAction(ActionKind.CLOSE, number, f"close ({why})"))
        elif (due or stale) and not _has_current_warning(item, state):
            clock = stale_clock(item.pr)
            idle = (now - clock).days if clock is not None else cfg.stale.warn_days
            body = warning_body(idle, cfg.stale.close_days)
            actions.append(PlannedAction(ActionKind.WARN, number, f"post stale warning ({idle} days idle)", body=body))
    return tuple(actions)


def _has_current_warning(item: QueueItem, state: PrState) -> bool:
    """A warning posted since the last human activity: the close only has to wait for it."""
    if state.warned_at is None:
        return False
    clock = stale_clock(item.pr)
    warned = as_utc(state.warned_at)
    return clock is None or warned >= clock


def apply_action(client: GitHubClient, repo: str, action: PlannedAction) -> None:
    """Perform one planned write. The comment is planned before the close, so a closed PR
    always carries the explanation."""
    if action.kind in (ActionKind.COMMENT, ActionKind.WARN):
        client.create_comment(repo, action.number, action.body or "")
    elif action.kind is ActionKind.EDIT_COMMENT:
        if action.comment_id is None:  # pragma: no cover - plan_for_item always sets it
            raise ValueError("edit-comment without a comment id")
        client.update_comment(repo, action.comment_id, action.body or "")
    elif action.kind is ActionKind.ADD_LABELS:
        client.add_labels(repo, action.number, action.labels)
    elif action.kind is ActionKind.REMOVE_LABELS:
        for label in action.labels:
            client.remove_label(repo, action.number, label)
    elif action.kind is ActionKind.CLOSE:
        client.close_pull(repo, action.number)


def describe(action: PlannedAction) -> str:
    """One line for a dry run: `#12 add-labels: add size/S, triage/review`."""
    return clean(f"#{action.number} {action.kind.value}: {action.summary}")

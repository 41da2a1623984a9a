"""queue.md and the per-PR sticky comment: Markdown for GitHub comments and job summaries.

Input: `Queue`. Output: GitHub-flavoured Markdown. The queue report is built as a list of
atomic blocks (a table row, a shed item, one `<details>` section) so that, when it would not
fit GitHub's 65,536-character comment limit, it is cut between blocks, never inside a table
row or an HTML element, and says so in a closing note. Every piece of PR-supplied text goes
through `triage.report.text` escapes: PR text is untrusted.
"""

from __future__ import annotations

import itertools

from triage.models import DecisionKind, Queue, QueueItem
from triage.report.llm_line import llm_text, review_cost
from triage.report.summary import DECISION_ORDER, SHED_KINDS, ClusterView, QueueView, ordered_items, queue_view
from triage.report.text import hours, html_inline, md, md_link, minutes, one_line, plural, reviewer_text

MAX_COMMENT_CHARS = 65_536  # GitHub rejects longer comment bodies
MAX_SUMMARY_BYTES = 1_048_576  # GitHub's limit for one step's job summary
# queue.md by default fits a comment with room for the sticky marker and a note around it.
DEFAULT_MAX_CHARS = MAX_COMMENT_CHARS - 1_536
TITLE_CHARS = 80

_SECTION_TITLES = {
    DecisionKind.THROTTLED: "Throttled: behind the capacity line",
    DecisionKind.DUPLICATE: "Duplicates: another PR of their cluster gets the review",
    DecisionKind.NEEDS_SPLIT: "Needs split",
    DecisionKind.REJECT: "Rejected",
    DecisionKind.CLOSE: "Proposed for closing",
    DecisionKind.SKIPPED: "Skipped",
}


def _pr_ref(item: QueueItem) -> str:
    """`#12` when the PR has a number, else its id; linked when the URL is a plain http(s) URL."""
    label = f"#{item.pr.number}" if item.pr.number is not None else item.pr.id
    return md_link(label, item.pr.url)


def _owner(item: QueueItem, *, how: bool = False) -> str:
    owner = item.decision.owner
    if owner is None:
        return "—"
    text = md(owner.login)
    if how:
        text += f" (via {md(owner.source)}{': ' + md(owner.detail) if owner.detail else ''})"
    return text


def _size(item: QueueItem) -> str:
    if item.errors:
        return "?"
    m = item.assessment.metrics
    return f"{m.size_bucket.value} ({m.changed_lines})"


def _risk(item: QueueItem) -> str:
    risk = item.assessment.risk
    return f"{risk.level.value} {risk.score:.2f}"


def _reasons(item: QueueItem) -> str:
    parts = []
    for r in item.decision.reasons:
        text = f"**{md(r.rule)}**: {md(r.message)}"
        if r.override_label:
            text += f" (override: `{one_line(r.override_label).replace('`', '')}`)"
        parts.append(text)
    return "; ".join(parts) if parts else "no reason recorded"


def reviewer_line(queue: Queue) -> str:
    return md(reviewer_text(queue.review_source))


def header_lines(queue: Queue, view: QueueView) -> list[str]:
    """The queue-level view: what came in, what is queued, what was shed and why, the load."""
    shed = ", ".join(f"{kind} {n}" for kind, n in view.by_decision[1:] if n)
    lines = [
        f"- **Received:** {plural(view.received, 'PR')} · **queued for review:** {view.queued} · "
        f"**shed:** {view.shed}{f' ({shed})' if shed else ''}",
    ]
    if view.shed_by_rule:
        rules = ", ".join(f"{md(rule)} {n}" for rule, n in view.shed_by_rule)
        lines.append(f"- **Shed by rule:** {rules}")
    cap = queue.capacity
    lines.append(
        f"- **Reviewer-hours:** {hours(view.hours_needed)} needed · {hours(view.hours_queued)} queued · "
        f"{hours(view.hours_available)} available ({plural(cap.reviewers, 'reviewer')}, "
        f"{plural(cap.period_days, 'day')})"
    )
    if view.clusters:
        lines.append(
            f"- **Clusters:** {plural(len(view.clusters), 'cluster')} of PRs that address the same thing · "
            f"**duplicates shed:** {view.duplicates_shed} · **review saved:** {hours(view.minutes_saved / 60)}"
        )
    if view.oldest_waiting is not None:
        o = view.oldest_waiting
        lines.append(f"- **Oldest waiting:** {md(o.id)} {md(o.title, 60)} — {o.age_days:.0f} days")
    if view.owner_load:
        load = ", ".join(
            f"{md(o.login)} {o.queued} queued ({minutes(o.minutes_queued)}"
            + (f", {o.waiting - o.queued} throttled)" if o.waiting > o.queued else ")")
            for o in view.owner_load
        )
        lines.append(f"- **Load per owner:** {load}")
    if view.degraded.total:
        causes = ", ".join(f"{label} {n}" for label, n in view.degraded_parts)
        lines.append(f"- **Degraded:** {plural(view.degraded.total, 'PR')} got less than the full triage ({causes})")
    lines.append(f"- **Reviewer:** {reviewer_line(queue)}")
    lines.append(f"- **LLM:** {md(llm_text(view.llm))}")
    lines.append(f"- **Risk model:** {md(queue.risk_model)}")
    return lines


def _queue_row(item: QueueItem) -> str:
    return (
        f"| {item.rank} | {_pr_ref(item)} | {md(item.pr.title, TITLE_CHARS)} | {_owner(item)} | "
        f"{_size(item)} | {_risk(item)} | {item.estimated_review_minutes} | {item.priority.score:.2f} |"
    )


def _shed_line(item: QueueItem) -> str:
    place = f" — position {item.position}" if item.position is not None else ""
    return f"- {_pr_ref(item)} {md(item.pr.title, TITLE_CHARS)} — owner {_owner(item)}{place} — {_reasons(item)}"


def _cluster_line(c: ClusterView) -> str:
    others = ", ".join(f"{md(pr_id)} ({role}, {decision})" for pr_id, role, decision in c.members[1:])
    return (
        f"- **{md(c.id)}** ({c.kind}): canonical {md(c.canonical)} {md(c.canonical_title, TITLE_CHARS)} — "
        f"{others} — saves {minutes(c.minutes_saved)}"
    )


def _override(label: str | None) -> str:
    if not label:
        return ""
    return f" — override with the label `{one_line(label).replace('`', '')}`"


def item_body(queue: Queue, item: QueueItem) -> list[str]:
    """The facts about one PR, shared by the <details> blocks of queue.md and the PR comment."""
    a = item.assessment
    m = a.metrics
    r = a.review
    kind = item.decision.kind
    if item.rank is not None:
        where = f" — rank {item.rank} of {len(queue.by_decision(DecisionKind.REVIEW))} in the review queue"
    elif item.position is not None:
        where = f" — position {item.position} behind the capacity line"
    else:
        where = ""
    owner = _owner(item, how=True) if item.decision.owner is not None else "none found (no accountable human)"
    if item.errors:
        size = "unknown: the PR could not be measured"
    else:
        size = (
            f"{m.size_bucket.value} — +{m.lines_added} −{m.lines_deleted} in {plural(m.files, 'file')}, "
            f"{plural(len(m.subsystems), 'area')}"
            + (f"; {m.excluded_lines} generated/vendored lines not counted" if m.excluded_lines else "")
        )
    out = [
        f"- **Decision:** `{kind.value}`{where}",
        f"- **Owner:** {owner}",
        f"- **Size:** {size}",
        f"- **Risk:** {a.risk.level.value} ({a.risk.score:.2f})",
        f"- **Estimated review:** {minutes(item.estimated_review_minutes)}",
        f"- **Priority:** {item.priority.score:.2f}",
    ]
    info = item.decision.cluster
    if info is not None:
        out.append(
            f"- **Cluster:** {md(info.id)} — {info.role.value}; canonical {md(info.canonical)}; "
            f"members {md(', '.join(info.members))}"
        )
    for heading, reasons in (("Why", item.decision.reasons), ("Notes", item.decision.notes)):
        if reasons:
            out += ["", f"**{heading}:**"]
            out += [f"- **{md(x.rule)}**: {md(x.message)}{_override(x.override_label)}" for x in reasons]
    if item.errors:
        out += ["", "**Errors:**"]
        out += [f"- {md(e, 300)}" for e in item.errors]
    model = f", {md(r.model)}" if r.model else ""
    cost = md(review_cost(r))  # mode, requests, tokens; "cached" for a cached review
    summary = md(r.summary, 600) if r.summary else "—"
    out += ["", f"**Summary** ({r.source.value} reviewer{model}{cost}): {summary}"]
    if r.error:
        out.append(f"**Review error:** {md(r.error, 300)}")
    if r.flags:
        out += ["", "**Flags:**"]
        for f in sorted(r.flags, key=lambda f: -f.severity.weight):
            at = ""
            if f.file:
                at = f" in {md(f.file)}" + (f":{f.line}" if f.line is not None else "")
            out.append(f"- **{f.severity.value}** {f.kind.value}{at}: {md(f.evidence, 300)}")
    if a.risk.factors:
        out += ["", "| risk factor | value | contribution | detail |", "|---|--:|--:|---|"]
        for factor in sorted(a.risk.factors, key=lambda factor: -factor.contribution):
            out.append(
                f"| {md(factor.name)} | {factor.value:g} | {factor.contribution:+.3f} | {md(factor.detail, 120)} |"
            )
    if item.priority.terms:
        out += ["", "| priority term | value | contribution | detail |", "|---|--:|--:|---|"]
        for t in item.priority.terms:
            out.append(f"| {md(t.name)} | {t.value:g} | {t.contribution:+.3f} | {md(t.detail, 120)} |")
    if r.omitted:
        shown = ", ".join(md(o, 120) for o in r.omitted[:30])
        more = f" and {len(r.omitted) - 30} more" if len(r.omitted) > 30 else ""
        out += ["", f"**Not reviewed (over the review budget):** {shown}{more}"]
    return out


def _details(queue: Queue, item: QueueItem) -> str:
    head = f"#{item.pr.number}" if item.pr.number is not None else item.pr.id
    summary = html_inline(f"{head} · {item.decision.kind.value} · {one_line(item.pr.title, TITLE_CHARS)}")
    body = "\n".join(item_body(queue, item))
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"


def _blocks(queue: Queue) -> tuple[list[str], list[str], tuple[QueueItem, ...]]:
    """(blocks that are always kept, blocks kept while they fit, the items whose details blocks
    follow those) — each block ends with a newline. The details are rendered only while they
    fit: a batch of thousands fills the comment limit after a few dozen of them."""
    view = queue_view(queue)
    items = ordered_items(queue)
    head = ["## PR triage queue\n", "\n".join(header_lines(queue, view)) + "\n"]
    rest: list[str] = []
    review = [i for i in items if i.decision.kind is DecisionKind.REVIEW]
    rest.append("\n### Review queue\n")
    if review:
        rest.append(
            "\n| # | PR | title | owner | size | risk | est. min | priority |\n|--:|---|---|---|---|---|--:|--:|\n"
        )
        rest.extend(_queue_row(i) + "\n" for i in review)
    else:
        rest.append("\n_Nothing is queued for review._\n")
    if view.clusters:
        rest.append(f"\n### Clusters ({len(view.clusters)})\n\n")
        rest.extend(_cluster_line(c) + "\n" for c in view.clusters)
    for kind in SHED_KINDS:
        shed = [i for i in items if i.decision.kind is kind]
        if not shed:
            continue
        rest.append(f"\n### {_SECTION_TITLES[kind]} ({len(shed)})\n\n")
        rest.extend(_shed_line(i) + "\n" for i in shed)
    if items:
        rest.append("\n### Details\n\n")
    return head, rest, items


def render_markdown(queue: Queue, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """queue.md: the queue-level view, the ranked table, shed items with reasons, and details.

    Cut between blocks to at most `max_chars` characters (default: fits a GitHub comment),
    ending with a note that says how much was left out and where to find it.
    """
    head, rest, detailed = _blocks(queue)
    out = "".join(head)
    reserve = 200  # room for the note
    kept = 0
    total = len(rest) + len(detailed)
    for block in itertools.chain(rest, (_details(queue, i) for i in detailed)):
        if len(out) + len(block) + reserve > max_chars:
            break
        out += block
        kept += 1
    if kept < total:
        left = total - kept
        out += (
            f"\n> **Note:** this report was cut to fit GitHub's size limit; {plural(left, 'section')}"
            f" left out. The full queue is in queue.html and queue.json.\n"
        )
    return out


def render_item_markdown(queue: Queue, item_id: str) -> str:
    """One PR's triage, for its sticky comment. Has no timestamp, so re-running triage on an
    unchanged PR produces the same text and the comment is not edited for nothing."""
    item = next((i for i in queue.items if i.pr.id == item_id), None)
    if item is None:
        raise KeyError(f"{item_id}: no such PR in the queue")
    kind = item.decision.kind
    title = f"### PR triage: `{kind.value}`"
    lines = [title, "", f"{_pr_ref(item)} {md(item.pr.title, 200)} by {md(item.pr.author or 'unknown')}", ""]
    lines.extend(item_body(queue, item))
    lines.append("")
    lines.append(
        f"<sub>Triage by pr-triage, {reviewer_line(queue)}, risk by {md(queue.risk_model)}. "
        "Decisions are proposals; a maintainer can override any rule with its label.</sub>"
    )
    return "\n".join(lines) + "\n"


__all__ = ["DECISION_ORDER", "render_item_markdown", "render_markdown"]

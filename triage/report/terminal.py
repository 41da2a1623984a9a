"""The terminal table printed by `triage run`: the queue at a glance.

Input: `Queue` and a `rich.console.Console` (injected, so tests render into a recording console
at a fixed width). Every PR-supplied string is passed as a `rich.text.Text`, never as markup:
a title like `[red]x[/]` must print as typed, not restyle the table.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from triage.models import Queue
from triage.report.llm_line import llm_line
from triage.report.summary import ordered_items, queue_view
from triage.report.text import clean, hours, one_line, plural, reviewer_text

_DECISION_STYLE = {
    "review": "green",
    "throttled": "yellow",
    "duplicate": "cyan",
    "needs-split": "magenta",
    "reject": "red",
    "close": "bright_black",
    "skipped": "bright_black",
}
_CLUSTER_KIND = {"competing": "competing PRs", "resubmission": "re-submissions by one author"}
_RISK_STYLE = {"low": "green", "medium": "yellow", "high": "bold red"}
# Rows of the terminal table by default: the head of the queue, as `gh pr list` shows 30. A
# batch of thousands would otherwise scroll the summary lines away (and rendering a 1,200-row
# table took most of a second of the command's serial tail); the files hold every PR.
TABLE_ROWS = 50


def summary_line(queue: Queue) -> str:
    """One line: counts, reviewer-hours and which reviewer ran."""
    view = queue_view(queue)
    return (
        f"{view.received} received · {view.queued} queued · {view.shed} shed · "
        f"{hours(view.hours_needed)} needed / {hours(view.hours_available)} available · "
        f"{reviewer_text(queue.review_source)}"
    )


def shed_line(queue: Queue) -> str:
    view = queue_view(queue)
    counts = ", ".join(f"{kind} {n}" for kind, n in view.by_decision[1:] if n)
    rules = ", ".join(f"{rule} {n}" for rule, n in view.shed_by_rule)
    return f"shed: {counts or 'none'}" + (f" (by rule: {rules})" if rules else "")


def cluster_line(queue: Queue) -> str | None:
    """Clusters of PRs that need one review, the duplicates shed and the review saved; None
    when the batch has no cluster."""
    view = queue_view(queue)
    if not view.clusters:
        return None
    return (
        f"clusters: {len(view.clusters)} · duplicates shed {view.duplicates_shed} · "
        f"{hours(view.minutes_saved / 60)} of review saved"
    )


def cluster_member_lines(queue: Queue, limit: int = 8) -> list[str]:
    """One line per cluster: its canonical PR, then each other member with its role and
    decision, so a reader of the terminal sees which PR replaces which without opening the
    HTML report. The largest clusters come first; past `limit` one line counts the rest."""
    view = queue_view(queue)
    ordered = sorted(view.clusters, key=lambda c: (-len(c.members), c.canonical))
    lines = []
    for c in ordered[:limit]:
        others = ", ".join(f"{pr_id} {decision}" for pr_id, _, decision in c.members[1:])
        lines.append(f"  {c.canonical} (canonical) ← {others} · {_CLUSTER_KIND.get(c.kind, c.kind)}")
    if len(ordered) > limit:
        lines.append(f"  … and {plural(len(ordered) - limit, 'more cluster')} (queue.html lists all)")
    return lines


def degraded_line(queue: Queue) -> str | None:
    """What got less than the full triage, by cause; None when nothing did."""
    view = queue_view(queue)
    if not view.degraded.total:
        return None
    causes = ", ".join(f"{label} {n}" for label, n in view.degraded_parts)
    return f"degraded: {plural(view.degraded.total, 'PR')} ({causes})"


def build_table(queue: Queue, width: int = 160, limit: int | None = None) -> Table:
    """The queue as a table that fits `width` columns: only the text columns give up space.
    With `limit`, only the first `limit` items in queue order (the ranked ones first)."""
    table = Table(title="PR triage queue", show_lines=False, expand=False)
    narrow = width < 120
    text_max = 10 if narrow else 16
    # fixed columns (3+4+4+3+11) + two text columns + 8 separators x 3 + 4 edges
    title_max = max(10, min(48, width - 25 - 2 * text_max - 28))
    # Narrow terminals squeeze the text columns, never the short fixed ones (rich would
    # otherwise shrink a no_wrap column to nothing at 80 columns).
    table.add_column("#", justify="right", no_wrap=True, min_width=3)
    table.add_column("id", no_wrap=True, max_width=text_max, overflow="ellipsis")
    table.add_column("title", max_width=title_max, overflow="ellipsis", no_wrap=True)
    table.add_column("owner", max_width=text_max, overflow="ellipsis", no_wrap=True)
    table.add_column("size", no_wrap=True, min_width=4)
    table.add_column("risk", justify="right", no_wrap=True, min_width=4)
    table.add_column("min", justify="right", no_wrap=True, min_width=3)
    table.add_column("decision", no_wrap=True, min_width=11)
    items = ordered_items(queue)
    for item in items if limit is None else items[:limit]:
        place = item.rank if item.rank is not None else item.position
        risk = item.assessment.risk
        decision = item.decision.kind.value
        size = "?" if item.errors else item.assessment.metrics.size_bucket.value
        table.add_row(
            "" if place is None else (str(place) if item.rank is not None else f"+{place}"),
            Text(one_line(item.pr.id)),
            Text(one_line(item.pr.title)),
            Text(one_line(item.decision.owner.login) if item.decision.owner else "—"),
            size,
            Text(f"{risk.score:.2f}", style=_RISK_STYLE.get(risk.level.value, "")),
            str(item.estimated_review_minutes),
            Text(decision + (" !" if item.errors else ""), style=_DECISION_STYLE.get(decision, "")),
        )
    return table


def more_line(queue: Queue, limit: int | None) -> str | None:
    """What the table left out past `limit` rows, and where to find it; None when nothing."""
    left = len(queue.items) - limit if limit is not None else 0
    if left <= 0:
        return None
    return f"… and {left:,} more PRs (queue.html and queue.json list all; --rows 0 prints all here)"


def print_table(queue: Queue, console: Console, limit: int | None = TABLE_ROWS) -> None:
    """Print the queue table (its first `limit` rows; None or 0 for all), a one-line summary,
    the shed counts and, when anything degraded, what did."""
    limit = limit or None
    console.print(build_table(queue, console.width, limit))
    more = more_line(queue, limit)
    if more is not None:
        console.print(Text(more))
    console.print(Text(clean(summary_line(queue))))
    console.print(Text(clean(shed_line(queue))))
    clusters = cluster_line(queue)
    if clusters is not None:
        console.print(Text(clean(clusters)))
        for line in cluster_member_lines(queue):
            console.print(Text(clean(line)))
    console.print(Text(f"risk model: {one_line(queue.risk_model)}"))
    console.print(Text(llm_line(queue_view(queue).llm)))
    degraded = degraded_line(queue)
    if degraded is not None:
        console.print(Text(clean(degraded)))

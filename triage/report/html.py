"""queue.html: one self-contained page (inline CSS, server-side SVG, a few lines of inline JS).

Input: `Queue`. Output: an HTML string rendered by Jinja2 with autoescape on, because every
title, login, summary and flag is untrusted PR text. Nothing is loaded from elsewhere: the page
must open from a CI artifact, offline, and must not leak who reads it to a CDN. The scatter
chart (risk against size) is computed here as plain numbers and drawn by the template.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from triage.models import DecisionKind, Queue, QueueItem
from triage.report.json_report import iso
from triage.report.llm_line import llm_line
from triage.report.summary import SHED_KINDS, ordered_items, queue_view
from triage.report.text import clean, hours, minutes, one_line, reviewer_text, safe_url

COLOURS: dict[str, str] = {
    DecisionKind.REVIEW.value: "#2e7d32",
    DecisionKind.THROTTLED.value: "#f9a825",
    DecisionKind.DUPLICATE.value: "#8d6e63",
    DecisionKind.NEEDS_SPLIT.value: "#6a1b9a",
    DecisionKind.REJECT.value: "#c62828",
    DecisionKind.CLOSE.value: "#546e7a",
    DecisionKind.SKIPPED.value: "#9e9e9e",
}

# Chart geometry, in SVG user units.
WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    colour: str
    label: str
    tooltip: str
    label_dy: float = -8.0  # labels of coincident points are stacked, not drawn on each other


@dataclass(frozen=True, slots=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: tuple[Point, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def _finalize(value: object) -> object:
    """Every `{{ value }}` the template prints is cleaned (controls shown, credentials masked)
    before autoescaping, whatever field it is; our own markup (the inline script) is not text."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean(value)
    return value


def _env() -> Environment:
    """A fresh environment per render: no module-level state, autoescape always on, every
    printed string cleaned (`_finalize`)."""
    return Environment(
        finalize=_finalize,
        loader=PackageLoader("triage.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _script(env: Environment) -> str:
    """The sorting script, inlined verbatim so that its hash in the CSP matches."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "sort.js")
    return source


def script_hash(script: str) -> str:
    """CSP hash source for the one inline script: only that exact script may run, so even an
    escaping mistake elsewhere could not execute injected script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def scatter(queue: Queue) -> Chart:
    """Risk (y, 0..1) against changed lines (x, log10 scale) for every measured PR.

    Items with errors are left out: their size is unknown, and a point at zero would lie.
    """
    measured = [i for i in ordered_items(queue) if not i.errors]
    biggest = max((i.assessment.metrics.changed_lines for i in measured), default=0)
    decades = max(3, math.ceil(math.log10(biggest + 1)))  # at least 1..1000 lines
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(lines: int) -> float:
        return LEFT + plot_w * math.log10(lines + 1) / decades

    def y_of(score: float) -> float:
        clamped = min(max(score, 0.0), 1.0) if math.isfinite(score) else 0.0
        return TOP + plot_h * (1 - clamped)

    points = []
    seen: dict[tuple[float, float], int] = {}
    for item in measured:
        lines = item.assessment.metrics.changed_lines
        risk = item.assessment.risk
        label = f"#{item.pr.number}" if item.pr.number is not None else item.pr.id
        x, y = round(x_of(lines), 1), round(y_of(risk.score), 1)
        stacked = seen.get((x, y), 0)
        seen[(x, y)] = stacked + 1
        points.append(
            Point(
                x=x,
                y=y,
                label_dy=-8.0 - 12.0 * stacked,
                colour=COLOURS.get(item.decision.kind.value, "#000"),
                label=one_line(label, 16),
                tooltip=(
                    f"{label} — {one_line(item.pr.title, 80)}\n{item.decision.kind.value}, "
                    f"{lines} changed lines, risk {risk.score:.2f} ({risk.level.value})"
                ),
            )
        )
    x_ticks = tuple(Tick(round(x_of(10**d - 1), 1), f"{10**d:,}") for d in range(decades + 1))
    y_ticks = tuple(Tick(round(y_of(v / 4), 1), f"{v / 4:.2f}") for v in range(5))
    return Chart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, tuple(points), x_ticks, y_ticks)


def _row(item: QueueItem) -> dict[str, object]:
    """What the template shows for one item; text stays raw here, the template escapes it."""
    a = item.assessment
    owner = item.decision.owner
    label = f"#{item.pr.number}" if item.pr.number is not None else item.pr.id
    return {
        "item": item,
        "label": label,
        "url": safe_url(item.pr.url),
        "title": one_line(item.pr.title),
        "owner": owner.login if owner else None,
        "owner_how": "" if owner is None else owner.source + (f": {owner.detail}" if owner.detail else ""),
        "size": "?" if item.errors else a.metrics.size_bucket.value,
        "lines": None if item.errors else a.metrics.changed_lines,
        "risk": a.risk,
        "decision": item.decision.kind.value,
        "colour": COLOURS.get(item.decision.kind.value, "#000"),
        "place": item.rank if item.rank is not None else item.position,
        "flags": sorted(a.review.flags, key=lambda f: -f.severity.weight),
        "factors": sorted(a.risk.factors, key=lambda f: -f.contribution),
    }


def render_html(queue: Queue) -> str:
    """queue.html as one string."""
    return "".join(iter_html(queue))


def iter_html(queue: Queue) -> Iterator[str]:
    """queue.html in pieces as the template produces them (`Template.generate`), so writing
    the report of a large batch never holds the whole page as one string."""
    view = queue_view(queue)
    items = ordered_items(queue)
    rows = [_row(i) for i in items]
    shed = [(kind.value, [r for r in rows if r["decision"] == kind.value]) for kind in SHED_KINDS]
    env = _env()
    script = _script(env)
    template = env.get_template("queue.html.j2")
    return template.generate(
        script=script,
        script_hash=script_hash(script),
        queue=queue,
        view=view,
        generated_at=iso(queue.generated_at),
        reviewer=reviewer_text(queue.review_source),
        llm=llm_line(view.llm),
        rows=rows,
        review_rows=[r for r in rows if r["decision"] == DecisionKind.REVIEW.value],
        shed=[(k, rs) for k, rs in shed if rs],
        chart=scatter(queue),
        colours=COLOURS,
        hours=hours,
        minutes=minutes,
    )

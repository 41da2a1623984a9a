"""The report stage on hand-built queues: JSON contract, Markdown safety and size, the HTML page,
the terminal table and the atomic writer."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from report_samples import MALICIOUS_TITLE, NOW, big_queue, empty_queue, item, sample_queue
from rich.console import Console

from triage.models import DecisionKind, Metrics, ParsedDiff, Reason, Review, ReviewSource, SizeBucket
from triage.report import (
    dumps,
    load_schema,
    print_table,
    queue_view,
    render_html,
    render_item_markdown,
    render_markdown,
    to_json,
    write_reports,
)
from triage.report.html import iter_html, scatter, script_hash
from triage.report.markdown import MAX_COMMENT_CHARS
from triage.report.text import ZWJ, html_inline, md, safe_url

# ------------------------------------------------------------------------------------------
# queue-level view


def test_queue_view_counts_and_load() -> None:
    view = queue_view(sample_queue())
    assert (view.received, view.queued, view.shed, view.errors) == (7, 2, 5, 1)
    assert dict(view.by_decision) == {
        "review": 2,
        "throttled": 1,
        "duplicate": 0,
        "needs-split": 1,
        "reject": 1,
        "close": 1,
        "skipped": 1,
    }
    assert dict(view.shed_by_rule) == {"capacity": 1, "error": 1, "secrets": 1, "size": 1, "stale": 1}
    assert view.oldest_waiting is not None
    # p6 is older but proposed for closing: "waiting" means queued or throttled.
    assert (view.oldest_waiting.id, round(view.oldest_waiting.age_days)) == ("p1", 40)
    # alice: p1 queued (10 min) and p3 throttled.
    assert [(o.login, o.queued, o.waiting, o.minutes_queued) for o in view.owner_load] == [
        ("bob", 1, 1, 25),
        ("alice", 1, 2, 10),
    ]
    assert (view.minutes_needed, view.minutes_available) == (65, 600)


def degraded_queue():  # type: ignore[no-untyped-def]
    """The sample queue plus one PR whose LLM review failed and one GitHub could not serve."""
    q = sample_queue("mixed")
    unavailable = Review(ReviewSource.UNAVAILABLE, "Summary of llm-down", error="LLM review unavailable (rate-limit)")
    fetch = "github:o/r#21: GitHub GET /repos/o/r/pulls/21: HTTP 502 after 5 attempts"
    llm_down = item("llm-down", DecisionKind.THROTTLED, number=20, position=2, review=unavailable)
    not_read = item(
        "not-read",
        DecisionKind.SKIPPED,
        number=21,
        owner=None,
        errors=(fetch,),
        reasons=(Reason("unparseable", f"cannot be triaged: {fetch}"),),
    )
    # the fetch failure is on the PR itself (a load error); no diff came, so none was parsed
    not_read = replace(
        not_read,
        assessment=replace(not_read.assessment, pr=replace(not_read.pr, load_errors=(fetch,)), diff=ParsedDiff()),
    )
    return replace(q, items=(*q.items, llm_down, not_read))


def test_queue_view_counts_degraded_items() -> None:
    assert queue_view(sample_queue()).degraded_parts == (("parse errors", 1),)
    view = queue_view(degraded_queue())
    assert (view.degraded.total, view.errors) == (3, 2)
    assert view.degraded_parts == (("load errors", 1), ("parse errors", 1), ("LLM unavailable", 1))
    assert queue_view(replace(sample_queue(), items=sample_queue().items[:-1])).degraded.total == 0


# ------------------------------------------------------------------------------------------
# queue.json


def test_to_json_contract() -> None:
    doc = to_json(sample_queue())
    assert list(doc) == [
        "schema_version",
        "generated_at",
        "review_source",
        "capacity",
        "config",
        "summary",
        "risk_model",
        "llm",
        "items",
    ]
    assert doc["schema_version"] == 2
    assert doc["generated_at"] == "2026-11-29T12:00:00Z"
    assert doc["capacity"] == {
        "reviewers": 3,
        "period_days": 7,
        "minutes_available": 600,
        "minutes_needed": 65,
        "minutes_queued": 35,
    }
    assert doc["config"]["gates"]["exempt"] == ["OWNER", "MEMBER"]
    assert [i["id"] for i in doc["items"]] == ["p1", "p2", "p3", "p4", "p5", "p6", "broken.patch"]
    assert [i["rank"] for i in doc["items"]] == [1, 2, None, None, None, None, None]
    assert doc["items"][2]["position"] == 1
    p2 = doc["items"][1]
    assert p2["owner"] == {"login": "bob", "source": "author", "detail": ""}
    assert p2["review"]["flags"][0] == {
        "kind": "security",
        "severity": "high",
        "file": "src/a.py",
        "line": 7,
        "evidence": "token `AKIA****` in <b>config</b>",
        "source": "llm",
    }
    assert p2["review"]["omitted"] == ["src/big.py @@ -1,400"]
    assert (p2["review"]["tokens_in"], p2["review"]["cached"], p2["risk"]["level"]) == (1200, True, "high")
    p4 = doc["items"][3]
    assert p4["reasons"] == [
        {"rule": "size", "message": "1520 changed lines is over 1000", "override_label": "triage/override-size"}
    ]
    broken = doc["items"][-1]
    assert broken["errors"] == ["broken.patch: not a unified diff"]
    assert broken["owner"] is None and broken["files"] == [] and broken["metrics"]["history"] is None
    assert doc["items"][0]["metrics"]["history"]["files"][0] == {
        "path": "src/a.py",
        "age_days": 12.5,
        "prior_changes": 4,
        "authors": 2,
    }
    assert doc["summary"]["oldest_waiting"]["id"] == "p1"
    assert doc["summary"]["reviewer_hours_available"] == 10.0


def test_json_summary_counts_what_degraded() -> None:
    assert to_json(sample_queue())["summary"]["degraded"] == {
        "total": 1,
        "load_errors": 0,
        "parse_errors": 1,
        "stage_errors": 0,
        "llm_unavailable": 0,
    }
    doc = to_json(degraded_queue())
    summary = doc["summary"]
    assert list(summary)[:5] == ["received", "queued", "shed", "errors", "degraded"]
    assert summary["degraded"] == {
        "total": 3,
        "load_errors": 1,
        "parse_errors": 1,
        "stage_errors": 0,
        "llm_unavailable": 1,
    }
    Draft202012Validator(load_schema()).validate(doc)
    # always present, zeros included, so a consumer never has to guess
    clean = to_json(replace(sample_queue(), items=sample_queue().items[:-1]))["summary"]["degraded"]
    assert clean == {"total": 0, "load_errors": 0, "parse_errors": 0, "stage_errors": 0, "llm_unavailable": 0}


def test_json_is_deterministic_and_valid_json() -> None:
    first, second = dumps(sample_queue()), dumps(sample_queue())
    assert first == second
    assert json.loads(first) == to_json(sample_queue())


def test_non_finite_numbers_become_null_and_still_validate() -> None:
    q = sample_queue()
    first = q.items[0]
    bad = replace(
        first, assessment=replace(first.assessment, metrics=replace(first.assessment.metrics, entropy=float("nan")))
    )
    q = replace(q, items=(bad, *q.items[1:]))
    doc = json.loads(dumps(q))
    assert doc["items"][0]["metrics"]["entropy"] is None
    Draft202012Validator(load_schema()).validate(doc)


# ------------------------------------------------------------------------------------------
# queue.md


def _row_of(markdown: str, pid_link: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("|") and pid_link in line)


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_header_and_table() -> None:
    text = render_markdown(sample_queue())
    assert text.startswith("## PR triage queue\n")
    assert "**Received:** 7 PRs · **queued for review:** 2 · **shed:** 5" in text
    assert "**Shed by rule:** capacity 1, error 1, secrets 1, size 1, stale 1" in text
    assert "**Reviewer-hours:** 1.1 h needed · 0.6 h queued · 10.0 h available (3 reviewers, 7 days)" in text
    assert "**Oldest waiting:** p1 Change p1 — 40 days" in text
    assert "**Load per owner:** bob 1 queued (25 min), alice 1 queued (10 min, 1 throttled)" in text
    assert "**Reviewer:** heuristic reviewer" in text
    row = _row_of(text, "[\\#2](https://github.com/o/r/pull/2)")
    assert row == ("| 2 | [\\#2](https://github.com/o/r/pull/2) | Change p2 | bob | S (380) | high 0.70 | 25 | 0.65 |")
    assert text.index("| 1 | [\\#1]") < text.index("| 2 | [\\#2]")
    for section in (
        "### Throttled: behind the capacity line (1)",
        "### Needs split (1)",
        "### Rejected (1)",
        "### Proposed for closing (1)",
        "### Skipped (1)",
    ):
        assert section in text
    assert "(override: `triage/override-size`)" in text
    assert text.count("<details>") == text.count("</details>") == 7
    assert "broken\\.patch\\: not a unified diff" in text  # errors shown


def test_markdown_says_what_degraded_and_only_when_something_did() -> None:
    text = render_markdown(degraded_queue())
    assert (
        "- **Degraded:** 3 PRs got less than the full triage (load errors 1, parse errors 1, LLM unavailable 1)\n"
    ) in text
    assert text.index("**Degraded:**") < text.index("**Reviewer:**")  # in the head, not the details
    clean = replace(sample_queue(), items=sample_queue().items[:-1])
    assert "Degraded" not in render_markdown(clean)


def test_markdown_shows_which_reviewer_ran() -> None:
    assert "**Reviewer:** LLM reviewer" in render_markdown(sample_queue("llm"))
    assert "LLM reviewer for some PRs" in render_markdown(sample_queue("mixed"))


def test_markdown_escapes_untrusted_text() -> None:
    text = render_markdown(sample_queue())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "@octocat" not in text and f"@{ZWJ}octocat" in text
    assert "@admin" not in text  # in an LLM summary too
    assert "](javascript" not in text
    assert "<b>config</b>" not in text  # flag evidence
    shed = next(line for line in text.splitlines() if line.startswith("- [\\#5]"))
    assert "\n" not in shed and "\\| col" in shed
    # In the queue table a hostile title cannot add cells.
    hostile = replace(sample_queue(), items=(item("x", DecisionKind.REVIEW, number=9, rank=1, title=MALICIOUS_TITLE),))
    row = _row_of(render_markdown(hostile), "[\\#9]")
    assert _unescaped_pipes(row) == 9  # 8 columns


def test_html_inline_escape() -> None:
    assert html_inline("<b>'x'</b> [a](javascript:y) @z") == (
        "&#60;b&#62;&#39;x&#39;&#60;/b&#62; &#91;a&#93;&#40;javascript:y&#41; @\u200dz"
    )


def test_md_escape_units() -> None:
    assert md("a|b\nc") == "a\\|b c"
    assert md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert md("ping @team") == f"ping @{ZWJ}team"
    assert md("x" * 50, limit=10) == "xxxxxxxxx…"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x/y z") is None
    assert safe_url("https://github.com/o/r/pull/1") == "https://github.com/o/r/pull/1"


def test_markdown_cut_to_comment_limit() -> None:
    q = big_queue(400)
    full = render_markdown(q, max_chars=10_000_000)
    assert len(full) > MAX_COMMENT_CHARS
    cut = render_markdown(q)
    assert len(cut) <= MAX_COMMENT_CHARS - 1_000
    assert "this report was cut to fit GitHub's size limit" in cut
    assert cut.count("<details>") == cut.count("</details>")
    assert "| 1 | [\\#100]" in cut  # the head of the queue survives the cut
    small = render_markdown(q, max_chars=3_000)
    assert len(small) <= 3_000 and "sections left out" in small
    assert "cut to fit" not in render_markdown(sample_queue())


def test_markdown_cut_among_details_counts_the_details_left_out() -> None:
    q = big_queue(30)
    full = render_markdown(q, max_chars=10_000_000)
    cut = render_markdown(q, max_chars=len(full) - 1_500)  # only the last few details go
    missing = full.count("<details>") - cut.count("<details>")
    assert 0 < missing < 30 and cut.count("<details>") == cut.count("</details>")
    assert f"{missing} sections left out" in cut
    assert cut.split("\n> **Note:**")[0] == full[: len(cut.split("\n> **Note:**")[0])]  # a prefix of the whole


def test_markdown_empty_queue() -> None:
    text = render_markdown(empty_queue())
    assert "**Received:** 0 PRs" in text and "_Nothing is queued for review._" in text
    assert "Oldest waiting" not in text


def test_item_markdown_for_sticky_comment() -> None:
    q = sample_queue()
    text = render_item_markdown(q, "p2")
    assert text.startswith("### PR triage: `review`\n")
    assert "- **Decision:** `review` — rank 2 of 2 in the review queue" in text
    assert "- **Owner:** bob (via author)" in text
    assert "- **Risk:** high (0.70)" in text and "| size | 120 | +0.420 |" in text
    assert "- **Estimated review:** 25 min" in text
    assert "- **high** security in src/a\\.py:7:" in text
    assert "**Summary** (llm reviewer, gpt\\-4o\\-mini, cached)" in text
    assert "**Not reviewed (over the review budget):**" in text
    assert "2026" not in text  # no timestamp: an unchanged PR gives an unchanged comment
    assert text == render_item_markdown(replace(q, generated_at=NOW.replace(year=2027)), "p2")


def test_item_markdown_shed_items() -> None:
    q = sample_queue()
    split = render_item_markdown(q, "p4")
    assert "**size**: 1520 changed lines is over 1000 — override with the label `triage/override-size`" in split
    throttled = render_item_markdown(q, "p3")
    assert "`throttled` — position 1 behind the capacity line" in throttled
    broken = render_item_markdown(q, "broken.patch")
    assert "**Owner:** none found" in broken and "unknown: the PR could not be measured" in broken
    evil = render_item_markdown(q, "p5")
    assert "<script>" not in evil and "@octocat" not in evil
    with pytest.raises(KeyError, match="nope"):
        render_item_markdown(q, "nope")


# ------------------------------------------------------------------------------------------
# queue.html


def test_html_escapes_untrusted_text() -> None:
    page = render_html(sample_queue())
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert page.count("<script") == 1  # ours only


def test_html_is_self_contained() -> None:
    page = render_html(sample_queue())
    assert page.startswith("<!doctype html>")
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"<script[^>]+src=", page) and not re.search(r"<img[^>]+src=", page)
    external = [
        u for u in re.findall(r'(?:href|src)="([^"]+)"', page) if not u.startswith("https://github.com/o/r/pull/")
    ]
    assert external == []
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    assert f"script-src '{script_hash(script)}'" in page  # CSP allows exactly our script


def test_html_content() -> None:
    page = render_html(sample_queue())
    for text in (
        ">Received<",
        ">Queued<",
        ">Shed<",
        "Reviewer-hours",
        "Oldest waiting",
        "Load per owner",
        "heuristic reviewer (no LLM)",
        "1520 changed lines is over 1000",
        "triage/override-size",
        "broken.patch: not a unified diff",
        'id="queue"',
    ):
        assert text in page, text
    queue_table = page.split('id="queue"', 1)[1].split("</table>", 1)[0]
    assert queue_table.count("<tr>") == 3  # header + 2 queued


def test_html_scatter_chart() -> None:
    q = sample_queue()
    chart = scatter(q)
    assert len(chart.points) == 6  # the item with errors has no size to plot
    by_label = {p.label: p for p in chart.points}
    assert by_label["#4"].colour == "#6a1b9a" and by_label["#1"].colour == "#2e7d32"
    # Log scale: 1520 lines lies right of 380, which lies right of 50; higher risk is higher up.
    assert by_label["#4"].x > by_label["#2"].x > by_label["#1"].x
    assert by_label["#4"].y < by_label["#2"].y < by_label["#1"].y
    assert all(chart.top <= p.y <= chart.height - chart.bottom for p in chart.points)
    assert [t.label for t in chart.x_ticks] == ["1", "10", "100", "1,000", "10,000"]
    # Coincident points get stacked labels.
    same = [p for p in chart.points if (p.x, p.y) == (by_label["#3"].x, by_label["#3"].y)]
    assert len({p.label_dy for p in same}) == len(same) > 1
    page = render_html(q)
    assert page.count("<circle") == 6
    assert "<title>#2 — Change p2\nreview, 380 changed lines, risk 0.70 (high)</title>" in page


def test_html_degraded_card() -> None:
    page = render_html(degraded_queue())
    card = page.split(">Degraded<", 1)[1].split("</div></div>", 1)[0]
    assert ">3<" in card
    assert "load errors 1 · parse errors 1 · LLM unavailable 1" in card
    assert ">Degraded<" not in render_html(replace(sample_queue(), items=sample_queue().items[:-1]))


def test_html_empty_queue() -> None:
    page = render_html(empty_queue())
    assert "Nothing is queued for review." in page and "<circle" not in page


# ------------------------------------------------------------------------------------------
# terminal


def test_print_table() -> None:
    console = Console(record=True, width=120, color_system=None)
    q = sample_queue()
    hostile = item("m", DecisionKind.REVIEW, number=10, rank=3, title="[bold red]fake[/] title", owner="eve")
    print_table(replace(q, items=(*q.items, hostile)), console)
    out = console.export_text()
    rows = {line.split("│")[2].strip(): line for line in out.splitlines() if line.count("│") >= 9}
    assert set(rows) == {"p1", "p2", "p3", "p4", "p5", "p6", "broken.patch", "m"}
    assert re.search(r"│\s+1 │ p1 .*│ alice .*│ S .*│ 0\.20 │\s+10 │ review", rows["p1"])
    assert "needs-split" in rows["p4"] and "0.90" in rows["p4"]
    assert "skipped !" in rows["broken.patch"] and "│ ?" in rows["broken.patch"]
    assert "[bold red]fake[/] title" in rows["m"]  # printed as typed, not as markup
    assert "<script>alert('x')</script> | col" in rows["p5"]
    assert "8 received · 3 queued · 5 shed" in out
    assert "reviewer (no LLM)" in out
    assert "shed: throttled 1, needs-split 1, reject 1, close 1, skipped 1" in out


def _table_ids(out: str) -> list[str]:
    return [line.split("│")[2].strip() for line in out.splitlines() if line.count("│") >= 9]


def test_print_table_shows_the_head_of_a_long_queue_and_says_how_many_more() -> None:
    console = Console(record=True, width=120, color_system=None)
    print_table(big_queue(60), console)  # the default: 50 rows
    out = console.export_text()
    assert _table_ids(out) == [f"b{k}" for k in range(50)]  # the head of the queue, in rank order
    assert "… and 10 more PRs (queue.html and queue.json list all; --rows 0 prints all here)" in out
    assert "60 received · 60 queued" in out  # the summary still counts every PR


@pytest.mark.parametrize(("limit", "shown"), [(3, 3), (0, 8), (None, 8), (8, 8), (100, 8)])
def test_print_table_limit(limit: int | None, shown: int) -> None:
    console = Console(record=True, width=120, color_system=None)
    q = sample_queue()
    q = replace(q, items=(*q.items, item("m", DecisionKind.REVIEW, number=10, rank=3, owner="eve")))
    print_table(q, console, limit)
    out = console.export_text()
    ids = _table_ids(out)
    assert len(ids) == shown and ids[:2] == ["p1", "p2"]  # ranked items first
    assert ("more PRs" in out) is (shown < 8)
    if shown < 8:
        assert "… and 5 more PRs" in out


def test_print_table_says_what_degraded_only_when_something_did() -> None:
    console = Console(record=True, width=120, color_system=None)
    print_table(degraded_queue(), console)
    out = console.export_text()
    assert "degraded: 3 PRs (load errors 1, parse errors 1, LLM unavailable 1)" in out
    console = Console(record=True, width=120, color_system=None)
    print_table(replace(sample_queue(), items=sample_queue().items[:-1]), console)
    assert "degraded" not in console.export_text()


# ------------------------------------------------------------------------------------------
# writer


def test_write_reports(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    paths = write_reports(sample_queue(), out)
    assert [p.name for p in paths] == ["queue.json", "queue.md", "queue.html"]
    assert sorted(p.name for p in out.iterdir()) == ["queue.html", "queue.json", "queue.md"]  # no temp files
    doc = json.loads((out / "queue.json").read_text(encoding="utf-8"))
    Draft202012Validator(load_schema()).validate(doc)
    assert (out / "queue.md").read_text(encoding="utf-8") == render_markdown(sample_queue())
    # Overwrites in place.
    write_reports(empty_queue(), out)
    assert json.loads((out / "queue.json").read_text(encoding="utf-8"))["items"] == []
    assert sorted(p.name for p in out.iterdir()) == ["queue.html", "queue.json", "queue.md"]


@pytest.mark.parametrize("queue", [sample_queue(), big_queue(40), empty_queue()], ids=["sample", "big", "empty"])
def test_streamed_json_is_exactly_the_document(queue) -> None:
    expected = json.dumps(to_json(queue), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    assert dumps(queue) == expected


def test_the_html_page_is_streamed_in_pieces_and_written_whole(tmp_path: Path) -> None:
    queue = big_queue(40)
    pieces = list(iter_html(queue))
    assert len(pieces) > 40  # the template's output arrives in pieces, not as one string
    write_reports(queue, tmp_path)
    page = (tmp_path / "queue.html").read_text(encoding="utf-8")
    assert page == "".join(pieces) and page.rstrip().endswith("</html>")
    assert all(f"#{100 + k}" in page for k in range(40))  # every item made it to the file
    assert json.loads((tmp_path / "queue.json").read_text(encoding="utf-8")) == to_json(queue)


def test_a_report_that_fails_to_render_leaves_the_previous_ones_and_no_temp_files(tmp_path: Path, monkeypatch) -> None:
    write_reports(sample_queue(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(_queue):
        yield "<html>half a page"
        raise RuntimeError("template bug")

    monkeypatch.setattr("triage.report.writer.iter_html", broken)
    with pytest.raises(RuntimeError, match="template bug"):
        write_reports(big_queue(40), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_reports_to_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from triage.errors import InputError

    with pytest.raises(InputError, match="cannot write reports"):
        write_reports(sample_queue(), blocker / "out")


def test_metrics_fixture_is_consistent() -> None:
    """Guard for the samples themselves: the bucket shown is the one set."""
    m: Metrics = sample_queue().items[0].assessment.metrics
    assert m.size_bucket is SizeBucket.S and m.changed_lines == 50


def test_html_svg_is_well_formed_xml() -> None:
    import xml.etree.ElementTree as ET

    page = render_html(sample_queue())
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    assert len(titles) == 6 and titles[4].startswith("#5 — <script>alert('x')</script>")


def test_reports_of_a_queue_from_the_rank_stage() -> None:
    """The real rank stage's output (priorities, estimates, capacity cut) fits the contract."""
    from triage.config import Config
    from triage.rank import rank

    sample = sample_queue()
    queue = rank([i.assessment for i in sample.items], [i.decision for i in sample.items], Config(), NOW, "heuristic")
    queue = replace(queue, config=Config().to_report())
    doc = to_json(queue)
    Draft202012Validator(load_schema()).validate(doc)
    assert "api_key" not in doc["config"]["llm"]
    ranks = [i["rank"] for i in doc["items"] if i["decision"] == "review"]
    assert ranks == list(range(1, len(ranks) + 1))
    assert "## PR triage queue" in render_markdown(queue) and "<svg" in render_html(queue)

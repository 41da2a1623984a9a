"""The queue-level LLM line: every report (terminal, queue.md, queue.html, queue.json, the
sticky comment's item) says what the LLM stage did, and the user sees mode switches and a
stopped LLM stage on stderr.

End to end through `triage run` in-process, with the REAL openai client against the loopback
stub (tests/openai_stub.py): the figures asserted are the requests the stub received and the
usage it reported, so the line must add up to what really went over the wire.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openai_stub import VALID_REVIEW, OpenAIStub, Reply, closed_port_url, ok, status
from rich.console import Console

from triage.cli import main
from triage.models import Review, ReviewSource
from triage.report import load_schema
from triage.report.llm_line import llm_text, review_cost
from triage.report.summary import LLMUsage

PATCH = """diff --git a/lib/{name}.py b/lib/{name}.py
index 1111111..2222222 100644
--- a/lib/{name}.py
+++ b/lib/{name}.py
@@ -1,2 +1,4 @@
 def {name}(a, b):
-    return a + b
+    if a is None:
+        return b
+    return a + b
"""


def _inputs(tmp_path: Path, names: tuple[str, ...] = ("a", "b", "c")) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        (folder / f"{name}.diff").write_text(PATCH.format(name=name))
    return folder


def _config(tmp_path: Path, **llm: Any) -> Path:
    settings = {"model": "stub-model", "concurrency": 1, "max_retries": 0, "timeout": 10.0, **llm}
    lines = ["[llm]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = tmp_path / "triage.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _triage(tmp_path: Path, base_url: str | None, out: str = "out", **llm: Any) -> tuple[int, str, dict[str, Any]]:
    env = {"TRIAGE_CACHE_DIR": str(tmp_path / "cache")}
    if base_url is not None:
        env |= {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-stub"}
    console = Console(record=True, width=200, force_terminal=False)
    argv = ["run", str(tmp_path / "in"), "--out", str(tmp_path / out), "--no-progress"]
    argv += ["--config", str(_config(tmp_path, **llm))]
    if base_url is None:
        argv += ["--llm", "off"]
    code = main(argv, environ=env, console=console)
    doc = json.loads((tmp_path / out / "queue.json").read_text())
    jsonschema.validate(doc, load_schema())
    return code, console.export_text(), doc


def _reports(tmp_path: Path, out: str = "out") -> tuple[str, str]:
    """queue.md with its Markdown escapes undone (the text is asserted, not the escaping,
    which tests/test_report.py covers), and queue.html."""
    md = re.sub(r"\\(.)", r"\1", (tmp_path / out / "queue.md").read_text())
    return md, (tmp_path / out / "queue.html").read_text()


def test_every_report_carries_the_llm_line_and_a_mode_switch_is_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _inputs(tmp_path)
    # An endpoint without JSON-schema output (like many local servers): the first request is
    # refused with a 400, the run moves to tool calling for the rest.
    with OpenAIStub(supports_json_schema=False, default=ok(VALID_REVIEW, usage=(120, 40))) as stub:
        code, text, doc = _triage(tmp_path, stub.base_url)
        sent = len(stub.requests)
    assert code == 0 and sent == 4  # 3 PRs + the one refused json_schema request
    line = "stub-model · mode tools · 3 of 3 PRs reviewed · 4 requests · tokens 360 in / 120 out · no fallback"
    assert f"LLM: {line}" in text
    md, html = _reports(tmp_path)
    assert f"- **LLM:** {line}" in md
    assert f"LLM: {line}" in html
    assert doc["llm"] == {
        "used": True,
        "models": ["stub-model"],
        "modes": {"tools": 3},
        "prs_asked": 3,
        "reviews_valid": 3,
        "cached": 0,
        "fallbacks": 0,
        "failures": {},
        "requests": 4,
        "tokens_in": 360,
        "tokens_out": 120,
    }
    reviews = {i["id"]: i["review"] for i in doc["items"]}
    assert {r["mode"] for r in reviews.values()} == {"tools"}
    assert sorted(r["requests"] for r in reviews.values()) == [1, 1, 2]
    # Each item (the <details> of queue.md, and the sticky comment, which renders the same
    # body) says what its own review cost.
    assert "(llm reviewer, stub-model, tools, 1 request, tokens 120 in / 40 out)" in md
    err = capsys.readouterr().err
    assert "triage: warning: LLM endpoint refused json_schema structured output; using tools" in err


def test_a_rerun_from_the_cache_says_cached_and_costs_nothing(tmp_path: Path) -> None:
    _inputs(tmp_path)
    with OpenAIStub() as stub:
        _triage(tmp_path, stub.base_url)
        first = len(stub.requests)
        code, text, doc = _triage(tmp_path, stub.base_url, out="out2")
        assert len(stub.requests) == first == 3  # the second run sent nothing
    assert code == 0
    line = "stub-model · mode json_schema · 3 of 3 PRs reviewed (3 cached) · 0 requests · tokens 0 in / 0 out"
    assert f"LLM: {line} · no fallback" in text
    md, _ = _reports(tmp_path, "out2")
    assert "(llm reviewer, stub-model, json_schema, cached)" in md
    assert (doc["llm"]["cached"], doc["llm"]["requests"], doc["llm"]["reviews_valid"]) == (3, 0, 3)


def test_fallbacks_are_counted_by_fault_kind(tmp_path: Path) -> None:
    _inputs(tmp_path)

    def responder(request: dict[str, Any]) -> Reply:
        # PR b's diff names lib/b.py: that one always gets a server error.
        return status(503, "overloaded") if "lib/b.py" in json.dumps(request) else ok(VALID_REVIEW)

    with OpenAIStub(default=None, responder=responder) as stub:
        code, text, doc = _triage(tmp_path, stub.base_url)
    assert code == 0
    assert (
        "2 of 3 PRs reviewed · 3 requests · tokens 240 in / 80 out · 1 fallback to static review (server-error 1)"
        in (text)
    )
    assert doc["llm"]["fallbacks"] == 1 and doc["llm"]["failures"] == {"server-error": 1}
    b = next(i for i in doc["items"] if i["id"] == "b")
    assert (b["review"]["source"], b["review"]["fault"], b["review"]["mode"]) == ("unavailable", "server-error", None)
    md, html = _reports(tmp_path)
    assert "1 fallback to static review (server-error 1)" in md and "1 fallback to static review" in html


def test_a_dead_endpoint_is_said_once_and_counted_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _inputs(tmp_path, ("a", "b", "c", "d", "e"))
    code, text, doc = _triage(tmp_path, closed_port_url())
    assert code == 0
    assert doc["llm"]["failures"] == {"connection": 3, "skipped": 2}
    assert doc["llm"]["requests"] == 3 and doc["llm"]["reviews_valid"] == 0
    assert "0 of 5 PRs reviewed · 3 requests · tokens 0 in / 0 out · 5 fallbacks to static review" in text
    err = capsys.readouterr().err
    assert err.count("LLM stage stopped, the rest of the batch keeps its static review") == 1
    assert "endpoint unreachable for 3 PRs in a row" in err


def test_a_forced_mode_the_endpoint_refuses_stops_the_llm_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _inputs(tmp_path)
    with OpenAIStub(supports_json_schema=False) as stub:
        code, _, doc = _triage(tmp_path, stub.base_url, mode="json_schema")
        assert len(stub.requests) == 1  # not once per PR: the refusal holds for every request
    assert code == 0
    assert doc["llm"]["failures"] == {"skipped": 2, "unsupported-method": 1}
    assert "the endpoint refused json_schema structured output" in capsys.readouterr().err


def test_with_the_llm_off_every_report_says_so(tmp_path: Path) -> None:
    _inputs(tmp_path)
    code, text, doc = _triage(tmp_path, None)
    assert code == 0
    assert "LLM: not used (heuristic reviewer only)" in text
    md, html = _reports(tmp_path)
    assert "- **LLM:** not used (heuristic reviewer only)" in md
    assert "LLM: not used (heuristic reviewer only)" in html
    assert doc["llm"]["used"] is False and doc["llm"]["prs_asked"] == 0 and doc["llm"]["models"] == []
    assert all(i["review"]["requests"] == 0 and i["review"]["mode"] is None for i in doc["items"])


@pytest.mark.slow
def test_a_one_slot_slow_server_gets_every_review_through_the_whole_run(tmp_path: Path) -> None:
    # Issue #14 item 6 at the level a user sees: four requests in flight against a server
    # that answers one at a time, the queued ones time out. Timeouts are "slow", never
    # "unreachable": no PR falls back, the breaker stays shut, concurrency adapts.
    _inputs(tmp_path, tuple("abcdefgh"))
    with OpenAIStub(default=ok(VALID_REVIEW, delay=0.6), slots=1) as stub:
        code, text, doc = _triage(tmp_path, stub.base_url, concurrency=4, timeout=2.0, max_retries=3)
        assert stub.max_in_flight >= 2  # requests did queue at the server ...
    assert code == 0
    assert doc["llm"]["reviews_valid"] == 8 and doc["llm"]["fallbacks"] == 0  # ... and none was lost
    assert "8 of 8 PRs reviewed" in text and "no fallback" in text


def test_the_line_wording() -> None:
    usage = LLMUsage(
        asked=8,
        answered=5,
        cached=2,
        fallbacks=1,
        failures=(("timeout", 1),),
        models=("qwen2.5-coder:1.5b",),
        modes=(("json_schema", 4), ("plain", 3)),
        requests=9,
        tokens_in=12345,
        tokens_out=678,
    )
    assert llm_text(usage) == (
        "qwen2.5-coder:1.5b · modes json_schema 4, plain 3 · 7 of 8 PRs reviewed (2 cached) · 9 requests · "
        "tokens 12,345 in / 678 out · 1 fallback to static review (timeout 1)"
    )
    assert review_cost(Review(source=ReviewSource.HEURISTIC, summary="x")) == ""
    failed = Review(source=ReviewSource.UNAVAILABLE, summary="x", requests=4, fault="timeout")
    assert review_cost(failed) == ", 4 requests, tokens 0 in / 0 out"


def test_the_sticky_comment_says_what_its_review_cost(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from triage.config import CacheConfig, Config, LLMConfig
    from triage.pipeline import RunContext, run
    from triage.report import render_item_markdown
    from triage.sources import load_inputs

    folder = _inputs(tmp_path, ("a",))
    with OpenAIStub(default=ok(VALID_REVIEW, usage=(321, 54))) as stub:
        cfg = Config(
            llm_mode="on",
            llm=LLMConfig(model="stub-model", base_url=stub.base_url, api_key="sk-stub", max_retries=0),
            cache=CacheConfig(enabled=False),
        )
        queue = run(load_inputs([str(folder)]), cfg, RunContext(now=datetime(2026, 11, 29, tzinfo=UTC)))
    comment = re.sub(r"\\(.)", r"\1", render_item_markdown(queue, "a"))
    assert "(llm reviewer, stub-model, json_schema, 1 request, tokens 321 in / 54 out)" in comment


def test_a_reply_cut_off_at_the_limit_still_counts_its_tokens() -> None:
    # A small model that rambles to `max_tokens` twice has spent 2 x 800 output tokens: the
    # LLM line must say so, not "0 out" (seen against a real llama-server).
    from test_llm import config, item, reviewer

    cut = ok('{"summary": "The change', finish_reason="length", usage=(500, 800))
    with OpenAIStub(default=cut) as stub:
        review = reviewer(config(stub.base_url, max_retries=1)).review(*item())
    assert (review.source, review.fault, review.requests) == (ReviewSource.UNAVAILABLE, "truncated-output", 2)
    assert (review.tokens_in, review.tokens_out) == (1000, 1600)

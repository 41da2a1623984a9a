"""A huge diff with the LLM on still becomes one item, reviewed by the LLM within its budget.

The memory figure for a 50 MB diff is a benchmark (`bench.huge_llm`); this checks the function:
the request that reaches the (loopback) endpoint is the budgeted prompt, not the diff, and the
hunks left out are all named.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from triage.config import CacheConfig, Config, LLMConfig
from triage.models import PullRequest, ReviewSource
from triage.pipeline import RunContext, run


def huge_diff(files: int, lines: int) -> bytes:
    parts: list[str] = []
    for f in range(files):
        added = "".join(f"+    value_{f}_{i} = compute({i}, 'x' * {i % 7})\n" for i in range(lines))
        parts.append(
            f"diff --git a/src/mod{f}.py b/src/mod{f}.py\n--- a/src/mod{f}.py\n+++ b/src/mod{f}.py\n"
            f"@@ -1,1 +1,{lines + 1} @@ def f{f}():\n import os\n{added}"
        )
    return "".join(parts).encode()


@pytest.mark.slow
def test_a_huge_diff_with_the_llm_on_still_produces_a_reviewed_item(tmp_path: Path) -> None:
    data = huge_diff(files=300, lines=200)  # ~ 3 MB, 60,000 added lines
    assert len(data) > 2_500_000
    pr = PullRequest(id="huge", title="Generate the world", diff=data, author="dev")
    with OpenAIStub() as stub:
        cfg = Config(
            llm_mode="on",
            llm=LLMConfig(base_url=stub.base_url, api_key="sk-test", max_input_tokens=6000, max_retries=0),
            cache=CacheConfig(dir=str(tmp_path / "cache")),
        )
        queue = run([pr], cfg, RunContext(now=datetime(2026, 1, 1, tzinfo=UTC)))
    (item,) = queue.items
    review = item.assessment.review
    assert review.source is ReviewSource.LLM
    assert item.assessment.metrics.lines_added == 60_000
    (request,) = stub.requests
    sent = "".join(m["content"] for m in request.body["messages"])
    assert len(request.raw) < len(data) // 50  # the budgeted prompt, not the diff
    assert "src/mod0.py" in sent or any("src/mod0.py" in o for o in review.omitted)
    named = {o.split(" ")[0] for o in review.omitted}
    shown = {f"src/mod{f}.py" for f in range(300) if f"File: src/mod{f}.py " in sent}
    assert named | shown >= {f"src/mod{f}.py" for f in range(300)}  # nothing dropped silently

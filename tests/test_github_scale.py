"""`triage github` over a generated repository while GitHub and the LLM both fail (the 2,500-PR
figures live in `make bench`, scenario `github_faults_2500`; this is the same path at 30 PRs).

GitHub answers a random tenth of all requests with 5xx or a secondary rate limit, and two PRs'
diffs never arrive; the LLM fails some PRs once (retries absorb it) and three for good. Every PR
must still get a decision, and the report must count exactly the PRs that degraded.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from github_stub import GitHubStub
from openai_stub import VALID_REVIEW, OpenAIStub, Reply, empty_choices, ok, raw, status

from bench.corpus import NOW, generate
from bench.github_scale import REPO, TOKEN, VIEWER, add_hard_faults, load_corpus, random_faults
from triage.config import CacheConfig, Config, LLMConfig
from triage.github.batch import run_batch
from triage.models import DecisionKind, ReviewSource
from triage.report.summary import Degraded, queue_summary

COUNT = 30
GITHUB_DOWN = (7, 19)  # their diff request fails on every attempt
LLM_DOWN = (4, 12, 25)  # the LLM fails them on every attempt
LLM_ONCE = (2, 9, 15, 22, 28)  # the LLM fails their first attempt only
_TITLE = re.compile(r"(?:Add|Fix) \w+ change (\d+)\b")


class FlakyLLM:
    """Answers by PR (found by its title in the prompt), so what fails does not depend on the
    order the reviewer's threads happen to send in."""

    def __init__(self) -> None:
        self.seen: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._once = [
            status(500, headers={"retry-after": "0"}),
            status(503, headers={"retry-after": "0"}),
            status(429, "slow down", headers={"retry-after": "0"}),
            raw(b"<html>gateway</html>"),
            empty_choices(),
        ]

    def __call__(self, request: dict[str, Any]) -> Reply:
        match = _TITLE.search(json.dumps(request))
        assert match, "every prompt carries its PR's title"
        number = int(match.group(1)) + 1  # the corpus numbers PRs from 1, titles from 0
        with self._lock:
            self.seen[number] += 1
            attempt = self.seen[number]
        if number in LLM_DOWN:
            return status(502, "upstream down", headers={"retry-after": "0"})
        if number in LLM_ONCE and attempt == 1:
            return self._once[LLM_ONCE.index(number)]
        return ok(VALID_REVIEW)


@pytest.mark.slow
def test_every_pr_is_decided_and_the_report_counts_what_degraded(tmp_path: Path) -> None:
    faults: Counter[str] = Counter()
    llm = FlakyLLM()
    with GitHubStub(token=TOKEN, viewer=VIEWER) as gh, OpenAIStub(default=None, responder=llm) as ai:
        assert load_corpus(gh, generate(COUNT)) == COUNT
        add_hard_faults(gh, list(GITHUB_DOWN))
        gh.fault_hook = random_faults(0.10, seed=5, counts=faults)
        cfg = Config(
            llm_mode="on",
            llm=LLMConfig(base_url=ai.base_url, api_key="k", concurrency=4, max_retries=2),
            cache=CacheConfig(dir=str(tmp_path / "cache")),
        )
        queue, plan = run_batch(
            cfg,
            REPO,
            api_url=gh.url,
            token=TOKEN,
            apply=False,
            out_dir=tmp_path / "out",
            http_client=httpx.Client(),
            now=NOW,
            sleep=lambda _s: None,
        )
        assert gh.writes == []  # a dry run
        assert all(f.times == 0 for f in gh.faults)  # each hard fault outlasted every retry

    # The faults really happened, in mixed ways, and were not all absorbed.
    statuses = {k for k in faults if k.startswith("random_") and k[7:].isdigit()}
    assert faults["random_faults"] >= 5 and len(statuses) >= 3, faults
    assert all(llm.seen[n] == 2 for n in LLM_ONCE)  # failed once, then answered
    assert all(llm.seen[n] == 3 for n in LLM_DOWN)  # the first try and both retries failed

    # Every PR got a decision, once.
    assert sorted(i.pr.number for i in queue.items if i.pr.number is not None) == list(range(1, COUNT + 1))
    by_number = {i.pr.number: i for i in queue.items}
    unfetched = sorted(n for n, i in by_number.items() if i.pr.load_errors)
    assert unfetched == list(GITHUB_DOWN)
    assert all(by_number[n].decision.kind is DecisionKind.SKIPPED for n in GITHUB_DOWN)
    assert all("HTTP 502" in by_number[n].pr.load_errors[0] for n in GITHUB_DOWN)
    unavailable = sorted(n for n, i in by_number.items() if i.assessment.review.source is ReviewSource.UNAVAILABLE)
    assert unavailable == list(LLM_DOWN)
    assert all(by_number[n].assessment.review.source is ReviewSource.LLM for n in LLM_ONCE)
    assert {n for n, i in by_number.items() if i.assessment.review.source is ReviewSource.HEURISTIC} == set(
        GITHUB_DOWN
    )  # never sent: nothing was fetched to review

    # The report counts exactly what was injected, in every format.
    expected = Degraded(total=5, load_errors=2, llm_unavailable=3)
    assert queue_summary(queue).degraded == expected
    doc = json.loads((tmp_path / "out" / "queue.json").read_text(encoding="utf-8"))
    assert doc["summary"]["degraded"] == {
        "total": 5,
        "load_errors": 2,
        "parse_errors": 0,
        "stage_errors": 0,
        "llm_unavailable": 3,
    }
    markdown = (tmp_path / "out" / "queue.md").read_text(encoding="utf-8")
    assert "**Degraded:** 5 PRs got less than the full triage (load errors 2, LLM unavailable 3)" in markdown
    assert ">Degraded<" in (tmp_path / "out" / "queue.html").read_text(encoding="utf-8")

    # No comment is planned where the comments could not be read (it might duplicate ours).
    commented = {a.number for a in plan if a.kind.value == "comment"}
    assert commented == set(range(1, COUNT + 1)) - set(GITHUB_DOWN)

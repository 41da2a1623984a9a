"""Scale and fault tolerance at small sizes (the 2,500-PR figures live in `make bench`).

A batch killed with SIGKILL mid-run and restarted with the same cache finishes with the same
queue.json as an uninterrupted run (timestamps aside) and does not redo finished reviews; a
batch whose LLM fails in mixed ways still gives every PR a decision.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_stub import VALID_REVIEW, OpenAIStub, empty_choices, ok, raw, status

from bench.corpus import NOW, generate
from triage.config import CacheConfig, Config, LLMConfig
from triage.models import DecisionKind, ReviewSource
from triage.pipeline import RunContext, run

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from bench.corpus import NOW, generate
from triage.config import CacheConfig, Config, LLMConfig
from triage.pipeline import RunContext, run
from triage.report import to_json
url, cache, out = sys.argv[1:4]
cfg = Config(llm_mode="on", llm=LLMConfig(base_url=url, api_key="k", concurrency=2, max_retries=0),
             cache=CacheConfig(dir=cache))
doc = to_json(run(generate(40, seed=5), cfg, RunContext(now=NOW)))
doc.pop("generated_at")
doc.pop("config")  # names the cache directory, which differs between the runs compared
doc.pop("llm")  # this run's spend: requests and tokens (a cached review costs nothing)
for item in doc["items"]:
    for spend in ("cached", "requests", "tokens_in", "tokens_out"):  # this run's, not the result
        item["review"].pop(spend)
open(out, "w").write(json.dumps(doc, sort_keys=True))
"""


def _child(url: str, cache: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen([sys.executable, "-c", CHILD, url, str(cache), str(out)], cwd=ROOT, env=env)


@pytest.mark.slow
def test_killed_batch_restarts_to_the_same_queue_without_redoing_reviews(tmp_path: Path) -> None:
    with OpenAIStub(default=ok(VALID_REVIEW, delay=0.05)) as stub:
        clean = _child(stub.base_url, tmp_path / "clean-cache", tmp_path / "clean.json")
        assert clean.wait(timeout=120) == 0
        clean_requests = len(stub.requests)

        stub.requests.clear()
        victim = _child(stub.base_url, tmp_path / "cache", tmp_path / "killed.json")
        deadline = time.monotonic() + 60
        while len(stub.requests) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert not (tmp_path / "killed.json").exists()  # it really died mid-batch
        before_restart = len(stub.requests)

        restarted = _child(stub.base_url, tmp_path / "cache", tmp_path / "restarted.json")
        assert restarted.wait(timeout=120) == 0
        restart_requests = len(stub.requests) - before_restart

    assert (tmp_path / "restarted.json").read_text() == (tmp_path / "clean.json").read_text()
    assert clean_requests == 40
    # finished reviews came from the cache: the restart asked only for what was missing
    assert restart_requests <= 40 - (before_restart - 2 * 2)
    assert restart_requests < clean_requests


def test_mixed_llm_faults_never_cost_a_decision(tmp_path: Path) -> None:
    faults = [status(500), status(502), status(503), raw(b"not json"), empty_choices(), ok({"summary": 1})]
    calls = {"n": 0}

    def responder(_request: dict[str, object]) -> object:
        calls["n"] += 1
        return faults[calls["n"] % len(faults)] if calls["n"] % 3 == 0 else ok(VALID_REVIEW)

    with OpenAIStub(default=None, responder=responder) as stub:  # type: ignore[arg-type]
        cfg = Config(
            llm_mode="on",
            llm=LLMConfig(base_url=stub.base_url, api_key="k", concurrency=4, max_retries=0),
            cache=CacheConfig(dir=str(tmp_path / "cache")),
        )
        queue = run(generate(30, seed=9), cfg, RunContext(now=NOW))
    assert len(queue.items) == 30
    assert all(isinstance(item.decision.kind, DecisionKind) for item in queue.items)
    sources = [item.assessment.review.source for item in queue.items]
    unavailable = [item for item in queue.items if item.assessment.review.source is ReviewSource.UNAVAILABLE]
    assert unavailable, "a third of the calls failed: some reviews must be marked unavailable"
    assert ReviewSource.LLM in sources
    assert all(item.assessment.review.error for item in unavailable)  # each says why
    assert queue.review_source == "mixed"
    json.dumps([i.assessment.review.error for i in unavailable])  # plain one-line strings

"""Slow is not dead: fault classification and adaptive concurrency of the LLM reviewer.

Against the loopback stub with the REAL openai client: a server with one slot (requests queue
and the queued ones time out, as with llama.cpp's `llama-server`) must be slowed down to, not
given up on; a port where nothing listens must open the breaker after a few PRs.
"""

from __future__ import annotations

import threading

import httpx2
import openai
import pytest
from openai_stub import VALID_REVIEW, OpenAIStub, closed_port_url, delayed, ok
from test_llm import config, item, reviewer

from triage.models import ReviewSource
from triage.review.faults import DEAD, SLOW, AdaptiveLimit, classify


def _timeout_error(cause: Exception) -> openai.APITimeoutError:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    error = openai.APITimeoutError(request=request)
    error.__cause__ = cause
    return error


def test_a_read_timeout_is_slow_and_a_connect_timeout_is_dead() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    slow = classify(_timeout_error(httpx2.ReadTimeout("timed out", request=request)))
    dead = classify(_timeout_error(httpx2.ConnectTimeout("timed out", request=request)))
    assert slow.kind in SLOW and slow.kind not in DEAD and slow.retryable
    assert dead.kind in DEAD and dead.kind not in SLOW


def test_timeouts_never_open_the_breaker() -> None:
    with OpenAIStub(default=delayed(2.0)) as stub:
        r = reviewer(config(stub.base_url, timeout=0.2, max_retries=0, concurrency=1), breaker_after=2)
        reviews = list(r.review_many(item(str(i)) for i in range(4)))
        assert stub.received(4) == 4  # every PR was still asked
    assert [rv.source for rv in reviews] == [ReviewSource.UNAVAILABLE] * 4
    assert r.stats.failures == {"timeout": 4}
    assert all("slow" in (rv.error or "") for rv in reviews)


def test_a_dead_port_opens_the_breaker_after_a_few_prs() -> None:
    r = reviewer(config(closed_port_url(), max_retries=1, concurrency=1), breaker_after=3)
    reviews = list(r.review_many(item(str(i)) for i in range(6)))
    assert r.stats.failures == {"connection": 3, "skipped": 3}
    assert r.stats.requests == 6  # 3 PRs x (1 + 1 retry), then nothing
    assert "unreachable for 3 PRs in a row" in (reviews[-1].error or "")


@pytest.mark.slow
def test_a_one_slot_server_is_slowed_down_to_not_given_up_on() -> None:
    # Four requests in flight, one answered at a time, 0.3 s each, 1 s client timeout: the
    # fourth waits 1.2 s and times out. The reviewer must halve its concurrency and finish
    # every PR with the model, never marking the endpoint unreachable.
    with OpenAIStub(default=ok(VALID_REVIEW, delay=0.3), slots=1) as stub:
        r = reviewer(config(stub.base_url, timeout=1.0, max_retries=3, concurrency=4), breaker_after=1)
        reviews = list(r.review_many(item(str(i)) for i in range(8)))
    assert [rv.source for rv in reviews] == [ReviewSource.LLM] * 8
    assert r.stats.failures == {}
    assert r.stats.retries >= 1  # at least one request timed out in the queue ...
    assert r.stats.lowest_concurrency < 4  # ... and the reviewer sent fewer at once after it


# --------------------------------------------------------------------------------------------
# AdaptiveLimit (AIMD)


def test_adaptive_limit_halves_on_slow_and_grows_back_one_window_at_a_time() -> None:
    limit = AdaptiveLimit(8)
    for expected in (4, 2, 1, 1):
        limit.acquire()
        limit.release(slow=True)
        assert limit.limit == expected
    assert limit.lowest == 1 and limit.decreases == 4
    for expected in (2, 2, 3, 3, 3, 4):  # +1 after `limit` successes in a row
        limit.acquire()
        limit.release(success=True)
        assert limit.limit == expected
    for _ in range(100):
        limit.acquire()
        limit.release(success=True)
    assert limit.limit == 8  # never above the configured concurrency


def test_adaptive_limit_blocks_beyond_the_limit() -> None:
    limit = AdaptiveLimit(2)
    limit.acquire()
    limit.release(slow=True)  # limit 1
    limit.acquire()
    entered = threading.Event()

    def second() -> None:
        limit.acquire()
        entered.set()
        limit.release()

    worker = threading.Thread(target=second)
    worker.start()
    assert not entered.wait(0.2)  # held back while one request is in flight
    limit.release(success=True)
    assert entered.wait(5)
    worker.join()


@pytest.mark.parametrize("concurrency", [0, -1])
def test_adaptive_limit_is_at_least_one(concurrency: int) -> None:
    assert AdaptiveLimit(concurrency).limit == 1

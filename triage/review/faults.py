"""What went wrong with one LLM request, and how the reviewer adapts: exception -> `LLMFault`.

Every failure of a call is classified into a fixed vocabulary of kinds, because the right
reaction differs by kind:

* **slow** (`timeout`: the server accepted the connection but did not answer in time). The
  endpoint is alive and overloaded: a one-slot llama.cpp server queues the requests it cannot
  serve, and the queued ones time out. Retrying is right, and so is sending fewer requests at
  once (`AdaptiveLimit` halves the requests in flight); stopping is not.
* **dead** (`connection`: refused, no route, DNS failure, or no TCP connection within the
  timeout). Nothing listens: after a few PRs in a row the reviewer stops asking, so a dead
  endpoint costs seconds, not hours. Only these kinds trip that breaker.
* **flaky** (rate limits, 5xx, a connection dropped mid-answer, a body that is not a chat
  completion, output that is not JSON or not the schema): retried with backoff.
* **fatal** (`auth`, `not-found`): wrong key or model; every further request would fail too.
* **unsupported-method**: the endpoint rejects the structured-output mode; the reviewer moves
  to the next mode rather than retrying.

Messages are one line and never contain the API key (the reviewer scrubs them once more).
"""

from __future__ import annotations

import json
import re
import threading

import openai

from triage.errors import LLMError
from triage.retry import retry_after

__all__ = [
    "DEAD",
    "FATAL",
    "RETRYABLE",
    "SLOW",
    "AdaptiveLimit",
    "LLMFault",
    "classify",
]

# Kinds of fault worth another attempt.
RETRYABLE = frozenset(
    {
        "timeout",
        "rate-limit",
        "server-error",
        "connection",
        "disconnected",
        "bad-response",
        "empty-choices",
        "non-json-output",
        "schema-invalid",
        "truncated-output",
    }
)
# The endpoint itself is unusable for every PR: stop asking at once.
FATAL = frozenset({"auth", "not-found"})
# Nothing listens: a few PRs in a row of these open the breaker.
DEAD = frozenset({"connection"})
# Alive but overloaded: send fewer requests at once, never stop.
SLOW = frozenset({"timeout"})


class LLMFault(LLMError):
    """One failed attempt, classified. `kind` is a fixed vocabulary (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        tokens: tuple[int, int] = (0, 0),
        requests: int = 0,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.tokens = tokens
        self.requests = requests  # HTTP attempts made for the PR, when the fault ends them

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def _cause_names(exc: BaseException) -> list[str]:
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 8:
        names.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return names


_FORMAT_WORDS = re.compile(r"response_format|json_schema|structured|tool_choice|\btools?\b|function", re.I)
# httpx / httpx2 exception names that mean "no connection was ever made".
_NO_CONNECTION = ("ConnectError", "ConnectTimeout")


def classify(exc: BaseException) -> LLMFault:
    """One failed attempt -> LLMFault with a one-line message."""
    if isinstance(exc, LLMFault):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        # The SDK raises one timeout error for every phase; the cause says which one. No TCP
        # connection in time is a dead endpoint; no answer in time is a slow one.
        if "ConnectTimeout" in _cause_names(exc):
            return LLMFault("connection", "connection timed out (nothing answered the connect)")
        return LLMFault("timeout", "request timed out waiting for the answer (endpoint slow or overloaded)")
    if isinstance(exc, openai.APIConnectionError):
        names = _cause_names(exc)
        if any(n in names for n in _NO_CONNECTION):
            return LLMFault("connection", "connection failed (refused or unreachable)")
        if any(n in names for n in ("RemoteProtocolError", "ReadError")):
            return LLMFault("disconnected", "connection closed before the response was complete")
        return LLMFault("disconnected", f"connection error ({names[-1]})")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        message = " ".join(str(exc.message).split())[:160]
        after = retry_after(getattr(exc.response, "headers", None))
        if code == 429:
            return LLMFault("rate-limit", f"HTTP 429 rate limited: {message}", retry_after=after)
        if code >= 500 or code in (408, 409):
            return LLMFault("server-error", f"HTTP {code}: {message}", retry_after=after)
        if code in (401, 403):
            return LLMFault("auth", f"HTTP {code}: the endpoint rejected the API key")
        if code == 404:
            return LLMFault("not-found", f"HTTP 404: unknown model or endpoint path: {message}")
        if code == 400 and _FORMAT_WORDS.search(message):
            return LLMFault("unsupported-method", f"HTTP 400: {message}")
        return LLMFault("client-error", f"HTTP {code}: {message}")
    if isinstance(exc, openai.LengthFinishReasonError):
        # A cut-off reply still cost its tokens (all `max_tokens` of them): count them.
        return LLMFault("truncated-output", "reply cut off at the output token limit", tokens=_usage(exc))
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return LLMFault("refused", "reply withheld by the endpoint's content filter")
    if isinstance(exc, IndexError):
        return LLMFault("empty-choices", "response has no choices")
    if isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError):
        return LLMFault("bad-response", f"response body is not valid JSON ({type(exc).__name__})")
    if isinstance(exc, AttributeError | TypeError | KeyError | ValueError):
        return LLMFault("bad-response", f"response is not a chat completion ({type(exc).__name__})")
    return LLMFault("internal", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")


def _usage(exc: openai.LengthFinishReasonError) -> tuple[int, int]:
    """(prompt, completion) tokens of the completion a finish-reason error carries."""
    usage = getattr(getattr(exc, "completion", None), "usage", None)
    if usage is None:
        return (0, 0)
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)


class AdaptiveLimit:
    """How many requests may be in flight: additive increase, multiplicative decrease (AIMD,
    as in TCP congestion control). A slow answer (timeout) halves the limit, down to one; a
    window of `limit` successes in a row raises it by one, up to the configured concurrency.
    With a one-slot server and four workers, the queued requests that time out bring the limit
    to one at once, and the batch then runs at the pace the server has instead of timing out
    on every PR."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self._limit = self.maximum
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()
        self.lowest = self.maximum  # the smallest limit reached, for reports and tests
        self.decreases = 0

    @property
    def limit(self) -> int:
        with self._cond:
            return self._limit

    def acquire(self) -> None:
        with self._cond:
            while self._in_flight >= self._limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self, *, success: bool = False, slow: bool = False) -> None:
        """Free a slot; `slow` halves the limit, `success` counts toward raising it."""
        with self._cond:
            self._in_flight -= 1
            if slow:
                self._limit = max(1, self._limit // 2)
                self._successes = 0
                self.lowest = min(self.lowest, self._limit)
                self.decreases += 1
            elif success and self._limit < self.maximum:
                self._successes += 1
                if self._successes >= self._limit:
                    self._limit += 1
                    self._successes = 0
            self._cond.notify_all()

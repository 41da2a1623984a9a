"""Retry timing shared by the two network clients (GitHub REST, the LLM endpoint).

Both clients retry transient faults and both must honour a server that says how long to wait,
so the two decisions that used to be written twice live here once: how long the n-th backoff
pause is (`Backoff.delay`), and what a `retry-after` header means (`retry_after`). What counts
as transient, and what to do when a wait is too long, stays with each client: GitHub's rate
limits and an LLM endpoint's faults differ.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Backoff", "retry_after"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: the n-th pause (0-based) is `base * 2**n` seconds, at most `cap`,
    scaled by a random factor in `[1 - jitter, 1]` so parallel workers do not retry in
    lockstep (0 = no jitter: a serial client is then exactly predictable). A server's own wait
    (`retry-after`) is honoured when it is at most `max_retry_after`; a client gives up rather
    than stall a batch on a longer one."""

    base: float = 1.0
    cap: float = 20.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        pause = min(self.cap, self.base * (2.0 ** max(0, attempt)))
        if self.jitter <= 0:
            return pause
        return pause * (1.0 - self.jitter * rng())


def retry_after(headers: Mapping[str, str] | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI-style) or `retry-after` (RFC 9110: delay
    seconds or an HTTP date), never negative; None when absent or unreadable."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        return None
    return max(0.0, when.timestamp() - now())

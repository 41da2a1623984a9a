"""The one retry timing and `retry-after` parser shared by the GitHub and LLM clients."""

from __future__ import annotations

import pytest

from triage.retry import Backoff, retry_after

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the finer one wins
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, 30.0),  # an HTTP date
        ({"retry-after": "Tue, 14 Nov 2023 22:00:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after(headers, lambda: NOW) == expected


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    exact = Backoff(base=1.0, cap=5.0, jitter=0.0)
    assert [exact.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = Backoff(base=1.0, cap=5.0, jitter=0.5)
    assert jittered.delay(2, lambda: 0.0) == 4.0 and jittered.delay(2, lambda: 1.0) == 2.0

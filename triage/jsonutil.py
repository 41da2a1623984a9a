"""Parsing JSON that someone else wrote (sidecars, GitHub responses, event payloads, cache
entries): one function whose only failure is `ValueError`.

Why: `json.loads` raises `RecursionError` on deeply nested input (`[[[[...` a hundred thousand
deep), which is not a `ValueError`, so every caller's `except ValueError` let it through as a
traceback. Here it becomes a `ValueError` that says what is wrong, and each caller keeps its
own one-line message naming the input.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(data: str | bytes | bytearray, **kwargs: Any) -> Any:
    """`json.loads`, with nesting too deep for the parser reported as a `ValueError`."""
    try:
        return json.loads(data, **kwargs)
    except RecursionError:
        raise ValueError("nested too deeply") from None

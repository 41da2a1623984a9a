"""The LLM line every report carries: what the LLM stage did, in one line of plain text.

Input: `LLMUsage` (queue level, `triage.report.summary.llm_usage`) or one `Review`. Output:
plain text; each renderer escapes it for its format (Markdown `md`, HTML autoescape, rich
`Text`), because the model name comes from the config and the endpoint's side of things is
not ours to trust. One wording for every report, so the terminal, queue.md, queue.html and
the sticky comment never disagree.
"""

from __future__ import annotations

from triage.models import Review, ReviewSource
from triage.report.summary import LLMUsage
from triage.report.text import plural


def _counts(pairs: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{name} {n}" for name, n in pairs)


def llm_text(usage: LLMUsage) -> str:
    """The queue's LLM line without its "LLM:" label, e.g. `gpt-4o-mini · mode json_schema ·
    7 of 8 PRs reviewed (2 cached) · 9 requests · tokens 10,234 in / 1,203 out · 1 fallback
    (timeout 1)`. Several modes mean the endpoint refused one and the run moved on."""
    if not usage.used:
        return "not used (heuristic reviewer only)"
    parts = [", ".join(usage.models) or "model unknown"]
    if len(usage.modes) == 1:
        parts.append(f"mode {usage.modes[0][0]}")
    elif usage.modes:
        parts.append(f"modes {_counts(usage.modes)}")
    reviewed = f"{usage.valid} of {plural(usage.asked, 'PR')} reviewed"
    if usage.cached:
        reviewed += f" ({usage.cached} cached)"
    parts.append(reviewed)
    parts.append(plural(usage.requests, "request"))
    parts.append(f"tokens {usage.tokens_in:,} in / {usage.tokens_out:,} out")
    if usage.fallbacks:
        parts.append(f"{plural(usage.fallbacks, 'fallback')} to static review ({_counts(usage.failures)})")
    else:
        parts.append("no fallback")
    return " · ".join(parts)


def llm_line(usage: LLMUsage) -> str:
    return f"LLM: {llm_text(usage)}"


def review_cost(review: Review) -> str:
    """One review's LLM side for its item (", json_schema, 1 request, tokens 1,200 in / 80
    out"); empty for a heuristic review. A cached review cost nothing this run."""
    if review.source is ReviewSource.HEURISTIC:
        return ""
    parts = [review.mode] if review.mode else []
    if review.cached:
        parts.append("cached")
    else:
        parts.append(plural(review.requests, "request"))
        parts.append(f"tokens {review.tokens_in:,} in / {review.tokens_out:,} out")
    return ", " + ", ".join(parts)


__all__ = ["llm_line", "llm_text", "review_cost"]

"""The LLM prompt: (PullRequest, ParsedDiff, Metrics, Risk, budget) -> `PromptMessages`.

The template is a pair of versioned files, `triage/prompts/<version>.system.txt` and
`<version>.user.txt`; the version is part of the review cache key, so any change to the words
sent needs a new version. Everything the PR author wrote (title, description, diff, file
names, the names of what was left out) is redacted (`triage.review.secrets.redact`) and fenced
between markers carrying a random per-request token that is stripped from the content, so the
data cannot close its own fence. Measurements shown outside the fences are numbers and fixed
vocabulary only. The diff gets what the fixed parts, title and description leave of the input
budget (`triage.review.budget.build_payload`).

The system prompt describes the redaction markers the model will see; they must be exactly
the shapes `triage.review.secrets` produces (`[REDACTED:<kind>]`, or a token's public prefix
followed by asterisks), and tests check that every mask the scanner can produce is described.
"""

from __future__ import annotations

import re
import secrets as pysecrets
from dataclasses import dataclass
from importlib import resources

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from triage.errors import ConfigError
from triage.models import Metrics, ParsedDiff, PullRequest, Risk
from triage.review.budget import Payload, build_payload, estimate_tokens, fit_text
from triage.review.secrets import redact

__all__ = ["PROMPT_VERSION", "PromptMessages", "load_prompt", "render_prompt"]

PROMPT_VERSION = "review-v2"

_TITLE_TOKENS = 100
_BODY_SHARE = 4  # the description may take up to 1/4 of the input budget
_BODY_MIN_TOKENS = 256
_OMITTED_SHOWN = 40  # names of left-out hunks shown to the model (all are in Review.omitted)
_RESERVE_TOKENS = 32  # message framing the estimate does not see


@dataclass(frozen=True, slots=True)
class PromptMessages:
    """The rendered messages for one PR and what the budget left out."""

    messages: tuple[BaseMessage, ...]
    boundary: str
    omitted: tuple[str, ...]
    tokens: int  # estimated input tokens


def load_prompt(version: str = PROMPT_VERSION) -> ChatPromptTemplate:
    """The chat template `<version>.system.txt` + `<version>.user.txt` from triage/prompts/."""
    folder = resources.files("triage") / "prompts"
    try:
        system = (folder / f"{version}.system.txt").read_text(encoding="utf-8")
        user = (folder / f"{version}.user.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"prompt version {version!r}: template files not found in triage/prompts") from exc
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def _strip_boundary(text: str, boundary: str) -> str:
    return re.sub(re.escape(boundary), "", text, flags=re.IGNORECASE)


def _measurements(metrics: Metrics, risk: Risk) -> str:
    """Numbers and fixed vocabulary only: anything the PR author can name (paths, areas) is
    untrusted and goes inside the fences instead."""
    top = sorted((f for f in risk.factors if f.name != "intercept"), key=lambda f: -abs(f.contribution))
    factors = ", ".join(f"{f.name} {f.contribution:+.2f}" for f in top[:6] if abs(f.contribution) > 1e-9)
    kinds = ", ".join(f"{n} {k}" for k, n in metrics.kinds) or "none"
    lines = [
        f"- size: +{metrics.lines_added} -{metrics.lines_deleted} lines in {metrics.files} file(s) "
        f"(bucket {metrics.size_bucket.value}); {metrics.excluded_lines} generated/vendored/lockfile lines",
        f"- files by kind: {kinds}; top-level areas: {len(metrics.subsystems)}",
        f"- languages: {', '.join(metrics.languages) or 'none detected'}",
        f"- tests changed: {'yes' if metrics.has_tests else 'no'}; "
        f"cognitive complexity change of touched functions: {metrics.complexity_delta:+d}",
        f"- static risk: {risk.score:.2f} ({risk.level.value}); main factors: {factors or 'none'}",
    ]
    return "\n".join(lines)


def render_prompt(
    template: ChatPromptTemplate,
    pr: PullRequest,
    diff: ParsedDiff,
    metrics: Metrics,
    risk: Risk,
    max_input_tokens: int,
    *,
    boundary: str | None = None,
) -> PromptMessages:
    """The messages for one PR within `max_input_tokens` (estimated), everything untrusted
    redacted and fenced. The diff gets what the fixed parts, title and description leave."""
    boundary = boundary or f"UNTRUSTED-{pysecrets.token_hex(8)}"
    omitted_extra: list[str] = []
    title, cut = fit_text(" ".join(redact(pr.title).split()), _TITLE_TOKENS)
    if cut:
        omitted_extra.append("PR title (truncated)")
    body_budget = max(_BODY_MIN_TOKENS, max_input_tokens // _BODY_SHARE)
    body, cut = fit_text(redact(pr.body or "").strip(), body_budget)
    if cut:
        omitted_extra.append("PR description (truncated)")
    title = _strip_boundary(title, boundary) or "(no title)"
    body = _strip_boundary(body, boundary) or "(no description)"
    fixed = {
        "measurements": _measurements(metrics, risk),
        "title": title,
        "body": body,
    }
    # Sizing uses a fixed stand-in of the boundary's shape: the random boundary's token estimate
    # varies from request to request, and what is sent (and listed as left out) must depend only
    # on the PR, so a re-run - or a restart after a crash - gives the same review record.
    sizing = "UNTRUSTED-" + "0" * len(boundary.removeprefix("UNTRUSTED-"))

    def render(payload: Payload, boundary: str = sizing) -> tuple[list[BaseMessage], tuple[str, ...]]:
        omitted = (*omitted_extra, *payload.omitted)
        shown = [_strip_boundary(o, boundary) for o in omitted[:_OMITTED_SHOWN]]
        if len(omitted) > _OMITTED_SHOWN:
            shown.append(f"... and {len(omitted) - _OMITTED_SHOWN} more")
        omitted_text = "\n".join(f"- {o}" for o in shown) or "- nothing"
        diff_text = _strip_boundary(payload.text, boundary).rstrip("\n") or "(nothing to show)"
        messages = template.format_messages(
            **fixed,
            boundary=boundary,
            omitted=f"<<<{boundary} BEGIN not-sent>>>\n{omitted_text}\n<<<{boundary} END not-sent>>>",
            diff=diff_text,
        )
        # The last line of defence: whatever was assembled is redacted once more as a whole.
        safe = [type(m)(content=redact(str(m.content))) for m in messages]
        return safe, omitted

    def total(messages: list[BaseMessage]) -> int:
        return sum(estimate_tokens(str(m.content)) for m in messages) + _RESERVE_TOKENS

    empty = Payload("", (), 0, 0)
    overhead = total(render(empty)[0])
    diff_budget = max_input_tokens - overhead
    payload = build_payload(pr, diff, metrics, risk, diff_budget)
    messages, omitted = render(payload)
    for _ in range(3):  # the list of what was left out costs tokens too: shrink until it fits
        excess = total(messages) - max_input_tokens
        if excess <= 0 or diff_budget <= 0:
            break
        diff_budget -= excess
        payload = build_payload(pr, diff, metrics, risk, diff_budget)
        messages, omitted = render(payload)
    messages, omitted = render(payload, boundary)
    return PromptMessages(tuple(messages), boundary, omitted, total(messages))

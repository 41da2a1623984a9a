"""Reading the model's reply: a chat completion (or langchain's structured-output dict) ->
validated `LLMReviewOutput` and the tokens it cost.

Whatever the structured-output mode, the reply is accepted from the first place that has it:
the parsed structured output, a tool call's arguments, or the first JSON object in the text
(code fences allowed). Anything else is an `LLMFault` (`non-json-output`, `schema-invalid`)
that carries the tokens spent, so a failed reply is still counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import AIMessage
from pydantic import ValidationError

from triage.review.budget import estimate_tokens
from triage.review.faults import LLMFault
from triage.review.schema import LLMReviewOutput
from triage.review.secrets import redact

__all__ = ["extract_json", "parse_reply"]


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in a free-text reply (code fences allowed), or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        pos = candidate.find("{")
        while pos != -1:
            try:
                value, _ = decoder.raw_decode(candidate, pos)
            except ValueError:
                pos = candidate.find("{", pos + 1)
                continue
            if isinstance(value, dict):
                return value
            pos = candidate.find("{", pos + 1)
    return None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "output"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err.get('msg', 'invalid')}{more}"


def _message_text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _usage(message: AIMessage | None, prompt_tokens: int) -> tuple[int, int]:
    """Tokens reported by the endpoint, else the offline estimate."""
    if message is not None and message.usage_metadata:
        used = message.usage_metadata
        return int(used.get("input_tokens") or 0), int(used.get("output_tokens") or 0)
    out = 0
    if message is not None:
        out = estimate_tokens(_message_text(message))
        out += sum(estimate_tokens(json.dumps(c.get("args", {}))) for c in message.tool_calls)
    return prompt_tokens, out


def parse_reply(result: Any, prompt_tokens: int) -> tuple[LLMReviewOutput, tuple[int, int]]:
    """Validate one reply. Raises LLMFault(non-json-output | schema-invalid) carrying usage."""
    if isinstance(result, dict):
        raw = result.get("raw")
        parsed = result.get("parsed")
    else:
        raw, parsed = result, None
    message = raw if isinstance(raw, AIMessage) else None
    tokens = _usage(message, prompt_tokens)
    data: Any = parsed if isinstance(parsed, dict) else None
    if data is None and message is not None:
        for call in message.tool_calls:
            if isinstance(call.get("args"), dict) and call["args"]:
                data = call["args"]
                break
        if data is None:
            data = extract_json(_message_text(message))
    if data is None:
        shown = " ".join(_message_text(message).split())[:80] if message is not None else ""
        raise LLMFault("non-json-output", f"reply has no JSON object: {redact(shown)!r}", tokens=tokens)
    try:
        return LLMReviewOutput.model_validate(data), tokens
    except ValidationError as exc:
        raise LLMFault(
            "schema-invalid", f"reply does not match the schema: {_first_error(exc)}", tokens=tokens
        ) from exc

"""The LLM reviewer's output contract: a pydantic model, and the JSON Schema sent to the endpoint.

Why both a strict schema and a lenient validator: endpoints with structured output (OpenAI's
`json_schema` with `strict`) need a schema in the subset they accept (every property required,
no `additionalProperties`, no defaults), while endpoints without it answer in free text that we
parse and validate ourselves, where small slips ("Security" for "security", a missing `line`)
are not worth losing a review over. Anything that does not fit after that is schema-invalid,
and the reviewer treats it as a fault (retried, then the static review stands).

`SCHEMA_VERSION` is part of the cache key: change it whenever the fields or their meaning change.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SCHEMA_NAME", "SCHEMA_VERSION", "LLMFlag", "LLMReviewOutput", "json_schema"]

SCHEMA_VERSION = "2"
SCHEMA_NAME = "pr_review"

MAX_FLAGS = 20
MAX_SUMMARY_CHARS = 1200
MAX_EVIDENCE_CHARS = 300

FlagKindName = Literal[
    "bug",
    "security",
    "missing-tests",
    "scope-creep",
    "breaking-change",
    "performance",
    "injection-attempt",
    "other",
]
SeverityName = Literal["info", "low", "medium", "high", "critical"]
ChangeKindName = Literal["feature", "fix", "refactor", "docs", "test", "chore", "deps"]


def _lower(value: Any) -> Any:
    return value.strip().lower().replace("_", "-") if isinstance(value, str) else value


def _clip(value: str, limit: int) -> str:
    """One line, whitespace collapsed, at most `limit` characters (an ellipsis marks a cut)."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


class LLMFlag(BaseModel):
    """One finding the model reports. `evidence` quotes or describes what it saw."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: FlagKindName = Field(description="What kind of problem this is.")
    severity: SeverityName = Field(description="How much it matters if it is real.")
    file: str | None = Field(default=None, description="Path of the changed file, or null.")
    line: int | None = Field(default=None, description="Line in the new version of the file, or null.")
    evidence: str = Field(
        description="The exact diff (or title/description) text that shows the problem, in backticks, "
        "then at most one sentence.",
        min_length=1,
    )

    @field_validator("kind", "severity", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _lower(value)

    @field_validator("line", mode="before")
    @classmethod
    def _line(cls, value: Any) -> Any:
        # Models write 0 or -1 for "no line"; neither names a line.
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            return None
        return value

    @field_validator("evidence", mode="after")
    @classmethod
    def _clip_evidence(cls, value: str) -> str:
        return _clip(value, MAX_EVIDENCE_CHARS)


class LLMReviewOutput(BaseModel):
    """The whole answer for one PR. Nothing here can approve a PR or lower its risk: the
    reviewer only ever adds the flags to the static review (see `triage.review.merge`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    summary: str = Field(description="2-4 sentences: what the change does and why, in plain words.", min_length=1)
    change_type: ChangeKindName = Field(description="The main kind of change.")
    description_matches: bool | None = Field(
        default=None, description="Does the title/description match what the diff does? null if unsure."
    )
    flags: list[LLMFlag] = Field(
        default_factory=list,
        max_length=MAX_FLAGS,
        description="Problems worth a reviewer's attention; empty if none.",
    )
    confidence: float = Field(ge=0.0, le=1.0, description="How sure you are of this review, 0 to 1.")

    @field_validator("flags", mode="before")
    @classmethod
    def _at_most(cls, value: Any) -> Any:
        # A model that lists 40 nitpicks has still answered; keep the first ones.
        return value[:MAX_FLAGS] if isinstance(value, list) else value

    @field_validator("change_type", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _lower(value)

    @field_validator("summary", mode="after")
    @classmethod
    def _clip_summary(cls, value: str) -> str:
        value = _clip(value, MAX_SUMMARY_CHARS)
        if not value:
            raise ValueError("summary is empty")
        return value


def _strictify(node: Any) -> Any:
    """Every object closed and fully required, no defaults or titles: the strict subset."""
    if isinstance(node, dict):
        out = {k: _strictify(v) for k, v in node.items() if k not in ("default", "title")}
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        # Length limits are not in the strict subset; they are checked by the validator.
        for key in ("maxItems", "minLength", "maxLength"):
            out.pop(key, None)
        return out
    if isinstance(node, list):
        return [_strictify(v) for v in node]
    return node


def json_schema() -> dict[str, Any]:
    """The output schema as JSON Schema with a title and description, in the strict subset.

    It is what `with_structured_output` turns into a `response_format` or a tool definition;
    the prompt quotes it for endpoints that support neither.
    """
    schema: dict[str, Any] = _strictify(copy.deepcopy(LLMReviewOutput.model_json_schema()))
    schema["title"] = SCHEMA_NAME
    schema["description"] = "A triage review of one pull request."
    return schema

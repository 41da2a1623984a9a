"""A JSON sidecar (GitHub's PR object shape) -> the metadata fields of a `PullRequest`.

Input: the bytes of `X.json` or `pr.json`. Output: `SidecarFields`, the keyword arguments it
sets on the PR plus one error line per field that could not be used.

Each field is read on its own and checked for its type, so one bad field (a date that is not
ISO-8601, labels that are not a list) costs only that field: the PR still loads with everything
else and the error is shown on its queue item. Besides GitHub's keys a sidecar may carry:

* `diff_file`: the diff or patch to pair with, relative to the sidecar (default: same stem);
* `last_human_activity_at`: when a human last acted (GitHub's `updated_at` moves on bot
  comments, which must not reset the stale clock);
* `linked_issues`: issue references the tracker knows about beyond those in the body;
* `commit_messages`: the PR's commit messages, oldest first (their trailers count).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage import jsonutil
from triage.timeutil import parse_iso8601

__all__ = ["PR_KEYS", "SidecarFields", "parse_sidecar"]

# Keys that make a JSON object a PR sidecar rather than some other JSON file (package.json).
PR_KEYS = frozenset({"number", "title", "user", "html_url", "head", "base", "diff_file", "draft"})


@dataclass(frozen=True, slots=True)
class SidecarFields:
    """What a sidecar says. `values` holds only keys it actually gave, so a source that knows
    more (an mbox's author and date) fills the rest."""

    values: Mapping[str, Any] = field(default_factory=dict)
    number: int | None = None
    diff_file: str | None = None
    extra_linked_issues: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def _issue_ref(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"#{value}"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return f"#{text}" if text.isdigit() else text
    return None


class _Reader:
    """Collects typed fields and per-field errors from one decoded JSON object."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where
        self.values: dict[str, Any] = {}
        self.errors: list[str] = []

    def bad(self, key: str, problem: str) -> None:
        self.errors.append(f"{self.where}: {key}: {problem}")

    def text(self, key: str, target: str) -> None:
        """A string field; null counts as absent (GitHub sends `"body": null`)."""
        value = self.data.get(key)
        if isinstance(value, str):
            self.values[target] = value
        elif value is not None:
            self.bad(key, f"expected a string, got {type(value).__name__}")

    def time(self, key: str, target: str) -> None:
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, str):
            self.bad(key, f"expected an ISO-8601 string, got {type(value).__name__}")
            return
        try:
            self.values[target] = parse_iso8601(value)
        except ValueError:
            self.bad(key, f"not an ISO-8601 date/time: {value[:40]!r}")

    def obj(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.bad(key, f"expected an object, got {type(value).__name__}")
            return {}
        return value

    def str_list(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(key, "expected a list of strings")
            return None
        return value


def parse_sidecar(raw: bytes, where: str) -> tuple[SidecarFields, bool]:
    """Read a sidecar. Returns (fields, is_pr): `is_pr` is False for valid JSON that is not a PR
    object (so a directory scan can ignore `package.json`). Invalid JSON is a PR with an error:
    it was most likely meant as one."""
    try:
        data = jsonutil.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return SidecarFields(errors=(f"{where}: invalid JSON ({exc})",)), True
    if not isinstance(data, Mapping):
        return SidecarFields(errors=(f"{where}: expected a JSON object, got {type(data).__name__}",)), False
    is_pr = any(key in data for key in PR_KEYS)
    r = _Reader(data, where)

    number = data.get("number")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        r.bad("number", f"expected an integer, got {json.dumps(number)[:40]}")
        number = None
    if number is not None:
        r.values["number"] = number

    r.text("title", "title")
    r.text("body", "body")
    r.text("html_url", "url")
    r.time("created_at", "created_at")
    r.time("updated_at", "updated_at")
    r.time("last_human_activity_at", "last_human_activity_at")
    r.text("author_association", "author_association")

    user = r.obj("user")
    if user:
        login = user.get("login")
        if isinstance(login, str) and login.strip():
            r.values["author"] = login.strip()
            r.values["author_is_bot"] = user.get("type") == "Bot" or login.strip().endswith("[bot]")
        else:
            r.bad("user.login", "missing or not a string")
        if isinstance(user.get("email"), str) and user["email"]:
            r.values["author_email"] = user["email"]

    mergeable = data.get("mergeable")
    if isinstance(mergeable, bool):
        r.values["mergeable"] = mergeable
    elif mergeable is not None:
        r.bad("mergeable", f"expected true/false/null, got {json.dumps(mergeable)[:40]}")
    r.text("mergeable_state", "mergeable_state")

    draft = data.get("draft")
    if draft is not None:
        if isinstance(draft, bool):
            r.values["draft"] = draft
        else:
            r.bad("draft", f"expected true/false, got {json.dumps(draft)[:40]}")

    labels = data.get("labels")
    if labels is not None:
        names: list[str] = []
        if isinstance(labels, list):
            for label in labels:
                name = label.get("name") if isinstance(label, Mapping) else label
                if isinstance(name, str) and name:
                    names.append(name)
                else:
                    r.bad("labels", f"a label without a name: {json.dumps(label)[:40]}")
        else:
            r.bad("labels", "expected a list")
        r.values["labels"] = tuple(names)

    for side in ("base", "head"):
        ref = r.obj(side)
        for key in ("ref", "sha"):
            value = ref.get(key)
            if isinstance(value, str) and value:
                r.values[f"{side}_{key}"] = value
            elif value is not None:
                r.bad(f"{side}.{key}", "expected a string")

    commit_messages = r.str_list("commit_messages")
    if commit_messages is not None:
        r.values["commit_messages"] = tuple(commit_messages)

    issues: list[str] = []
    raw_issues = data.get("linked_issues")
    if raw_issues is not None:
        if isinstance(raw_issues, list):
            for entry in raw_issues:
                issue = _issue_ref(entry)
                if issue is None:
                    r.bad("linked_issues", f"not an issue reference: {json.dumps(entry)[:40]}")
                elif issue not in issues:
                    issues.append(issue)
        else:
            r.bad("linked_issues", "expected a list")

    diff_file = data.get("diff_file")
    if diff_file is not None and (not isinstance(diff_file, str) or not diff_file.strip()):
        r.bad("diff_file", "expected a file name")
        diff_file = None

    return (
        SidecarFields(
            values=r.values,
            number=number,
            diff_file=diff_file,
            extra_linked_issues=tuple(issues),
            errors=tuple(r.errors),
        ),
        is_pr,
    )

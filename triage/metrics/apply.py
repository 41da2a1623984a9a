"""Rebuild a file's new content from its old content and the diff's hunks (pure).

Why: when only the base snapshot is available (a patch file run against a checkout of the
target branch), applying the hunks gives the full new file, so complexity can be measured on
whole functions before *and* after instead of on hunk fragments. Lines are split on "\\n" only,
as the parse stage does, so a CRLF file keeps its "\\r" as content on both sides.

The application is strict: every context and removed line must match at the hunk's stated
position (no fuzz, no offset search). Anything else returns None and the caller falls back to
hunk-local measurement; a wrong reconstruction would be worse than an honest estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

from triage.models import Hunk

__all__ = ["apply_hunks"]


def apply_hunks(old: str, hunks: Sequence[Hunk], *, reverse: bool = False) -> str | None:
    """The new text, or None when the hunks do not apply exactly to `old`.

    With `reverse=True` the hunks are un-applied: `old` is the new side and the result is the
    old side (used when only the PR's head snapshot is available).
    """
    had_final_newline = old.endswith("\n")
    old_lines = old.split("\n")
    if had_final_newline or old == "":
        old_lines.pop()
    out: list[str] = []
    pos = 0  # next unread index in old_lines
    for hunk in sorted(hunks, key=lambda h: h.new_start if reverse else h.old_start):
        from_start, from_length = (hunk.new_start, hunk.new_length) if reverse else (hunk.old_start, hunk.old_length)
        # `-0,0` inserts before line 1; `-5,0` inserts after line 5.
        start = from_start if from_length == 0 else from_start - 1
        if start < pos or start > len(old_lines):
            return None
        out.extend(old_lines[pos:start])
        index = start
        for kind, text in hunk.rows():
            if reverse and kind != " ":
                kind = "+" if kind == "-" else "-"
            if kind == "+":
                out.append(text)
                continue
            if index >= len(old_lines) or old_lines[index] != text:
                return None
            if kind == " ":
                out.append(text)
            index += 1
        pos = index
    out.extend(old_lines[pos:])
    if not out:
        return ""
    return "\n".join(out) + "\n"

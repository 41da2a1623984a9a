"""Making untrusted PR text safe to show, and the small formatting rules all reports share.

Titles, bodies, logins, flag evidence and LLM summaries are written by whoever opened the PR
(or by a model that read it). In a Markdown comment they could inject links, images, HTML,
tables and `@` mentions that ping people; in HTML they could inject script. Every piece of
such text goes through one of the escapes below before it reaches a report.

Before any format-specific escape, `clean` makes the text inert everywhere at once: control
characters become visible (an ESC from a title would otherwise let `OSC 52` write the reader's
clipboard, `OSC 0` retitle the terminal, `CSI 2J` clear it, `OSC 8` plant a hyperlink), bidi
controls are shown by code point (Trojan Source), and credentials are masked with the same
rules that mask them in the LLM prompt, so a token in a title or a file name never reaches a
report, a terminal or a comment.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from triage.review.secrets import redact

ZWJ = "\u200d"  # after "@" it keeps the text readable but stops GitHub from making a mention

# Characters that mean something to CommonMark/GFM inline syntax (backslash-escapable ASCII
# punctuation that can start or end a construct). `<`, `>` and `&` become entities instead, so
# no HTML tag or entity written by the PR author survives.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")
_WS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`]+$", re.IGNORECASE)


# C0 controls except tab/newline/CR (those are layout, collapsed by `one_line`), DEL, the C1
# range (0x9b is a one-byte CSI on terminals that honour 8-bit controls), bidi embeddings,
# overrides, isolates and marks (line/paragraph separators are whitespace to `one_line`).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CACHE_MAX_CHARS = 4096


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ESC shows as U+241B
    if code == 0x7F:
        return "\u2421"
    return f"<U+{code:04X}>"


def _clean(text: str) -> str:
    return redact(_CONTROL.sub(_visible, text))


_clean_cached = lru_cache(maxsize=65536)(_clean)


def clean(text: str) -> str:
    """Untrusted text made inert for any output: controls shown, credentials masked.

    Every report format, the terminal table, the sticky comment and stderr messages pass PR
    text through here (directly or via `one_line`); it is idempotent, so text cleaned twice is
    unchanged. Short strings repeat a lot (paths, logins, rule names) and are memoised.
    """
    if len(text) < 8 and not _CONTROL.search(text):
        return text
    return _clean_cached(text) if len(text) <= _CACHE_MAX_CHARS else _clean(text)


def clean_tree(value: Any) -> Any:
    """`clean` applied to every string in a JSON-like tree (dict keys included), so a field
    added to a report later is covered without anyone remembering to escape it."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v) for v in value]
    return value


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse newlines and tabs to spaces and cut to `limit` characters with an ellipsis
    (after `clean`, so a cut never splits an escape or a mask)."""
    flat = _WS.sub(" ", clean(text)).strip()
    if limit is not None and len(flat) > limit:
        flat = flat[: max(limit - 1, 0)].rstrip() + "…"
    return flat


def defuse_mentions(text: str) -> str:
    """`@name` -> `@` + zero-width joiner + `name`: same look, no notification."""
    return text.replace("@", "@" + ZWJ)


def md(text: str, limit: int | None = None) -> str:
    """Untrusted text as inert inline Markdown, safe inside a table cell and on one line."""
    flat = one_line(text, limit)
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defuse_mentions(_MD_SPECIAL.sub(r"\\\1", flat))


# Markdown punctuation as numeric entities: inside an HTML block GitHub shows them as typed, and
# a renderer that does parse Markdown there finds no link, emphasis or code to build.
# One pass, so that the `#` of an entity already written is never escaped again.
_HTML_MD_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'[]()*_`~|\\!#"})


def html_inline(text: str, limit: int | None = None) -> str:
    """Untrusted text for an HTML context inside Markdown (`<summary>`), where backslash
    escapes are not processed: entities only, plus the mention guard."""
    return defuse_mentions(one_line(text, limit).translate(_HTML_MD_ENTITIES))


def safe_url(url: str | None) -> str | None:
    """Only plain http(s) URLs become links; `javascript:`, `data:` and anything with spaces or
    quotes is shown as text, never followed."""
    if url and _SAFE_URL.match(url):
        return url.replace("(", "%28").replace(")", "%29").replace("|", "%7C")
    return None


def md_link(label: str, url: str | None) -> str:
    """A Markdown link with an escaped label, or just the escaped label when the URL is unsafe."""
    target = safe_url(url)
    text = md(label)
    return f"[{text}]({target})" if target else text


def minutes(value: int) -> str:
    """`45 min`, `2 h 05 min`: what a reviewer plans with."""
    if value < 60:
        return f"{value} min"
    hours, rest = divmod(value, 60)
    return f"{hours} h {rest:02d} min"


def hours(value: float) -> str:
    return f"{value:.1f} h"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


_REVIEWERS = {
    "llm": "LLM reviewer",
    "heuristic": "heuristic reviewer (no LLM)",
    "unavailable": "heuristic reviewer (the LLM was asked but failed)",
    "mixed": "LLM reviewer for some PRs, heuristic for the rest",
}


def reviewer_text(review_source: str) -> str:
    """Which reviewer ran, in words: every report says it, so nobody mistakes a heuristic
    summary for a model's."""
    return _REVIEWERS.get(review_source, f"{review_source} reviewer")

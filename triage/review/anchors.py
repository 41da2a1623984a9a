"""Literal-anchored regex matching: what `pattern.finditer(text)` finds, trying the pattern only
where a match can start.

The secret and injection scanners run a few dozen regexes over every added line of every PR.
Python's regex engine tries a pattern at every position of the text, and case-insensitive
patterns get no fast literal search, so on a large Java file each open rule cost ~25 ns per
character (issue #13). But each rule's match starts with, or a bounded distance before, one of a
few literals (`ignore`, `password`, `://`), which `str.find` locates at memory speed. Given a
superset of the possible start positions, `matches_at` yields exactly the matches `finditer`
would: same spans, same groups, same order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["CASE_FOLDS", "fold_lower", "matches_at", "positions"]

# The only characters that match an ASCII letter case-insensitively without being one (Python's
# `re` folds them so: "İgnore" matches `ignore`, "\u212aey" matches `key`), mapped to that letter.
# With them folded, lower-casing keeps every character in place (U+0130 is the only character
# whose lower case is longer), so the offsets where `fold_lower(text)` spells a lower-case ASCII
# literal are exactly the offsets where a case-insensitive pattern can match that literal in
# `text` (tests/test_anchors.py checks both facts against every code point).
CASE_FOLDS = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}


_FOLDED = tuple(chr(code) for code in CASE_FOLDS)


def fold_lower(text: str) -> str:
    """`text` lower-cased, offset for offset, with the case-insensitive look-alikes folded."""
    if text.isascii():
        return text.lower()
    # `translate` looks every character up in the table: only worth it when one is there.
    for char in _FOLDED:
        if char in text:
            return text.translate(CASE_FOLDS).lower()
    return text.lower()


def positions(haystack: str, literal: str) -> list[int]:
    """Every offset where `literal` starts in `haystack`, overlapping ones included."""
    found: list[int] = []
    at = haystack.find(literal)
    while at >= 0:
        found.append(at)
        at = haystack.find(literal, at + 1)
    return found


def starts_of(haystack: str, literals: Iterable[str], back: Iterable[int] = (0,)) -> list[int]:
    """Sorted offsets `at - b` for each occurrence `at` of each literal and each `b` in `back`
    (the distances a match may start before its literal), clipped at 0."""
    found: set[int] = set()
    shifts = tuple(back)
    for literal in literals:
        for at in positions(haystack, literal):
            found.update(max(0, at - b) for b in shifts)
    return sorted(found)


def matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text)` yields, given (sorted) every position a match can start at.

    `match(text, pos)` sees the characters before `pos` (`\\b`, lookbehind) as a search that
    reaches `pos` does, and `^` only at the real start, so the match tried at a position is the
    one the search would find there; finditer then resumes at the match's end, as here. The
    pattern must not match the empty string (finditer would retry at the same position).
    """
    end = 0
    for start in starts:
        if start < end:
            continue  # inside the previous match
        m = pattern.match(text, start)
        if m is not None:
            yield m
            end = m.end()

"""Which functions a file's hunks touch, and their complexity before and after (pure).

Two modes, chosen by `triage.metrics.measure` from what it could read:

* full file: both sides of the file are known (read from snapshots, or rebuilt by applying the
  hunks). Every function whose line span holds an added line (new side) or a removed line (old
  side) is touched; the two sides are paired by qualified name, in order of appearance, so an
  overloaded name pairs first with first. A function present on one side only is added or
  deleted (`before`/`after` None).
* hunk-local: only the diff is known. Each hunk's new side (context + added lines) and old side
  (context + removed lines) are parsed on their own; tree-sitter recovers from the fragment's
  missing surroundings and still finds the decision points. Functions visible in the fragments
  are paired by name; changed lines outside any visible function are reported under the
  hunk's section header. Figures describe the visible fragment, not the whole function, so
  `estimated=True`; the delta (after - before) is still the complexity the hunk added.
"""

from __future__ import annotations

import bisect
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import zip_longest

from triage.metrics.complexity import FileComplexity, UnitComplexity, analyse
from triage.models import FileDiff, FunctionChange, Hunk

__all__ = ["full_file_changes", "hunk_local_changes", "touched_lines"]


def touched_lines(hunks: Iterable[Hunk]) -> tuple[list[int], list[int]]:
    """(old-side lines removed, new-side lines added), each sorted, 1-based."""
    old: list[int] = []
    new: list[int] = []
    for hunk in hunks:
        old_no, new_no = hunk.old_start, hunk.new_start
        for kind, _ in hunk.rows():
            if kind == "+":
                new.append(new_no)
                new_no += 1
            elif kind == "-":
                old.append(old_no)
                old_no += 1
            else:
                old_no += 1
                new_no += 1
    old.sort()
    new.sort()
    return old, new


def _hits(unit: UnitComplexity | None, lines: Sequence[int]) -> bool:
    if unit is None:
        return False
    i = bisect.bisect_left(lines, unit.start_line)
    return i < len(lines) and lines[i] <= unit.end_line


def _by_name(units: Iterable[UnitComplexity]) -> dict[str, list[UnitComplexity]]:
    grouped: dict[str, list[UnitComplexity]] = defaultdict(list)
    for unit in units:
        grouped[unit.name].append(unit)
    return grouped


def _pairs(
    before: FileComplexity | None, after: FileComplexity | None
) -> list[tuple[str, UnitComplexity | None, UnitComplexity | None]]:
    old = _by_name(before.units if before else ())
    new = _by_name(after.units if after else ())
    names = list(new) + [n for n in old if n not in new]
    return [(name, b, a) for name in names for b, a in zip_longest(old.get(name, ()), new.get(name, ()))]


def _change(
    path: str,
    language: str,
    name: str,
    line: int,
    b: UnitComplexity | None,
    a: UnitComplexity | None,
    estimated: bool,
) -> FunctionChange:
    return FunctionChange(
        path=path,
        name=name,
        language=language,
        line=line,
        cyclomatic_before=b.cyclomatic if b else None,
        cyclomatic_after=a.cyclomatic if a else None,
        cognitive_before=b.cognitive if b else None,
        cognitive_after=a.cognitive if a else None,
        estimated=estimated,
    )


def full_file_changes(f: FileDiff, before: bytes | None, after: bytes | None) -> tuple[FunctionChange, ...]:
    """Touched functions of one file whose old and/or new content is known."""
    language = f.language or ""
    old_fc = analyse(before, language) if before is not None else None
    new_fc = analyse(after, language) if after is not None else None
    if old_fc is None and new_fc is None:
        return ()
    removed, added = touched_lines(f.hunks)
    out: list[FunctionChange] = []
    for name, b, a in _pairs(old_fc, new_fc):
        if _hits(a, added) or _hits(b, removed):
            line = a.start_line if a else b.start_line if b else 0
            out.append(_change(f.path, language, name, line, b, a, estimated=False))
    return tuple(out)


def _sides(hunk: Hunk) -> tuple[tuple[bytes, range, list[int]], tuple[bytes, range, list[int]]]:
    """Both sides of a hunk, new then old: context plus its '+' (or '-') lines, dedented.

    Each side is its text, the file line number of each fragment line (consecutive from the
    hunk's start on that side), and the (1-based, sorted) fragment lines that changed. Context
    lines are kept because they often hold the enclosing function's header, which names the
    function and scopes its decision points. One pass over the body serves both sides.
    """
    new_texts: list[str] = []
    old_texts: list[str] = []
    added: list[int] = []
    removed: list[int] = []
    for kind, text in hunk.rows():
        if kind == "+":
            new_texts.append(text)
            added.append(len(new_texts))
        elif kind == "-":
            old_texts.append(text)
            removed.append(len(old_texts))
        else:
            new_texts.append(text)
            old_texts.append(text)
    new = (_dedent(new_texts).encode("utf-8", "replace") if new_texts else b"", added)
    old = (_dedent(old_texts).encode("utf-8", "replace") if old_texts else b"", removed)
    return (
        (new[0], range(hunk.new_start, hunk.new_start + len(new_texts)), new[1]),
        (old[0], range(hunk.old_start, hunk.old_start + len(old_texts)), old[1]),
    )


def _common_prefix(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return a[:i]
    return a if len(a) <= len(b) else b


def _dedent(lines: list[str]) -> str:
    """`textwrap.dedent` of the lines joined (each ended by a newline), without its regular
    expressions over the joined text: a quarter of the hunk-local mode's Python time on real
    diffs went there. Same rules: lines of only spaces and tabs become empty, and the longest
    run of spaces and tabs that starts every other line is removed."""
    text = "\n".join(lines) + "\n"
    if text.count("\n") != len(lines):  # a line holding a newline of its own: the reference
        return textwrap.dedent(text)
    margin: str | None = None
    blank = False
    for line in lines:
        body = line.lstrip(" \t")
        if not body:
            blank = blank or bool(line)
            continue
        indent = line[: len(line) - len(body)]
        if margin is None:
            margin = indent
        elif not indent.startswith(margin):
            margin = _common_prefix(margin, indent)
        if not margin and blank:
            break
    if not margin and not blank:
        return text
    cut = len(margin or "")
    return "\n".join(line[cut:] if line.strip(" \t") else "" for line in lines) + "\n"


def _line_of(numbers: Sequence[int], fragment_line: int) -> int:
    if not numbers:
        return 0
    return numbers[min(max(fragment_line, 1), len(numbers)) - 1]


def _outside(units: Sequence[UnitComplexity], lines: Sequence[int]) -> bool:
    """Whether any of `lines` falls outside every unit (units are outermost: disjoint, ordered)."""
    starts = [u.start_line for u in units]
    for line in lines:
        i = bisect.bisect_right(starts, line) - 1
        if i < 0 or units[i].end_line < line:
            return True
    return False


def hunk_local_changes(f: FileDiff, max_bytes: int) -> tuple[tuple[FunctionChange, ...], int, int]:
    """Estimated function changes from hunk fragments, the bytes parsed, and the hunks skipped.

    Each hunk's new side (context + added lines) and old side (context + removed lines) are
    parsed on their own. Functions visible in a fragment that hold a changed line are reported
    under their own name; changed lines outside any visible function are reported under the
    hunk's section header (git's guess at the enclosing function) when they hold decisions.
    A hunk whose fragments exceed what is left of `max_bytes` is skipped (the caller notes it).
    """
    language = f.language or ""
    out: list[FunctionChange] = []
    parsed = 0
    skipped = 0
    for hunk in f.hunks:
        cost = len(hunk.body)  # about what both sides together will parse
        if parsed + cost > max_bytes:
            skipped += 1
            continue
        parsed += cost
        (new_text, new_numbers, added), (old_text, old_numbers, removed) = _sides(hunk)
        new_fc = analyse(new_text, language) if new_text else None
        old_fc = analyse(old_text, language) if old_text else None
        if new_fc is None and old_fc is None:
            continue
        for name, b, a in _pairs(old_fc, new_fc):
            if not (_hits(a, added) or _hits(b, removed)):
                continue
            line = _line_of(new_numbers, a.start_line) if a else _line_of(old_numbers, b.start_line) if b else 0
            out.append(_change(f.path, language, name, line, b, a, estimated=True))
        loose = (new_fc is not None and _outside(new_fc.units, added)) or (
            old_fc is not None and _outside(old_fc.units, removed)
        )
        top_new = (new_fc.toplevel_decisions, new_fc.toplevel_cognitive) if new_fc else None
        top_old = (old_fc.toplevel_decisions, old_fc.toplevel_cognitive) if old_fc else None
        if loose and any(t and (t[0] or t[1]) for t in (top_new, top_old)):
            out.append(
                FunctionChange(
                    path=f.path,
                    name=hunk.section.strip()[:80] or "<top level>",
                    language=language,
                    line=_line_of(new_numbers, added[0]) if added else hunk.new_start,
                    cyclomatic_before=1 + top_old[0] if top_old else None,
                    cyclomatic_after=1 + top_new[0] if top_new else None,
                    cognitive_before=top_old[1] if top_old else None,
                    cognitive_after=top_new[1] if top_new else None,
                    estimated=True,
                )
            )
    return tuple(out), parsed, skipped

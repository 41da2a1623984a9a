"""What of a PR fits in the LLM's input budget: (PullRequest, ParsedDiff, Metrics, Risk) -> Payload.

A diff rarely fits whole, and what is cut decides what the model can notice. The rules:

* Machine-made and binary content is never sent (lockfiles, generated and vendored files,
  binaries): it costs tokens and says nothing about intent. Each is named in `omitted`
  ("package-lock.json (lockfile)").
* Hunks are ranked by risk relevance, never by the size of their file: file kind first (source,
  then tests, then docs), then the hunk's own share of the static risk model's factors (its
  weighted changed lines, a sensitive path, the cognitive complexity of the functions it
  touches, the file's history). A one-line change to `auth/session.py` outranks fifty lines of a
  README, and a hunk in a 5,000-line file is worth no more than the same hunk elsewhere.
* Context lines go before content lines: if the whole diff does not fit, every hunk is first cut
  to its changed lines; context is then given back to the highest-ranked hunks while it fits.
  Only then are whole hunks left out, lowest rank first, and the top hunk that is too large on
  its own is sent in part.
* Nothing is dropped silently: every hunk not sent is named with its header
  ("src/x.py @@ -10,7 +10,9 @@"), a partly sent hunk says how much was sent, and trimmed
  context is counted.
* Every line sent has been through `secrets.redact` first, per hunk side (the old and the new
  version of the file are contiguous text, so a multi-line private key is still one finding),
  before any trimming could cut a secret in half.

Token counts are estimates made offline (no tokenizer download): see `estimate_tokens`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from triage.metrics.risk import WEIGHTS, is_sensitive_path
from triage.models import FileDiff, FileKind, Hunk, Line, Metrics, ParsedDiff, PullRequest, Risk
from triage.review.secrets import find_secrets, hunk_key_states, redact

__all__ = [
    "Payload",
    "build_payload",
    "estimate_tokens",
    "fit_text",
    "hunk_header",
    "rank_hunks",
    "render_hunk",
]

# ------------------------------------------------------------------------------------------------
# Token estimate

# One alternative per kind of piece, each bounded so that one match is one token: a run of
# letters counts a token per 6 characters started, digits per 3, spaces and tabs per 4.
_TOKENS = re.compile(r"[A-Za-z]{1,6}|[0-9]{1,3}|[ \t]{1,4}|\n|[^\sA-Za-z0-9]", re.ASCII)
_LONE_SPACE = re.compile(r"(?<![ \t]) (?![ \t])")


def _count_tokens(text: str) -> int:
    return len(_TOKENS.findall(text)) - len(_LONE_SPACE.findall(text))


@lru_cache(maxsize=64)
def estimate_tokens(text: str) -> int:
    """A deterministic, slightly pessimistic token count for BPE tokenizers (cl100k/o200k-like).

    Counted piece by piece: a run of ASCII letters is one token per 6 characters started
    (common words are one token, long identifiers split), a run of digits one per 3 (the
    tokenizers split numbers into groups of at most three digits), every punctuation or
    symbol character and every newline one, a single space nothing (it merges with the next
    word), longer runs of spaces or tabs one per 4, and every other character (non-ASCII
    letters, CJK, emoji) one each; carriage returns and other ASCII control whitespace nothing.
    Punctuation is where it overcounts most (BPE merges `():` and `==`), so on source code it
    lands at about 3 characters per token where real tokenizers see about 4: the safe side for
    a budget, at the cost of sending a little less. tiktoken is not used because it downloads
    its tables on first use, and triage must run offline.

    Counting is two regex passes in C (every LLM call sizes its prompt several times while
    fitting the budget, on 16 threads sharing one GIL); the small cache serves the fixed parts
    of the prompt that are re-measured on every fitting round.
    """
    return _count_tokens(text)


def fit_text(text: str, max_tokens: int) -> tuple[str, bool]:
    """`text` cut at a line (or character) boundary to at most `max_tokens`; True if cut."""
    if estimate_tokens(text) <= max_tokens:
        return text, False
    if max_tokens <= 0:
        return "", True
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits (estimate_tokens is monotone in the prefix)
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[:newline]
    return cut, True


# ------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Payload:
    """The diff text to send, and what was left out.

    `tokens_full` is the estimate for the whole diff as-is (every text file, full context, the
    machine-made ones too): what sending it naively would cost. `tokens_sent` is the estimate
    for `text`.
    """

    text: str
    omitted: tuple[str, ...]
    tokens_full: int
    tokens_sent: int


@dataclass(frozen=True)
class _Unit:
    """One hunk of one file, with its rank inputs and (on first use) its redacted lines.

    The lines are made only for hunks the budget actually considers: a 50 MB diff has
    thousands of hunks of which a few dozen fit, and a `Line` per line of all of them would
    cost several times the diff's size in memory.
    """

    file_index: int
    hunk_index: int
    file: FileDiff
    hunk: Hunk
    score: float
    tier: int  # 0 source, 1 test, 2 docs (lower is sent first)
    in_key: tuple[bool, bool] = (False, False)  # each side starts inside a private key block

    @cached_property
    def lines(self) -> tuple[Line, ...]:
        """The hunk's lines, redacted (see `_redact_lines`)."""
        return _redact_lines(list(self.hunk.lines()), self.file.path, self.in_key)

    @cached_property
    def section(self) -> str:
        """git's text after the header (`@@ ... @@ DB_PASSWORD=x` for a .env): redacted too."""
        return redact(self.hunk.section, self.file.path)

    @property
    def min_tokens(self) -> int:
        """A lower bound on the tokens of any rendering with at least its changed lines: each
        changed line costs at least its `+`/`-` and its newline, and a header at least 13."""
        changed = self.hunk.added + self.hunk.deleted
        return 2 * changed + _MIN_HEADER_TOKENS if changed else 0  # no change: may render as nothing

    @property
    def header(self) -> str:
        return hunk_header(self.hunk)

    @property
    def key(self) -> tuple[int, int]:
        return (self.file_index, self.hunk_index)

    @property
    def name(self) -> str:
        return f"{self.file.path} {self.header}"


_TIERS = {FileKind.SOURCE: 0, FileKind.TEST: 1, FileKind.DOCS: 2}
_KIND_WEIGHT = {FileKind.SOURCE: 1.0, FileKind.TEST: 0.5, FileKind.DOCS: 0.1}
_NEVER_SENT = (FileKind.LOCKFILE, FileKind.GENERATED, FileKind.VENDORED)
# Context levels, most to least: None = as in the diff (git's default is 3 lines).
_CONTEXT_LEVELS: tuple[int | None, ...] = (None, 1, 0)
# Below this many tokens left, a partial hunk is not worth sending.
_MIN_PARTIAL_TOKENS = 48
# The fewest tokens a rendered hunk can cost: `@@ -1,1 +1,1 @@` and a newline (`estimate_tokens`
# counts each of @ - + , and the newline, and every run of digits).
_MIN_HEADER_TOKENS = 13


def hunk_header(hunk: Hunk) -> str:
    return f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},{hunk.new_length} @@"


def _file_header(file: FileDiff) -> str:
    what = file.change.value
    if file.old_path and file.old_path != file.path:
        what = f"{what} from {file.old_path}"
    extra = ""
    if file.submodule:
        extra = ", submodule"
    elif file.symlink:
        extra = ", symlink"
    return f"File: {file.path} ({what}, {file.kind.value}{extra}, +{file.added} -{file.deleted})\n"


# ------------------------------------------------------------------------------------------------
# Redaction, per hunk


def _redact_lines(lines: list[Line], path: str, inside: tuple[bool, bool] = (False, False)) -> tuple[Line, ...]:
    """The hunk's lines with every secret masked, found on each side's contiguous text;
    `inside` says whether each side starts inside a key block (`secrets.hunk_key_states`)."""
    masks: dict[int, list[tuple[int, int, str]]] = {}
    sides = (
        [i for i, ln in enumerate(lines) if ln.kind in " -"],  # the old version of the fragment
        [i for i, ln in enumerate(lines) if ln.kind in " +"],  # the new version
    )
    for indices, in_key in zip(sides, inside, strict=True):
        if not indices:
            continue
        texts = [lines[i].text for i in indices]
        joined = "\n".join(texts)
        findings = find_secrets(joined, path, in_private_key=in_key)
        if not findings:
            continue
        starts: list[int] = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        for f in findings:
            for k, start in enumerate(starts):
                end = start + len(texts[k])
                if f.end <= start or f.start > end:
                    continue
                lo, hi = max(f.start, start) - start, min(f.end, end) - start
                masks.setdefault(indices[k], []).append((lo, hi, f.masked))
    if not masks:
        return tuple(lines)
    out = list(lines)
    for i, spans in masks.items():
        text = lines[i].text
        spans.sort()
        merged: list[tuple[int, int, str]] = []
        for lo, hi, masked in spans:
            if merged and lo <= merged[-1][1]:
                plo, phi, pm = merged[-1]
                merged[-1] = (plo, max(phi, hi), pm)
            else:
                merged.append((lo, hi, masked))
        pieces: list[str] = []
        pos = 0
        for lo, hi, masked in merged:
            pieces.append(text[pos:lo])
            pieces.append(masked)
            pos = hi
        pieces.append(text[pos:])
        ln = lines[i]
        out[i] = Line(ln.kind, ln.old_no, ln.new_no, "".join(pieces))
    return tuple(out)


# ------------------------------------------------------------------------------------------------
# Ranking


def _touched_cognitive(file: FileDiff, hunk: Hunk, metrics: Metrics) -> tuple[int, int]:
    """(added cognitive complexity, highest complexity after) of the functions a hunk touches.

    A function is touched when it starts inside the hunk's new-side range or the hunk's section
    header (git's enclosing-function line) names it.
    """
    added = highest = 0
    lo, hi = hunk.new_start, hunk.new_start + max(hunk.new_length, 1)
    for fn in metrics.functions:
        if fn.path != file.path:
            continue
        inside = lo <= fn.line < hi
        named = bool(fn.name) and bool(re.search(rf"\b{re.escape(fn.name.split('.')[-1])}\b", hunk.section))
        if inside or named:
            added += max(0, fn.cognitive_delta)
            highest = max(highest, fn.cognitive_after or 0)
    return added, highest


def _history_term(file: FileDiff, metrics: Metrics) -> float:
    if metrics.history is None:
        return 0.0
    for fh in metrics.history.files:
        if fh.path == file.path:
            return WEIGHTS["developers"] * math.log1p(fh.authors) + WEIGHTS["prior-changes"] * math.log1p(
                fh.prior_changes
            )
    return 0.0


def _factor(risk: Risk, name: str) -> float:
    for f in risk.factors:
        if f.name == name:
            return f.contribution
    return 0.0


def _hunk_score(file: FileDiff, hunk: Hunk, metrics: Metrics, risk: Risk) -> float:
    """The hunk's share of the static risk model's terms (same weights, hunk-local inputs)."""
    kw = _KIND_WEIGHT.get(file.kind, 0.0)
    score = WEIGHTS["lines-added"] * math.log1p(kw * hunk.added)
    score += WEIGHTS["lines-deleted"] * math.log1p(kw * hunk.deleted)
    if is_sensitive_path(file.path) or is_sensitive_path(file.old_path or ""):
        score += WEIGHTS["sensitive-paths"]
    added_cc, highest = _touched_cognitive(file, hunk, metrics)
    score += WEIGHTS["complexity"] * (math.log1p(added_cc) + 0.5 * math.log1p(highest))
    if file.kind is FileKind.SOURCE and _factor(risk, "no-tests") > 0:
        score += WEIGHTS["no-tests"]  # untested source: the lines a reviewer must read
    score += _history_term(file, metrics)
    return score


def _units(diff: ParsedDiff, metrics: Metrics, risk: Risk) -> list[_Unit]:
    units: list[_Unit] = []
    for fi, file in enumerate(diff.files):
        if file.kind in _NEVER_SENT or file.binary:
            continue
        states = hunk_key_states(file)
        for hi, hunk in enumerate(file.hunks):
            score = _hunk_score(file, hunk, metrics, risk)
            units.append(_Unit(fi, hi, file, hunk, score, _TIERS.get(file.kind, 3), states[hi]))
    return units


def rank_hunks(diff: ParsedDiff, metrics: Metrics, risk: Risk) -> list[tuple[str, float]]:
    """(name, score) of every sendable hunk, most risk-relevant first (for tests and reports)."""
    return [(u.name, u.score) for u in _ranked(_units(diff, metrics, risk))]


def _ranked(units: Iterable[_Unit]) -> list[_Unit]:
    return sorted(units, key=lambda u: (u.tier, -u.score, u.file_index, u.hunk_index))


# ------------------------------------------------------------------------------------------------
# Rendering


def render_hunk(hunk: Hunk, context: int | None = None, limit: int | None = None) -> str:
    """One hunk as `@@` blocks keeping `context` lines around changes (None: all of them),
    unredacted: what the payload would show for it, for tests and tools."""
    return "".join(_blocks(hunk, tuple(hunk.lines()), hunk.section, context, limit))


def _segments(unit: _Unit, context: int | None, limit: int | None = None) -> list[str]:
    return _blocks(unit.hunk, unit.lines, unit.section if unit.hunk.section else "", context, limit)


def _blocks(
    hunk: Hunk, lines: tuple[Line, ...], heading: str, context: int | None, limit: int | None = None
) -> list[str]:
    """The hunk as one or more `@@` blocks keeping `context` lines around changes.

    Cutting context splits a hunk, and each piece gets a header with its own correct line
    numbers, so the model can still cite lines. `limit` keeps only the first N kept lines;
    `heading` is git's text after the first header (redacted by the caller).
    Numbers follow git: a side with no lines in a block names the line *before* the block,
    so a new file is `@@ -0,0 +1,N @@` and a deleted one `@@ -1,N +0,0 @@`, exactly what
    `git diff -U<context>` prints.
    """
    n = len(lines)
    changed = [i for i, ln in enumerate(lines) if ln.kind != " "]
    if context is None:
        keep = [True] * n
    else:
        keep = [False] * n
        for i in changed:
            for j in range(max(0, i - context), min(n, i + context + 1)):
                keep[j] = True
    positions: list[tuple[int, int]] = []  # (next old line, next new line) before each line
    # A side of length 0 names the line after which the hunk sits (0 for an empty file), so
    # the first line on that side would be the next one; otherwise the start is that line.
    old = hunk.old_start if hunk.old_length else hunk.old_start + 1
    new = hunk.new_start if hunk.new_length else hunk.new_start + 1
    for ln in lines:
        positions.append((old, new))
        if ln.kind in " -":
            old += 1
        if ln.kind in " +":
            new += 1
    blocks: list[str] = []
    taken = 0
    i = 0
    while i < n:
        if not keep[i]:
            i += 1
            continue
        j = i
        body: list[str] = []
        old_count = new_count = 0
        while j < n and keep[j] and (limit is None or taken < limit):
            ln = lines[j]
            body.append(f"{ln.kind}{ln.text}")
            old_count += ln.kind in " -"
            new_count += ln.kind in " +"
            taken += 1
            j += 1
        if body:
            o, nw = positions[i]
            o = o if old_count else o - 1
            nw = nw if new_count else nw - 1
            section = f" {heading}" if heading and i == 0 else ""
            blocks.append(f"@@ -{o},{old_count} +{nw},{new_count} @@{section}\n" + "\n".join(body) + "\n")
        if limit is not None and taken >= limit:
            break
        i = j
    return blocks


def _render(unit: _Unit, context: int | None, limit: int | None = None) -> str:
    return "".join(_segments(unit, context, limit))


def _context_lines(unit: _Unit, context: int | None) -> int:
    """How many context lines of the hunk `context` leaves out."""
    if context is None:
        return 0
    total = sum(1 for ln in unit.lines if ln.kind == " ")
    kept = sum(1 for ln in _render(unit, context).splitlines() if ln.startswith(" "))
    return total - kept


@dataclass
class _Choice:
    unit: _Unit
    context: int | None
    limit: int | None = None  # lines, when only part of the hunk is sent
    text: str = ""
    tokens: int = 0


_Key = tuple[int, int]


class _Plan:
    """The hunks chosen so far and their cost, kept up to date as choices are made or changed."""

    def __init__(self, budget: int, header_tokens: dict[int, int]) -> None:
        self.budget = budget
        self.header_tokens = header_tokens
        self.chosen: dict[_Key, _Choice] = {}
        self.files: dict[int, int] = {}  # file index -> chosen hunks
        self.used = 0

    def room_for(self, unit: _Unit) -> int:
        """Tokens left for `unit`'s text, counting its file header if not yet paid for."""
        header = 0 if unit.file_index in self.files else self.header_tokens[unit.file_index]
        current = self.chosen.get(unit.key)
        return self.budget - self.used - header + (current.tokens if current else 0)

    def put(self, choice: _Choice) -> bool:
        """Choose (or re-choose) a hunk's rendering if it fits; False leaves the plan as it was."""
        unit = choice.unit
        if choice.tokens > self.room_for(unit):
            return False
        current = self.chosen.get(unit.key)
        if current is None:
            self.used += self.header_tokens[unit.file_index] if unit.file_index not in self.files else 0
            self.files[unit.file_index] = self.files.get(unit.file_index, 0) + 1
        else:
            self.used -= current.tokens
        self.chosen[unit.key] = choice
        self.used += choice.tokens
        return True


def _more_context(a: int | None, b: int | None) -> bool:
    """Whether context level `a` keeps more lines than `b`."""
    return _CONTEXT_LEVELS.index(a) < _CONTEXT_LEVELS.index(b)


def build_payload(pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, max_tokens: int) -> Payload:
    """The redacted diff text that fits `max_tokens`, most risk-relevant hunks first.

    `pr` is accepted for the stage's uniform signature; its title and body are fenced and
    budgeted by the caller. Files appear in the order of their best-ranked hunk, hunks within
    a file in line order. `omitted` lists whole files first (machine-made, binary), then hunks
    in file order, then the count of trimmed context lines.

    The steps, in the order the module docstring gives the rules: everything at the most context
    that fits; else changed lines only, in rank order, leaving out (or partly sending) what does
    not fit; then context given back to the best hunks; then files with no hunks (renames, mode
    changes) while their header still fits.
    """
    del pr
    units = _ranked(_units(diff, metrics, risk))
    budget = max(0, max_tokens)
    plan = _Plan(budget, {u.file_index: estimate_tokens(_file_header(u.file)) for u in units})
    left_out: list[tuple[_Key, str]] = []
    if not _fit_all(plan, units):
        left_out = _fit_changed_lines(plan, units)
    _give_back_context(plan, units)
    parts = _render_chosen(plan, units, diff)
    headers, no_content = _fit_header_only(diff, budget - plan.used)
    omitted = [*_never_sent(diff), *no_content, *(name for _, name in sorted(left_out))]
    omitted.extend(_trimmed_context_note(plan))
    text = "".join([*parts, *headers])
    return Payload(text=text, omitted=tuple(omitted), tokens_full=_full_tokens(diff), tokens_sent=estimate_tokens(text))


def _choose(unit: _Unit, context: int | None, limit: int | None = None) -> _Choice:
    """One rendering of a hunk, priced."""
    text = _render(unit, context, limit)
    return _Choice(unit, context, limit, text, estimate_tokens(text))


def _fit_all(plan: _Plan, units: list[_Unit]) -> bool:
    """Put every hunk in the plan at the most context with which all of them fit; False (the
    plan untouched) when even no context at all is over budget.

    Each level is rendered hunk by hunk and given up as soon as it is over budget, so a huge
    diff costs a few hunks' rendering here, not all of them three times.
    """
    for context in _CONTEXT_LEVELS:
        total = sum(plan.header_tokens.values())
        choices: list[_Choice] = []
        for unit in units:
            if total + unit.min_tokens > plan.budget:
                break
            choices.append(_choose(unit, context))
            total += choices[-1].tokens
            if total > plan.budget:
                break
        if total <= plan.budget and len(choices) == len(units):
            for choice in choices:
                plan.put(choice)
            return True
    return False


def _fit_changed_lines(plan: _Plan, units: list[_Unit]) -> list[tuple[_Key, str]]:
    """Changed lines only, in rank order; returns what was left out or partly sent, by name.

    A hunk that does not fit is skipped, since a smaller one further down may still fit; the
    first one too large for what is left is sent in part (see `_fit_part`), so the best-ranked
    change the model cannot see whole is at least begun.
    """
    left_out: list[tuple[_Key, str]] = []
    partial_done = False
    for unit in units:
        left = plan.room_for(unit)
        # A hunk that provably cannot fit is not rendered (nor redacted) at all.
        if unit.min_tokens > left and (partial_done or left < _MIN_PARTIAL_TOKENS):
            left_out.append((unit.key, unit.name))
            continue
        if plan.put(_choose(unit, 0)):
            continue
        if not partial_done and left >= _MIN_PARTIAL_TOKENS:
            note = _fit_part(plan, unit, left)
            if note:
                partial_done = True
                left_out.append((unit.key, f"{unit.name} ({note})"))
                continue
        left_out.append((unit.key, unit.name))
    return left_out


def _fit_part(plan: _Plan, unit: _Unit, left: int) -> str:
    """Put the most leading changed lines of `unit` that fit in `left` tokens into the plan and
    say how many were sent; "" when not even one fits."""
    changed = sum(1 for ln in unit.lines if ln.kind != " ")
    lo, hi = 0, changed
    while lo < hi:  # binary search: the rendering grows with the number of lines kept
        mid = (lo + hi + 1) // 2
        if _choose(unit, 0, mid).tokens <= left:
            lo = mid
        else:
            hi = mid - 1
    if lo > 0 and plan.put(_choose(unit, 0, lo)):
        return f"partly sent: first {lo} of {changed} changed lines"
    return ""


def _give_back_context(plan: _Plan, units: list[_Unit]) -> None:
    """Give context back to the chosen hunks, best-ranked first, each the most that still fits:
    the lines around a change are what lets the model judge it, once every change is paid for.
    Partly sent hunks stay as they are (their cut is already at the limit)."""
    for unit in units:
        current = plan.chosen.get(unit.key)
        if current is None or current.limit is not None:
            continue
        for context in _CONTEXT_LEVELS:
            if not _more_context(context, current.context) or plan.put(_choose(unit, context)):
                break


def _render_chosen(plan: _Plan, units: list[_Unit], diff: ParsedDiff) -> list[str]:
    """The chosen hunks as text: files in the order of their best-ranked hunk (what the model
    reads first is what matters most), hunks within a file in line order (so they read as a
    diff), each file once under its header."""
    by_file: dict[int, list[_Key]] = {}
    for unit in units:
        if unit.key in plan.chosen:
            by_file.setdefault(unit.file_index, []).append(unit.key)
    parts: list[str] = []
    for fi, keys in by_file.items():
        parts.append(_file_header(diff.files[fi]))
        parts.extend(plan.chosen[k].text for k in sorted(keys))
    return parts


def _fit_header_only(diff: ParsedDiff, room: int) -> tuple[list[str], list[str]]:
    """(headers sent, names omitted) for the files that are only a header (a rename, a mode
    change, an empty new file): they come last because they carry the least, and each is sent
    while it fits in `room` tokens, else named as "no content"."""
    headers: list[str] = []
    omitted: list[str] = []
    for file in diff.files:
        if file.kind in _NEVER_SENT or file.binary or file.hunks:
            continue
        header = _file_header(file)
        tokens = estimate_tokens(header)
        if tokens <= room:
            headers.append(header)
            room -= tokens
        else:
            omitted.append(f"{file.path} ({file.change.value}, no content)")
    return headers, omitted


def _never_sent(diff: ParsedDiff) -> list[str]:
    """The names of the files never sent, with why: machine-made kinds and binaries."""
    names: list[str] = []
    for file in diff.files:
        if file.kind in _NEVER_SENT:
            names.append(f"{file.path} ({file.kind.value})")
        elif file.binary:
            names.append(f"{file.path} (binary)")
    return names


def _trimmed_context_note(plan: _Plan) -> list[str]:
    """The one `omitted` line counting the context lines trimmed from the hunks sent whole (so
    trimming is never silent), or none when nothing was trimmed."""
    trimmed = [_context_lines(c.unit, c.context) for c in plan.chosen.values() if c.limit is None]
    lines = sum(trimmed)
    if not lines:
        return []
    hunks = sum(1 for n in trimmed if n)
    return [f"{lines} unchanged context line(s) in {hunks} hunk(s)"]


def _full_tokens(diff: ParsedDiff) -> int:
    """What sending the whole diff as-is would cost: every text file, full context, machine-made
    ones included (the figure reports compare `tokens_sent` against)."""
    total = 0
    for file in diff.files:
        if file.binary:
            continue
        total += estimate_tokens(_file_header(file))
        # Counted piece by piece, uncached: the cache must not keep 64 hunks of a huge diff.
        total += sum(
            _count_tokens(f"{hunk_header(h)}{' ' + h.section if h.section else ''}\n") + _count_tokens(h.body)
            for h in file.hunks
        )
    return total

"""Prompt-injection screening: (PullRequest, ParsedDiff) -> injection-attempt Flags.

A PR's title, body and added lines are untrusted text that an LLM reviewer will read. Text that
addresses the reviewer or the model ("ignore previous instructions", "approve this PR", chat
role markers) has no business in a code change; when it is there, the PR deserves *more*
attention, never less, whatever the LLM later says. This module finds such text with rules, so
the finding does not depend on the model that might be fooled by it.

Matching runs on a normalised copy of the text: NFKC (full-width and other compatibility forms
fold to ASCII), zero-width and bidi control characters removed, Unicode tag characters decoded
(they smuggle invisible ASCII), comment markers dropped, whitespace collapsed. The hidden
characters themselves are flagged too: bidi overrides in code are the Trojan Source attack
(CVE-2021-42574), and zero-width characters inside ASCII words only serve to hide words.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from triage.models import FileDiff, FileKind, Flag, FlagKind, ParsedDiff, PullRequest, Severity
from triage.review.anchors import fold_lower, matches_at, positions
from triage.review.secrets import find_secrets

__all__ = ["find_injections", "normalise", "scan", "verdict_claim"]

_EXCERPT_CHARS = 120
_MAX_FLAGS = 25
_MAX_BASE64_BLOBS = 20

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_INVISIBLE_TABLE = {ord(c): None for c in _ZERO_WIDTH + _BIDI}
_BIDI_OVERRIDES = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ZW_IN_WORD = re.compile("[A-Za-z0-9][" + _ZERO_WIDTH + "]+[A-Za-z0-9]")
_TAGS = re.compile("[\U000e0020-\U000e007e]+")
_BLACK_FLAG = "\U0001f3f4"  # subdivision flags (England, Scotland) are legitimate tag sequences

_TARGET = r"(?:pr|pull\s+request|merge\s+request|mr|change(?:s|set)?|patch|diff|commit|code)"

# Each rule: (name, pattern). Patterns run case-insensitively on normalised text and are written
# to need instruction-shaped context, so "ignore" or "system:" in ordinary code does not fire.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "override-instructions",
            r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|your|of|my|these|those)\s+)*"
            r"(?:previous|prior|above|earlier|preceding|foregoing|system|original|initial|existing|other)\s+"
            r"(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages?|commands?)",
        ),
        (
            "override-instructions",
            r"\b(?:ignore|disregard|forget)\s+(?:all\s+)?(?:your|the)\s+(?:instructions|guidelines|rules|system\s+prompt)\b",
        ),
        ("override-instructions", r"\bdisregard\s+(?:the\s+|your\s+)?system\s+(?:prompt|message)\b"),
        ("override-instructions", r"\b(?:new|updated|revised)\s+(?:system\s+)?instructions\s*:"),
        ("override-instructions", r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|should)\b"),
        (
            "role-play",
            r"\byou\s+are\s+now\s+(?:an?\s+|the\s+|my\s+)?(?:[\w-]+\s+){0,3}"
            r"(?:assistant|ai|model|reviewer|bot|chatbot|dan|gpt|llm|persona|jailbroken|unrestricted|"
            r"in\s+developer\s+mode)\b",
        ),
        (
            "role-play",
            r"\bas\s+an?\s+(?:ai|llm)\s+(?:language\s+model|model|reviewer|code\s+reviewer|assistant)\b"
            r"|\bas\s+an?\s+(?:large\s+)?language\s+model\b|\bas\s+an?\s+ai\s*,\s*you\b",
        ),
        (
            "role-play",
            r"\bpretend\s+(?:that\s+)?(?:you\s+are|to\s+be)\s+(?:an?\s+)?(?:[\w-]+\s+){0,2}"
            r"(?:ai|model|reviewer|assistant)\b",
        ),
        (
            "role-play",
            r"\b(?:reveal|print|output|repeat)\s+(?:your|the)\s+(?:system\s+prompt|initial\s+instructions)\b",
        ),
        (
            "approval-request",
            r"\b(?:you\s+(?:must|should|will|need\s+to|have\s+to)|always|automatically|immediately|just)\s+"
            r"(?:approve|merge|accept|lgtm)\s+(?:this|the|my)\s+" + _TARGET + r"\b",
        ),
        (
            "approval-request",
            r"\bapprove\s+(?:this|the)\s+" + _TARGET + r"\s+(?:immediately|automatically|right\s+away|"
            r"without\b|as\s+(?:safe|is)|and\s+(?:do\s+not|don't|ignore|skip))",
        ),
        (
            "approval-request",
            r"(?:^|[.!?:;>|*#/\-]\s*|\b(?:ai|llm|model|bot|assistant|reviewer)s?\s*[:,]\s*)"
            r"approve\s+this\s+(?:pr|pull\s+request)\b",
        ),
        ("approval-request", r"\blgtm\s+this\b"),
        (
            "approval-request",
            r"\bmark\s+(?:this|it|the\s+(?:pr|pull\s+request|change|code|diff))\s+as\s+"
            r"(?:safe|low[\s-]*risk|approved|benign|harmless|trusted|verified|secure|clean)\b",
        ),
        (
            "approval-request",
            r"\b(?:classify|rate|score|treat|report)\s+(?:this|it|the\s+(?:pr|pull\s+request|change))\s+as\s+"
            r"(?:safe|low[\s-]*risk|benign|harmless|trusted)\b",
        ),
        (
            "suppress-findings",
            r"\b(?:do\s+not|don't|dont|never)\s+flag\s+(?:this|these|it|any(?:thing)?|the\b|as\b|security|secrets?)",
        ),
        (
            "suppress-findings",
            r"\b(?:do\s+not|don't|dont|never)\s+(?:mention|report)\s+(?:any\s+)?"
            r"(?:security\s+(?:issues?|problems?|vulnerabilit\w*)|vulnerabilit\w*|the\s+(?:secret|key|backdoor))",
        ),
        (
            "chat-markup",
            r"<\|(?:im_start|im_end|system|user|assistant|eot_id|start_header_id|end_header_id)\|>"
            r"|\[/?INST\]|<<\s*/?SYS\s*>>|<start_of_turn>|<end_of_turn>",
        ),
        (
            "chat-markup",
            r"(?:^|\n)[ \t]*(?:#+[ \t]*)?(?:system|assistant)(?:[ \t]+prompt)?[ \t]*:[ \t]*"
            r"(?:you\b|ignore\b|disregard\b|forget\b|new\s+instructions|from\s+now\s+on|approve\b|"
            r"always\b|never\b|do\s+not\b|the\s+(?:pr|pull\s+request|following)\b)",
        ),
        # "disregard the above", "ignore everything before this line": no noun needed.
        (
            "override-instructions",
            r"\b(?:ignore|disregard|forget)\s+(?:(?:all|everything|anything|any|the|of|what|that|this|text|"
            r"is|was|were|written|said|came|you\s+(?:read|saw|were\s+told))\s+){0,4}"
            r"(?:above|before|preceding|previously|prior|earlier|so\s+far)\b"
            # ...as a whole clause: "ignore the above warning" is a comment about a warning.
            r"(?=\s*(?:$|[.,;:!)]|and\b|then\b|(?:text|instructions?|content|messages?|prompts?)\b|"
            r"this\s+(?:line|point|comment|message)\b))",
        ),
        # "rate this change low-risk", "score this change 0 risk": the existing rule needs "as".
        (
            "approval-request",
            r"\b(?:classify|rate|score|treat|report|mark|label|consider|assess|grade)\s+"
            r"(?:this|it|the)(?:\s+(?:pr|pull\s+request|change|patch|diff|code|commit))?\s+(?:as\s+)?(?:an?\s+)?"
            r"(?:safe|low[\s-]*risk|benign|harmless|trusted|risk[\s-]*free|(?:0|zero|no|minimal)\s*(?:risk|%))",
        ),
        # "set the risk to low", "give this PR a risk score of 0".
        (
            "approval-request",
            r"\b(?:set|give|assign|put|keep|lower|reduce|make)\s+"
            r"(?:(?:the|this|its|a|your|it|pr|change|patch|an?)\s+){0,3}"
            r"risk(?:\s+(?:score|level|rating))?\s+(?:to|of|at|as)\s+(?:low|0|zero|none|minimal|0\.0)\b",
        ),
        # "return an empty list of flags", "respond with no findings".
        (
            "suppress-findings",
            r"\b(?:return|respond\s+with|output|report|reply\s+with|give|produce)\s+(?:an?\s+)?(?:empty|no|zero)\s+"
            r"(?:list\s+of\s+)?(?:flags?|findings?|issues?)\b",
        ),
        # A fake end (or start) of the prompt's fenced untrusted block, or of a tagged one.
        (
            "fence-spoof",
            r"<{2,}\s*/?\s*(?:untrusted[^\n<>]{0,80}|(?:end|begin)\s+[^\n<>]{1,80})>{2,}"
            r"|</\s*(?:untrusted[\w-]*|user[_-]?input|pr[_-]?(?:text|content|diff|body)|diff|description)\s*>"
            r"|\[\s*/?\s*(?:end|begin)\s+(?:of\s+)?(?:untrusted|the\s+diff|diff|pr|pull\s+request|description)\b[^\]\n]{0,40}\]",
        ),
        # `SYSTEM:` / `[SYSTEM]` / `ASSISTANT:` notes written in capitals (YAML's `system: linux` is
        # lower case), and any role label followed by a verdict or an order on the same line.
        (
            "chat-markup",
            r"(?:^|\n)[ \t]*(?:#+[ \t]*)?(?-i:\[(?:SYSTEM|ASSISTANT|DEVELOPER)\]|"
            r"(?:SYSTEM|ASSISTANT|DEVELOPER)(?:[ \t]+(?:PROMPT|MESSAGE|NOTE|OVERRIDE|INSTRUCTIONS?))?[ \t]*:)[ \t]*\S",
        ),
        (
            "chat-markup",
            r"(?:^|\n|[>\]}*#/;.!?\-][ \t]*)(?:system|assistant|developer|human)(?:[ \t]+(?:prompt|message|note))?"
            r"[ \t]*:[^\n]{0,80}?"
            r"\b(?:approv\w*|lgtm|low[\s-]*risk|ignore|disregard|do\s+not\s+flag|skip\s+the\s+review)\b",
        ),
    )
)

# Comment leaders dropped before matching, so a phrase wrapped over comment lines still reads
# as one sentence: `#`, `//`, `/*`, `*`, `--`, `;`, `%`, `>`, `<!--`, `"""`.
_COMMENT_LEADER = re.compile(r"^[ \t]*(?:<!--|/\*+|\*+/?|//+|#+|--+|;+|%+|>+|\"\"\"|''')?[ \t]*")
_COMMENT_LEADERS = re.compile(_COMMENT_LEADER.pattern, re.MULTILINE)
_BASE64_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,4096}={0,2}(?![A-Za-z0-9+/=])")
_HTML_COMMENT = re.compile(r"<!--(.*?)(?:-->|$)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class InjectionFinding:
    """One instruction-shaped passage. `line` is the 0-based line of the source text."""

    rule: str
    line: int
    excerpt: str  # from the normalised text, redacted and truncated
    hidden: str = ""  # how it was hidden, if it was ("in an HTML comment", "base64", ...)


def normalise(text: str) -> str:
    """NFKC with zero-width and bidi controls removed, Unicode tag characters decoded and
    look-alike letters (Cyrillic `і`, Greek `ο`) folded to the Latin ones they imitate."""
    if text.isascii():
        return text  # nothing to fold, strip or decode (the common case, checked in O(1))
    text = _TAGS.sub(lambda m: "".join(chr(ord(c) - 0xE0000) for c in m.group(0)), text)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE_TABLE)
    return text if text.isascii() else text.translate(_look_alikes())


@cache
def _look_alikes() -> dict[int, str]:
    """Non-ASCII letter -> the ASCII letter or digit it is confusable with, from the Unicode
    confusables data (UTS #39) that `confusable_homoglyphs` ships; same case preferred, so
    Greek `Ι` folds to `I`, not `l`. NFKC does not fold these: they are different letters that
    only look alike, which is exactly how "іgnore previous instructions" hides from a rule."""
    from confusable_homoglyphs.confusables import confusables_data

    def ascii_targets(char: str) -> list[str]:
        glyphs = confusables_data.get(char, [])
        return [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]

    table: dict[int, str] = {}
    for char in confusables_data:
        if len(char) != 1 or char.isascii():
            continue
        targets = ascii_targets(char)
        # The data folds capital I and its look-alikes to `l`; the small letter knows better
        # (Cyrillic `І` -> `l`, but `і` -> `i`), and the rules ignore case.
        lower = char.lower()
        if char.isupper() and len(lower) == 1 and lower != char:
            targets = [t.upper() for t in ascii_targets(lower) if t.isalpha()] + targets
        if not targets:
            continue
        same_case = [t for t in targets if t.isalpha() and t.isupper() == char.isupper()]
        letters = [t for t in targets if t.isalpha()]
        table[ord(char)] = (same_case or letters or targets)[0]
    return table


def _excerpt(text: str, start: int, end: int) -> str:
    """About 120 characters around a match, whitespace collapsed, secrets masked."""
    room = max(0, (_EXCERPT_CHARS - (end - start)) // 2)
    s, e = max(0, start - room), min(len(text), end + room)
    # Secrets are found on the whole text (an assignment needs its name, which may lie outside
    # the window) and the window grows to cover any it cuts, so no part of one can leak.
    masks = [f for f in find_secrets(text) if f.end > s and f.start < e]
    if masks:
        s, e = min(s, masks[0].start), max(e, masks[-1].end)
    out: list[str] = []
    pos = s
    for f in masks:
        out.append(text[pos : f.start])
        out.append(f.masked)
        pos = f.end
    out.append(text[pos:e])
    piece = " ".join("".join(out).split())
    if len(piece) > _EXCERPT_CHARS:
        piece = piece[: _EXCERPT_CHARS - 1] + "…"
    prefix = "…" if s > 0 else ""
    suffix = "…" if e < len(text) and not piece.endswith("…") else ""
    return f"{prefix}{piece}{suffix}"


def _hidden_characters(raw: str) -> Iterator[tuple[str, int, str]]:
    """(rule, offset, detail) for invisible characters used to hide or reorder text."""
    m = _BIDI_OVERRIDES.search(raw)
    if m:
        yield "bidi-control", m.start(), f"U+{ord(m.group(0)):04X}, Trojan Source"
    m = _ZW_IN_WORD.search(raw)
    if m:
        yield "zero-width", m.start(), ""
    for m in _TAGS.finditer(raw):
        if not raw[: m.start()].endswith(_BLACK_FLAG):
            yield "unicode-tags", m.start(), ""
            break


# Where each rule's matches can start, so that its regex is tried there only (issue #13: trying
# each open rule at every position of a large file's added text was most of the injection scan).
# A tuple of lower-case literals: every match of the rule starts with one of them (each pattern
# opens with `\b(?:word|...)` or a literal). An `_Anchored` rule starts before one of its words;
# None: the regex searches the texts that hold `_UNANCHORED_GATE` (a rule with a loose start).
# The literals also replaced the gates the rules had (groups of words all present in a text):
# finding a few dozen literals once in a PR's added text costs less than testing a hundred
# needles per run and file, and a rule whose literals are absent is not tried at all.
class _Anchored(NamedTuple):
    """Matches start at the text's start or on the newline before `words` (`(?:^|\n)`), with
    only `skip` characters in between (indentation, `#`, `[`); `after_mark`: or on whatever
    character stands there (the rule then checks it is a punctuation mark)."""

    words: tuple[str, ...]
    skip: str
    after_mark: bool = False
    case_sensitive: bool = False


_STARTS: tuple[tuple[str, ...] | _Anchored | None, ...] = (
    ("ignore", "disregard", "forget", "override", "bypass", "skip"),
    ("ignore", "disregard", "forget"),
    ("disregard",),
    ("new", "updated", "revised"),
    ("from",),
    ("you",),
    ("as",),
    ("pretend",),
    ("reveal", "print", "output", "repeat"),
    ("you", "always", "automatically", "immediately", "just"),
    ("approve",),
    None,  # `(?:^|[.!?:;>|*#/\-]\s*|\bai\s*:\s*)approve this PR`: searched where "approve" is
    ("lgtm",),
    ("mark",),
    ("classify", "rate", "score", "treat", "report"),
    ("do", "never"),  # do not, don't, dont, never
    ("do", "never"),
    ("<|", "[inst", "[/inst", "<<", "<start_of_turn>", "<end_of_turn>"),
    _Anchored(("system", "assistant"), " \t#"),
    ("ignore", "disregard", "forget"),
    ("classify", "rate", "score", "treat", "report", "mark", "label", "consider", "assess", "grade"),
    ("set", "give", "assign", "put", "keep", "lower", "reduce", "make"),
    ("return", "respond", "output", "report", "reply", "give", "produce"),
    ("<<", "</", "["),
    _Anchored(("SYSTEM", "ASSISTANT", "DEVELOPER"), " \t#[", case_sensitive=True),  # `(?-i:...)`
    _Anchored(("system", "assistant", "developer", "human"), " \t", after_mark=True),
)
assert len(_STARTS) == len(_RULES)
_UNANCHORED_GATE = "approve"


def _match_rules(text: str) -> list[tuple[str, int, int]]:
    """(rule, start, end) of every rule match in `text`: rules in order, each in text order."""
    return _parts_matches([text])[0]


def _parts_matches(parts: list[str]) -> list[list[tuple[str, int, int]]]:
    """`_match_rules` of each part, with the literals found once in the parts joined.

    Each rule is still matched within one part (a phrase is never read across two runs); only
    finding where the rules can start is shared, so its cost follows the PR's bytes and not its
    number of runs, most of which are a line or two.
    """
    joined = "\n".join(parts)
    lower = fold_lower(joined)
    offsets: list[int] = []
    at = 0
    for text in parts:
        offsets.append(at)
        at += len(text) + 1
    found: dict[tuple[bool, str], list[tuple[int, int]]] = {}

    def occurrences(literal: str, case_sensitive: bool = False) -> list[tuple[int, int]]:
        """(part, offset in the joined text) of each occurrence; a literal has no newline, so
        it never straddles two parts."""
        key = (case_sensitive, literal)
        if key not in found:
            hits = positions(joined if case_sensitive else lower, literal)
            found[key] = [(bisect_right(offsets, g) - 1, g) for g in hits]
        return found[key]

    starts: dict[int, dict[int, set[int]]] = {}  # part -> rule -> local start offsets
    searched: set[int] = set()  # parts the unanchored rule searches
    for index, spec in enumerate(_STARTS):
        if spec is None:
            searched.update(part for part, _ in occurrences(_UNANCHORED_GATE))
        elif not isinstance(spec, _Anchored):
            for literal in spec:
                for part, g in occurrences(literal):
                    starts.setdefault(part, {}).setdefault(index, set()).add(g - offsets[part])
        else:
            haystack = joined if spec.case_sensitive else lower
            for word in spec.words:
                for part, g in occurrences(word, spec.case_sensitive):
                    # Back over what may stand between the line start (or the mark) and the word.
                    lo = offsets[part]
                    while g > lo and haystack[g - 1] in spec.skip:
                        g -= 1
                    if g == lo:
                        starts.setdefault(part, {}).setdefault(index, set()).add(0)
                    elif spec.after_mark or haystack[g - 1] == "\n":
                        starts.setdefault(part, {}).setdefault(index, set()).add(g - 1 - lo)
    out: list[list[tuple[str, int, int]]] = [[] for _ in parts]
    for part in sorted(starts.keys() | searched):
        text, by_rule, matches = parts[part], starts.get(part, {}), out[part]
        for index in sorted(by_rule.keys() | ({_STARTS.index(None)} if part in searched else set())):
            name, pattern = _RULES[index]
            where = by_rule.get(index)
            for m in pattern.finditer(text) if where is None else matches_at(pattern, text, sorted(where)):
                # Rules anchored with `(?:^|\n)` start on the newline: the finding is on the next line.
                start = m.start() + 1 if text.startswith("\n", m.start()) else m.start()
                matches.append((name, start, m.end()))
    return out


def _decoded_blobs(text: str) -> Iterator[tuple[int, str]]:
    """(offset, decoded text) for base64 runs that decode to readable text."""
    for count, m in enumerate(_BASE64_BLOB.finditer(text)):
        if count >= _MAX_BASE64_BLOBS:
            return
        blob = m.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
        if decoded and printable / len(decoded) > 0.95 and re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}", decoded):
            yield m.start(), decoded


def _line_starts(lines: list[str]) -> list[int]:
    starts: list[int] = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return starts


def _has_invisible(raw: str) -> bool:
    return any(ord(c) in _INVISIBLE_TABLE for c in raw) or bool(_TAGS.search(raw))


def _clean(raw: str) -> str:
    """One line as the rules read it: normalised, its comment leader dropped."""
    return _COMMENT_LEADER.sub("", normalise(raw), count=1)


def _cleaned(text: str) -> str:
    """`text` with each line cleaned (`_clean`), lines still joined by newlines. ASCII text
    needs no normalising and no line of it can gain a newline, so one pass of the
    line-anchored leader pattern over the whole text does what a pass per line does."""
    if text.isascii():
        return _COMMENT_LEADERS.sub("", text)
    return "\n".join(_clean(line) for line in text.split("\n"))


def find_injections(text: str) -> tuple[InjectionFinding, ...]:
    """Instruction-shaped passages and hiding tricks in one text, at most one per line and rule.

    Lines are joined (with comment leaders dropped) before matching so that a sentence wrapped
    over several comment lines is still seen; each finding maps back to its source line.
    """
    if not text:
        return ()
    joined = _cleaned(text)
    return _find(text, joined, _match_rules(joined))


def _newline_starts(text: str) -> list[int]:
    """The offset of each line of `text` (the first at 0)."""
    return [0, *(at + 1 for at in positions(text, "\n"))]


def _find(text: str, joined: str, matched: list[tuple[str, int, int]]) -> tuple[InjectionFinding, ...]:
    """`find_injections` of `text`, whose cleaned lines (`_cleaned`) are `joined` and whose
    rule matches (`_match_rules(joined)`) are `matched`."""
    # One finding per line: several rules matching the same sentence are one attempt. Rules
    # that read the words run first, so hidden characters become a detail of their finding.
    findings: dict[int, InjectionFinding] = {}

    def add(finding: InjectionFinding) -> None:
        findings.setdefault(finding.line, finding)

    # Line offsets are only needed to place a finding: most texts have none.
    raw_starts: list[int] | None = None
    starts: list[int] | None = None
    in_comment: set[int] | None = None
    for rule, start, end in matched:
        if starts is None:
            raw_starts, starts = _newline_starts(text), _newline_starts(joined)
            in_comment = _html_comment_lines(text, raw_starts)
        assert raw_starts is not None and in_comment is not None
        line = bisect_right(starts, start) - 1
        if line in in_comment:
            hidden = "in an HTML comment"
        else:
            raw_line = text[raw_starts[line] : raw_starts[line + 1] - 1 if line + 1 < len(raw_starts) else len(text)]
            hidden = "with invisible characters" if _has_invisible(raw_line) else ""
        add(InjectionFinding(rule, line, _excerpt(joined, start, end), hidden))

    for offset, decoded in _decoded_blobs(joined):
        plain = normalise(decoded)
        for rule, start, end in _match_rules(plain):
            if starts is None:
                starts = _newline_starts(joined)
            line = bisect_right(starts, offset) - 1
            add(InjectionFinding(rule, line, _excerpt(plain, start, end), "base64-encoded"))
            break

    if not text.isascii():  # every hiding character is outside ASCII
        raw_lines = text.split("\n")
        raw_starts = _line_starts(raw_lines)
        for rule, offset, detail in _hidden_characters(text):
            line = bisect_right(raw_starts, offset) - 1
            shown = normalise(raw_lines[line])
            add(InjectionFinding(rule, line, _excerpt(shown, 0, len(shown)), detail))
    return tuple(sorted(findings.values(), key=lambda f: f.line))


def _html_comment_lines(text: str, raw_starts: list[int]) -> set[int]:
    """The lines of `text` an HTML comment covers, wholly or in part."""
    in_comment: set[int] = set()
    if "<!--" in text:
        for m in _HTML_COMMENT.finditer(text):
            first = bisect_right(raw_starts, m.start()) - 1
            last = bisect_right(raw_starts, max(m.start(), m.end() - 1)) - 1
            in_comment.update(range(first, last + 1))
    return in_comment


_RULE_TEXT = {
    "override-instructions": "tries to override the reviewer's instructions",
    "role-play": "tries to reassign the reviewer's role",
    "approval-request": "asks the reviewer to approve or rate it safe",
    "suppress-findings": "asks the reviewer not to report findings",
    "chat-markup": "contains chat-model role markup",
    "fence-spoof": "fakes the end of the untrusted block the reviewer reads",
    "bidi-control": "contains a bidirectional control character",
    "zero-width": "hides zero-width characters inside words",
    "unicode-tags": "hides text in invisible Unicode tag characters",
}

_HIDING_RULES = frozenset({"bidi-control", "zero-width", "unicode-tags"})


def _flag(finding: InjectionFinding, where: str, file: FileDiff | None, line: int | None) -> Flag:
    what = _RULE_TEXT.get(finding.rule, finding.rule)
    how = f" ({finding.hidden})" if finding.hidden else ""
    # An instruction or a bidi override has no innocent reading: high. Zero-width characters
    # alone can be an editor accident, and chat markup in program files is what code that
    # talks to LLMs contains (prompt templates, tokenizer tests): medium, still worth a look.
    severity = Severity.HIGH
    if finding.rule == "zero-width" or (
        finding.rule in ("chat-markup", "fence-spoof") and file is not None and file.kind is not FileKind.DOCS
    ):
        severity = Severity.MEDIUM
    return Flag(
        kind=FlagKind.INJECTION_ATTEMPT,
        severity=severity,
        evidence=f"{where} {what}{how}: {finding.excerpt}",
        file=file.path if file is not None else None,
        line=line,
    )


def scan(pr: PullRequest, diff: ParsedDiff) -> tuple[Flag, ...]:
    """Injection-attempt flags for the title, the body and every added line of the diff.

    Removed and context lines are not the PR's words and are not scanned. At most 25 flags are
    returned: one is enough to raise the risk, the rest would only bury the report.
    """
    flags: list[Flag] = []
    for where, text in (("title", pr.title), ("body", pr.body or "")):
        for f in find_injections(text):
            flags.append(_flag(f, f"PR {where}", None, None))
    files: list[tuple[FileDiff, list[tuple[str, list[int]]], list[str]]] = []
    for file in diff.files:
        if file.binary:
            continue
        runs = [("\n".join(texts), numbers) for hunk in file.hunks for texts, numbers in hunk.added_runs()]
        files.append((file, runs, [_cleaned(text) for text, _ in runs]))
    # The rules' literals are found once in all the PR's added runs (`_parts_matches`).
    matched = _parts_matches([joined for _, _, cleaned in files for joined in cleaned])
    first = 0
    for file, runs, cleaned in files:
        per_run, first = matched[first : first + len(runs)], first + len(runs)
        for (text, numbers), joined, matches in zip(runs, cleaned, per_run, strict=True):
            if not text:
                continue
            for f in _find(text, joined, matches):
                flags.append(_flag(f, "added line", file, numbers[f.line]))
                if len(flags) >= _MAX_FLAGS:
                    return tuple(flags)
    return tuple(flags[:_MAX_FLAGS])


# A verdict only a maintainer may give: approval, "safe/ready to merge", a risk rating. A model
# summary that says so was most likely steered by the PR text it read (or is overreaching);
# either way it must not be posted where it reads like the tool's decision.
_VERDICT = re.compile(
    r"\b(?:lgtm|approv(?:e|ed|es|al|ing)|ship\s+it|rubber[\s-]*stamp\w*"
    r"|(?:safe|ready|good|ok|okay|fine|cleared|fit)\s+(?:to|for)\s+(?:merg\w*|ship\w*|land\w*|deploy\w*|release\w*)"
    r"|(?:can|should|must|may)\s+(?:be\s+)?(?:safely\s+)?(?:merged|landed|shipped|approved)(?!\s+(?:only|once|after|when|if|until)\b)"
    r"|(?:low|no|zero|minimal|negligible)[\s-]+risk|risk[\s-]*free"
    r"|no\s+(?:security\s+)?(?:issues|concerns|problems|vulnerabilit\w*)\s+(?:found|detected|whatsoever|at\s+all)"
    r"|(?:harmless|benign|trusted|verified\s+safe))\b",
    re.IGNORECASE,
)


def verdict_claim(text: str) -> str | None:
    """The first words in `text` (normalised like the rules: look-alikes folded, hidden
    characters removed) that claim a verdict such as approval or a risk rating, else None."""
    m = _VERDICT.search(normalise(text))
    return m.group(0) if m else None

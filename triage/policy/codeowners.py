"""GitHub CODEOWNERS, read from the base branch: `Tree -> CodeOwners`, `path -> owners`.

The decide stage uses it to find the accountable human when a PR's author is a bot and no
trailer names one (DESIGN.md §4), always from the *base* branch so that a PR cannot re-route its
own review by editing the file.

GitHub's semantics differ from gitignore's in ways that matter for routing, and general-purpose
CODEOWNERS libraries get several of them wrong (DESIGN.md §5), so the rules are implemented here
and each one has its own test:

* the file is the first of `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`; a file over
  3 MB is not loaded (GitHub's limit), which leaves the repository without code owners;
* the *last* matching rule wins and owners are never merged; a rule with no owners un-owns;
* `#` starts a comment at the beginning of a line or of a token; there is no `\\#` escape, so
  `\\#foo` is the literal pattern `\\#foo`; `\\ ` escapes a space inside a pattern;
* `*` matches within one path segment, `**` across segments, `?` one character of a segment;
* a pattern without a slash (or with only a trailing one) matches at any depth, a leading or
  inner slash anchors it to the root; `foo/` matches only directories (so everything below any
  `foo` directory); a pattern whose last segment is a name also matches everything below a
  directory of that name, but a last segment of exactly `*` (`docs/*`) matches only direct
  children; `foo/**/` matches everything below `foo`;
* `[` and `]` are literal characters (no classes); `!` negation does not exist: a rule whose
  pattern starts with `!` is reported as an error and ignored, as GitHub flags it;
* matching is case-sensitive;
* a line with an owner that is neither `@user`, `@org/team` nor an email address is invalid and
  skipped (GitHub: "that line will be skipped"); the error is kept in `CodeOwners.errors`.

Patterns are compiled to regular expressions once, at parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.gitrepo import Tree

__all__ = [
    "CODEOWNERS_LOCATIONS",
    "MAX_CODEOWNERS_BYTES",
    "CodeOwners",
    "Rule",
    "compile_pattern",
    "find_codeowners",
]

# Where GitHub looks, in order; the first file found is the only one used.
CODEOWNERS_LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
# GitHub: "CODEOWNERS files must be under 3 MB in size. A CODEOWNERS file over this limit will
# not be loaded."
MAX_CODEOWNERS_BYTES = 3 * 1024 * 1024

_USER = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_TEAM = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def find_codeowners(tree: Tree) -> tuple[str, str] | None:
    """`(path, text)` of the CODEOWNERS file GitHub would use in `tree`, or None.

    Only the first existing location counts, as on GitHub: a `.github/CODEOWNERS` that is too
    large does not make GitHub fall back to the root file, it leaves the repository without
    code owners, so this returns None in that case too.
    """
    for path in CODEOWNERS_LOCATIONS:
        data = tree.read(path)
        if data is None:
            continue
        if len(data) > MAX_CODEOWNERS_BYTES:
            return None
        return path, data.decode("utf-8", "replace").removeprefix("\ufeff")
    return None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression matching the repository paths (no leading slash) that a
    CODEOWNERS pattern owns. Raises ValueError for a pattern GitHub does not accept."""
    if not pattern or pattern == "/":
        raise ValueError(f"pattern {pattern!r} matches nothing")
    if pattern.startswith("!"):
        raise ValueError(f"pattern {pattern!r}: '!' negation is not supported by CODEOWNERS")
    anchored = pattern.startswith("/")
    dir_only = pattern.endswith("/")
    segments: list[str] = []
    for seg in pattern.split("/"):
        if seg and not (seg == "**" and segments and segments[-1] == "**"):
            segments.append(seg)
    if not segments:
        raise ValueError(f"pattern {pattern!r} matches nothing")
    # A slash anywhere but at the end anchors the pattern to the root (gitignore rule); a
    # lone name matches at any depth, as if it started with `**/`.
    if not anchored and len(segments) == 1 and segments[0] != "**":
        segments.insert(0, "**")
    if dir_only and segments[-1] != "**":
        segments.append("**")

    parts: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if seg == "**":
            if i == 0:
                parts.append(r".+" if i == last else r"(?:.+/)?")
            else:
                parts.append(r"/.+" if i == last else r"(?:/.+)?")
            continue
        if i > 0 and not (i == 1 and segments[0] == "**"):
            parts.append("/")
        if seg == "*":
            parts.append(r"[^/]+")  # `docs/*`: direct children only, nothing deeper
            continue
        parts.append(_segment(seg))
        if i == last:
            parts.append(r"(?:/.*)?")  # a name also owns everything below a directory of that name
    return re.compile("".join(parts) + r"\Z")


def _segment(seg: str) -> str:
    out: list[str] = []
    for ch in seg:
        if ch == "*":
            out.append(r"[^/]*")
        elif ch == "?":
            out.append(r"[^/]")
        else:
            out.append(re.escape(ch))  # brackets and backslashes are literal
    return "".join(out)


def _tokens(line: str) -> list[str]:
    """Whitespace-separated tokens, `\\ ` kept as a space, stopping at a `#` comment token."""
    tokens: list[str] = []
    current: list[str] = []
    i = 0
    in_token = False
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == " ":
            current.append(" ")
            in_token = True
            i += 2
            continue
        if ch in " \t":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
            i += 1
            continue
        if ch == "#" and not in_token:
            break
        current.append(ch)
        in_token = True
        i += 1
    if in_token:
        tokens.append("".join(current))
    return tokens


def _valid_owner(owner: str) -> bool:
    return bool(_USER.fullmatch(owner) or _TEAM.fullmatch(owner) or _EMAIL.fullmatch(owner))


@dataclass(frozen=True, slots=True)
class Rule:
    """One valid CODEOWNERS line: its pattern, owners (empty = un-owned) and line number."""

    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path.lstrip("/")) is not None


@dataclass(frozen=True, slots=True)
class CodeOwners:
    """A parsed CODEOWNERS file: rules in file order plus the lines GitHub would reject."""

    rules: tuple[Rule, ...] = ()
    errors: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, path: str = "CODEOWNERS") -> CodeOwners:
        rules: list[Rule] = []
        errors: list[str] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            tokens = _tokens(raw.strip())
            if not tokens:
                continue
            pattern, owners = tokens[0], tuple(tokens[1:])
            bad = [o for o in owners if not _valid_owner(o)]
            if bad:
                errors.append(f"{path}:{number}: invalid owner {bad[0]!r}; line ignored")
                continue
            try:
                regex = compile_pattern(pattern)
            except ValueError as exc:
                errors.append(f"{path}:{number}: {exc}; line ignored")
                continue
            rules.append(Rule(pattern, owners, number, regex))
        return cls(tuple(rules), tuple(errors))

    def rule_for(self, path: str) -> Rule | None:
        """The rule that decides `path`: the last one that matches."""
        for rule in reversed(self.rules):
            if rule.matches(path):
                return rule
        return None

    def owners_for(self, path: str) -> tuple[str, ...]:
        """Owners of `path` (empty when no rule matches or the last match has no owners)."""
        rule = self.rule_for(path)
        return rule.owners if rule is not None else ()

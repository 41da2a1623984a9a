"""Does a model's flag quote the PR? (PullRequest, ParsedDiff) -> `Corpus`; evidence -> bool.

A flag raises risk (`triage.review.merge.raise_risk`), so a flag the model made up would let
any hallucination, or any author who talks the model into "finding" something, move a PR's
place in the queue. The prompt asks for the exact text that shows each problem; a flag whose
evidence quotes nothing of the PR (diff lines, file paths, title, description) is kept in the
review, marked unverified, and counts zero toward risk.

Matching is deliberately tolerant of how models quote: whitespace runs, letter case, a leading
diff marker (`+`/`-`), and backticks or quotes around the quote do not matter, and a quote
that crosses a redaction marker is matched piece by piece (the model saw the masked text; the
PR has the secret). It is strict on content: a quoted piece must have at least
`MIN_QUOTE_CHARS` non-space characters and appear verbatim in the PR's text. Evidence with no
quotation marks counts when a run of at least `MIN_RUN_CHARS` characters of it appears
verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.models import ParsedDiff, PullRequest

__all__ = ["MIN_QUOTE_CHARS", "MIN_RUN_CHARS", "Corpus", "quotes_pr"]

MIN_QUOTE_CHARS = 8
MIN_RUN_CHARS = 24
_WINDOW = 16
_MAX_CORPUS_CHARS = 4_000_000  # beyond this only the first part is searched (a huge diff)

_WS = re.compile(r"\s+")
# What a model wraps a quote in: backticks, straight or curly double quotes.
_QUOTED = re.compile(r"`+([^`]+)`+|\"([^\"]+)\"|\u201c([^\u201d]+)\u201d")
# The two shapes of redaction marker (triage.review.secrets): `[REDACTED:kind]`, `prefix****`.
_MARKER = re.compile(r"\[REDACTED(?::[a-z-]+)?\]|\S*?\*{4,}")
_DIFF_MARK = re.compile(r"^[+-](?=\s)|^[+-](?=\S)")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


@dataclass(frozen=True, slots=True)
class Corpus:
    """The PR's own text, normalised once per PR: every diff line (both sides), file paths,
    title, description and commit messages, one per line."""

    text: str

    @classmethod
    def of(cls, pr: PullRequest, diff: ParsedDiff) -> Corpus:
        # Normalised piece by piece into one list of short strings, and bounded as a whole
        # (not per file): a 50 MB diff must not be copied line by line into memory.
        parts: list[str] = [_norm(p) for p in (pr.title, pr.body or "", *pr.commit_messages) if p]
        size = sum(len(p) for p in parts)

        def add(text: str) -> None:
            nonlocal size
            if text:
                norm = _norm(text)
                parts.append(norm)
                size += len(norm) + 1

        for file in diff.files:
            add(file.path)
            add(file.old_path or "")
            for hunk in file.hunks:
                add(hunk.section)
                for _, text in hunk.rows():
                    add(text)
                    if size > _MAX_CORPUS_CHARS:
                        return cls("\n".join(parts))
        return cls("\n".join(parts))


def _pieces(quote: str) -> list[str]:
    """A quote split at redaction markers, each piece normalised, without a diff marker."""
    out: list[str] = []
    for raw in _MARKER.split(quote):
        piece = _norm(_DIFF_MARK.sub("", raw.strip()))
        if len(piece.replace(" ", "")) >= MIN_QUOTE_CHARS:
            out.append(piece)
    return out


def _quoted_spans(evidence: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(evidence)]


def quotes_pr(evidence: str, corpus: Corpus) -> bool:
    """True when `evidence` quotes the PR's text (see the module docstring)."""
    haystack = corpus.text
    if not haystack:
        return False
    spans = _quoted_spans(evidence)
    for span in spans:
        if any(piece in haystack for piece in _pieces(span)):
            return True
    if spans:
        return False  # it quoted something, and nothing it quoted is in the PR
    # No quotation marks: some models paste the line bare. A long enough verbatim run counts.
    for piece in _pieces(evidence):
        if piece in haystack:
            return True
        # Windows of 2/3 of the run at a stride of 1/3: any common run of MIN_RUN_CHARS
        # contains one whole window, and a window never spans less than 16 characters.
        size, stride = _WINDOW, MIN_RUN_CHARS - _WINDOW
        if any(piece[i : i + size] in haystack for i in range(0, len(piece) - size + 1, stride)):
            return True
    return False

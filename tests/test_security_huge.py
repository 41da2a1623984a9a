"""Huge PRs (issue 12, item 9): the evidence corpus, built for a model's flags, is bounded for
the whole diff, not per file, and is not built at all when the model flagged nothing. The RSS
figure itself is `make bench` (`huge_llm_50mb`); these pin the behaviour that keeps it low.
"""

from __future__ import annotations

import pytest

from triage.diff import parse_diff
from triage.models import PullRequest
from triage.review import evidence
from triage.review.evidence import Corpus, quotes_pr


def _many_files(files: int, lines: int) -> bytes:
    out = []
    for f in range(files):
        body = "".join(f"+value_{f}_{i} = compute({i})\n" for i in range(lines))
        out.append(f"diff --git a/f{f}.py b/f{f}.py\n--- a/f{f}.py\n+++ b/f{f}.py\n@@ -0,0 +1,{lines} @@\n{body}")
    return "".join(out).encode()


def test_the_corpus_is_bounded_across_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "_MAX_CORPUS_CHARS", 10_000)
    diff = parse_diff(_many_files(200, 50))  # ~250 KB of added lines in 200 files
    corpus = Corpus.of(PullRequest(id="1", title="t", body="", diff=b""), diff)
    assert len(corpus.text) <= 10_000 + 200
    assert quotes_pr("`value_0_3 = compute(3)`", corpus)  # the start is searched
    assert not quotes_pr("`value_199_3 = compute(3)`", corpus)  # past the bound is not


def test_the_corpus_normalises_each_piece() -> None:
    diff = parse_diff(_many_files(1, 2))
    corpus = Corpus.of(PullRequest(id="1", title="Fix  The\tThing", body="", diff=b""), diff)
    assert corpus.text.split("\n")[:2] == ["fix the thing", "f0.py"]

"""Does a model's flag quote the PR? The check that keeps made-up flags from raising risk."""

from __future__ import annotations

import pytest

from triage.diff import parse_diff
from triage.models import PullRequest
from triage.review.evidence import Corpus, quotes_pr
from triage.review.secrets import redact

TOKEN = "ghp_Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4a"
DIFF = (
    "diff --git a/src/auth/session.py b/src/auth/session.py\n"
    "--- a/src/auth/session.py\n+++ b/src/auth/session.py\n"
    "@@ -1,2 +1,3 @@\n"
    " def check(user):\n"
    "-    return user.is_admin\n"
    "+    if user.name == 'root':  return True\n"
    f'+    GITHUB_TOKEN = "{TOKEN}"\n'
).encode()
PR = PullRequest(id="1", title="Speed up the session check", body="Skips the database for root.", diff=DIFF)
CORPUS = Corpus.of(PR, parse_diff(DIFF))


@pytest.mark.parametrize(
    "evidence",
    [
        "`if user.name == 'root':  return True` bypasses the check",
        "`IF user.name == 'root': return True` (case and spacing differ)",
        "+    if user.name == 'root':  return True",
        "`-    return user.is_admin` removed the admin test",
        '"Skips the database for root." says the description',
        "`src/auth/session.py` is security sensitive",
        f'`GITHUB_TOKEN = "{redact(TOKEN)}"` commits a credential',  # quoted across a redaction marker
        "the new line if user.name == 'root':  return True short-circuits",  # a long bare run
    ],
)
def test_quotes_of_the_pr_are_recognised(evidence: str) -> None:
    assert quotes_pr(evidence, CORPUS)


@pytest.mark.parametrize(
    "evidence",
    [
        "`return user.is_superuser or bypass()` grants access",  # not in the PR
        "the function no longer checks permissions",  # a description, no quote
        "`root` is special-cased",  # too short to be a quote
        "`[REDACTED:secret]`",  # only a marker, nothing of the PR
        "",
    ],
)
def test_made_up_or_empty_quotes_are_not(evidence: str) -> None:
    assert not quotes_pr(evidence, CORPUS)


def test_an_empty_pr_verifies_nothing() -> None:
    assert not quotes_pr("`anything at all here`", Corpus.of(PullRequest(id="x", title=""), parse_diff(b"")))

"""The progress bar names each PR: a PR id is untrusted text, never rich markup or a control."""

from __future__ import annotations

from rich.text import Text

from triage.models import PullRequest
from triage.progress import describe, pr_bar


def test_a_pr_id_with_markup_and_controls_is_shown_as_text() -> None:
    for raw in ("[/x] closing tag", "[bold red]loud[/]", "[link=https://evil.example]click[/link]"):
        shown = Text.from_markup(describe("triage", PullRequest(id=raw, title="t", diff=b"")))
        assert shown.plain == f"triage {raw}" and not shown.spans
    shown = Text.from_markup(describe("triage", PullRequest(id="a\x1b]0;owned\x07b", title="t", diff=b"")))
    assert "\x1b" not in shown.plain and "\x07" not in shown.plain


def test_the_bar_takes_hostile_ids_without_raising() -> None:
    with pr_bar("triage") as advance:
        advance(PullRequest(id="[/x]", title="t", diff=b""))

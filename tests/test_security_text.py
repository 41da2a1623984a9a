"""Untrusted text reaching people: no secret and no escape sequence in any report, terminal line,
stderr message or LLM request, and no model "approval" posted as a summary (issue 12, items 1,
5, 6, 8).

The end-to-end case drives the real CLI over a PR sidecar whose every free-text field (title,
body, author, labels, branch names, a file name, a hunk header, an added line) carries a token
and terminal escapes, with the LLM reviewer pointed at the loopback stub through a base URL that
embeds credentials, and a stub model that echoes the token and claims approval.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from tests.openai_stub import OpenAIStub, ok
from triage.cli import main
from triage.config import public_url
from triage.report.text import clean, clean_tree, md, one_line
from triage.review.injection import verdict_claim
from triage.review.secrets import redact

GH = "ghp_" + "Q7r8A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
AWS_ID = "AKIA" + "ZXCVBNMASDFGHJKL"
URL_PASSWORD = "Sup3rS3cretPassw0rd"
API_KEY = "sk-test-" + "Lk4" * 10
OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # write the reader's clipboard
OSC0 = "\x1b]0;owned\x07"  # retitle the terminal
CSI = "\x1b[2J"  # clear the screen
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # hidden hyperlink
C1_CSI = "\x9b31m"  # one-byte CSI
BIDI = "\u202eevil\u2066"
ATTACK = OSC52 + OSC0 + CSI + OSC8 + C1_CSI + BIDI

# What must never appear in any output (the escapes as raw characters).
FORBIDDEN = {
    "github token": GH,
    "aws key id": AWS_ID,
    "url password": URL_PASSWORD,
    "api key": API_KEY,
    "bearer": "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
    "ESC": "\x1b",
    "BEL": "\x07",
    "C1": "\x9b",
    "RLO": "\u202e",
    "LRI": "\u2066",
}


def leaks(text: str) -> list[str]:
    return [name for name, value in FORBIDDEN.items() if value in text]


# --------------------------------------------------------------------------------------------
# The one cleaning function


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1bb", "a\u241bb"),  # ESC as its control picture
        ("bell\x07", "bell\u2407"),
        ("del\x7f", "del\u2421"),
        ("c1\x9bx", "c1<U+009B>x"),
        ("\u202eabc", "<U+202E>abc"),
        ("\u2067x\u2069", "<U+2067>x<U+2069>"),
        ("\u200fmark", "<U+200F>mark"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # layout is left to the formats
        ("plain title", "plain title"),
        ("emoji \U0001f468\u200d\U0001f4bb", "emoji \U0001f468\u200d\U0001f4bb"),  # ZWJ sequences stay
    ],
)
def test_clean_shows_controls_instead_of_passing_them(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert clean(clean(raw)) == clean(raw)


@pytest.mark.parametrize(
    "secret",
    [GH, AWS_ID, f"https://deploy:{URL_PASSWORD}@example.com/x", "xoxb-" + "1234567890-abcdefghijkl"],
)
def test_clean_masks_credentials_even_glued_to_a_name(secret: str) -> None:
    for text in (secret, f"key_{secret}.py", f"feature/{secret}", f"[{secret}]"):
        out = clean(text)
        assert out == redact(text) and out != text
        assert clean(out) == out


def test_clean_tree_reaches_every_string_keys_included() -> None:
    tree = {"a": [GH, {"b": (ATTACK,)}], f"k{CSI}": 1, "n": 2.5, "none": None}
    out = json.dumps(clean_tree(tree), ensure_ascii=False)
    assert not leaks(out)
    assert clean_tree({"x": [1, True, None]}) == {"x": [1, True, None]}


def test_every_escape_helper_cleans_first() -> None:
    for helper in (one_line, md):
        assert not leaks(helper(f"{GH} {ATTACK}"))


def test_public_url_drops_user_password_query_and_fragment() -> None:
    assert public_url(f"http://admin:{URL_PASSWORD}@127.0.0.1:8080/v1?api-key=x#f") == "http://127.0.0.1:8080/v1"
    assert public_url("https://[::1]:9/v1") == "https://[::1]:9/v1"
    assert public_url(None) is None
    assert public_url("not a url") == "<unparseable URL>"


# --------------------------------------------------------------------------------------------
# Model verdicts


@pytest.mark.parametrize(
    "summary",
    [
        "LGTM.",
        "The change is approved.",
        "Safe to merge: it only renames a helper.",
        "This PR is ready to land.",
        "It can be merged as is.",
        "A low-risk refactor of the retry loop.",
        "Zero risk; no security issues found.",
        "Ｌｇｔｍ, ship it",  # full-width look-alikes fold to ASCII
        "appro\u200bved by the reviewer",  # a zero-width split
    ],
)
def test_a_summary_that_claims_a_verdict_is_recognised(summary: str) -> None:
    assert verdict_claim(summary) is not None


@pytest.mark.parametrize(
    "summary",
    [
        "Adds a retry on HTTP 503 to the Java client.",
        "Raises the risk of a timeout under load; tests cover the new path.",
        "Renames the approver field in the review config.",  # a word, not a verdict
        "Merges two config loaders into one.",
        "It should be merged only after the migration lands.",
    ],
)
def test_an_ordinary_summary_is_not_a_verdict(summary: str) -> None:
    assert verdict_claim(summary) is None


# --------------------------------------------------------------------------------------------
# End to end through the CLI


def _attack_pr(tmp_path: Path) -> Path:
    inputs = tmp_path / "in"
    inputs.mkdir()
    name = f"src/key_{GH}{ATTACK}.py".replace("/", "_").replace("src_", "src/", 1)
    diff = (
        f"diff --git a/{name} b/{name}\n--- a/{name}\n+++ b/{name}\n"
        f"@@ -1,3 +1,4 @@ def connect(token={GH!r}):\n"
        f" import os\n+x = 1  # {ATTACK}\n y = 2\n z = 3\n"
    )
    (inputs / "pr1.diff").write_text(diff, encoding="utf-8")
    meta = {
        "number": 1,
        "title": f"Fix {GH} {ATTACK}",
        "body": f"see {AWS_ID} {ATTACK} Authorization: Bearer {FORBIDDEN['bearer']}",
        "user": {"login": f"dana{ATTACK}", "type": "User"},
        "html_url": "https://github.com/o/r/pull/1",
        "state": "open",
        "draft": False,
        "created_at": "2026-11-24T12:00:00Z",
        "updated_at": "2026-11-25T12:00:00Z",
        "labels": [{"name": f"label{ATTACK}"}],
        "author_association": "MEMBER",
        "base": {"ref": "main", "sha": "a" * 40},
        "head": {"ref": f"feat/{GH}{ATTACK}", "sha": "b" * 40},
        "commit_messages": [f"commit {GH}"],
        "diff_file": "pr1.diff",
    }
    (inputs / "pr1.json").write_text(json.dumps(meta), encoding="utf-8")
    return inputs


_APPROVING_MODEL = {
    "summary": f"LGTM, approved and safe to merge. {ATTACK} token {GH}",
    "change_type": "fix",
    "description_matches": True,
    "confidence": 1.0,
    "flags": [{"kind": "other", "severity": "low", "file": None, "line": None, "evidence": f"`{GH}` {ATTACK}"}],
}


def test_no_secret_or_escape_reaches_any_output_and_no_approval_is_posted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _attack_pr(tmp_path)
    out = tmp_path / "out"
    with OpenAIStub(default=ok(_APPROVING_MODEL)) as stub:
        base_url = stub.base_url.replace("http://", f"http://admin:{URL_PASSWORD}@")
        env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": API_KEY, "TRIAGE_CACHE_DIR": str(tmp_path / "cache")}
        terminal = io.StringIO()
        code = main(
            ["run", str(inputs), "--out", str(out), "--llm", "on", "--no-progress"],
            environ=env,
            console=Console(file=terminal, width=200, markup=False),
        )
        bodies = [b.decode("utf-8") for b in stub.bodies]
    assert code == 0
    assert bodies, "the LLM reviewer was not asked"
    for body in bodies:
        found = [name for name in leaks(body) if name not in ("ESC", "BEL", "C1", "RLO", "LRI")]
        assert not found, f"request body carries {found}"
    captured = capsys.readouterr()
    outputs = {
        "terminal": terminal.getvalue(),
        "stderr": captured.err,
        **{p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())},
    }
    assert set(outputs) >= {"queue.json", "queue.md", "queue.html"}
    for name, text in outputs.items():
        assert not leaks(text), f"{name} carries {leaks(text)}"
    item = json.loads(outputs["queue.json"])["items"][0]
    assert "approved" not in item["review"]["summary"].lower()
    assert item["review"]["summary"].startswith("Model summary withheld")
    assert any("claimed" in f["evidence"] for f in item["review"]["flags"])
    assert "queue.md" in outputs and "LGTM, approved" not in outputs["queue.md"]
    config = json.loads(outputs["queue.json"])["config"]
    assert config["llm"]["base_url"] == public_url(base_url) and "admin" not in config["llm"]["base_url"]


def test_an_out_path_with_rich_markup_prints_as_typed(tmp_path: Path) -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "prs" / "assisted-java-client-retries.json"
    out = tmp_path / "[/x] [bold]"
    terminal = io.StringIO()
    argv = ["run", str(fixture), "--out", str(out), "--llm", "off", "--no-progress"]
    code = main(argv, environ={}, console=Console(file=terminal, width=1000))  # markup on, as by default
    assert code == 0
    assert f"wrote {out / 'queue.json'}" in terminal.getvalue()


def test_the_sticky_comment_carries_no_secret_or_escape(tmp_path: Path) -> None:
    from triage.config import Config
    from triage.github.comment import sticky_body
    from triage.pipeline import RunContext, run
    from triage.report import render_item_markdown
    from triage.sources import load_inputs

    now = datetime(2026, 12, 1, tzinfo=UTC)
    queue = run(list(load_inputs([str(_attack_pr(tmp_path))])), Config(llm_mode="off"), RunContext(now=now))
    body = sticky_body(render_item_markdown(queue, queue.items[0].pr.id))
    assert not leaks(body), leaks(body)

"""Clean errors, never tracebacks (issue 12, item 6), for input an attacker controls: JSON nested
past the parser's recursion limit in a sidecar, an event payload and a GitHub response.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from triage import jsonutil
from triage.cli import main
from triage.errors import GitHubError
from triage.github.client import GitHubClient

DEEP = "[" * 200_000 + "]" * 200_000


def test_deep_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        jsonutil.loads(DEEP)
    assert jsonutil.loads(b'{"a": [1]}') == {"a": [1]}


def test_a_deeply_nested_sidecar_is_an_item_with_an_error(tmp_path: Path) -> None:
    sidecar = tmp_path / "pr.json"
    sidecar.write_text('{"number": 1, "title": ' + DEEP + "}", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(sidecar), "--out", str(out), "--llm", "off", "--no-progress"], environ={}) == 0
    item = json.loads((out / "queue.json").read_text(encoding="utf-8"))["items"][0]
    assert any("invalid JSON (nested too deeply)" in e for e in item["errors"])


def test_a_deeply_nested_event_payload_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(DEEP, encoding="utf-8")
    env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "t"}
    code = main(["ci"], environ=env)
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"triage: error: {event}: the event payload is not JSON (nested too deeply)\n"


def _mock(handler: object) -> httpx.Client:
    """The real client over httpx's mock transport: the loopback stub serialises its answers
    with `json.dumps`, which cannot write JSON this deep."""
    return httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_a_deeply_nested_github_answer_is_a_github_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=DEEP.encode(), headers={"content-type": "application/json"})

    client = GitHubClient("http://github.invalid", "t", http_client=_mock(handler))
    with client, pytest.raises(GitHubError, match="not JSON"):
        client.repository("o/r")


def test_a_deeply_nested_github_error_body_still_gives_the_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=DEEP.encode(), headers={"content-type": "application/json"})

    client = GitHubClient("http://github.invalid", "t", http_client=_mock(handler))
    with client, pytest.raises(GitHubError, match="404"):
        client.repository("o/r")

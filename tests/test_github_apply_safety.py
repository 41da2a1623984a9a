"""`triage github --apply` never acts by surprise: no close without our stale warning posted
(and found again) `close_days` earlier and after the last human activity; closes and writes
capped per run; the plan's counts printed before any write; a future `--now` refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from github_stub import GitHubStub, Recorded, add_simple_pull, make_pr
from rich.console import Console

from triage.cli import main
from triage.config import Config
from triage.errors import UsageError
from triage.github.batch import run_batch
from triage.github.convert import STALE_MARKER, STICKY_MARKER

REPO = "octo/widgets"
TOKEN = "ghs_stub_token_do_not_leak"
ME = {"login": "triage-maintainer", "type": "User"}
NOW = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)


def ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stub() -> Any:
    with GitHubStub(token=TOKEN, viewer=ME["login"]) as gh:
        repo = gh.repo(REPO)
        repo.contents[(repo.head_sha, ".github/CODEOWNERS")] = b"* @carol\n"
        yield gh


def stale_pull(gh: GitHubStub, number: int, *, opened_days_ago: int = 120) -> None:
    add_simple_pull(
        gh,
        REPO,
        make_pr(number, login=f"dev{number}", association="MEMBER", created_at=ago(opened_days_ago)),
        [(f"src/f{number}.py", 4)],
    )


def batch(gh: GitHubStub, cfg: Config, **kw: Any) -> tuple[Any, list[Any], str]:
    out = io.StringIO()
    kw.setdefault("apply", True)
    kw.setdefault("now", NOW)
    queue, plan = run_batch(
        cfg,
        REPO,
        api_url=gh.url,
        token=TOKEN,
        out_dir=None,
        http_client=httpx.Client(),
        console=Console(file=out, width=400),
        sleep=lambda s: None,
        clock=lambda: NOW,
        **kw,
    )
    return queue, plan, out.getvalue()


def closes(records: list[Recorded]) -> list[str]:
    return [r.path for r in records if r.method == "PATCH" and "/pulls/" in r.path]


def warnings_posted(records: list[Recorded]) -> list[str]:
    return [
        r.path
        for r in records
        if r.method == "POST" and r.path.endswith("/comments") and STALE_MARKER in str((r.body or {}).get("body"))
    ]


def test_an_unwarned_stale_pr_gets_the_warning_not_a_close(stub: GitHubStub, cfg: Config) -> None:
    stale_pull(stub, 1)
    stub.posted_at = ago(0)  # GitHub stamps the warning with the time it was posted
    queue, _, _ = batch(stub, cfg)
    assert queue.items[0].decision.kind.value == "close"
    assert closes(stub.requests) == []
    assert warnings_posted(stub.requests) == [f"/repos/{REPO}/issues/1/comments"]
    # the next run finds that warning (posted "now") and waits: no close, no second warning
    stub.requests.clear()
    batch(stub, cfg, now=NOW)
    assert closes(stub.requests) == [] and warnings_posted(stub.requests) == []


@pytest.mark.parametrize(
    ("warned_days_ago", "user", "closed"),
    [
        (16, ME, True),  # close_days = 15 have passed since our warning
        (15, ME, True),
        (14, ME, False),  # too recent: wait
        (30, {"login": "mallory", "type": "User"}, False),  # someone pasted the marker: not ours
        (30, {"login": "other-bot[bot]", "type": "Bot"}, False),  # another bot's: not ours either
    ],
)
def test_close_needs_our_warning_close_days_earlier(
    stub: GitHubStub, cfg: Config, warned_days_ago: int, user: dict[str, str], closed: bool
) -> None:
    stale_pull(stub, 1)
    stub.add_comment(REPO, 1, f"{STALE_MARKER}\nwarned", user, created_at=ago(warned_days_ago))
    batch(stub, cfg)
    assert closes(stub.requests) == ([f"/repos/{REPO}/pulls/1"] if closed else [])
    assert stub.repo(REPO).pulls[1]["state"] == ("closed" if closed else "open")


def test_a_warning_older_than_the_last_human_activity_does_not_count(stub: GitHubStub, cfg: Config) -> None:
    stale_pull(stub, 1, opened_days_ago=200)
    stub.add_comment(REPO, 1, f"{STALE_MARKER}\nwarned", ME, created_at=ago(150))
    stub.add_comment(REPO, 1, "still working on it", {"login": "dev1", "type": "User"}, created_at=ago(100))
    queue, _, _ = batch(stub, cfg)
    assert queue.items[0].decision.kind.value == "close"  # idle 100 days: due again ...
    assert closes(stub.requests) == []  # ... but warned only before the human acted
    assert warnings_posted(stub.requests) == [f"/repos/{REPO}/issues/1/comments"]


def test_closes_are_capped_per_run_and_counts_printed_first(stub: GitHubStub, cfg: Config) -> None:
    for n in range(1, 6):
        stale_pull(stub, n)
        stub.add_comment(REPO, n, f"{STALE_MARKER}\nwarned", ME, created_at=ago(20))
    _, plan, printed = batch(stub, cfg, max_closes=2)
    assert len(closes(stub.requests)) == 2
    assert sum(a.kind.value == "close" for a in plan) == 2
    lines = printed.splitlines()
    plan_line = next(i for i, line in enumerate(lines) if "plan:" in line)
    assert "2 closes" in lines[plan_line] and "3 closes (--max-closes 2)" in lines[plan_line]
    assert all(not line.startswith("doing") for line in lines[:plan_line])
    # the held-back PRs still got their comment and labels; the next run closes two more
    assert all(any(STICKY_MARKER in c["body"] for c in stub.repo(REPO).comments[n]) for n in range(1, 6))
    stub.requests.clear()
    batch(stub, cfg, max_closes=2)
    assert len(closes(stub.requests)) == 2


def test_writes_are_capped_at_a_pr_boundary(stub: GitHubStub, cfg: Config) -> None:
    for n in range(1, 6):
        add_simple_pull(stub, REPO, make_pr(n, association="MEMBER", created_at=ago(1)), [(f"s/{n}.py", 3)])
    _, plan, printed = batch(stub, cfg, max_writes=5)
    assert len(plan) <= 5
    touched = {a.number for a in plan}
    # every PR that was touched got all of its writes (comment + labels), the others none
    assert all({a.kind.value for a in plan if a.number == n} == {"comment", "add-labels"} for n in touched)
    written = {r.path.split("/")[5] for r in stub.requests if r.method == "POST"}
    assert written == {str(n) for n in touched}
    assert "--max-writes 5" in printed


def test_dry_run_prints_counts_and_writes_nothing(stub: GitHubStub, cfg: Config) -> None:
    stale_pull(stub, 1)
    _, _, printed = batch(stub, cfg, apply=False)
    assert "plan: 1 comments, 1 stale warnings, 1 label changes, 0 closes" in printed
    assert [r for r in stub.requests if r.method != "GET"] == []


def test_a_future_now_is_refused_before_any_request(stub: GitHubStub, cfg: Config) -> None:
    stale_pull(stub, 1)
    with pytest.raises(UsageError, match="in the future"):
        batch(stub, cfg, now=NOW + timedelta(days=30))
    assert stub.requests == []


def test_cli_future_now_exits_2_with_one_line(stub: GitHubStub, tmp_path: Any) -> None:
    out = io.StringIO()
    code = main(
        [
            *("github", "--repo", REPO, "--api-url", stub.url, "--apply", "--now", "2999-01-01T00:00:00Z"),
            *("--out", str(tmp_path / "o"), "--llm", "off"),
        ],
        environ={"GITHUB_TOKEN": TOKEN},
        console=Console(file=out, width=300),
    )
    assert code == 2
    assert stub.requests == []

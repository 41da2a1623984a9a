"""Issue 12 item 4 end to end: in `triage ci` / `triage github` the policy comes from the base
branch, read from the git checkout when it has the base commit, else through the contents API;
a `.triage.toml` in the working directory (the PR's checkout) cannot loosen it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from github_stub import GitHubStub, add_simple_pull, make_pr
from gitutil import ScratchRepo
from rich.console import Console

from triage.cli import main

TOKEN = "ghs_stub_token_do_not_leak"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
REPO = "octo/widgets"
# Every PR of these tests is a plain `review`: failing on "review" shows which config applied.
STRICT = b'[ci]\nfail_on = ["review"]\n'
LOOSE = '[ci]\nfail_on = []\n[llm]\nbase_url = "http://127.0.0.1:9/v1"\n'


@pytest.fixture
def stub():
    with GitHubStub(token=TOKEN) as gh:
        yield gh


def ci_env(stub: GitHubStub, tmp_path: Path, pr: dict, workspace: Path) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": pr["number"], "pull_request": pr}))
    return {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": stub.url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(workspace),
        "TRIAGE_CACHE_DIR": str(tmp_path / "cache"),
    }


def run_ci(env: dict[str, str]) -> int:
    return main(["ci", "--llm", "off", "--now", NOW.isoformat()], environ=env)


def contents_reads(stub: GitHubStub) -> list[str]:
    return [r.path for r in stub.requests if "/contents/" in r.path]


def test_ci_reads_the_base_config_through_the_api_and_ignores_the_prs(stub, tmp_path, monkeypatch, capsys):
    pr = add_simple_pull(stub, REPO, make_pr(5, association="MEMBER"), [("src/a.py", 3)])
    base_sha = pr["base"]["sha"]
    stub.repo(REPO).contents[(base_sha, ".triage.toml")] = STRICT
    checkout = tmp_path / "checkout"  # the PR's merge commit, no git history
    checkout.mkdir()
    (checkout / ".triage.toml").write_text(LOOSE)
    monkeypatch.chdir(checkout)
    assert run_ci(ci_env(stub, tmp_path, pr, checkout)) == 1  # the base's gate held
    err = capsys.readouterr().err
    assert "fail_on matched review" in err
    assert f"ignoring [ci] fail_on = [] in CI: policy comes from base {base_sha[:12]}:.triage.toml" in err
    assert "ignoring [llm] base_url" in err
    assert f"/repos/{REPO}/contents/.triage.toml" in contents_reads(stub)


def test_ci_reads_the_base_config_from_the_git_checkout_when_it_has_the_commit(stub, tmp_path, monkeypatch, capsys):
    git = ScratchRepo.create(tmp_path)
    git.write(".triage.toml", STRICT)
    git.write("src/a.py", "x = 1\n")
    base_sha = git.commit("base")
    git.write(".triage.toml", LOOSE)  # what the PR changed, in the working tree
    git.commit("pr: relax the gate")
    pr = add_simple_pull(stub, REPO, make_pr(6, association="MEMBER", base_sha=base_sha), [("src/a.py", 3)])
    monkeypatch.chdir(git.root)
    assert run_ci(ci_env(stub, tmp_path, pr, git.root)) == 1
    assert "ignoring [ci] fail_on = []" in capsys.readouterr().err
    # The stub has no contents at all: had the API been asked, the gate would be off.
    assert not any(p.endswith("/contents/.triage.toml") for p in contents_reads(stub))


def test_ci_with_an_explicit_config_uses_it(stub, tmp_path, monkeypatch):
    pr = add_simple_pull(stub, REPO, make_pr(7, association="MEMBER"), [("src/a.py", 3)])
    stub.repo(REPO).contents[(pr["base"]["sha"], ".triage.toml")] = STRICT
    policy = tmp_path / "policy.toml"
    policy.write_text("[ci]\nfail_on = []\n")
    monkeypatch.chdir(tmp_path)
    env = ci_env(stub, tmp_path, pr, tmp_path)
    assert main(["ci", "--llm", "off", "--now", NOW.isoformat(), "--config", str(policy)], environ=env) == 0
    assert contents_reads(stub) == [] or all("/.triage.toml" not in p for p in contents_reads(stub))


def test_github_batch_reads_the_default_branchs_config(stub, tmp_path, monkeypatch):
    add_simple_pull(stub, REPO, make_pr(8, association="MEMBER"), [("src/a.py", 3)])
    head = stub.repo(REPO).head_sha
    # The default branch keeps stale closing off; the working directory would close everything.
    stub.repo(REPO).contents[(head, ".triage.toml")] = b"[stale]\nenabled = false\n"
    (tmp_path / ".triage.toml").write_text("[stale]\nwarn_days = 1\nclose_days = 1\n")
    monkeypatch.chdir(tmp_path)
    out = StringIO()
    code = main(
        ["github", "--repo", REPO, "--api-url", stub.url, "--llm", "off", "--out", str(tmp_path / "o")],
        environ={"GITHUB_TOKEN": TOKEN, "TRIAGE_CACHE_DIR": str(tmp_path / "cache")},
        console=Console(file=out, width=200),
    )
    assert code == 0
    queue = json.loads((tmp_path / "o" / "queue.json").read_text())
    assert queue["config"]["stale"]["enabled"] is False
    assert queue["config"]["stale"]["warn_days"] == 30

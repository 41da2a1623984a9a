"""`triage ci` end to end against the loopback GitHub stub, with the real webhook payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from github_stub import BOT_USER, GitHubStub, add_simple_pull, make_pr, text_file

from triage.config import CacheConfig, CIConfig, Config
from triage.errors import GateFailed, UsageError
from triage.github.ci import run_ci
from triage.github.convert import STICKY_MARKER

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT.parent / "shared" / "data" / "github" / "events"
needs_shared = pytest.mark.skipif(
    not EVENTS.is_dir(),
    reason=f"real webhook payloads not found at {EVENTS} (../shared is absent in a plain clone)",
)
EVENT_FILES = sorted(p.name for p in EVENTS.glob("*.json")) if EVENTS.is_dir() else []
TOKEN = "ghs_stub_token_do_not_leak"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PAYLOAD_NOW = datetime(2019, 5, 16, 9, 0, tzinfo=UTC)  # a day after the real payloads' PR opened
REPO = "octo/widgets"


@pytest.fixture
def stub():
    with GitHubStub(token=TOKEN) as gh:
        yield gh


def env_for(stub: GitHubStub, tmp_path: Path, event: dict, repo: str, name: str = "pull_request_target") -> dict:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    return {
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_EVENT_NAME": name,
        "GITHUB_REPOSITORY": repo,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": stub.url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def run(cfg: Config, env: dict, now: datetime = NOW) -> int:
    return run_ci(cfg, env, http_client=httpx.Client(), now=now, sleep=lambda s: None)


def comments(stub: GitHubStub, repo: str, number: int) -> list[dict]:
    return stub.repo(repo).comments.get(number, [])


def labels(stub: GitHubStub, repo: str, number: int) -> list[str]:
    return [lb["name"] for lb in stub.repo(repo).pulls[number]["labels"]]


def event_for(pr: dict, action: str = "opened") -> dict:
    return {
        "action": action,
        "number": pr["number"],
        "pull_request": pr,
        "repository": pr["base"]["repo"],
        "sender": pr["user"],
    }


# ------------------------------------------------------------------------ real payloads


@needs_shared
@pytest.mark.parametrize("name", EVENT_FILES)
def test_each_real_event_payload(stub, cfg, tmp_path, name):
    event = json.loads((EVENTS / name).read_text())
    repo = event["repository"]["full_name"]
    pr = event["pull_request"]
    add_simple_pull(stub, repo, pr, [("README.md", 3)])
    add_simple_pull(stub, repo, make_pr(3, repo=repo, login="octocat"), [("src/other.py", 12)])
    env = env_for(stub, tmp_path, event, repo)

    assert run(cfg, env, PAYLOAD_NOW) == 0

    if event["action"] == "closed":
        assert stub.requests == []  # a closed PR is left alone, not even read
        assert not Path(env["GITHUB_STEP_SUMMARY"]).exists()
        return
    posted = comments(stub, repo, 2)
    assert len(posted) == 1 and posted[0]["body"].startswith(STICKY_MARKER)
    assert not comments(stub, repo, 3)  # CI writes only on the event's PR
    pr_labels = labels(stub, repo, 2)
    assert "bug" in pr_labels  # not ours: untouched
    assert sum(lb.startswith("triage/") for lb in pr_labels) == 1
    assert ("triage/skipped" in pr_labels) == pr["draft"]  # converted_to_draft: skipped, still commented
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "#2" in summary or "Update the README" in summary
    # The base snapshot was read at the PR's base sha, never at its head.
    refs = {r.query["ref"][0] for r in stub.requests if "/contents/" in r.path}
    assert refs <= {pr["base"]["sha"]}
    assert all(TOKEN not in json.dumps(r.body) for r in stub.writes)


@needs_shared
def test_null_body_payload_is_triaged(stub, cfg, tmp_path):
    event = json.loads((EVENTS / "pull_request.opened.with-null-body.json").read_text())
    repo = event["repository"]["full_name"]
    add_simple_pull(stub, repo, event["pull_request"], [("README.md", 1)])
    assert run(cfg, env_for(stub, tmp_path, event, repo), PAYLOAD_NOW) == 0
    assert len(comments(stub, repo, 2)) == 1


# ------------------------------------------------------------------------- behaviour


def test_second_run_edits_the_comment_and_third_run_writes_nothing(stub, cfg, tmp_path):
    pr = add_simple_pull(stub, REPO, make_pr(5, association="MEMBER"), [("src/a.py", 4)])
    env = env_for(stub, tmp_path, event_for(pr), REPO)
    assert run(cfg, env) == 0
    first = comments(stub, REPO, 5)
    assert len(first) == 1
    comment_id = first[0]["id"]

    # A push makes the PR much bigger: the report changes, the comment is edited in place.
    entry, stanza = text_file("src/a.py", 700)
    stub.repo(REPO).files[5] = [entry]
    stub.repo(REPO).diffs[5] = stanza.encode()
    env = env_for(stub, tmp_path, event_for(pr, "synchronize"), REPO)
    stub.requests.clear()
    assert run(cfg, env) == 0
    assert [c["id"] for c in comments(stub, REPO, 5)] == [comment_id]
    methods = [(r.method, r.path) for r in stub.writes]
    assert ("PATCH", f"/repos/{REPO}/issues/comments/{comment_id}") in methods
    assert not [m for m in methods if m[0] == "POST" and m[1].endswith("/comments")]
    assert "size/XL" in labels(stub, REPO, 5)
    assert "size/S" not in labels(stub, REPO, 5)  # our stale size label was removed

    stub.requests.clear()
    assert run(cfg, env) == 0
    assert stub.writes == []  # nothing changed: nothing written


def test_override_labels_and_foreign_labels_are_never_removed(stub, cfg, tmp_path):
    pr = add_simple_pull(
        stub,
        REPO,
        make_pr(6, labels=("triage/override-size", "size/XXL", "risk/high", "help wanted")),
        [("src/a.py", 3)],
    )
    assert run(cfg, env_for(stub, tmp_path, event_for(pr), REPO)) == 0
    now = labels(stub, REPO, 6)
    assert "triage/override-size" in now and "help wanted" in now
    assert "size/XXL" not in now


def test_a_pasted_marker_in_a_human_comment_is_not_ours(stub, cfg, tmp_path):
    pr = add_simple_pull(stub, REPO, make_pr(7), [("src/a.py", 3)])
    stub.add_comment(REPO, 7, f"{STICKY_MARKER} I am not the bot", {"login": "mallory", "type": "User"})
    assert run(cfg, env_for(stub, tmp_path, event_for(pr), REPO)) == 0
    bodies = comments(stub, REPO, 7)
    assert bodies[0]["body"] == f"{STICKY_MARKER} I am not the bot"
    assert len(bodies) == 2 and bodies[1]["user"] == BOT_USER


def test_fail_on_raises_after_every_side_effect(stub, tmp_path):
    cfg = Config(cache=CacheConfig(dir=str(tmp_path / "c")), llm_mode="off", ci=CIConfig(fail_on=("review",)))
    pr = add_simple_pull(stub, REPO, make_pr(8, association="MEMBER"), [("src/a.py", 3)])
    env = env_for(stub, tmp_path, event_for(pr), REPO)
    with pytest.raises(GateFailed, match=r"PR #8: \[ci\] fail_on matched review") as info:
        run(cfg, env)
    assert info.value.exit_code == 1
    assert len(comments(stub, REPO, 8)) == 1
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_fail_on_input_from_the_action_overrides_config(stub, tmp_path, capsys):
    """The action passes its `fail-on` input as TRIAGE_FAIL_ON; the config loader applies it."""
    from triage.cli import main

    pr = add_simple_pull(stub, REPO, make_pr(9, association="MEMBER"), [("src/a.py", 3)])
    env = env_for(stub, tmp_path, event_for(pr), REPO) | {
        "TRIAGE_FAIL_ON": "needs-split, review",
        "TRIAGE_CACHE_DIR": str(tmp_path / "cache"),
    }
    assert main(["ci", "--llm", "off", "--now", NOW.isoformat()], environ=env) == 1
    assert "review" in capsys.readouterr().err


def test_read_only_token_still_writes_the_summary_and_exits_by_the_gates(stub, cfg, tmp_path):
    pr = add_simple_pull(stub, REPO, make_pr(10), [("src/a.py", 3)])
    denied = {"message": "Resource not accessible by integration"}
    stub.fail("POST", r"/issues/10/", 403, body=denied, times=5)
    env = env_for(stub, tmp_path, event_for(pr), REPO, name="pull_request")
    assert run(cfg, env) == 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "could not comment on #10" in summary


def test_rate_limits_and_5xx_during_ci_are_waited_out(stub, cfg, tmp_path):
    pr = add_simple_pull(stub, REPO, make_pr(11), [("src/a.py", 3)])
    stub.fail("GET", r"/pulls$", 429, headers={"retry-after": "2"})
    stub.fail("GET", r"/issues/11/comments$", 502)
    stub.fail(
        "POST",
        r"/issues/11/comments$",
        403,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    sleeps: list[float] = []
    env = env_for(stub, tmp_path, event_for(pr), REPO)
    assert run_ci(cfg, env, http_client=httpx.Client(), now=NOW, sleep=sleeps.append) == 0
    assert sleeps[:3] == [2.0, 1.0, 1.0]  # retry-after, 5xx backoff, retry-after on the comment
    assert sleeps[3:] and all(0 < s <= 1.0 for s in sleeps[3:])  # writes paced a second apart
    assert len(comments(stub, REPO, 11)) == 1


def test_a_pr_with_350_files_is_read_through_the_files_endpoint(stub, cfg, tmp_path):
    entries = [text_file(f"pkg/m{i}.py", 1)[0] for i in range(350)]
    pr = stub.add_pull(REPO, make_pr(12, association="MEMBER"), files=entries)
    assert run(cfg, env_for(stub, tmp_path, event_for(pr), REPO)) == 0
    assert len([r for r in stub.requests if r.path.endswith("/pulls/12/files")]) == 4
    assert any(r.status == 406 for r in stub.requests)


def test_non_pr_events_and_missing_environment_are_usage_errors(stub, cfg, tmp_path):
    env = env_for(stub, tmp_path, {"ref": "refs/heads/main"}, REPO, name="push")
    with pytest.raises(UsageError, match="push has no pull_request"):
        run(cfg, env)
    with pytest.raises(UsageError, match="GITHUB_EVENT_PATH is not set"):
        run(cfg, {})


def test_cli_wiring_runs_ci(stub, tmp_path, monkeypatch):
    from triage.cli import main

    pr = add_simple_pull(stub, REPO, make_pr(13), [("src/a.py", 3)])
    env = env_for(stub, tmp_path, event_for(pr), REPO) | {"TRIAGE_CACHE_DIR": str(tmp_path / "c")}
    monkeypatch.chdir(tmp_path)  # no stray config file from the repository
    assert main(["ci", "--llm", "off", "--now", NOW.isoformat()], environ=env) == 0
    assert len(comments(stub, REPO, 13)) == 1


# --------------------------------------------------------------------------- action.yml


def test_action_is_a_composite_that_installs_itself_and_runs_triage_ci():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"config", "llm", "fail-on"}
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    scripts = [s["run"] for s in steps if "run" in s]
    assert any("pip install" in s and '"$GITHUB_ACTION_PATH"' in s for s in scripts)
    assert any("triage" in s and "ci" in s for s in scripts)
    for script in scripts:  # inputs only through env: no expression injection into the shell
        assert "${{" not in script

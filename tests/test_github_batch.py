"""`triage github --repo` against the loopback stub: dry run, --apply, resume."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
import pytest
from github_stub import GitHubStub, Recorded, add_simple_pull, make_pr, text_file
from rich.console import Console

from triage.config import Config
from triage.errors import GitHubError
from triage.github.batch import run_batch
from triage.github.client import GitHubClient
from triage.github.comment import ActionKind, PlannedAction, apply_action
from triage.github.convert import STALE_MARKER, STICKY_MARKER
from triage.models import DecisionKind

REPO = "octo/widgets"
TOKEN = "ghs_stub_token_do_not_leak"
NOW = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def stub():
    with GitHubStub(token=TOKEN, viewer="triage-maintainer") as gh:
        repo = gh.repo(REPO)
        repo.contents[(repo.head_sha, ".github/CODEOWNERS")] = b"* @carol\n"
        # A small PR by a member, recent: straight into the review queue.
        add_simple_pull(
            gh, REPO, make_pr(1, association="MEMBER", created_at="2024-08-30T10:00:00Z"), [("src/small.py", 8)]
        )
        # A very large one: needs to be split.
        add_simple_pull(
            gh,
            REPO,
            make_pr(2, login="bob", association="MEMBER", created_at="2024-08-29T10:00:00Z"),
            [("src/huge.py", 1500)],
        )
        # Untouched by any human for months: stale, to be closed.
        add_simple_pull(
            gh,
            REPO,
            make_pr(3, login="dave", association="MEMBER", created_at="2024-05-01T10:00:00Z"),
            [("src/old.py", 4)],
        )
        # ... and warned by us a month ago, long enough for the close (close_days = 15).
        gh.add_comment(
            REPO, 3, f"{STALE_MARKER}\nno activity", {"login": "triage-maintainer"}, created_at="2024-08-01T00:00:00Z"
        )
        # 350 files: read through the files endpoint; our stale label must go, the override stays.
        entries = [text_file(f"pkg/m{i}.py", 1)[0] for i in range(350)]
        gh.add_pull(
            REPO,
            make_pr(
                4,
                login="erin",
                association="MEMBER",
                created_at="2024-08-28T10:00:00Z",
                labels=("size/XS", "triage/override-size"),
            ),
            files=entries,
        )
        # A draft.
        add_simple_pull(
            gh,
            REPO,
            make_pr(5, login="frank", association="MEMBER", draft=True, created_at="2024-08-31T10:00:00Z"),
            [("docs/x.md", 3)],
        )
        yield gh


def batch(stub: GitHubStub, cfg: Config, *, apply: bool, out_dir=None, console=None, progress=None):
    return run_batch(
        cfg,
        REPO,
        api_url=stub.url,
        token=TOKEN,
        apply=apply,
        out_dir=out_dir,
        http_client=httpx.Client(),
        console=console,
        now=NOW,
        progress=progress,
        sleep=lambda s: None,
    )


def expected_writes(plan: list[PlannedAction]) -> list[tuple[str, str]]:
    """The HTTP writes each planned action stands for."""
    out: list[tuple[str, str]] = []
    for a in plan:
        if a.kind is ActionKind.COMMENT:
            out.append(("POST", f"/repos/{REPO}/issues/{a.number}/comments"))
        elif a.kind is ActionKind.EDIT_COMMENT:
            out.append(("PATCH", f"/repos/{REPO}/issues/comments/{a.comment_id}"))
        elif a.kind is ActionKind.ADD_LABELS:
            out.append(("POST", f"/repos/{REPO}/issues/{a.number}/labels"))
        elif a.kind is ActionKind.REMOVE_LABELS:
            out += [("DELETE", f"/repos/{REPO}/issues/{a.number}/labels/{lb}") for lb in a.labels]
        elif a.kind is ActionKind.CLOSE:
            out.append(("PATCH", f"/repos/{REPO}/pulls/{a.number}"))
    return out


def writes(records: list[Recorded]) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in records if r.method != "GET"]


def test_dry_run_writes_nothing_and_prints_the_plan(stub, cfg, tmp_path):
    out = io.StringIO()
    seen: list[str] = []
    queue, plan = batch(
        stub,
        cfg,
        apply=False,
        out_dir=tmp_path / "out",
        console=Console(file=out, width=200),
        progress=lambda pr: seen.append(pr.id),
    )
    assert stub.writes == []
    assert sorted(seen) == ["1", "2", "3", "4", "5"]
    assert len(queue.items) == 5
    assert plan, "a first run has comments and labels to write"
    printed = out.getvalue()
    for action in plan:
        assert f"would do: #{action.number} {action.kind.value}: {action.summary}" in printed
    assert "--apply" in printed
    assert (tmp_path / "out" / "queue.json").is_file()
    # every PR gets exactly one comment and its labels; only CLOSE decisions are closed
    assert sorted(a.number for a in plan if a.kind is ActionKind.COMMENT) == [1, 2, 3, 4, 5]
    decisions = {i.pr.number: i.decision.kind for i in queue.items}
    assert decisions == {
        1: DecisionKind.REVIEW,
        2: DecisionKind.NEEDS_SPLIT,
        3: DecisionKind.CLOSE,
        4: DecisionKind.REVIEW,
        5: DecisionKind.SKIPPED,
    }
    assert [a.number for a in plan if a.kind is ActionKind.CLOSE] == [3]  # stale; never needs-split
    # the close comes after the comment that explains it
    kinds3 = [a.kind for a in plan if a.number == 3]
    assert kinds3.index(ActionKind.COMMENT) < kinds3.index(ActionKind.CLOSE)
    removed = [a for a in plan if a.kind is ActionKind.REMOVE_LABELS]
    assert all("triage/override-size" not in a.labels for a in removed)


def test_apply_performs_exactly_what_the_dry_run_announced(stub, cfg):
    _, dry_plan = batch(stub, cfg, apply=False)
    stub.requests.clear()
    _, plan = batch(stub, cfg, apply=True)
    assert plan == dry_plan
    assert writes(stub.requests) == expected_writes(plan)
    for number in range(1, 6):
        sticky = [c for c in stub.repo(REPO).comments[number] if STALE_MARKER not in c["body"]]
        assert len(sticky) == 1 and sticky[0]["body"].startswith(STICKY_MARKER)
        assert sticky[0]["user"]["login"] == "triage-maintainer"
    labels4 = [lb["name"] for lb in stub.repo(REPO).pulls[4]["labels"]]
    assert "triage/override-size" in labels4 and "size/XS" not in labels4

    # Run again: everything is in place, nothing to write (the PAT's comments are found as ours).
    stub.requests.clear()
    _, again = batch(stub, cfg, apply=True)
    assert again == [] and stub.writes == []


@pytest.mark.slow
def test_a_killed_apply_resumes_without_duplicating_anything(stub, cfg):
    _, plan = batch(stub, cfg, apply=False)
    half = len(plan) // 2
    client = GitHubClient(stub.url, TOKEN, http_client=httpx.Client())
    for action in plan[:half]:  # the first run died after half of its writes
        apply_action(client, REPO, action)
    stub.requests.clear()
    _, rest = batch(stub, cfg, apply=True)
    assert rest == plan[half:]
    assert writes(stub.requests) == expected_writes(rest)
    for number in range(1, 6):
        assert len([c for c in stub.repo(REPO).comments[number] if STICKY_MARKER in c["body"]]) == 1


def test_a_failed_write_costs_only_its_pr_and_the_next_run_finishes_the_job(stub, cfg):
    _, plan = batch(stub, cfg, apply=False)
    stub.fail("POST", r"/issues/2/comments$", 500, times=5)  # every attempt of PR 2's comment fails
    with pytest.raises(GitHubError, match=r"writes for 1 PRs failed .*other writes were done.*#2 comment"):
        batch(stub, cfg, apply=True)
    done = writes(stub.requests)
    pr2 = [(method, path) for method, path in done if "/issues/2/" in path or path.endswith("/pulls/2")]
    assert pr2 and all(path.endswith("/issues/2/comments") for _, path in pr2)  # no label, no close
    assert expected_writes([a for a in plan if a.number != 2]) == [
        w for w in done if "/issues/2/" not in w[1] and "/pulls/2" not in w[1]
    ]
    stub.requests.clear()
    _, rest = batch(stub, cfg, apply=True)
    assert {a.number for a in rest} == {2}
    assert rest == [a for a in plan if a.number == 2]
    assert len(stub.repo(REPO).comments[2]) == 1


def test_an_exhausted_rate_limit_stops_the_writes_at_once(stub, cfg):
    stub.fail("POST", r"/comments$", 403, headers={"retry-after": "7200"})  # beyond max_wait
    with pytest.raises(GitHubError, match="would need to wait 7200s"):
        batch(stub, cfg, apply=True)
    assert len(stub.writes) == 1  # the one refused write; nothing else was tried


def test_a_rate_limit_that_never_lifts_stops_the_writes_after_one_pr(stub, cfg):
    stub.fail("POST", r"/comments$", 403, headers={"retry-after": "60"}, times=100)
    with pytest.raises(GitHubError, match=r"stopped after 0 of \d+ writes.*still rate limited after 5 attempts"):
        batch(stub, cfg, apply=True)
    assert len(stub.writes) == 5  # one PR's attempts, not five for every PR


def test_rate_limits_and_server_errors_do_not_break_the_batch(stub, cfg):
    stub.fail("GET", r"/pulls$", 429, headers={"retry-after": "5"})
    stub.fail("GET", r"/issues/2/timeline$", 502, times=2)
    stub.fail(
        "GET",
        r"/pulls/3/files$|/pulls/3$",
        403,
        headers={"retry-after": "4"},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    queue, _ = batch(stub, cfg, apply=False)
    assert len(queue.items) == 5 and not any(i.errors for i in queue.items)
    assert stub.writes == []


def test_cli_wiring_dry_run(stub, tmp_path, monkeypatch):
    from triage.cli import main

    monkeypatch.chdir(tmp_path)  # no stray config file from the repository
    out = io.StringIO()
    env = {"GITHUB_TOKEN": TOKEN, "TRIAGE_CACHE_DIR": str(tmp_path / "c")}
    code = main(
        [
            "github",
            "--repo",
            REPO,
            "--api-url",
            stub.url,
            "--out",
            str(tmp_path / "out"),
            "--llm",
            "off",
            "--now",
            NOW.isoformat(),
        ],
        environ=env,
        console=Console(file=out, width=200),
    )
    assert code == 0
    assert stub.writes == []
    assert "would do: #3 close" in out.getvalue()
    assert (tmp_path / "out" / "queue.md").is_file()


# ------------------------------------------------------------- needs-rebase (issue #11, flood)


def test_a_dirty_pr_needs_rebase_gets_the_label_and_loses_it_once_it_applies(stub, cfg):
    # Conflicting with main: GitHub says so on the single-PR object only (the list omits it).
    add_simple_pull(
        stub,
        REPO,
        make_pr(
            6,
            login="gina",
            association="MEMBER",
            created_at="2024-08-30T12:00:00Z",
            mergeable=False,
            mergeable_state="dirty",
        ),
        [("src/conflict.py", 3)],
    )
    queue, _ = batch(stub, cfg, apply=True)
    item = next(i for i in queue.items if i.pr.number == 6)
    assert item.pr.mergeable is False and item.pr.mergeable_state == "dirty"
    assert item.decision.kind is DecisionKind.THROTTLED and item.rank is None
    (reason,) = item.decision.reasons
    assert reason.rule == "needs-rebase" and "mergeable_state: dirty" in reason.message
    assert any(r.method == "GET" and r.path == f"/repos/{REPO}/pulls/6" for r in stub.requests)
    labels = {lb["name"] for lb in stub.repos[REPO].pulls[6]["labels"]}
    assert {"needs-rebase", "triage/throttled"} <= labels

    # The author rebased: GitHub now says clean, and the next run takes the label away again.
    stub.repos[REPO].pulls[6].update(mergeable=True, mergeable_state="clean")
    queue, _ = batch(stub, cfg, apply=True)
    item = next(i for i in queue.items if i.pr.number == 6)
    assert item.decision.kind is DecisionKind.REVIEW and item.rank is not None
    assert "needs-rebase" not in {lb["name"] for lb in stub.repos[REPO].pulls[6]["labels"]}


def test_merge_state_still_unknown_never_holds_a_pr(stub, cfg):
    # GitHub answers `mergeable: null` while it computes the merge: unknown is not a conflict.
    pr = make_pr(7, login="hal", association="MEMBER", created_at="2024-08-30T12:00:00Z")
    add_simple_pull(stub, REPO, pr, [("src/a.py", 3)])
    queue, _ = batch(stub, cfg, apply=False)
    item = next(i for i in queue.items if i.pr.number == 7)
    assert item.pr.mergeable is None and item.pr.mergeable_state == "unknown"
    assert item.decision.kind is DecisionKind.REVIEW
    assert "needs-rebase" not in item.decision.labels

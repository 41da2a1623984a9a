"""The GitHub REST client against a real loopback HTTP server (tests/github_stub.py)."""

from __future__ import annotations

import httpx
import pytest
from github_stub import GitHubStub, add_simple_pull, make_pr, text_file

from triage.config import Config
from triage.errors import GitHubError
from triage.github.client import (
    GitHubClient,
    RateLimitExceeded,
    RetryPolicy,
    SqliteEtagStore,
    _next_link,
    split_repo,
)
from triage.github.fetch import fetch_diff, fetch_pull
from triage.github.tree import ContentsTree

REPO = "octo/widgets"
TOKEN = "ghs_stub_token_do_not_leak"


class Sleeps:
    """An injected `sleep` that records instead of waiting: tests stay instant."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def stub():
    with GitHubStub(token=TOKEN) as gh:
        gh.repo(REPO)
        yield gh


def client_for(stub: GitHubStub, sleeps: Sleeps | None = None, **kwargs) -> GitHubClient:
    return GitHubClient(stub.url, TOKEN, http_client=httpx.Client(), sleep=sleeps or Sleeps(), **kwargs)


def test_open_pulls_follow_link_pagination_100_per_page(stub):
    for n in range(1, 251):
        stub.add_pull(REPO, make_pr(n))
    numbers = [p["number"] for p in client_for(stub).open_pulls(REPO)]
    assert numbers == list(range(1, 251))
    pages = [r for r in stub.requests if r.path == f"/repos/{REPO}/pulls"]
    assert len(pages) == 3
    assert all(r.query["per_page"] == ["100"] for r in pages)
    assert pages[0].query["state"] == ["open"]
    assert [r.query.get("page") for r in pages] == [None, ["2"], ["3"]]


def test_a_pr_seen_on_two_pages_is_listed_once(stub):
    for n in (1, 2, 3):
        stub.add_pull(REPO, make_pr(n))
    # The first page is served, then PR 1 closes... and the next page starts again at PR 1.
    next_page = f'<{stub.url}/repos/{REPO}/pulls?state=open&per_page=100&page=1>; rel="next"'
    stub.fail("GET", r"/pulls$", 200, headers={"link": next_page}, body=[make_pr(1), make_pr(2)])
    assert [p["number"] for p in client_for(stub).open_pulls(REPO)] == [1, 2, 3]


def test_closed_pulls_are_not_listed(stub):
    stub.add_pull(REPO, make_pr(1))
    closed = make_pr(2)
    closed["state"] = "closed"
    stub.add_pull(REPO, closed)
    assert [p["number"] for p in client_for(stub).open_pulls(REPO)] == [1]


def test_pr_with_350_files_falls_back_from_diff_media_type_to_paginated_files(stub):
    entries = [text_file(f"pkg/mod{i}.py", 2)[0] for i in range(350)]
    stub.add_pull(REPO, make_pr(7), files=entries)
    client = client_for(stub)
    assert client.pull_diff(REPO, 7) is None  # GitHub answers 406 above 300 files
    diff, errors = fetch_diff(client, REPO, 7)
    assert errors == ()
    assert diff.count(b"diff --git ") == 350
    assert b"+++ b/pkg/mod349.py" in diff
    file_pages = [r for r in stub.requests if r.path == f"/repos/{REPO}/pulls/7/files"]
    assert len(file_pages) == 4  # 100 + 100 + 100 + 50
    assert any(r.status == 406 for r in stub.requests if r.path == f"/repos/{REPO}/pulls/7")


def test_files_beyond_githubs_3000_cap_are_reported_as_incomplete(stub):
    entries = [text_file(f"f{i}.txt", 1)[0] for i in range(3005)]
    stub.add_pull(REPO, make_pr(8), files=entries)
    diff, errors = fetch_diff(client_for(stub), REPO, 8)
    assert diff.count(b"diff --git ") == 3000
    assert len(errors) == 1 and "3000" in errors[0] and "#8" in errors[0]


def test_small_pr_uses_the_diff_media_type_in_one_request(stub):
    add_simple_pull(stub, REPO, make_pr(3), [("src/a.py", 3)])
    diff, _ = fetch_diff(client_for(stub), REPO, 3)
    assert diff.startswith(b"diff --git a/src/a.py b/src/a.py\n")
    diff_requests = [r for r in stub.requests if r.path.endswith("/pulls/3")]
    assert len(diff_requests) == 1
    assert diff_requests[0].headers["accept"] == "application/vnd.github.diff"
    assert not [r for r in stub.requests if r.path.endswith("/files")]


def test_secondary_rate_limits_and_502_are_waited_out_and_retried(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls$", 429, headers={"retry-after": "7"})
    stub.fail(
        "GET",
        r"/pulls$",
        403,
        headers={"retry-after": "3"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    stub.fail("GET", r"/pulls$", 502)
    sleeps = Sleeps()
    numbers = [p["number"] for p in client_for(stub, sleeps).open_pulls(REPO)]
    assert numbers == [1]
    assert sleeps.calls == [7.0, 3.0, 1.0]
    statuses = [r.status for r in stub.requests if r.path.endswith("/pulls")]
    assert statuses == [429, 403, 502, 200]


def test_retry_after_as_an_http_date_is_honoured(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls/1$", 429, headers={"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"})
    sleeps = Sleeps()
    client = client_for(stub, sleeps, clock=lambda: 1_700_000_000.0)  # 22:13:20Z that day
    assert client.pull(REPO, 1)["number"] == 1
    assert sleeps.calls == [30.0]


def test_secondary_limit_without_retry_after_waits_a_minute(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls/1$", 403, body={"message": "You have exceeded a secondary rate limit"})
    sleeps = Sleeps()
    assert client_for(stub, sleeps).pull(REPO, 1)["number"] == 1
    assert sleeps.calls == [60.0]


def test_5xx_retries_are_bounded_with_backoff(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls/1$", 502, times=10)
    sleeps = Sleeps()
    with pytest.raises(GitHubError) as info:
        client_for(stub, sleeps, retry=RetryPolicy(max_attempts=4)).pull(REPO, 1)
    assert sleeps.calls == [1.0, 2.0, 4.0]
    message = info.value.format_message()
    assert message == f"GitHub GET /repos/{REPO}/pulls/1: HTTP 502 (stub fault 502) after 4 attempts"
    assert "\n" not in info.value.message


def test_retry_after_beyond_max_wait_fails_instead_of_hanging(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls/1$", 429, headers={"retry-after": "3600"})
    sleeps = Sleeps()
    with pytest.raises(RateLimitExceeded, match=r"GET /repos/octo/widgets/pulls/1: secondary rate limit"):
        client_for(stub, sleeps, retry=RetryPolicy(max_wait=600)).pull(REPO, 1)
    assert sleeps.calls == []


def test_exhausted_primary_limit_waits_until_reset_before_the_next_request(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail(
        "GET", r"/pulls/1$", 200, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"}, body=make_pr(1)
    )
    sleeps = Sleeps()
    client = client_for(stub, sleeps, clock=lambda: 1000.0)
    client.pull(REPO, 1)
    assert sleeps.calls == []
    client.pull(REPO, 1)
    assert sleeps.calls == [31.0]  # until reset, plus one second of margin


def test_primary_limit_403_with_reset_too_far_is_a_clear_error(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail(
        "GET",
        r"/pulls/1$",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9000"},
        body={"message": "API rate limit exceeded"},
    )
    with pytest.raises(RateLimitExceeded, match="primary rate limit exhausted"):
        client_for(stub, clock=lambda: 1000.0).pull(REPO, 1)


def test_permission_403_is_not_retried(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("POST", r"/comments$", 403, body={"message": "Resource not accessible by integration"})
    sleeps = Sleeps()
    with pytest.raises(GitHubError) as info:
        client_for(stub, sleeps).create_comment(REPO, 1, "hello")
    assert sleeps.calls == []
    assert info.value.format_message() == (
        f"GitHub POST /repos/{REPO}/issues/1/comments: HTTP 403 (Resource not accessible by integration)"
    )


def test_connection_errors_are_retried_then_translated():
    sleeps = Sleeps()
    client = GitHubClient(
        "http://127.0.0.1:9",
        TOKEN,
        http_client=httpx.Client(timeout=2),
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=2),
    )
    with pytest.raises(GitHubError, match=r"GET /repos/octo/widgets/pulls/1: ConnectError after 2 attempts"):
        client.pull(REPO, 1)
    assert sleeps.calls == [1.0]


def test_token_never_appears_in_errors_or_repr(stub):
    stub.add_pull(REPO, make_pr(1))
    stub.fail("GET", r"/pulls/1$", 500, times=10)
    client = client_for(stub, retry=RetryPolicy(max_attempts=2))
    assert TOKEN not in repr(client)
    assert TOKEN not in str(vars(client))
    with pytest.raises(GitHubError) as info:
        client.pull(REPO, 1)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert TOKEN not in repr(info.value.__cause__)
    # ... and it was sent, as a bearer token, on every request
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in stub.requests)


def test_bad_token_is_one_line_error_without_the_token(stub):
    client = GitHubClient(stub.url, "ghp_wrong_secret_value", http_client=httpx.Client(), sleep=Sleeps())
    with pytest.raises(GitHubError) as info:
        list(client.open_pulls(REPO))
    assert info.value.format_message() == f"GitHub GET /repos/{REPO}/pulls: HTTP 401 (Bad credentials)"
    assert "ghp_wrong_secret_value" not in str(info.value)


def test_etag_conditional_requests_reuse_the_cached_body(stub):
    for n in range(1, 121):
        stub.add_pull(REPO, make_pr(n))
    client = client_for(stub)
    first = [p["number"] for p in client.open_pulls(REPO)]
    second = [p["number"] for p in client.open_pulls(REPO)]
    assert first == second == list(range(1, 121))  # pagination still works from cached pages
    conditional = [r for r in stub.requests if "if-none-match" in r.headers]
    assert len(conditional) == 2 and all(r.status == 304 for r in conditional)


def test_etags_persist_across_clients_in_sqlite(stub, tmp_path):
    add_simple_pull(stub, REPO, make_pr(1))
    store = SqliteEtagStore(tmp_path / "etags.sqlite")
    client_for(stub, etags=store).pull_diff(REPO, 1)
    store.close()
    store = SqliteEtagStore(tmp_path / "etags.sqlite")
    diff = client_for(stub, etags=store).pull_diff(REPO, 1)
    assert diff is not None and diff.startswith(b"diff --git")
    assert [r.status for r in stub.requests] == [200, 304]


def test_contents_api_reads_base64_and_404_is_none(stub):
    stub.repo(REPO).contents[("abc123", ".github/CODEOWNERS")] = b"* @octo/core\n"
    client = client_for(stub)
    assert client.file_contents(REPO, ".github/CODEOWNERS", "abc123") == b"* @octo/core\n"
    assert client.file_contents(REPO, "CODEOWNERS", "abc123") is None
    assert [r.query["ref"] for r in stub.requests] == [["abc123"], ["abc123"]]


def test_contents_tree_memoises_budgets_and_refuses_escaping_paths(stub):
    repo = stub.repo(REPO)
    repo.contents[("sha1", "CODEOWNERS")] = b"* @a\n"
    repo.contents[("sha1", "src/a.py")] = b"x = 1\n"
    repo.contents[("sha1", "src/b.py")] = b"y = 2\n"
    tree = ContentsTree(client_for(stub), REPO, "sha1", file_budget=1)
    assert tree.read("src/a.py") == b"x = 1\n"
    assert tree.read("src/a.py") == b"x = 1\n"  # memoised: one request
    assert tree.read("src/b.py") is None  # over budget: callers fall back to hunks
    assert tree.read("CODEOWNERS") == b"* @a\n"  # routing files are always read
    assert tree.read("../../etc/passwd") is None
    assert [r.path.rsplit("/", 1)[-1] for r in stub.requests] == ["a.py", "CODEOWNERS"]


def test_writes_and_label_removal_tolerates_missing_labels(stub):
    stub.add_pull(REPO, make_pr(4, labels=("size/XS",)))
    client = client_for(stub)
    comment = client.create_comment(REPO, 4, "hi")
    client.update_comment(REPO, comment["id"], "hello")
    client.add_labels(REPO, 4, ("size/S", "triage/review"))
    client.remove_label(REPO, 4, "size/XS")
    client.remove_label(REPO, 4, "size/XS")  # already gone: fine
    client.close_pull(REPO, 4)
    pr = stub.repo(REPO).pulls[4]
    assert [lb["name"] for lb in pr["labels"]] == ["size/S", "triage/review"]
    assert pr["state"] == "closed"
    assert stub.repo(REPO).comments[4][0]["body"] == "hello"
    deletes = [r.path for r in stub.writes if r.method == "DELETE"]
    assert deletes == [f"/repos/{REPO}/issues/4/labels/size/XS"] * 2


def test_writes_are_paced_a_second_apart_and_waits_already_made_count(stub):
    stub.repo(REPO).pulls[4] = make_pr(4)
    now = [1000.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:  # a clock that moves only when we sleep
        sleeps(seconds)
        now[0] += seconds

    client = GitHubClient(stub.url, TOKEN, http_client=httpx.Client(), sleep=sleep, clock=lambda: now[0])
    client.pull(REPO, 4)  # reads are not paced
    client.create_comment(REPO, 4, "one")
    client.add_labels(REPO, 4, ("a",))
    now[0] += 0.4  # some work between two writes
    client.add_labels(REPO, 4, ("b",))
    assert sleeps.calls == [1.0, pytest.approx(0.6)]
    # A rate-limit wait before a write already spaces it from the previous one.
    stub.fail("POST", r"/labels$", 403, headers={"retry-after": "3"})
    sleeps.calls.clear()
    client.add_labels(REPO, 4, ("c",))
    assert sleeps.calls == [1.0, 3.0]
    # The same with an injected sleep that does not move the clock (how most tests run).
    still = Sleeps()
    client = client_for(stub, still)
    client.create_comment(REPO, 4, "two")
    client.create_comment(REPO, 4, "three")
    assert len(still.calls) == 1 and 0.9 < still.calls[0] <= 1.0


def test_viewer_login_is_none_for_an_installation_token(stub):
    assert client_for(stub).viewer_login() is None
    stub.viewer = "triage-maintainer"
    assert client_for(stub).viewer_login() == "triage-maintainer"


def test_a_rate_limited_viewer_lookup_is_retried_not_taken_for_an_installation_token(stub):
    # A 403 that is a secondary rate limit must not read as "this token has no user": the batch
    # would then miss its own sticky comments (posted under the user's login) and post again.
    stub.viewer = "triage-maintainer"
    stub.fail("GET", r"/user$", 403, headers={"retry-after": "2"})
    stub.fail("GET", r"/user$", 403, body={"message": "You have exceeded a secondary rate limit"})
    sleeps = Sleeps()
    assert client_for(stub, sleeps).viewer_login() == "triage-maintainer"
    assert sum(1 for r in stub.requests if r.path == "/user") == 3


def test_fetch_pull_builds_the_record_with_human_activity(stub):
    pr = add_simple_pull(stub, REPO, make_pr(5, body="Adds a knob.\n\nFixes #12"), [("src/knob.py", 4)])
    repo = stub.repo(REPO)
    bob = {"login": "bob", "type": "User"}
    stale = {"login": "stale[bot]", "type": "Bot"}
    repo.timeline[5] = [
        {"event": "commented", "actor": bob, "user": bob, "created_at": "2024-05-03T09:00:00Z", "body": "ok"},
        {"event": "commented", "actor": stale, "user": stale, "created_at": "2024-06-20T09:00:00Z"},
    ]
    actions_bot = {"login": "github-actions[bot]", "type": "Bot"}
    stub.add_comment(REPO, 5, "<!-- pr-triage:sticky -->\nold", actions_bot)
    record, state = fetch_pull(client_for(stub), REPO, pr, Config())
    assert record.id == "5" and record.number == 5
    assert record.linked_issues == ("#12",)
    assert record.diff.startswith(b"diff --git a/src/knob.py")
    assert record.last_human_activity_at.isoformat() == "2024-05-03T09:00:00+00:00"
    assert record.source == f"github:{REPO}#5"
    assert state.sticky_id is not None and state.comments_known


def test_fetch_pull_turns_a_pr_specific_failure_into_a_load_error(stub):
    pr = add_simple_pull(stub, REPO, make_pr(6))
    stub.fail("GET", r"/pulls/6$", 404, body={"message": "Not Found"})
    record, state = fetch_pull(client_for(stub), REPO, pr, Config())
    assert record.load_errors == (f"github:{REPO}#6: GitHub GET /repos/{REPO}/pulls/6: HTTP 404 (Not Found)",)
    assert not state.comments_known  # so no duplicate comment can be planned


def test_link_header_and_repo_parsing():
    link = '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'
    assert _next_link(httpx.Response(200, headers={"link": link})) == "https://api.github.com/x?page=2"
    assert _next_link(httpx.Response(200, headers={"link": '<https://api.github.com/x?page=1>; rel="prev"'})) is None
    assert _next_link(httpx.Response(200)) is None
    assert split_repo("octo/widgets") == ("octo", "widgets")
    for bad in ("octo", "octo/", "/widgets", "a/b/c"):
        with pytest.raises(GitHubError, match="OWNER/NAME"):
            split_repo(bad)

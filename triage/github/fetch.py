"""One open PR from GitHub -> (`PullRequest`, `PrState`): the requests, in the cheapest order.

Shared by `triage ci` and `triage github`. Per PR this costs, in requests:

* the diff: 1 with the diff media type; when GitHub answers 406 (over 300 files or too many
  lines) the paginated files endpoint instead, 1 per 100 files, up to GitHub's 3,000;
* activity (optional): the issue timeline, which carries comments, reviews, pushes, labels and
  ready-for-review events in one list, so reviews need no request of their own;
* comments (optional): the issue comments, where our sticky comment is found again;
* commits: only for PRs opened by a bot, whose human is named by commit trailers;
* the merge state (with activity, when the PR object lacks it, as list-endpoint objects do): 1,
  the single-PR endpoint, for GitHub's `mergeable` / `mergeable_state` (the `needs-rebase` rule).

With a persisted ETag cache each of these is a free 304 when nothing changed.

A failure specific to one PR (a diff GitHub cannot render, a 404 for a PR closed meanwhile)
becomes a load error on that PR, so one bad PR never stops a batch; an exhausted rate limit
(`RateLimitExceeded`) is not specific to a PR and propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.config import Config
from triage.errors import GitHubError
from triage.github.client import MAX_PR_FILES, GitHubClient, RateLimitExceeded
from triage.github.comment import PrState, state_from_github
from triage.github.convert import diff_from_files, is_bot, last_human_activity, pull_request_from_json
from triage.models import PullRequest


def fetch_diff(client: GitHubClient, repo: str, number: int) -> tuple[bytes, tuple[str, ...]]:
    """The PR's diff and any reason its counts cannot be trusted."""
    diff = client.pull_diff(repo, number)
    if diff is not None:
        return diff, ()
    files = client.pull_files(repo, number)
    errors: tuple[str, ...] = ()
    if len(files) >= MAX_PR_FILES:
        errors = (f"github:{repo}#{number}: GitHub lists at most {MAX_PR_FILES} files; the diff is incomplete",)
    return diff_from_files(files), errors


def _merge_state(client: GitHubClient, repo: str, number: int) -> dict[str, Any]:
    """`mergeable` and `mergeable_state` from the single-PR endpoint (the list endpoint leaves
    them out). A failure here is not a load error: the merge state is then unknown, exactly as
    when GitHub answers null while it computes it, and the `needs-rebase` rule does not fire;
    the diff, which the triage needs, is fetched (and its failure recorded) right after."""
    try:
        full = client.pull(repo, number)
    except RateLimitExceeded:
        raise
    except GitHubError:
        return {}
    return {k: full[k] for k in ("mergeable", "mergeable_state") if k in full}


def fetch_pull(
    client: GitHubClient,
    repo: str,
    data: Mapping[str, Any],
    cfg: Config,
    *,
    activity: bool = True,
    comments: bool = True,
    own_login: str | None = None,
) -> tuple[PullRequest, PrState]:
    """Everything triage needs about one PR object from the list endpoint or a webhook."""
    number = int(data["number"])
    errors: list[str] = []
    diff = b""
    comment_list: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    messages: list[str] = []
    comments_known = False
    try:
        diff, diff_errors = fetch_diff(client, repo, number)
        errors.extend(diff_errors)
        if comments:
            comment_list = client.issue_comments(repo, number)
            comments_known = True
        if activity:
            timeline = client.timeline(repo, number)
        if is_bot(data.get("user"), cfg.owners.bots):
            commits = client.pull_commits(repo, number)
            messages = [str((c.get("commit") or {}).get("message") or "") for c in commits]
    except RateLimitExceeded:
        raise
    except GitHubError as exc:
        errors.append(f"github:{repo}#{number}: {exc.format_message()}")
    if activity and not errors and "mergeable" not in data:
        data = {**data, **_merge_state(client, repo, number)}
    last = (
        last_human_activity(data, comments=comment_list, timeline=timeline, bots=cfg.owners.bots)
        if activity and not errors
        else None
    )
    pr = pull_request_from_json(
        data, repo=repo, diff=diff, last_human_activity_at=last, commit_messages=messages, load_errors=errors
    )
    return pr, state_from_github(data, comment_list, own_login, comments_known=comments_known)


def make_client(
    cfg: Config,
    api_url: str | None,
    token: str | None,
    *,
    http_client: Any = None,
    sleep: Any = None,
) -> GitHubClient:
    """A client whose ETags persist in the cache directory when the cache is on, so a CI job
    that keeps `.triage-cache` (actions/cache) re-reads unchanged PRs as free 304s."""
    from pathlib import Path

    from triage.github.client import DEFAULT_API_URL, SqliteEtagStore
    from triage.kvstore import CACHE_FILE

    etags = SqliteEtagStore(Path(cfg.cache.dir).expanduser() / CACHE_FILE) if cfg.cache.enabled else None
    kwargs: dict[str, Any] = {"http_client": http_client, "etags": etags}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return GitHubClient(api_url or DEFAULT_API_URL, token, **kwargs)

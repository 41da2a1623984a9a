"""`triage ci`: triage the PR of a GitHub Actions `pull_request` / `pull_request_target` event.

Input: the environment GitHub Actions provides (`GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`,
`GITHUB_TOKEN`, `GITHUB_API_URL`, `GITHUB_STEP_SUMMARY`). Output: the job summary, one sticky
comment, our labels, and the exit code (a `GateFailed` when `[ci] fail_on` matches).

The PR is triaged in the context of all open PRs (per-author caps, the capacity cut line need
them): the event's PR gets the full treatment (diff, comments, timeline), the others only their
diff, since CI acts on one PR only. Nothing here checks out or executes code from the PR: the
diff, metadata and base-branch files come from the REST API, which is why the action is safe
under `pull_request_target` (secrets available, code untrusted).

Writes are best-effort for one case: a token without write permission (a fork's PR under the
plain `pull_request` event gets a read-only token) cannot comment; the job summary then says so
and the exit code still reflects the gates, not the permission problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from triage import jsonutil
from triage.config import Config
from triage.errors import GateFailed, GitHubError, InputError, UsageError
from triage.github.comment import PrState, apply_action, plan_for_item
from triage.github.fetch import fetch_pull, make_client
from triage.github.tree import ContentsTree
from triage.models import PullRequest, Queue, QueueItem
from triage.policy import fail_on_matches

PR_EVENTS = ("pull_request", "pull_request_target")
MAX_SUMMARY_BYTES = 1024 * 1024  # GitHub's limit for one step's summary
# "Before" file reads for full-file complexity in CI (routing files are always read).
CI_FILE_BUDGET = 100


def load_event(environ: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload GitHub Actions wrote to `GITHUB_EVENT_PATH`."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError("triage ci: GITHUB_EVENT_PATH is not set (run it inside GitHub Actions)")
    try:
        data = jsonutil.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the event payload ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise InputError(f"{path}: the event payload is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: the event payload is not a JSON object")
    if not isinstance(data.get("pull_request"), dict):
        event = environ.get("GITHUB_EVENT_NAME") or "unknown event"
        raise UsageError(f"{path}: {event} has no pull_request; triage ci runs on {' or '.join(PR_EVENTS)} events")
    return data


def failing_rules(item: QueueItem, cfg: Config) -> tuple[str, ...]:
    """The `[ci] fail_on` entries (rule names or decision kinds) this item matches."""
    return fail_on_matches(item.decision, cfg)


def _write_summary(path: str | None, text: str) -> None:
    if not path:
        return
    data = text.encode("utf-8")
    if len(data) > MAX_SUMMARY_BYTES:
        note = "\n\n_… cut to fit GitHub's job summary limit; see queue.md in the artifacts._\n"
        data = data[: MAX_SUMMARY_BYTES - len(note)] + note.encode()
        text = data.decode("utf-8", "ignore")
    try:
        with open(path, "a", encoding="utf-8") as fh:  # GitHub appends steps' summaries
            fh.write(text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the job summary ({exc.strerror or exc})") from exc


def _triage(prs: Iterator[PullRequest], cfg: Config, now: datetime, base: ContentsTree, number: int) -> Queue:
    from triage.pipeline import RunContext, run

    # Only the event's PR is worth an LLM call; the other open PRs are context for the batch
    # rules (caps, capacity) and keep their heuristic review, so a first run on a repository
    # with thousands of open PRs does not pay for thousands of reviews.
    return run(prs, cfg, RunContext(now=now, base=base, llm_ids=frozenset({str(number)})))


def run_ci(
    cfg: Config,
    environ: Mapping[str, str],
    *,
    http_client: httpx.Client | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Triage the event's PR; returns 0, or raises `GateFailed` (exit 1) after every side effect
    is done when the PR matches `[ci] fail_on`. A closed PR is left alone."""
    event = load_event(environ)
    pr_data: dict[str, Any] = event["pull_request"]
    if event.get("action") == "closed" or pr_data.get("state") == "closed":
        return 0
    repo = environ.get("GITHUB_REPOSITORY") or (event.get("repository") or {}).get("full_name")
    if not repo:
        raise UsageError("triage ci: GITHUB_REPOSITORY is not set and the event names no repository")
    number = int(pr_data["number"])
    now = now or datetime.now(UTC)
    client = make_client(
        cfg, environ.get("GITHUB_API_URL"), environ.get("GITHUB_TOKEN"), http_client=http_client, sleep=sleep
    )
    with client:
        own_login = client.viewer_login()
        others: list[dict[str, Any]] = []
        for data in client.open_pulls(repo):
            if int(data["number"]) == number:
                pr_data = data  # fresher than the event payload
            else:
                others.append(data)
        states: dict[int, PrState] = {}

        def prs() -> Iterator[PullRequest]:
            # The event's PR first: it gets the "before"-file budget of the base tree.
            pr, states[number] = fetch_pull(client, repo, pr_data, cfg, own_login=own_login)
            yield pr
            for data in others:
                yield fetch_pull(client, repo, data, cfg, activity=False, comments=False)[0]

        base_sha = (pr_data.get("base") or {}).get("sha") or (pr_data.get("base") or {}).get("ref")
        base = ContentsTree(client, repo, str(base_sha), file_budget=CI_FILE_BUDGET)
        queue = _triage(prs(), cfg, now, base, number)

        from triage.report import render_item_markdown, render_markdown

        item = next(i for i in queue.items if i.pr.id == str(number))
        item_md = render_item_markdown(queue, item.pr.id)
        problems: list[str] = []
        for action in plan_for_item(item, states[number], item_md, cfg, allow_close=False):
            try:
                apply_action(client, repo, action)
            except GitHubError as exc:
                # A read-only token (fork PR under `pull_request`) cannot write: say so, go on.
                if "HTTP 403" not in exc.message and "HTTP 404" not in exc.message:
                    raise
                problems.append(f"could not {action.kind.value} on #{number}: {exc.format_message()}")
        queue_md = render_markdown(queue, max_chars=MAX_SUMMARY_BYTES // 2)
        summary = item_md.rstrip() + "\n\n" + queue_md.rstrip() + "\n"
        if problems:
            summary += "\n" + "\n".join(f"> **Warning:** {p}" for p in problems) + "\n"
        _write_summary(environ.get("GITHUB_STEP_SUMMARY"), summary)

    failing = failing_rules(item, cfg)
    if failing:
        raise GateFailed(f"PR #{number}: [ci] fail_on matched {', '.join(failing)}")
    return 0

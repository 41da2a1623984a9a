"""`triage github --repo OWNER/NAME [--apply]`: triage every open PR of a repository.

Input: the repository, the API URL and token. Output: the `Queue` (reports are written when
`out_dir` is given) and the `PlannedAction`s: comments, label changes, and closing for `close`
decisions. A dry run (the default) only prints the plan; `apply=True` performs exactly it.

Resumable by construction: the plan is recomputed from what is on GitHub now (our sticky
comment, found by its marker; the labels already set; whether the PR is still open), so a run
that was killed half-way plans only the writes still missing, and the review results come back
from the LLM cache instead of being paid for twice.

Why `reject` is not closed: the design's rule is "the bot proposes, a human disposes" (OpenClaw
Barnacle). Closing is reserved for `close` decisions (stale past the grace period, or a rule that
asks to close); a `reject` gets its explanation and the `triage/reject` label and stays open
until a maintainer closes it.

No mass action by surprise: a PR is closed only after our stale warning has stood for
`close_days` (see `triage.github.comment`); one run closes at most `max_closes` PRs and performs
at most `max_writes` writes (both cut at a PR boundary, in queue order, the rest left for the
next run); the plan's counts are printed before anything is written; and `--apply` refuses a
clock (`now`) in the future, which would make every PR look stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from triage.config import Config
from triage.errors import GitHubError, UsageError
from triage.github.client import GitHubClient, RateLimitExceeded
from triage.github.comment import ActionKind, PlannedAction, PrState, apply_action, describe, plan_for_item
from triage.github.fetch import fetch_pull, make_client
from triage.github.tree import ContentsTree
from triage.models import PullRequest, Queue
from triage.timeutil import iso_z

# In batch, "before" contents of changed files are not read (one request per file per PR would
# dwarf everything else); complexity falls back to hunk-local figures. Routing files are read.
BATCH_FILE_BUDGET = 0
DEFAULT_MAX_CLOSES = 10
DEFAULT_MAX_WRITES = 200


def cap_plan(plan: list[PlannedAction], max_closes: int, max_writes: int) -> tuple[list[PlannedAction], int, int]:
    """The plan cut to the run's caps, whole PRs at a time in plan order (a PR's comment, labels
    and close go together or not at all, so a close never goes out without its explanation).
    A PR whose close is over `max_closes` keeps its other writes. Returns (kept, closes held
    back, writes held back)."""
    by_pr: dict[int, list[PlannedAction]] = {}
    for action in plan:
        by_pr.setdefault(action.number, []).append(action)
    kept: list[PlannedAction] = []
    closes = held_closes = held_writes = 0
    for actions in by_pr.values():
        if any(a.kind is ActionKind.CLOSE for a in actions) and closes >= max_closes:
            held_closes += 1
            actions = [a for a in actions if a.kind is not ActionKind.CLOSE]
        if len(kept) + len(actions) > max_writes:
            held_writes += len(actions)
            held_closes += sum(a.kind is ActionKind.CLOSE for a in actions)
            continue
        closes += sum(a.kind is ActionKind.CLOSE for a in actions)
        kept.extend(actions)
    return kept, held_closes, held_writes


def plan_counts(plan: list[PlannedAction]) -> str:
    """`3 comments, 2 warnings, 5 label changes, 1 close`: printed before anything is done."""

    def n(kinds: tuple[ActionKind, ...]) -> int:
        return sum(a.kind in kinds for a in plan)

    comments = n((ActionKind.COMMENT, ActionKind.EDIT_COMMENT))
    warnings = n((ActionKind.WARN,))
    labels = n((ActionKind.ADD_LABELS, ActionKind.REMOVE_LABELS))
    closes = n((ActionKind.CLOSE,))
    return f"{comments} comments, {warnings} stale warnings, {labels} label changes, {closes} closes"


def plan_queue(
    queue: Queue, states: dict[int, PrState], cfg: Config, *, allow_close: bool = True, now: datetime | None = None
) -> list[PlannedAction]:
    """Every write for every PR of the queue, in queue order."""
    from triage.report import render_item_markdown

    plan: list[PlannedAction] = []
    for item in queue.items:
        number = item.pr.number
        if number is None or number not in states:
            continue
        markdown = render_item_markdown(queue, item.pr.id)
        plan.extend(plan_for_item(item, states[number], markdown, cfg, allow_close=allow_close, now=now))
    return plan


def _apply_plan(client: GitHubClient, repo: str, plan: list[PlannedAction], console: Any) -> None:
    """Perform the plan; a write that fails (after the client's retries) costs only its PR.

    The PR's remaining writes are skipped, so a close never goes out without its explanation,
    and the other PRs still get theirs. A rate limit that outlasts the client's waits stops
    everything at once (every later write would wait and fail the same way). Either way the
    run fails with one line saying what is left: the next run recomputes the plan from
    GitHub's state and does exactly the missing writes.
    """
    failed: list[str] = []
    skipped: set[int] = set()
    done = 0
    for action in plan:
        if action.number in skipped:
            continue
        try:
            apply_action(client, repo, action)
            done += 1
        except RateLimitExceeded as exc:
            earlier = f"; writes for {len(skipped)} PRs had failed before ({failed[0]})" if failed else ""
            raise RateLimitExceeded(
                f"{repo}: stopped after {done} of {len(plan)} writes, the rest is left for the next run: "
                f"{exc.format_message()}{earlier}"
            ) from exc
        except GitHubError as exc:
            skipped.add(action.number)
            failed.append(f"{describe(action)}: {exc.format_message()}")
            if console is not None:
                console.print(f"failed: {failed[-1]}", markup=False, highlight=False)
    if failed:
        others = f"{done} other writes were done" if done else "no write went through"
        raise GitHubError(
            f"{repo}: writes for {len(skipped)} PRs failed and were left for the next run "
            f"({others}); first: {failed[0]}"
        )


def check_now(now: datetime | None, *, apply: bool, real_now: datetime) -> None:
    """`--apply` acts only on the real clock: a `--now` in the future could close PRs early."""
    if apply and now is not None and now > real_now:
        raise UsageError(
            f"--now {iso_z(now)} is in the future; --apply acts only on the real clock (now {iso_z(real_now)})"
        )


def run_batch(
    cfg: Config,
    repo: str,
    *,
    api_url: str,
    token: str | None,
    apply: bool,
    out_dir: Path | None,
    http_client: httpx.Client | None = None,
    console: Any = None,
    now: datetime | None = None,
    progress: Callable[[PullRequest], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    max_closes: int = DEFAULT_MAX_CLOSES,
    max_writes: int = DEFAULT_MAX_WRITES,
    clock: Callable[[], datetime] | None = None,
) -> tuple[Queue, list[PlannedAction]]:
    """Triage all open PRs of `repo`; print and, with `apply`, perform the planned writes.
    `clock` is the real clock (injectable for tests) that a given `now` is checked against."""
    from triage.pipeline import RunContext, run

    real_now = (clock or (lambda: datetime.now(UTC)))()
    check_now(now, apply=apply, real_now=real_now)
    if max_closes < 0 or max_writes < 0:
        raise UsageError("--max-closes and --max-writes must be 0 or more")
    now = now or real_now
    client = make_client(cfg, api_url, token, http_client=http_client, sleep=sleep)
    with client:
        own_login = client.viewer_login()
        default_branch = str(client.repository(repo).get("default_branch") or "main")
        base_sha = client.resolve_sha(repo, default_branch)
        base = ContentsTree(client, repo, base_sha, file_budget=BATCH_FILE_BUDGET)
        states: dict[int, PrState] = {}

        def prs() -> Iterator[PullRequest]:
            for data in client.open_pulls(repo):
                pr, state = fetch_pull(client, repo, data, cfg, own_login=own_login)
                states[state.number] = state
                yield pr

        queue = run(prs(), cfg, RunContext(now=now, base=base), progress)
        if out_dir is not None:
            from triage.report import write_reports

            write_reports(queue, out_dir)
        full = plan_queue(queue, states, cfg, allow_close=True, now=now)
        plan, held_closes, held_writes = cap_plan(full, max_closes, max_writes)
        verb = "doing" if apply else "would do"
        if console is not None:
            if not plan:
                console.print(
                    f"{repo}: nothing to do ({len(queue.items)} open PRs already up to date)",
                    markup=False,
                    highlight=False,
                )
            else:
                held = ""
                if held_closes or held_writes:
                    held = (
                        f"; held back for the next run: {held_closes} closes (--max-closes {max_closes}), "
                        f"{held_writes} writes (--max-writes {max_writes})"
                    )
                console.print(f"{repo}: plan: {plan_counts(plan)}{held}", markup=False, highlight=False)
            for action in plan:
                console.print(f"{verb}: {describe(action)}", markup=False, highlight=False)
        if apply:
            _apply_plan(client, repo, plan, console)
        elif console is not None and plan:
            console.print(
                f"dry run: {len(plan)} actions planned; run again with --apply to perform them",
                markup=False,
                highlight=False,
            )
    return queue, plan

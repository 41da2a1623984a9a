"""A local git range -> `PullRequest` records: `triage run --git BASE..HEAD [--squash]`.

Input: a `GitRepo` and a range `BASE..HEAD` (either side may be empty, meaning HEAD, as in git).
Output: one PR per commit, oldest first, or with `squash=True` one PR for the whole range.

Per commit: id = the short sha, title = the subject, body = the rest of the message, author =
the e-mail's local part (or the login of a GitHub noreply address), created_at = author date,
updated_at = committer date, base_sha = first parent, head_sha = the commit, trailers and issue
links from the message, diff = `git diff-tree -p --binary -M parent commit` (the bytes the parse
stage expects, with a/ b/ prefixes whatever the user's diff config says). The diffs of a range
come from one `git diff-tree --stdin` process (`GitRepo.commit_diffs`), read as the pipeline asks
for each PR; a commit that stream cannot give is diffed on its own, which names what went wrong.

Merge commits are skipped in per-commit mode (`--no-merges`): the changes they bring in are
listed as their own commits in the range, and their own diff against the first parent would
count those changes twice; a conflict resolution alone is not a reviewable unit. In squash mode
the range's diff (`BASE` to `HEAD`) includes whatever the merges brought in, and the commit
messages are those of the non-merge commits.

Only read-only plumbing runs, through `GitRepo.git`; nothing is checked out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from triage.errors import InputError
from triage.gitrepo import GitRepo
from triage.models import PullRequest
from triage.sources.mbox import login_from_email
from triage.sources.trailers import linked_issues, merge_trailers, parse_trailers
from triage.timeutil import parse_iso8601_or_none

__all__ = ["Commit", "list_commits", "parse_range", "read_range"]

# %H sha, %h short sha, %P parents, %an/%ae author, %aI/%cI strict ISO dates, %s subject, %B
# raw message. Fields are NUL-separated and `-z` ends each record with NUL as well; a commit
# message cannot contain NUL, so the split is unambiguous.
_FORMAT = "%H%x00%h%x00%P%x00%an%x00%ae%x00%aI%x00%cI%x00%s%x00%B"
_FIELDS = 9
_PATCH_ARGS = ("-p", "--binary", "-M", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")
_DIFF_ARGS = ("diff-tree", "-p", "--no-commit-id", *_PATCH_ARGS[1:])  # this order names it in errors


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit of the range, as `git log` describes it."""

    sha: str
    short: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored: datetime | None
    committed: datetime | None
    subject: str
    message: str

    @property
    def body(self) -> str:
        """The message without its subject paragraph."""
        parts = self.message.strip().split("\n\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""


def parse_range(rev_range: str) -> tuple[str, str]:
    """`A..B` -> (A, B); an empty side is HEAD. Anything else is an InputError."""
    text = rev_range.strip()
    if "..." in text:
        raise InputError(f"--git {rev_range!r}: symmetric ranges (A...B) are not supported; use BASE..HEAD")
    base, sep, head = text.partition("..")
    if not sep or (not base and not head) or any(c.isspace() for c in text):
        raise InputError(f"--git {rev_range!r}: expected a range BASE..HEAD")
    return base or "HEAD", head or "HEAD"


def list_commits(repo: GitRepo, base: str, head: str, *, merges: bool = False) -> list[Commit]:
    """The commits in base..head, oldest first (parents before children)."""
    args = ["log", "-z", "--reverse", "--topo-order", f"--format={_FORMAT}"]
    if not merges:
        args.append("--no-merges")
    raw = repo.git(*args, f"{base}..{head}", "--")
    fields = raw.decode("utf-8", "replace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    commits: list[Commit] = []
    for i in range(0, len(fields) - _FIELDS + 1, _FIELDS):
        sha, short, parents, name, email, authored, committed, subject, message = fields[i : i + _FIELDS]
        commits.append(
            Commit(
                sha=sha.strip("\n"),
                short=short,
                parents=tuple(parents.split()),
                author_name=name,
                author_email=email,
                authored=parse_iso8601_or_none(authored),
                committed=parse_iso8601_or_none(committed),
                subject=subject,
                message=message.strip("\n"),
            )
        )
    return commits


def _diff(repo: GitRepo, old: str | None, new: str) -> bytes:
    if old is None:
        return repo.git(*_DIFF_ARGS, "--root", new)
    return repo.git(*_DIFF_ARGS, old, new)


def _author(commit: Commit) -> tuple[str, bool]:
    login = login_from_email(commit.author_email) or commit.author_name
    return login, "[bot]" in f"{commit.author_name} {commit.author_email}"


def _commit_pr(repo: GitRepo, commit: Commit, streamed: bytes | None = None) -> PullRequest:
    """One commit as a PR; `streamed` is its diff when the range's diff stream gave it."""
    parent = commit.parents[0] if commit.parents else None
    author, is_bot = _author(commit)
    # One commit git cannot diff (an object missing from a partial clone or mirror) becomes an
    # item with a load error, not the end of the batch.
    errors: tuple[str, ...] = ()
    diff = streamed
    if diff is None:
        try:
            diff = _diff(repo, parent, commit.sha)
        except InputError as exc:
            diff, errors = b"", (f"git:{commit.short}: {exc.format_message()}",)
    return PullRequest(
        id=commit.short,
        title=commit.subject,
        diff=diff,
        load_errors=errors,
        body=commit.body,
        author=author,
        author_email=commit.author_email or None,
        author_is_bot=is_bot,
        created_at=commit.authored,
        updated_at=commit.committed,
        base_sha=parent,
        head_sha=commit.sha,
        trailers=parse_trailers(commit.message, has_subject=True),
        linked_issues=linked_issues(commit.message),
        commit_messages=(commit.message,),
        source=f"git:{commit.short}",
    )


def _squash_pr(repo: GitRepo, base: str, head: str, commits: Sequence[Commit]) -> PullRequest:
    short_base = repo.git("rev-parse", "--short", base).decode().strip()
    short_head = repo.git("rev-parse", "--short", head).decode().strip()
    pr_id = f"{short_base}..{short_head}"
    first = commits[0] if commits else None
    if first is None:
        title = pr_id
    elif len(commits) == 1:
        title = first.subject
    else:
        title = f"{first.subject} (+{len(commits) - 1} more commits)"
    messages = tuple(c.message for c in commits)
    issues: list[str] = []
    for message in messages:
        issues.extend(ref for ref in linked_issues(message) if ref not in issues)
    author, is_bot = _author(first) if first is not None else ("", False)
    return PullRequest(
        id=pr_id,
        title=title,
        diff=_diff(repo, base, head),
        body=first.body if len(commits) == 1 and first is not None else "\n\n".join(messages),
        author=author,
        author_email=(first.author_email or None) if first is not None else None,
        author_is_bot=is_bot,
        created_at=first.authored if first is not None else None,
        updated_at=commits[-1].committed if commits else None,
        base_sha=base,
        head_sha=head,
        trailers=merge_trailers(*(parse_trailers(m, has_subject=True) for m in messages)),
        linked_issues=tuple(issues),
        commit_messages=messages,
        source=f"git:{pr_id}",
    )


def read_range(repo: GitRepo, rev_range: str, squash: bool = False) -> Iterator[PullRequest]:
    """The PRs of a range. The range is checked before the first PR is produced: a bad range
    raises InputError from this call, not halfway through a batch."""
    base_rev, head_rev = parse_range(rev_range)
    base = repo.rev_parse(base_rev)
    head = repo.rev_parse(head_rev)
    everything = list_commits(repo, base, head, merges=True)
    commits = [c for c in everything if len(c.parents) <= 1]
    if squash:
        return _one(lambda: _squash_pr(repo, base, head, commits)) if everything else iter(())
    return _commit_prs(repo, commits)


def _commit_prs(repo: GitRepo, commits: Sequence[Commit]) -> Iterator[PullRequest]:
    # Closed explicitly: a consumer that stops early (an error, a cap) ends the `diff-tree`
    # process now, not whenever the generator happens to be collected.
    with contextlib.closing(repo.commit_diffs((c.sha for c in commits), _PATCH_ARGS)) as diffs:
        for commit, diff in zip(commits, diffs, strict=True):
            yield _commit_pr(repo, commit, diff)


def _one(make: Callable[[], PullRequest]) -> Iterator[PullRequest]:
    """A lazy one-item stream: the squashed diff is computed when the consumer asks for it."""
    yield make()

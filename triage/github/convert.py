"""GitHub JSON -> `PullRequest`: pure functions, no HTTP.

Input: the PR object (from the list endpoint, the single-PR endpoint or a webhook payload, which
all share one shape), the PR's files, comments, reviews and timeline. Output: one frozen
`PullRequest`, with the diff as bytes in git's format so the ordinary diff parser reads it.

Three things GitHub gets in the way of, handled here:
* `body` can be null; labels and users are objects; dates are ISO strings with `Z`.
* the diff media type answers 406 above 300 files, so big PRs are rebuilt from the paginated
  files endpoint: each file's `patch` (hunks only) gets git's headers back, and a file without a
  `patch` (binary, or a text diff GitHub judged too large) becomes a "Binary files differ"
  stanza so it is still counted as a changed file.
* "last activity" must be human: `updated_at` moves whenever a bot comments or labels, which is
  how stale bots end up keeping PRs alive forever (actions/stale #690, #825).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from triage.config import OwnersConfig
from triage.models import PullRequest, Trailer
from triage.policy.bots import is_bot_login
from triage.sources.trailers import linked_issues as _linked
from triage.sources.trailers import parse_trailers
from triage.timeutil import parse_iso8601_or_none

STICKY_MARKER = "<!-- pr-triage:sticky -->"
# The stale warning, a comment of its own: its creation time is when the PR was warned.
STALE_MARKER = "<!-- pr-triage:stale-warning -->"
# Label namespaces this tool owns: a label event in them is our own bookkeeping, not activity.
OWN_LABEL_PREFIXES = ("size/", "risk/", "triage/")
# Whole labels this tool owns besides those namespaces (Prow's plugin of the same name sets and
# clears `needs-rebase` the same way): removed again once the rule no longer fires.
OWN_LABELS = ("needs-rebase",)


def is_bot(user: Mapping[str, Any] | None, bots: Iterable[str] = ()) -> bool:
    """A GitHub App (`type: Bot`), or a login the owner rules call a bot or agent (`[bot]`,
    known agents, `[owners] bots`): one definition for the stale clock and the owner rules."""
    if not user:
        return False
    if user.get("type") == "Bot":
        return True
    return is_bot_login(str(user.get("login") or ""), OwnersConfig(bots=tuple(bots)))


# ------------------------------------------------------------------------------- body parsing


def linked_issues(body: str, repo: str | None = None) -> tuple[str, ...]:
    """Issues the body links with GitHub's closing keywords or an `Issue:`/`Related:` line (the
    same rule as every other source), with references to the PR's own repository as `#12`."""
    own = f"{repo.lower()}#" if repo else None
    refs = (f"#{ref.split('#', 1)[1]}" if own and ref.lower().startswith(own) else ref for ref in _linked(body))
    return tuple(dict.fromkeys(refs))


def trailers_from_text(text: str) -> tuple[Trailer, ...]:
    """The trailer block of a PR body or commit message (`Co-authored-by:` in a PR body is how
    an agent's PR names its human)."""
    return parse_trailers(text, has_subject=False)


# ---------------------------------------------------------------------------------- the diff


def _quote(path: str) -> str:
    """git's C-style quoting for paths with quotes, backslashes or control characters."""
    if not any(c in path for c in '"\\\t\n') and path.isprintable():
        return path
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{escaped}"'


def _side(prefix: str, path: str) -> str:
    quoted = _quote(path)
    return f'"{prefix}{quoted[1:]}' if quoted.startswith('"') else f"{prefix}{quoted}"


def file_diff(entry: Mapping[str, Any]) -> str:
    """One file of the files endpoint as a git-style diff stanza."""
    path = str(entry.get("filename") or "")
    status = str(entry.get("status") or "modified")
    old = str(entry.get("previous_filename") or path)
    patch = entry.get("patch")
    lines = [f"diff --git {_side('a/', old)} {_side('b/', path)}"]
    old_side, new_side = _side("a/", old), _side("b/", path)
    if status == "added":
        lines.append("new file mode 100644")
        old_side = "/dev/null"
    elif status == "removed":
        lines.append("deleted file mode 100644")
        new_side = "/dev/null"
    elif status in ("renamed", "copied") and old != path:
        verb = "rename" if status == "renamed" else "copy"
        lines += [f"{verb} from {_quote(old)}", f"{verb} to {_quote(path)}"]
        changes = int(entry.get("changes") or 0)
        if not patch and changes == 0:
            return "\n".join(lines) + "\n"  # a pure rename: no content change to show
    if patch:
        text = str(patch)
        lines += [f"--- {old_side}", f"+++ {new_side}", text[:-1] if text.endswith("\n") else text]
    else:
        # Binary, or a text diff GitHub left out as too large: still a changed file.
        lines.append(f"Binary files {old_side} and {new_side} differ")
    return "\n".join(lines) + "\n"


def diff_from_files(files: Sequence[Mapping[str, Any]]) -> bytes:
    """A whole PR diff rebuilt from the paginated files endpoint (`unchanged` entries skipped)."""
    return "".join(file_diff(f) for f in files if f.get("status") != "unchanged").encode("utf-8")


# ---------------------------------------------------------------------------- human activity

# Timeline events that are not activity on this PR by the actor: automatic side effects of a
# comment elsewhere or of a subscription.
_NOT_ACTIVITY = {"mentioned", "subscribed", "unsubscribed", "referenced", "cross-referenced"}


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def last_human_activity(
    pr: Mapping[str, Any],
    *,
    comments: Iterable[Mapping[str, Any]] = (),
    reviews: Iterable[Mapping[str, Any]] = (),
    timeline: Iterable[Mapping[str, Any]] = (),
    bots: Iterable[str] = (),
) -> datetime | None:
    """The latest moment a human did something on the PR (commented, reviewed, pushed, labelled,
    marked it ready), or when it was opened if nothing happened since. Bots never count, nor do
    our own sticky comment and our own `size/`, `risk/`, `triage/` labels (a batch run with a
    personal token acts as a human)."""
    bots = tuple(bots)
    author_human = not is_bot(pr.get("user"), bots)
    # The clock starts when the PR is opened, by whomever: a bot's PR nobody touched is as stale
    # as a human's, and must not fall back to `updated_at`, which the bot's rebases keep fresh.
    latest = parse_iso8601_or_none(pr.get("created_at"))

    for c in comments:
        body = str(c.get("body") or "")
        if not is_bot(c.get("user"), bots) and STICKY_MARKER not in body and STALE_MARKER not in body:
            latest = _later(latest, parse_iso8601_or_none(c.get("created_at")))
    for r in reviews:
        if not is_bot(r.get("user"), bots):
            latest = _later(latest, parse_iso8601_or_none(r.get("submitted_at")))
    for ev in timeline:
        kind = str(ev.get("event") or "")
        if kind in _NOT_ACTIVITY:
            continue
        if kind == "committed":
            # Commits carry git identities, not logins: they count when the PR's author is human.
            if author_human:
                latest = _later(latest, parse_iso8601_or_none((ev.get("committer") or {}).get("date")))
            continue
        if kind in ("labeled", "unlabeled"):
            name = str((ev.get("label") or {}).get("name") or "")
            if name.startswith(OWN_LABEL_PREFIXES) or name in OWN_LABELS:
                continue
        if kind == "commented" and (
            STICKY_MARKER in str(ev.get("body") or "") or STALE_MARKER in str(ev.get("body") or "")
        ):
            continue
        who = ev.get("actor") or ev.get("user")
        if who is None or is_bot(who, bots):
            continue
        latest = _later(latest, parse_iso8601_or_none(ev.get("submitted_at") or ev.get("created_at")))
    return latest


# ------------------------------------------------------------------------------ the record


def pull_request_from_json(
    data: Mapping[str, Any],
    *,
    repo: str | None = None,
    diff: bytes = b"",
    last_human_activity_at: datetime | None = None,
    commit_messages: Sequence[str] = (),
    load_errors: Sequence[str] = (),
) -> PullRequest:
    """Map a GitHub PR object to the pipeline's record. The id is the PR number as text."""
    number = int(data["number"])
    base = data.get("base") or {}
    head = data.get("head") or {}
    repo = repo or ((base.get("repo") or {}).get("full_name"))
    user = data.get("user") or {}
    body = str(data.get("body") or "")
    trailers = list(trailers_from_text(body))
    for message in commit_messages:
        for t in parse_trailers(message):  # a commit message: its first line is the subject
            if t not in trailers:
                trailers.append(t)
    return PullRequest(
        id=str(number),
        title=str(data.get("title") or ""),
        diff=diff,
        body=body,
        author=str(user.get("login") or ""),
        author_is_bot=is_bot(user),
        url=data.get("html_url"),
        number=number,
        created_at=parse_iso8601_or_none(data.get("created_at")),
        updated_at=parse_iso8601_or_none(data.get("updated_at")),
        last_human_activity_at=last_human_activity_at,
        draft=bool(data.get("draft")),
        labels=tuple(str(lb.get("name")) for lb in data.get("labels") or () if lb.get("name")),
        base_ref=base.get("ref"),
        head_ref=head.get("ref"),
        head_sha=head.get("sha"),
        base_sha=base.get("sha"),
        author_association=data.get("author_association"),
        trailers=tuple(trailers),
        linked_issues=linked_issues(body, repo),
        commit_messages=tuple(commit_messages),
        source=f"github:{repo}#{number}" if repo else f"github:#{number}",
        load_errors=tuple(load_errors),
        mergeable=data.get("mergeable") if isinstance(data.get("mergeable"), bool) else None,
        mergeable_state=str(data["mergeable_state"]) if isinstance(data.get("mergeable_state"), str) else None,
    )

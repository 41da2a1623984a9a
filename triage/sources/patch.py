"""Diff and patch files (+ an optional sidecar) -> one `PullRequest`.

Input: the bytes of zero or more `.diff`/`.patch` files and the decoded sidecar, if any.
Output: one `PullRequest`. Pure functions: reading files is `triage.sources.__init__`'s job.

What each input contributes, later ones winning field by field:

1. a bare unified diff: only the diff; id and title are the file stem;
2. a `git format-patch` mbox: author (login = the e-mail's local part, or the login of a GitHub
   noreply address), subject as title, date, message body, trailers, one commit message per
   mail; several mails (or several patch files in a PR directory) are one PR whose diffs are
   concatenated in order;
3. a sidecar: GitHub's metadata (number, title, body, user, dates, labels, refs, ...).

Trailers are read from the body *and* from every commit message, because an agent's PR names
its human in either place; issue links likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.models import PullRequest
from triage.sources.mbox import Patch, PatchSeries, is_mbox, login_from_email, parse_mbox
from triage.sources.sidecar import SidecarFields
from triage.sources.trailers import linked_issues, merge_trailers, parse_trailers

__all__ = ["DiffFile", "build_pull_request"]


@dataclass(frozen=True, slots=True)
class DiffFile:
    """The bytes of one diff/patch file and the name to use for it in errors."""

    where: str
    data: bytes


def _series(files: Sequence[DiffFile]) -> tuple[bytes, list[Patch], Patch | None, list[str]]:
    """Diff bytes, mails and cover letter of all files, in order."""
    chunks: list[bytes] = []
    patches: list[Patch] = []
    cover: Patch | None = None
    errors: list[str] = []
    for f in files:
        if is_mbox(f.data):
            series: PatchSeries = parse_mbox(f.data, f.where)
            if series.cover is not None and cover is None:
                cover = series.cover
            patches.extend(series.patches)
            for p in series.patches:
                errors.extend(p.errors)
            if series.cover is not None:
                errors.extend(series.cover.errors)
            if not series.patches:
                errors.append(f"{f.where}: patch mail without a diff")
            diff = series.diff
        else:
            diff = f.data
        if diff:
            chunks.append(diff if diff.endswith(b"\n") else diff + b"\n")
    return b"".join(chunks), patches, cover, errors


def build_pull_request(
    *,
    pr_id: str,
    source: str,
    files: Sequence[DiffFile] = (),
    sidecar: SidecarFields | None = None,
    load_errors: Sequence[str] = (),
) -> PullRequest:
    """One PR from its diff files and sidecar. `pr_id` is used unless the sidecar has a number."""
    diff, patches, cover, errors = _series(files)
    errors = [*load_errors, *errors]
    fields: dict[str, object] = {"title": pr_id}

    lead = cover or (patches[0] if patches else None)
    if lead is not None:
        fields["title"] = lead.subject or pr_id
        fields["body"] = lead.body
        fields["author"] = login_from_email(lead.author_email) or lead.author_name
        fields["author_email"] = lead.author_email
        fields["author_is_bot"] = "[bot]" in f"{lead.author_name} {lead.author_email or ''}"
        fields["created_at"] = lead.date
        last = patches[-1] if patches else lead
        if last.date is not None and last is not lead:
            fields["updated_at"] = last.date
        fields["commit_messages"] = tuple(p.message for p in patches)

    if sidecar is not None:
        errors.extend(sidecar.errors)
        fields.update(sidecar.values)
        if sidecar.number is not None:
            pr_id = str(sidecar.number)

    body = str(fields.get("body") or "")
    messages: tuple[str, ...] = tuple(fields.get("commit_messages") or ())  # type: ignore[arg-type]
    trailers = merge_trailers(
        parse_trailers(body, has_subject=False),
        *(parse_trailers(m, has_subject=True) for m in messages),
    )
    issues: list[str] = list(sidecar.extra_linked_issues) if sidecar else []
    for text in (body, *messages):
        for ref in linked_issues(text):
            if ref not in issues:
                issues.append(ref)

    return PullRequest(
        id=pr_id,
        diff=diff,
        source=source,
        trailers=trailers,
        linked_issues=tuple(issues),
        load_errors=tuple(dict.fromkeys(errors)),
        **fields,  # type: ignore[arg-type]
    )

"""Hand-made `Assessment`s for the policy and rank tests.

The decide and rank stages only read records, so their tests build exactly the records a rule
looks at, with defaults for a small, owned, reviewable PR by a maintainer. Each test then
changes the one field its rule is about, and a failure points at that rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from triage.models import (
    Assessment,
    ChangeKind,
    ChangeType,
    FileDiff,
    FileKind,
    Flag,
    Metrics,
    ParsedDiff,
    PullRequest,
    Review,
    ReviewSource,
    Risk,
    RiskLevel,
    SizeBucket,
    Trailer,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def bucket(lines: int) -> SizeBucket:
    for limit, b in (
        (10, SizeBucket.XS),
        (30, SizeBucket.S),
        (100, SizeBucket.M),
        (500, SizeBucket.L),
        (1000, SizeBucket.XL),
    ):
        if lines < limit:
            return b
    return SizeBucket.XXL


def file(
    path: str,
    added: int = 5,
    deleted: int = 0,
    *,
    kind: FileKind = FileKind.SOURCE,
    old_path: str | None = None,
    change: ChangeType = ChangeType.MODIFIED,
) -> FileDiff:
    return FileDiff(
        path=path,
        old_path=old_path if old_path is not None else path,
        change=change,
        kind=kind,
        language=None,
        added=added,
        deleted=deleted,
    )


def make(
    pid: str = "pr-1",
    *,
    lines: int = 20,
    files: tuple[FileDiff, ...] | None = None,
    areas: tuple[str, ...] = ("src",),
    risk: float = 0.2,
    flags: tuple[Flag, ...] = (),
    change_type: ChangeKind | None = None,
    errors: tuple[str, ...] = (),
    trailers: tuple[Trailer, ...] = (),
    age_days: float = 1.0,
    **pr_fields: Any,
) -> Assessment:
    """An assessment of a `lines`-line PR by maintainer `alice`, opened `age_days` ago."""
    fields: dict[str, Any] = {
        "title": f"Change {pid}",
        "author": "alice",
        "author_association": "MEMBER",
        "created_at": NOW - timedelta(days=age_days),
        "linked_issues": ("#1",),
        "source": f"test:{pid}",
        "trailers": trailers,
    }
    fields.update(pr_fields)
    pr = PullRequest(id=pid, **fields)
    if files is None:
        files = (file(f"{areas[0] if areas else 'src'}/{pid}.py", added=lines),)
    metrics = Metrics(
        lines_added=lines,
        lines_deleted=0,
        files=len(files),
        directories=len(areas),
        subsystems=areas,
        entropy=0.0,
        size_bucket=bucket(lines),
        excluded_lines=0,
        source_lines=lines,
        test_lines=0,
        docs_lines=0,
    )
    level = RiskLevel.HIGH if risk >= 0.66 else RiskLevel.MEDIUM if risk >= 0.33 else RiskLevel.LOW
    review = Review(source=ReviewSource.HEURISTIC, summary="", change_type=change_type, flags=flags)
    return Assessment(
        pr=pr,
        diff=ParsedDiff(files=files),
        metrics=metrics,
        risk=Risk(score=risk, level=level),
        review=review,
        errors=errors,
    )

"""Dates and times, said once: every source and stage compares aware datetimes in UTC.

Sources that know no zone (a naive ISO-8601 value, an mbox `Date:` without one) are taken as
UTC, as git and GitHub do; output is ISO-8601 with a `Z`, as GitHub prints it.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["FAR_FUTURE", "FAR_PAST", "as_utc", "from_timestamp", "iso_z", "parse_iso8601", "parse_iso8601_or_none"]


# Sort keys for "no date": after (or before) every real one, and comparable with them.
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
FAR_PAST = datetime.min.replace(tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_iso8601(value: str) -> datetime:
    """ISO-8601 (`2026-11-01T09:30:00Z`, `...+02:00`, naive) as an aware UTC datetime.
    Raises ValueError for anything else, so each caller names its own input in the message."""
    return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00")))


def parse_iso8601_or_none(value: object) -> datetime | None:
    """`parse_iso8601` for fields that may be missing or unreadable (a GitHub API field, a git
    trailer): None for anything not a non-empty ISO-8601 string, so one bad field never fails
    its PR."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso8601(value)
    except ValueError:
        return None


def from_timestamp(seconds: float) -> datetime:
    """A Unix timestamp (git's `%ct`/`%at`) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def iso_z(value: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, second precision."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")

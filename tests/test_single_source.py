"""Tables and helpers that are said once, and fail here if a second copy appears.

Lockfile names, the extension -> language map, the UTC/ISO-8601 conversions and the progress bars
once drifted apart in several copies (30 lockfile names in one, 15 in another). Each now has one
home; these tests read the source (not import it), so a copy pasted anywhere in `triage/` or
`bench/` is found.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.classify import LANGUAGES, LOCKFILES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "triage").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
CLASSIFY = ROOT / "triage" / "classify.py"
TIMEUTIL = ROOT / "triage" / "timeutil.py"
EXTENSIONS = {ext for lang in LANGUAGES.values() for ext in lang.extensions}
LANGUAGE_NAMES = {lang.name for lang in LANGUAGES.values()} | {lang.display for lang in LANGUAGES.values()}


def _trees() -> Iterator[tuple[Path, ast.AST]]:
    for path in SOURCES:
        yield path, ast.parse(path.read_text(), filename=str(path))


def _strings(nodes: list[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def test_lockfile_names_are_listed_only_in_classify() -> None:
    copies = []
    for path, tree in _trees():
        if path == CLASSIFY:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Set | ast.List | ast.Tuple):
                names = _strings(list(node.elts))
            elif isinstance(node, ast.Dict):
                names = _strings(list(node.keys))
            else:
                continue
            if sum(name.lower() in LOCKFILES for name in names) >= 3:
                copies.append(_where(path, node))
    assert not copies, f"a second list of lockfile names (use triage.classify.LOCKFILES): {copies}"


def test_extensions_map_to_languages_only_in_classify() -> None:
    copies = []
    for path, tree in _trees():
        if path == CLASSIFY:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            pairs = [
                (k.value, v.value)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            ]
            if sum(k in EXTENSIONS and v in LANGUAGE_NAMES for k, v in pairs) >= 3:
                copies.append(_where(path, node))
    assert not copies, f"a second extension -> language map (use triage.classify.language_for): {copies}"


# What only triage/timeutil.py may call: the conversions between zones, strings and timestamps.
_TIME_CALLS = {"fromisoformat", "astimezone", "fromtimestamp", "utcfromtimestamp", "utcnow"}


def test_utc_and_iso_conversions_live_in_timeutil() -> None:
    copies = []
    for path, tree in _trees():
        if path == TIMEUTIL:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            tz_replace = name == "replace" and any(k.arg == "tzinfo" for k in node.keywords)
            iso_format = name == "strftime" and any("%Y-%m-%dT" in s for s in _strings(list(node.args)))
            if name in _TIME_CALLS or tz_replace or iso_format:
                copies.append(f"{_where(path, node)} .{name}()")
    assert not copies, f"a date/time conversion outside triage.timeutil (use its helpers): {copies}"


def test_progress_bars_are_built_only_in_triage_progress() -> None:
    copies = []
    for path, tree in _trees():
        if path == ROOT / "triage" / "progress.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if name == "Progress":
                    copies.append(_where(path, node))
    assert not copies, f"a rich Progress built outside triage.progress (use pr_bar/step_bar): {copies}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-15T15:20:33Z", "2019-05-15T15:20:33Z"),
        ("2019-05-15T17:20:33+02:00", "2019-05-15T15:20:33Z"),
        ("2019-05-15T15:20:33", "2019-05-15T15:20:33Z"),  # naive: taken as UTC
        ("yesterday", None),
        ("", None),
        (None, None),
        (1557933633, None),  # not a string: an API field of the wrong type
    ],
)
def test_lenient_parse_round_trips_through_iso_z(value: object, expected: str | None) -> None:
    from triage.timeutil import iso_z, parse_iso8601_or_none

    parsed = parse_iso8601_or_none(value)
    assert (iso_z(parsed) if parsed else None) == expected


def test_timestamps_are_utc() -> None:
    from triage.timeutil import FAR_FUTURE, FAR_PAST, from_timestamp, iso_z

    assert iso_z(from_timestamp(1557933633)) == "2019-05-15T15:20:33Z"
    assert FAR_PAST < from_timestamp(0) < FAR_FUTURE

"""The offline reviewer: (PullRequest, ParsedDiff, Metrics, Risk, Config) -> Review.

It always runs, on every PR of a batch (thousands), with no network: the LLM reviewer is an
optional upgrade, and when it is off or fails this is the review the report shows. So it must
be fast and must say nothing it cannot back with a fact from the diff: a summary assembled from
the title, commit subjects and measured counts, a change type read from conventional-commit
prefixes and file kinds, and flags from rules (secrets, injection attempts, missing tests,
generated churn, scope creep). Whether the description matches the code is not something rules
can judge, so `description_matches` stays None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from triage.classify import LANGUAGES
from triage.config import Config
from triage.models import (
    ChangeKind,
    FileKind,
    Flag,
    FlagKind,
    Metrics,
    ParsedDiff,
    PullRequest,
    Review,
    ReviewSource,
    Risk,
    Severity,
)
from triage.review import injection, secrets
from triage.review.base import ReviewItem

__all__ = ["HeuristicReviewer", "certain_change_type", "guess_change_type", "review", "rule_flags", "summarize"]

# Missing tests: more source lines than a trivial fix, and not one test line. Past the medium
# size bucket (100 lines, Prow) the gap matters more.
_MISSING_TESTS_MIN_LINES = 20
_MISSING_TESTS_MEDIUM_LINES = 100
_TITLE_CHARS = 160
_COMMIT_SUBJECTS = 3

# Conventional Commits types (and common variants) -> change kind.
_PREFIX_KINDS = {
    "feat": ChangeKind.FEATURE,
    "feature": ChangeKind.FEATURE,
    "fix": ChangeKind.FIX,
    "bugfix": ChangeKind.FIX,
    "hotfix": ChangeKind.FIX,
    "perf": ChangeKind.FIX,
    "docs": ChangeKind.DOCS,
    "doc": ChangeKind.DOCS,
    "test": ChangeKind.TEST,
    "tests": ChangeKind.TEST,
    "refactor": ChangeKind.REFACTOR,
    "style": ChangeKind.REFACTOR,
    "chore": ChangeKind.CHORE,
    "build": ChangeKind.CHORE,
    "ci": ChangeKind.CHORE,
    "release": ChangeKind.CHORE,
    "revert": ChangeKind.CHORE,
    "deps": ChangeKind.DEPS,
    "dep": ChangeKind.DEPS,
}
_CONVENTIONAL = re.compile(r"^\s*(?:\[(?P<b>[\w-]+)\]\s*|(?P<t>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?!?\s*:)")
_DEPS_TITLE = re.compile(r"^\s*(?:bump|upgrade|update)\s+\S+\s+(?:from|to)\s+v?\d", re.IGNORECASE)
_FIX_TITLE = re.compile(r"^\s*(?:fix(?:es|ed)?|resolve[sd]?|correct(?:s|ed)?)\b", re.IGNORECASE)
_FEATURE_TITLE = re.compile(r"^\s*(?:add(?:s|ed)?|implement(?:s|ed)?|introduce[sd]?|support)\b", re.IGNORECASE)
_REFACTOR_TITLE = re.compile(r"^\s*(?:refactor|clean\s*up|rename[sd]?|simplif(?:y|ies|ied))\b", re.IGNORECASE)
# Dependency manifests that travel with lockfiles in a dependency bump.
_MANIFESTS = frozenset(
    {
        "package.json",
        "pyproject.toml",
        "requirements.txt",
        "setup.cfg",
        "cargo.toml",
        "go.mod",
        "gemfile",
        "composer.json",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "pipfile",
    }
)


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1].lower()


def certain_change_type(diff: ParsedDiff) -> ChangeKind | None:
    """The change type the files alone settle, or None: only docs, only tests, or only
    lockfiles (with their manifests). A fact no title, and no model, can override."""
    files = diff.files
    if not files:
        return None
    kinds = {f.kind for f in files}
    if kinds == {FileKind.LOCKFILE} or (
        FileKind.LOCKFILE in kinds
        and all(f.kind is FileKind.LOCKFILE or _basename(f.path) in _MANIFESTS for f in files)
    ):
        return ChangeKind.DEPS
    if kinds == {FileKind.DOCS}:
        return ChangeKind.DOCS
    if kinds == {FileKind.TEST}:
        return ChangeKind.TEST
    return None


def guess_change_type(title: str, diff: ParsedDiff) -> ChangeKind | None:
    """What kind of change this is: file kinds when they are unambiguous, else the title.

    The files are facts and the title is a claim, so a PR that only touches lockfiles is
    `deps` whatever its title says; a mixed PR is what its conventional-commit prefix says.
    """
    settled = certain_change_type(diff)
    if settled is not None:
        return settled
    m = _CONVENTIONAL.match(title)
    if m:
        scope = (m.group("scope") or "").strip().lower()
        word = (m.group("t") or m.group("b") or "").lower()
        if scope in ("deps", "deps-dev", "dependencies"):
            return ChangeKind.DEPS
        if word in _PREFIX_KINDS:
            return _PREFIX_KINDS[word]
    if _DEPS_TITLE.match(title):
        return ChangeKind.DEPS
    if _FIX_TITLE.match(title):
        return ChangeKind.FIX
    if _REFACTOR_TITLE.match(title):
        return ChangeKind.REFACTOR
    if _FEATURE_TITLE.match(title):
        return ChangeKind.FEATURE
    return None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _areas(subsystems: tuple[str, ...]) -> str:
    names = ["the repository root" if s in (".", "") else f"{s}/" for s in subsystems]
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more areas"
    if len(names) > 1:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return names[0] if names else ""


def _languages(languages: tuple[str, ...]) -> str:
    names = list(dict.fromkeys((LANGUAGES[lang].display if lang in LANGUAGES else lang) for lang in languages))
    if not names:
        return ""
    if len(names) > 3:
        names = [*names[:3], "others"]
    return " of " + (names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summarize(pr: PullRequest, metrics: Metrics) -> str:
    """Two or three sentences a reviewer can trust: the stated intent, then measured facts.

    Title and commit subjects are the author's words, so they are redacted (a token pasted in a
    title must not reach a report) and clipped.
    """
    sentences: list[str] = []
    title = _clip(secrets.redact(pr.title), _TITLE_CHARS).rstrip(".")
    if title:
        sentences.append(f"{title}.")
    subjects: list[str] = []
    for message in pr.commit_messages:
        first = message.strip().split("\n", 1)[0].strip()
        if first and first != pr.title.strip() and first not in subjects:
            subjects.append(first)
    if subjects:
        shown = "; ".join(_clip(secrets.redact(s), 80).rstrip(".") for s in subjects[:_COMMIT_SUBJECTS])
        more = f" (+{len(subjects) - _COMMIT_SUBJECTS} more)" if len(subjects) > _COMMIT_SUBJECTS else ""
        sentences.append(f"Commits: {shown}{more}.")
    where = _areas(metrics.subsystems)
    scope = f"Touches {_plural(metrics.files, 'file')}" + (f" in {where}" if where else "")
    sentences.append(
        f"{scope}; adds {metrics.lines_added} and removes {metrics.lines_deleted} lines"
        f"{_languages(metrics.languages)}"
        + (
            f" ({metrics.excluded_lines} generated, vendored or lockfile lines not counted)"
            if metrics.excluded_lines
            else ""
        )
        + "."
    )
    return " ".join(sentences)


def rule_flags(diff: ParsedDiff, metrics: Metrics, cfg: Config) -> tuple[Flag, ...]:
    """Flags that follow from measured facts alone: missing tests, generated churn, scope creep."""
    flags: list[Flag] = []
    if metrics.source_lines > _MISSING_TESTS_MIN_LINES and metrics.test_lines == 0:
        severity = Severity.MEDIUM if metrics.source_lines > _MISSING_TESTS_MEDIUM_LINES else Severity.LOW
        flags.append(
            Flag(
                kind=FlagKind.MISSING_TESTS,
                severity=severity,
                evidence=f"{metrics.source_lines} source lines changed and no test file touched",
            )
        )
    machine = sum(f.changed for f in diff.files if f.kind in (FileKind.GENERATED, FileKind.VENDORED))
    if machine > metrics.source_lines:
        flags.append(
            Flag(
                kind=FlagKind.OTHER,
                severity=Severity.INFO,
                evidence=(
                    f"generated or vendored lines ({machine}) outnumber source lines "
                    f"({metrics.source_lines}); review the generator or the vendored version instead"
                ),
            )
        )
    areas = len(metrics.subsystems)
    if areas >= cfg.size.split_areas:
        flags.append(
            Flag(
                kind=FlagKind.SCOPE_CREEP,
                severity=Severity.LOW,
                evidence=f"touches {areas} top-level areas: {', '.join(metrics.subsystems[:6])}"
                + ("…" if areas > 6 else ""),
            )
        )
    return tuple(flags)


def review(pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, cfg: Config) -> Review:
    """The heuristic review of one PR. `risk` is accepted for interface symmetry with the LLM
    reviewer (which shows it to the model); rules do not need it."""
    del risk
    flags = (*secrets.scan_diff(diff), *injection.scan(pr, diff), *rule_flags(diff, metrics, cfg))
    return Review(
        source=ReviewSource.HEURISTIC,
        summary=summarize(pr, metrics),
        change_type=guess_change_type(pr.title, diff),
        description_matches=None,
        flags=flags,
    )


class HeuristicReviewer:
    """`review` as a `triage.review.base.Reviewer`: the first of the chain, so `prior` is
    ignored (there is none before it)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def review(
        self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, prior: Review | None = None
    ) -> Review:
        del prior
        return review(pr, diff, metrics, risk, self.cfg)

    def review_many(self, items: Iterable[ReviewItem]) -> Iterator[Review]:
        for pr, diff, metrics, risk, prior in items:
            yield self.review(pr, diff, metrics, risk, prior)

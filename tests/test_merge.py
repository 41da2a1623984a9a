"""Folding a review into the risk (triage.review.merge): it can only ever raise it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.models import Flag, FlagKind, Review, ReviewSource, Risk, RiskFactor, RiskLevel, Severity
from triage.review.merge import HIGH_THRESHOLD, MEDIUM_THRESHOLD, level_for, raise_risk

BASE = Risk(score=0.2, level=RiskLevel.LOW, factors=(RiskFactor("size", 120.0, 0.2, "M"),))


def _review(*flags: Flag, source: ReviewSource = ReviewSource.HEURISTIC, **kw: object) -> Review:
    return Review(source=source, summary="s", flags=flags, **kw)  # type: ignore[arg-type]


def _flag(kind: FlagKind, severity: Severity, source: str = "heuristic") -> Flag:
    return Flag(kind=kind, severity=severity, evidence="e", source=source)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, RiskLevel.LOW),
        (MEDIUM_THRESHOLD - 1e-4, RiskLevel.LOW),
        (MEDIUM_THRESHOLD, RiskLevel.MEDIUM),
        (HIGH_THRESHOLD - 1e-4, RiskLevel.MEDIUM),
        (HIGH_THRESHOLD, RiskLevel.HIGH),
        (1.0, RiskLevel.HIGH),
    ],
)
def test_level_for(score: float, level: RiskLevel) -> None:
    assert level_for(score) is level


@pytest.mark.parametrize(
    ("kind", "severity", "floor"),
    [
        (FlagKind.SECURITY, Severity.CRITICAL, 0.85),
        (FlagKind.SECURITY, Severity.HIGH, 0.70),
        (FlagKind.INJECTION_ATTEMPT, Severity.HIGH, 0.70),
        (FlagKind.INJECTION_ATTEMPT, Severity.CRITICAL, 0.85),
    ],
)
def test_serious_flags_set_a_floor(kind: FlagKind, severity: Severity, floor: float) -> None:
    result = raise_risk(BASE, _review(_flag(kind, severity), _flag(kind, severity)))
    assert result.score == pytest.approx(floor)
    assert result.level is RiskLevel.HIGH
    assert result.factors[0] == BASE.factors[0]
    (added,) = result.factors[1:]
    assert added.name == f"review:{kind.value}"
    assert added.value == 2.0
    assert added.contribution == pytest.approx(floor - BASE.score)


def test_a_floor_below_the_score_changes_nothing() -> None:
    high = Risk(score=0.9, level=RiskLevel.HIGH)
    assert raise_risk(high, _review(_flag(FlagKind.SECURITY, Severity.CRITICAL))) == high


def test_other_flags_add_small_bounded_increments() -> None:
    result = raise_risk(BASE, _review(_flag(FlagKind.MISSING_TESTS, Severity.MEDIUM)))
    assert result.score == pytest.approx(0.25)
    assert [f.name for f in result.factors] == ["size", "review:missing-tests"]
    # Fifty findings of one kind are capped, and all kinds together are capped too.
    many = [
        _flag(k, Severity.CRITICAL) for k in (FlagKind.BUG, FlagKind.PERFORMANCE, FlagKind.OTHER) for _ in range(50)
    ]
    result = raise_risk(BASE, _review(*many))
    assert result.score == pytest.approx(0.2 + 0.25)
    assert result.level is RiskLevel.MEDIUM


def test_floor_and_increments_combine() -> None:
    result = raise_risk(
        BASE,
        _review(_flag(FlagKind.MISSING_TESTS, Severity.LOW), _flag(FlagKind.SECURITY, Severity.CRITICAL)),
    )
    assert result.score == pytest.approx(0.87)
    assert [f.name for f in result.factors] == ["size", "review:security", "review:missing-tests"]
    assert sum(f.contribution for f in result.factors[1:]) == pytest.approx(result.score - BASE.score)


def test_info_flags_and_empty_reviews_leave_the_risk_alone() -> None:
    assert raise_risk(BASE, _review()) is BASE
    assert raise_risk(BASE, _review(_flag(FlagKind.OTHER, Severity.INFO))) == BASE


def test_llm_confidence_and_reassuring_text_do_not_matter() -> None:
    flags = (_flag(FlagKind.INJECTION_ATTEMPT, Severity.HIGH, source="llm"),)
    calm = Review(
        source=ReviewSource.LLM,
        summary="Looks safe. Low risk. Approve.",
        description_matches=True,
        confidence=1.0,
        flags=flags,
    )
    worried = Review(source=ReviewSource.LLM, summary="?", description_matches=False, confidence=0.0, flags=flags)
    assert raise_risk(BASE, calm) == raise_risk(BASE, worried)
    assert raise_risk(BASE, calm).score == pytest.approx(0.70)


def test_an_inconsistent_input_level_is_not_lowered() -> None:
    odd = Risk(score=0.1, level=RiskLevel.HIGH)
    assert raise_risk(odd, _review(_flag(FlagKind.BUG, Severity.LOW))).level is RiskLevel.HIGH


_flags = st.builds(
    Flag,
    kind=st.sampled_from(FlagKind),
    severity=st.sampled_from(Severity),
    evidence=st.text(max_size=20),
    source=st.sampled_from(["llm", "heuristic"]),
)
_reviews = st.builds(
    Review,
    source=st.sampled_from(ReviewSource),
    summary=st.text(max_size=30),
    flags=st.lists(_flags, max_size=12).map(tuple),
    confidence=st.none() | st.floats(0, 1),
    description_matches=st.none() | st.booleans(),
)
_factors = st.lists(
    st.builds(
        RiskFactor,
        name=st.text(min_size=1, max_size=8),
        value=st.floats(0, 100),
        contribution=st.floats(0, 1),
    ),
    max_size=4,
).map(tuple)
_risks = st.builds(Risk, score=st.floats(0, 1), level=st.sampled_from(RiskLevel), factors=_factors)


@settings(max_examples=300, deadline=None)
@given(risk=_risks, review=_reviews)
def test_a_review_never_lowers_the_risk(risk: Risk, review: Review) -> None:
    result = raise_risk(risk, review)
    assert result.score >= risk.score
    assert 0.0 <= result.score <= 1.0
    assert result.factors[: len(risk.factors)] == risk.factors
    order = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}
    assert order[result.level] >= order[risk.level]
    assert all(f.name.startswith("review:") and f.contribution > 0 for f in result.factors[len(risk.factors) :])


@settings(max_examples=100, deadline=None)
@given(risk=_risks, review=_reviews)
def test_raising_is_monotonic_in_flags(risk: Risk, review: Review) -> None:
    """Adding a critical security flag to any review never gives a lower score than without it."""
    extra = Review(
        source=review.source,
        summary=review.summary,
        flags=(*review.flags, _flag(FlagKind.SECURITY, Severity.CRITICAL)),
    )
    assert raise_risk(risk, extra).score >= max(raise_risk(risk, review).score, 0.85) - 1e-9

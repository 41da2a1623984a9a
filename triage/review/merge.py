"""Fold a review into the static risk: (Risk, Review) -> Risk. It can only ever raise it.

Why one-way: the static risk is measured from the diff; a review (heuristic or LLM) can notice
what measurement cannot (a leaked key, an instruction aimed at the reviewer), but a reviewer
that says "looks safe" cannot be allowed to talk the score down. That is exactly what a
prompt-injected LLM would say. So only flags count, never `confidence` or the summary text, and
the result is `max(original, raised)` with the original factors kept.

Security and injection flags of high or critical severity put a floor under the score (a PR
with a leaked cloud key is high risk whatever its size); every other flag adds a small,
bounded increment. Each contribution is recorded as a `RiskFactor` named `review:<kind>`.
"""

from __future__ import annotations

from collections import defaultdict

from triage.metrics.risk import HIGH_THRESHOLD, LOW_THRESHOLD, level_for
from triage.models import Flag, FlagKind, Review, Risk, RiskFactor, RiskLevel, Severity

__all__ = [
    "HIGH_THRESHOLD",
    "MEDIUM_THRESHOLD",
    "level_for",
    "raise_risk",
]

# Levels are the measure stage's (`triage.metrics.risk`): one set of thresholds for all risk.
MEDIUM_THRESHOLD = LOW_THRESHOLD

# Floors: (kind, severity) -> minimum score. Critical security (private keys, cloud keys) lands
# well inside "high"; any high-or-critical injection attempt or high security flag lands at its
# edge, so the PR gets eyes early without outranking a leaked credential.
_FLOORS: dict[tuple[FlagKind, Severity], float] = {
    (FlagKind.SECURITY, Severity.CRITICAL): 0.85,
    (FlagKind.SECURITY, Severity.HIGH): 0.70,
    (FlagKind.INJECTION_ATTEMPT, Severity.CRITICAL): 0.85,
    (FlagKind.INJECTION_ATTEMPT, Severity.HIGH): 0.70,
}

# Increments for every other flag, by severity; capped per kind and in total so a review with
# fifty nitpicks cannot turn a small PR into a high-risk one.
_INCREMENTS: dict[Severity, float] = {
    Severity.INFO: 0.0,
    Severity.LOW: 0.02,
    Severity.MEDIUM: 0.05,
    Severity.HIGH: 0.08,
    Severity.CRITICAL: 0.12,
}
_MAX_PER_KIND = 0.12
_MAX_TOTAL = 0.25
_NEGLIGIBLE = 1e-9  # below this an increment is float noise, not a finding

_LEVEL_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def _kind_order(kind: FlagKind) -> int:
    return list(FlagKind).index(kind)


def raise_risk(risk: Risk, review: Review) -> Risk:
    """`risk` raised by `review`'s flags; never lower in score, level, or factors.

    Only `review.flags` are read, and of them only the verified ones (`Flag.verified`: a
    model's flag must quote the PR). A flag's source (LLM or heuristic) does not matter, and
    neither do `review.confidence`, `review.summary` or `review.description_matches`.
    """
    by_kind: dict[FlagKind, list[Flag]] = defaultdict(list)
    for flag in review.flags:
        if flag.verified:  # a model's flag that quotes nothing of the PR counts zero
            by_kind[flag.kind].append(flag)
    if not by_kind:
        return risk

    score = risk.score
    factors: list[RiskFactor] = []
    kinds = sorted(by_kind, key=_kind_order)

    # Floors first: the highest floor among all flags decides, credited to its kind.
    floor, floor_kind = 0.0, None
    for kind in kinds:
        for flag in by_kind[kind]:
            value = _FLOORS.get((flag.kind, flag.severity), 0.0)
            if value > floor:
                floor, floor_kind = value, kind
    if floor_kind is not None and floor > score:
        flags = by_kind[floor_kind]
        factors.append(
            RiskFactor(
                name=f"review:{floor_kind.value}",
                value=float(len(flags)),
                contribution=floor - score,
                detail=f"{_describe(flags)}: score raised to at least {floor:.2f}",
            )
        )
        score = floor

    # Then bounded increments from flags that set no floor.
    budget = _MAX_TOTAL
    for kind in kinds:
        rest = [f for f in by_kind[kind] if (f.kind, f.severity) not in _FLOORS]
        increment = min(_MAX_PER_KIND, sum(_INCREMENTS[f.severity] for f in rest), budget, 1.0 - score)
        if increment <= _NEGLIGIBLE:
            continue
        budget -= increment
        factors.append(
            RiskFactor(
                name=f"review:{kind.value}",
                value=float(len(rest)),
                contribution=increment,
                detail=f"{_describe(rest)}: +{increment:.2f}",
            )
        )
        score += increment

    if not factors:
        return risk
    final = max(risk.score, min(1.0, score))
    level = level_for(final)
    if _LEVEL_ORDER.get(risk.level, 0) > _LEVEL_ORDER[level]:
        level = risk.level  # an inconsistent input level is kept rather than lowered
    return Risk(score=final, level=level, factors=(*risk.factors, *factors))


def _describe(flags: list[Flag]) -> str:
    worst = max(flags, key=lambda f: f.severity.weight)
    noun = "flag" if len(flags) == 1 else "flags"
    return f"{len(flags)} {worst.kind.value} {noun} (worst {worst.severity.value})"

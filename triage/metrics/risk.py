"""Risk of a change: (PullRequest, ParsedDiff, Metrics) -> Risk, a just-in-time defect model.

The score estimates how likely a change is to introduce a defect, so that risky PRs get
reviewers' eyes early. It follows just-in-time (JIT) defect prediction, which predicts
defect-inducing changes from properties of the change itself (Mockus & Weiss 2000; Kamei et al.
2013), as a logistic model over log-transformed inputs:

    logit = b0 + sum_i w_i * x_i          score = 1 / (1 + exp(-logit))      in (0, 1)

Every term is reported as a `RiskFactor` (name, raw value, contribution w_i * x_i, detail), the
intercept included, so the contributions add up to the logit exactly and a reader can see why
a PR scored as it did. Levels: low < 0.35 <= medium < 0.65 <= high.

The weights are measured, not cited. Each term's direction and rough size came first from
the just-in-time literature; each was then kept, reweighted or set to 0 by measurement on
public development data: ApacheJIT's SZZ labels for apache/groovy, apache/zeppelin and
apache/zookeeper (and apache/activemq without history), `python -m bench.risk_dev`. Candidate
weightings were replayed on every commit's dumped raw values, with and without `--repo`
history: ApacheJIT's test commits of each project and a seeded 700-commit sample of its
linked history. A term is weighted when it ranks beyond lines added with the same sign on
every project and survives leave-one-project-out (fitted on two projects, it still helps on
the third); weights are round numbers near the pooled fit, not its decimals. The README's
table lists, beside each weight, the ROC-AUC change on each set when the term is dropped.
Lines added is the backbone; the other terms reorder changes of similar size.

Terms (w_i, then x_i, then what the measurement said):

* intercept, -3.30: a one-line change without history scores about 5%; set so the median
  score on the development sets stayed where the previous weights had it.
* lines-added, +0.50: ln(1 + LA), LA over source, test and docs files alike (generated,
  vendored and lockfiles excluded). Kamei 2013 (LA). The strongest single predictor (AUC
  0.70-0.81 alone). Test and docs lines count in full: the former weights (tests 0.5, docs
  0.1) lowered the AUC by 0.01-0.02.
* lines-deleted, +0.15: ln(1 + LD), same files. Kamei 2013 (LD). Positive beyond lines added
  in every project's fit (+0.04..+0.24); the largest single gain of the re-measurement on
  ApacheJIT's test commits (dropping it: -0.011 groovy, -0.037 zookeeper).
* entropy, +0.20: normalised entropy of changed lines over source files, in [0, 1]. Hassan
  2009; Kamei 2013. Positive in every fit.
* complexity, +0.15: ln(1 + added cognitive complexity of the touched functions). Campbell
  2017. Positive in every fit (+0.02..+0.17).
* sensitive-paths, +0.35: 1 when a path is about auth, crypto, security, secrets, passwords,
  credentials, permissions, migrations or CI configuration. Helps on zeppelin (+0.78 in its
  fit), mixed elsewhere (few such paths: -0.43 activemq to +0.16 zookeeper, dropping it moves
  no other set by more than 0.004); kept at its earlier weight, not raised, because failures
  there also cost more.
* prior-changes, +0.15: ln(1 + NUC) - ln(11), NUC = earlier commits to the changed files
  (Kamei 2013). History only. Positive in every fit; the largest gain on zookeeper.
* weight 0 (reported with their raw values, contributing nothing): files, subsystems
  (negative once size is in: collinear), fix (no signal: AUC 0.45-0.53 alone), relative-churn,
  developers, file-age (signs disagree between projects), author-experience and
  subsystem-experience (fitted on two projects their signs flip with the third, and weighting
  them at -0.1 lowered the mean gain: they are collinear with each other and with prior
  changes), no-tests and non-code-only (negative in the fits: changes without tests were the
  *safer* ones at equal size; a default that scores leaving tests out as safer would reward
  it, so they stay unweighted).
  Their raw values stay in the factors: a calibrated model (`triage calibrate`) may weigh them.

History terms are centred on typical values (4 developers, 10 prior changes, 90 days, 20 and 5
commits of experience), so a PR scored without a repository is on the same scale as one with:
a missing input contributes 0 rather than shifting every score. Without history the model
combines size, entropy, complexity and sensitive paths, which still ranks at or above lines
added on the development sets' test commits.

Sources:
- Y. Kamei, E. Shihab, B. Adams, A. E. Hassan, A. Mockus, A. Sinha, N. Ubayashi, "A Large-Scale
  Empirical Study of Just-in-Time Quality Assurance", IEEE TSE 39(6), 2013.
- H. Keshavarz, M. Nagappan, "ApacheJIT: A Large Dataset for Just-In-Time Defect Prediction",
  MSR 2022 (the development labels).
- A. Mockus, D. M. Weiss, "Predicting Risk of Software Changes", Bell Labs Technical Journal
  5(2), 2000.
- A. E. Hassan, "Predicting Faults Using the Complexity of Code Changes", ICSE 2009.
- G. A. Campbell, "Cognitive Complexity", SonarSource white paper, 2017.

A PR with nothing measurable (empty or unparseable diff) scores 0 with a single factor saying
so: it never enters the review queue anyway, and a made-up score would only mislead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from triage.metrics.risk_model import RiskModel
from triage.metrics.risk_model import score as score_with_model
from triage.metrics.size import entropy, subsystem_of
from triage.models import (
    FileDiff,
    FileKind,
    History,
    Metrics,
    ParsedDiff,
    PullRequest,
    Risk,
    RiskFactor,
    RiskLevel,
)

__all__ = [
    "HIGH_THRESHOLD",
    "INTERCEPT",
    "LOW_THRESHOLD",
    "WEIGHTS",
    "assess_risk",
    "is_fix",
    "is_sensitive_path",
    "level_for",
    "sigmoid",
]

INTERCEPT = -3.30
# Measured on the development sets (see the module docstring); 0 = reported, not weighted.
WEIGHTS: dict[str, float] = {
    "lines-added": 0.50,
    "lines-deleted": 0.15,
    "files": 0.0,
    "entropy": 0.20,
    "subsystems": 0.0,
    "fix": 0.0,
    "relative-churn": 0.0,
    "complexity": 0.15,
    "no-tests": 0.0,
    "sensitive-paths": 0.35,
    "non-code-only": 0.0,
    "developers": 0.0,
    "prior-changes": 0.15,
    "file-age": 0.0,
    "author-experience": 0.0,
    "subsystem-experience": 0.0,
}
LOW_THRESHOLD = 0.35
HIGH_THRESHOLD = 0.65
_NO_TESTS_MIN_LINES = 10
# History terms are centred on these typical values (see the module docstring).
_CENTRE = {
    "developers": 3,
    "prior-changes": 10,
    "file-age": 90,
    "author-experience": 20,
    "subsystem-experience": 5,
}

# `[PATCH v2 3/7]` subject tags from git format-patch must not read as "patch" = fix.
_SUBJECT_TAG = re.compile(r"^\s*(?:\[[^\]]*\]\s*)+")
_FIX = re.compile(
    r"\b(?:fix(?:e[sd]|ing)?|bug(?:s|fix(?:es)?)?|hotfix(?:es)?|defects?|patch(?:e[sd]|ing)?"
    r"|crash(?:e[sd]|ing)?|regressions?)\b",
    re.IGNORECASE,
)
_SENSITIVE = re.compile(
    r"(?:^|[/_.-])(?:auth(?:n|z|entication|orization)?|oauth2?|crypto(?:graphy)?|security|secrets?"
    r"|passwords?|credentials?|permissions?|migrations?)(?:$|[/_.-])"
    r"|(?:^|/)(?:\.github/workflows/|\.circleci/|\.gitlab-ci\.ya?ml$|jenkinsfile$|azure-pipelines\.ya?ml$"
    r"|\.travis\.ya?ml$)",
    re.IGNORECASE,
)


def sigmoid(x: float) -> float:
    """Numerically stable logistic function (no overflow for any finite input)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def level_for(score: float) -> RiskLevel:
    if score >= HIGH_THRESHOLD:
        return RiskLevel.HIGH
    if score >= LOW_THRESHOLD:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def is_fix(texts: Iterable[str]) -> bool:
    """Kamei et al.'s FIX: the change's message says it fixes something."""
    for text in texts:
        for line in text.splitlines() or [text]:
            if _FIX.search(_SUBJECT_TAG.sub("", line)):
                return True
    return False


def is_sensitive_path(path: str) -> bool:
    return bool(_SENSITIVE.search(path))


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The raw inputs of the model, gathered once from the diff and the metrics.

    Diffusion (files, subsystems, entropy) is taken over *source* files: a test or a doc
    written alongside the code does not scatter the change, and must not make it look riskier
    than the same change without them.
    """

    added: float
    deleted: float
    files: int
    subsystems: int
    entropy: float
    source_added: int
    sensitive: tuple[str, ...]


def _inputs(diff: ParsedDiff, metrics: Metrics) -> _Inputs:
    counted: list[FileDiff] = [f for f in diff.files if f.kind.counts]
    if not counted and metrics.changed_lines:  # a diff stripped of its files: use the metrics
        return _Inputs(
            added=float(metrics.lines_added),
            deleted=float(metrics.lines_deleted),
            files=metrics.files,
            subsystems=len(metrics.subsystems),
            entropy=metrics.entropy,
            source_added=metrics.source_lines,
            sensitive=(),
        )
    source = [f for f in counted if f.kind is FileKind.SOURCE]
    return _Inputs(
        added=sum(f.added for f in counted),
        deleted=sum(f.deleted for f in counted),
        files=len(source),
        subsystems=len({subsystem_of(f.path) for f in source}),
        entropy=entropy([f.changed for f in source]),
        source_added=sum(f.added for f in source),
        sensitive=tuple(f.path for f in counted if is_sensitive_path(f.path)),
    )


def _factor(name: str, raw: float, x: float, detail: str) -> RiskFactor:
    """One term; a term weighted 0 still shows its raw value (a calibrated model may use it)
    and says that it does not count."""
    weight = WEIGHTS[name]
    if weight == 0.0:
        detail = f"{detail} (not weighted: no measured gain)"
    return RiskFactor(name=name, value=round(raw, 6), contribution=round(weight * x, 6) + 0.0, detail=detail)


def _centred(name: str, value: float) -> float:
    return math.log1p(max(0.0, value)) - math.log1p(_CENTRE[name])


def _history_factors(history: History | None) -> list[RiskFactor]:
    names = ("developers", "prior-changes", "file-age", "author-experience", "subsystem-experience")
    if history is None:
        return [RiskFactor(name, 0.0, 0.0, "no repository history") for name in names]
    ndev = max((f.authors for f in history.files), default=0)
    nuc = sum(f.prior_changes for f in history.files)
    ages = [f.age_days for f in history.files if f.age_days is not None]
    factors = [
        _factor("developers", ndev, _centred("developers", ndev), f"up to {ndev} distinct authors per file"),
        _factor("prior-changes", nuc, _centred("prior-changes", nuc), f"{nuc} earlier commits to these files"),
    ]
    if ages:
        age = sum(ages) / len(ages)
        factors.append(
            _factor("file-age", age, _centred("file-age", age), f"last changed {age:.0f} days ago on average")
        )
    else:
        factors.append(RiskFactor("file-age", 0.0, 0.0, "no earlier change to these files"))
    exp, sexp = history.author_changes, history.author_subsystem_changes
    factors.append(
        _factor("author-experience", exp, _centred("author-experience", exp), f"author has {exp} earlier commits")
    )
    factors.append(
        _factor(
            "subsystem-experience",
            sexp,
            _centred("subsystem-experience", sexp),
            f"author has {sexp} earlier commits in these areas",
        )
    )
    return factors


def assess_risk(pr: PullRequest, diff: ParsedDiff, metrics: Metrics, model: RiskModel | None = None) -> Risk:
    """Score one PR's risk in [0, 1] with every factor's contribution (deterministic, pure).

    With a calibrated `model` (`triage calibrate`), the default factors' raw inputs feed the
    model instead of the default weights above (`triage.metrics.risk_model.score`)."""
    risk = _default_risk(pr, diff, metrics)
    return risk if model is None else score_with_model(model, pr, diff, metrics, risk)


def _default_risk(pr: PullRequest, diff: ParsedDiff, metrics: Metrics) -> Risk:
    if not diff.files and metrics.files == 0 and metrics.changed_lines == 0:
        return Risk(
            score=0.0,
            level=RiskLevel.LOW,
            factors=(RiskFactor("no-data", 0.0, 0.0, "nothing measurable: the diff is empty or could not be parsed"),),
        )
    inp = _inputs(diff, metrics)
    fix = is_fix((pr.title, *pr.commit_messages))
    ns = inp.subsystems
    factors: list[RiskFactor] = [
        RiskFactor("intercept", 1.0, INTERCEPT, "baseline log-odds"),
        _factor("lines-added", inp.added, math.log1p(inp.added), "added lines, generated/vendored/lockfiles excluded"),
        _factor("lines-deleted", inp.deleted, math.log1p(inp.deleted), "deleted lines, same files"),
        _factor("files", inp.files, math.log1p(inp.files), f"{inp.files} source file(s)"),
        _factor("entropy", inp.entropy, inp.entropy, "how evenly the change spreads over source files"),
        _factor("subsystems", ns, math.log(ns) if ns > 1 else 0.0, f"{ns} top-level area(s) of source"),
        _factor("fix", float(fix), float(fix), "bug-fixing change" if fix else "not described as a fix"),
    ]
    churn = metrics.lines_added + metrics.lines_deleted
    if metrics.lines_before:
        rel = churn / metrics.lines_before
        factors.append(_factor("relative-churn", rel, math.log1p(rel), f"{churn} of {metrics.lines_before} lines"))
    else:
        factors.append(RiskFactor("relative-churn", 0.0, 0.0, "file contents not available"))
    if metrics.functions:
        added_cc = max(0, metrics.complexity_delta)
        factors.append(
            _factor(
                "complexity",
                added_cc,
                math.log1p(added_cc),
                f"cognitive complexity {metrics.complexity_delta:+d}",
            )
        )
    else:
        factors.append(RiskFactor("complexity", 0.0, 0.0, "no functions measured"))
    no_tests = inp.source_added >= _NO_TESTS_MIN_LINES and metrics.test_lines == 0
    factors.append(
        _factor(
            "no-tests",
            float(no_tests),
            float(no_tests),
            "source changed without tests" if no_tests else "tests changed or little source",
        )
    )
    sensitive = bool(inp.sensitive)
    shown = ", ".join(inp.sensitive[:3]) + (" ..." if len(inp.sensitive) > 3 else "")
    factors.append(_factor("sensitive-paths", float(sensitive), float(sensitive), shown or "no sensitive path touched"))
    non_code = metrics.source_lines == 0 and inp.source_added == 0
    factors.append(
        _factor(
            "non-code-only",
            float(non_code),
            float(non_code),
            "no source line changed" if non_code else "source code changed",
        )
    )
    factors.extend(_history_factors(metrics.history))
    logit = sum(f.contribution for f in factors)
    score = sigmoid(logit)
    return Risk(score=score, level=level_for(score), factors=tuple(factors))

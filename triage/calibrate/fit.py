"""Fit a risk model on mined, labelled commits: (CommitFeatures, labels) -> FitResult.

The recipe is the just-in-time defect-prediction standard, kept small enough to explain:

* inputs: the default model's raw factor values (`risk_model.NUMERIC_FEATURES`), transformed
  (log1p for counts) and standardised on the fitting set, plus a bag of tokens of the change
  (JITLine, Pornprasit & Tantithamthavorn, MSR 2021), `log1p(count)`, over a vocabulary of the
  tokens seen in at least `min_df` commits of the fitting set (the most frequent first, at
  most `max_vocabulary`);
* scikit-learn's L2-regularised `LogisticRegression` with `class_weight="balanced"` (buggy
  commits are the minority), then the intercept moved back by log(buggy / clean) so the score
  is a probability at the project's own base rate again (prior correction, King & Zeng 2001);
  the ranking, and so every AUC, is unchanged by that shift;
* time-respecting evaluation, never the reverse: the newest `validation_fraction` of the
  commits is the validation slice; the regularisation strength is chosen on the newest quarter
  of the older commits, the model is fitted on all the older commits and scored on the
  validation slice, next to lines added on the same slice. The shipped model is then refitted
  with the same recipe on the whole window, so it has seen the most recent history; the
  validation figures in the file are those of the recipe, measured on commits it had not seen.

scikit-learn is needed here only: scoring reads the JSON file (`triage.metrics.risk_model`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.calibrate.features import CommitFeatures
from triage.errors import TriageError
from triage.metrics.risk_model import NUMERIC_FEATURES, NumericTerm, RiskModel, Training, Validation, transform
from triage.timeutil import from_timestamp, iso_z

__all__ = ["FitResult", "ModelRejected", "fit", "roc_auc"]

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
_DEFAULT_C = 0.1
MIN_COMMITS = 30


class ModelRejected(TriageError):
    """The calibrated model does not rank better than lines added (or cannot be validated)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class FitResult:
    model: RiskModel
    train_commits: int
    validation_commits: int
    validation_buggy: int
    validation_auc: float | None
    lines_added_auc: float | None
    regularisation: float
    vocabulary: int

    @property
    def beats_lines_added(self) -> bool:
        return (
            self.validation_auc is not None
            and self.lines_added_auc is not None
            and self.validation_auc > self.lines_added_auc
        )


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """ROC-AUC, or None when the labels hold one class only."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score([int(v) for v in labels], list(scores)))


@dataclass(frozen=True, slots=True)
class _Design:
    """How raw rows become a matrix: fitted on one set, applied to any."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    vocabulary: tuple[str, ...]

    @classmethod
    def learn(cls, rows: Sequence[CommitFeatures], min_df: int, max_vocabulary: int) -> _Design:
        kinds = tuple(NUMERIC_FEATURES.values())
        columns = [[transform(kind, r.numeric[j]) for r in rows] for j, kind in enumerate(kinds)]
        means = tuple(sum(c) / len(c) for c in columns)
        scales = []
        for c, m in zip(columns, means, strict=True):
            sd = math.sqrt(sum((v - m) ** 2 for v in c) / len(c))
            scales.append(sd if sd > 1e-9 else 1.0)
        df: Counter[str] = Counter()
        for r in rows:
            df.update(tok for tok, _ in r.tokens)
        ranked = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))
        return cls(means, tuple(scales), tuple(ranked[:max_vocabulary]))

    def matrix(self, rows: Sequence[CommitFeatures]) -> Any:
        from scipy import sparse

        kinds = tuple(NUMERIC_FEATURES.values())
        width = len(kinds)
        col = {t: width + i for i, t in enumerate(self.vocabulary)}
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for r in rows:
            for j, kind in enumerate(kinds):
                data.append((transform(kind, r.numeric[j]) - self.means[j]) / self.scales[j])
                indices.append(j)
            for tok, n in sorted(r.tokens, key=lambda tn: col.get(tn[0], -1)):
                k = col.get(tok)
                if k is not None:
                    data.append(math.log1p(n))
                    indices.append(k)
            indptr.append(len(data))
        return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width + len(self.vocabulary)))


def _fit(rows: Sequence[CommitFeatures], y: Sequence[bool], c: float, min_df: int, max_vocabulary: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    design = _Design.learn(rows, min_df, max_vocabulary)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    clf.fit(design.matrix(rows), [int(v) for v in y])
    return design, clf


def _scores(design: _Design, clf: Any, rows: Sequence[CommitFeatures]) -> list[float]:
    return [float(v) for v in clf.decision_function(design.matrix(rows))]


def _choose_c(rows: Sequence[CommitFeatures], y: Sequence[bool], min_df: int, max_vocabulary: int) -> float:
    """The regularisation with the best AUC on the newest quarter of the older commits."""
    cut = len(rows) - max(1, len(rows) // 4)
    inner, tune, y_inner, y_tune = rows[:cut], rows[cut:], y[:cut], y[cut:]
    if len(set(y_inner)) < 2 or len(set(y_tune)) < 2:
        return _DEFAULT_C
    best, best_auc = _DEFAULT_C, -1.0
    for c in C_GRID:
        design, clf = _fit(inner, y_inner, c, min_df, max_vocabulary)
        auc = roc_auc(_scores(design, clf, tune), y_tune)
        if auc is not None and auc > best_auc + 1e-9:
            best, best_auc = c, auc
    return best


def fit(
    rows: Sequence[CommitFeatures],
    labels: Mapping[str, bool],
    *,
    repo_name: str,
    rev: str,
    until: str | None = None,
    validation_fraction: float = 0.2,
    min_df: int = 3,
    max_vocabulary: int = 5000,
) -> FitResult:
    """Fit, validate on the newest slice, refit on everything. `rows` must be oldest first."""
    usable = [r for r in rows if r.error is None and r.sha in labels]
    y = [labels[r.sha] for r in usable]
    if len(usable) < MIN_COMMITS:
        raise ModelRejected(f"only {len(usable)} labelled commits could be measured; at least {MIN_COMMITS} are needed")
    if sum(y) < 2 or sum(y) > len(y) - 2:
        raise ModelRejected(f"{sum(y)} of {len(y)} commits are labelled fix-inducing: too few of one class to fit")
    n_val = max(1, round(len(usable) * validation_fraction))
    train, val, y_train, y_val = usable[:-n_val], usable[-n_val:], y[:-n_val], y[-n_val:]
    if len(set(y_train)) < 2:
        raise ModelRejected("the training part holds one class only: nothing to learn")
    c = _choose_c(train, y_train, min_df, max_vocabulary)
    design, clf = _fit(train, y_train, c, min_df, max_vocabulary)
    val_auc = roc_auc(_scores(design, clf, val), y_val)
    la_auc = roc_auc([float(r.lines_added) for r in val], y_val)

    design, clf = _fit(usable, y, c, min_df, max_vocabulary)
    coefs = [float(v) for v in clf.coef_[0]]
    width = len(NUMERIC_FEATURES)
    pos = sum(y)
    intercept = float(clf.intercept_[0]) + math.log(pos / (len(y) - pos))
    numeric = tuple(
        NumericTerm(name=name, transform=kind, mean=design.means[j], scale=design.scales[j], coef=coefs[j])
        for j, (name, kind) in enumerate(NUMERIC_FEATURES.items())
    )
    token_coef = {tok: coefs[width + i] for i, tok in enumerate(design.vocabulary) if coefs[width + i] != 0.0}
    model = RiskModel(
        intercept=intercept,
        numeric=numeric,
        token_coef=token_coef,
        training=Training(
            repo=repo_name,
            rev=rev,
            commits=len(usable),
            buggy=pos,
            first=iso_z(from_timestamp(usable[0].time)),
            last=iso_z(from_timestamp(usable[-1].time)),
            until=until,
            regularisation=c,
        ),
        validation=Validation(
            commits=len(val),
            buggy=sum(y_val),
            auc=round(val_auc, 4) if val_auc is not None else 0.0,
            lines_added_auc=round(la_auc, 4) if la_auc is not None else 0.0,
            first=iso_z(from_timestamp(val[0].time)),
            last=iso_z(from_timestamp(val[-1].time)),
        ),
    )
    return FitResult(
        model=model,
        train_commits=len(train),
        validation_commits=len(val),
        validation_buggy=sum(y_val),
        validation_auc=val_auc,
        lines_added_auc=la_auc,
        regularisation=c,
        vocabulary=len(token_coef),
    )

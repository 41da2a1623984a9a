"""Fit a risk model on mined, labelled commits: (CommitFeatures, labels) -> FitResult.

The recipe is the just-in-time defect-prediction standard, kept small enough to explain:

* inputs: the default model's raw factor values (`risk_model.NUMERIC_FEATURES`), transformed
  (log1p for counts) and standardised on the fitting set, plus the tokens of the change
  (JITLine, Pornprasit & Tantithamthavorn, MSR 2021) as present/absent, over a vocabulary of
  the tokens seen in at least `min_df` commits of the fitting set (the most frequent first, at
  most `max_vocabulary`);
* optionally the commit's time as a covariate, fitted and then left out of the model file
  (`time_adjusted`). Why: SZZ labels mature late (a commit is "clean" until a fix blames it,
  and the newest commits have had the least time to be fixed) and a project's fix-message
  conventions drift, so the share of fix-inducing commits in a window falls with time (on
  apache/zookeeper before 2017 from 20 % to 1 % per tenth). The history inputs (prior
  changes, experience, file age) grow with time, so without the covariate the fit credits
  them with that trend. With it they are weighed among commits of the same era. Whether it
  is used is decided by validation, like the regularisation;
* an L2-regularised, class-balanced logistic regression (buggy commits are the minority)
  that shrinks toward the default weights (`triage.metrics.risk.WEIGHTS`, read when fitting),
  not toward zero: their logit on the model's transformed inputs is an offset and the fit
  learns only departures from it (scipy's L-BFGS; scikit-learn's solvers take no offset).
  A model that learned nothing is the default ranking; the file holds the sum, so scoring
  does not depend on the default weights of the version that reads it. Why: on ApacheJIT's
  test labels (`bench.calibration`, scenario `calibration_jit`), the models shrunk toward zero
  lost to the default on all three development projects (groovy -0.043 against lines added,
  the default +0.004), and the more weight the tokens got, the lower the gain, while our own
  SZZ labels' validation folds rose with it: tokens learn what our labels share with the
  fixes near them more than what makes a change risky years later. `prior=False` is the former
  fit (liblinear toward zero). Then the intercept is moved back by log(buggy / clean) so the
  score is a probability at the project's own base rate again (prior correction, King & Zeng
  2001); the ranking, and so every AUC, is unchanged by that shift;
* time-respecting validation, never the reverse (forward chaining): the newest commits are cut
  into up to `FOLDS` slices of `validation_fraction` each; each slice is scored by a model
  fitted on every commit older than it, next to lines added on the same slice. The
  regularisation and the time adjustment are the pair with the best mean fold AUC; the file's
  validation figures are the folds' means with that pair (so they carry the mild optimism of
  choosing among 12 settings on them). The shipped model is then refitted on the whole
  window, so it has seen the most recent history.

Why several folds and not one newest slice: the newest slice has the least mature labels
(zookeeper's newest fifth before 2017 held 4 fix-inducing commits of 299), so one slice
decides by noise; three slices hold several times more fix-inducing commits.

Cost: the token matrix is built once for all commits; each fit selects the vocabulary of its
fitting prefix by column counts and runs liblinear, so a 10,000-commit window fits in seconds
per setting instead of rebuilding Python-level rows per fit.

scikit-learn and scipy are needed here only: scoring reads the JSON file
(`triage.metrics.risk_model`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.calibrate.features import CommitFeatures
from triage.errors import TriageError
from triage.metrics.risk_model import (
    NUMERIC_FEATURES,
    Fold,
    NumericTerm,
    RiskModel,
    Training,
    Validation,
    transform,
)
from triage.timeutil import from_timestamp, iso_z

__all__ = ["C_GRID", "C_GRID_ZERO", "FOLDS", "FitResult", "ModelRejected", "fit", "roc_auc"]

# Regularisation (liblinear's C: larger = weaker penalty). Around the default weights the
# penalty is strong: on ApacheJIT's test labels of the three development projects, every
# step up from 1e-4 lowered the gain over lines added (groovy +0.003 at 1e-4, -0.017 at 1e-3,
# -0.043 at 1e-2), although our own SZZ validation folds favoured the larger values; see the
# module docstring. Toward zero (`prior=False`) the former grid.
C_GRID = (0.00003, 0.0001)
C_GRID_ZERO = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
FOLDS = 3
MIN_COMMITS = 30
# The time covariate's column is scaled up so that the L2 penalty barely touches it: it is a
# nuisance term whose size must be whatever the data says, not shrunk toward 0.
_TIME_SCALE = 10.0
_INTERCEPT_SCALING = 10.0


class ModelRejected(TriageError):
    """The calibrated model does not rank better than lines added (or cannot be validated)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class FitResult:
    model: RiskModel
    train_commits: int  # commits older than every validation fold
    validation_commits: int  # commits in the folds (each scored by a model that had not seen it)
    validation_buggy: int
    validation_auc: float | None  # mean over the folds
    lines_added_auc: float | None  # mean over the folds
    regularisation: float
    vocabulary: int
    time_adjusted: bool = False
    folds: tuple[Fold, ...] = ()

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


class _Data:
    """Every usable commit as arrays, built once: transformed numeric inputs, times, and a
    binary commit x token matrix over every token seen. Fits take a prefix (older commits)."""

    def __init__(self, rows: Sequence[CommitFeatures]) -> None:
        import numpy as np
        from scipy import sparse

        kinds = tuple(NUMERIC_FEATURES.values())
        self.numeric = np.array(
            [[transform(kind, r.numeric[j]) for j, kind in enumerate(kinds)] for r in rows], dtype=float
        ).reshape(len(rows), len(kinds))
        self.times = np.array([float(r.time) for r in rows])
        columns: dict[str, int] = {}
        indices: list[int] = []
        indptr = [0]
        for r in rows:
            for tok, _ in r.tokens:
                indices.append(columns.setdefault(tok, len(columns)))
            indptr.append(len(indices))
        self.tokens = np.array(list(columns), dtype=object)
        matrix = sparse.csr_matrix(
            (np.ones(len(indices)), np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
            shape=(len(rows), len(columns)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        self.matrix = matrix
        self.added = [float(r.lines_added) for r in rows]


@dataclass(frozen=True, slots=True)
class _Design:
    """How a fitting prefix turns rows into a matrix: scaling, vocabulary, time covariate."""

    means: Any
    scales: Any
    columns: Any  # token columns of `_Data.matrix` kept, in vocabulary order
    time_mean: float | None
    time_scale: float

    @classmethod
    def learn(cls, data: _Data, end: int, min_df: int, max_vocabulary: int, time: bool) -> _Design:
        import numpy as np

        block = data.numeric[:end]
        means = block.mean(axis=0)
        scales = block.std(axis=0)
        scales[scales <= 1e-9] = 1.0
        df = np.bincount(data.matrix[:end].indices, minlength=data.matrix.shape[1])
        keep = np.flatnonzero(df >= min_df)
        # most frequent first, ties by token: the same vocabulary whatever the input order
        order = sorted(keep.tolist(), key=lambda k: (-int(df[k]), data.tokens[k]))[:max_vocabulary]
        t = data.times[:end]
        time_scale = float(t.std()) or 1.0
        return cls(means, scales, np.array(order, dtype=np.int64), float(t.mean()) if time else None, time_scale)

    def matrix(self, data: _Data, start: int, end: int, *, scoring: bool) -> Any:
        """Rows start..end; scoring sets the time covariate to its mean (it contributes 0)."""
        import numpy as np
        from scipy import sparse

        parts = [sparse.csr_matrix((data.numeric[start:end] - self.means) / self.scales)]
        if self.time_mean is not None:
            t = np.zeros(end - start) if scoring else (data.times[start:end] - self.time_mean) / self.time_scale
            parts.append(sparse.csr_matrix(t[:, None] * _TIME_SCALE))
        parts.append(data.matrix[start:end][:, self.columns].tocsr())
        return sparse.hstack(parts, format="csr")


def prior_weights() -> Any:
    """The default model's weights in `NUMERIC_FEATURES` order, read when fitting (so the
    prior is whatever `triage.metrics.risk.WEIGHTS` says today)."""
    import numpy as np

    from triage.metrics.risk import WEIGHTS

    return np.array([float(WEIGHTS.get(name, 0.0)) for name in NUMERIC_FEATURES])


def _logistic(x: Any, y: Any, c: float, offset: Any, free: Any) -> tuple[Any, float]:
    """L2-penalised logistic regression with an offset (which scikit-learn's solvers do not
    take), class-balanced like `class_weight="balanced"`: minimise
    0.5 * |beta[~free]|^2 + c * sum_i w_i * logloss(y_i, x_i . beta + b + offset_i)
    with scipy's L-BFGS. The intercept and the `free` columns are not penalised."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import expit

    n, d = x.shape
    yf = y.astype(float)
    pos = max(1.0, float(yf.sum()))
    sw = np.where(yf > 0, n / (2 * pos), n / (2 * max(1.0, n - pos)))
    penalised = (~free).astype(float)
    xt = x.T.tocsr()

    def objective(theta: Any) -> tuple[float, Any]:
        beta, b = theta[:d], theta[d]
        z = x @ beta + b + offset
        loss = float(np.dot(sw, np.logaddexp(0.0, z) - yf * z))
        g = sw * (expit(z) - yf)
        pb = beta * penalised
        grad = np.empty(d + 1)
        grad[:d] = c * (xt @ g) + pb
        grad[d] = c * g.sum()
        return c * loss + 0.5 * float(np.dot(pb, pb)), grad

    res = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    return res.x[:d], float(res.x[d])


def _fit(
    data: _Data, y: Any, end: int, c: float, time: bool, min_df: int, max_vocabulary: int, prior: bool = True
) -> tuple[_Design, Any, float]:
    """(design, coefficients, intercept) on the first `end` commits; a row's logit is
    `design.matrix(...) @ coef + intercept`. With `prior` the fit starts from the
    default weights: their logit is an offset and the penalty pulls the coefficients toward
    them instead of toward 0, so what is returned has them folded in (numeric coefficient
    j = learned + w_j * scale_j, intercept + sum_j w_j * mean_j)."""
    import numpy as np

    design = _Design.learn(data, end, min_df, max_vocabulary, time)
    x = design.matrix(data, 0, end, scoring=False)
    if not prior:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(
            C=c, class_weight="balanced", solver="liblinear", intercept_scaling=_INTERCEPT_SCALING, max_iter=1000
        )
        clf.fit(x, y[:end])
        return design, clf.coef_[0].copy(), float(clf.intercept_[0])
    width = len(NUMERIC_FEATURES) + (1 if time else 0)
    free = np.zeros(x.shape[1], dtype=bool)
    free[len(NUMERIC_FEATURES) : width] = True  # the time covariate
    w = prior_weights()
    offset = data.numeric[:end] @ w
    coef, b = _logistic(x, y[:end], c, offset, free)
    coef[: len(NUMERIC_FEATURES)] += w * design.scales
    return design, coef, b + float(np.dot(w, design.means))


def _folds(n: int, validation_fraction: float) -> list[tuple[int, int]]:
    """(start, end) of the forward-chaining folds, oldest first: the newest commits in up to
    FOLDS slices, the oldest fold still trained on at least one slice's worth of commits."""
    size = max(1, round(n * validation_fraction))
    k = max(1, min(FOLDS, (n - size) // size))
    return [(n - (k - i) * size, n - (k - i - 1) * size) for i in range(k)]


def _validate(
    data: _Data,
    y: Any,
    folds: Sequence[tuple[int, int]],
    c: float,
    time: bool,
    min_df: int,
    max_vocabulary: int,
    prior: bool = True,
) -> list[tuple[int, int, float, float, Any]]:
    """(start, end, model AUC, lines-added AUC, scores) of each fold holding both classes."""
    import numpy as np

    out = []
    for start, end in folds:
        labels = [bool(v) for v in y[start:end]]
        if len(set(labels)) < 2 or len(set(y[:start].tolist())) < 2:
            continue
        design, coef, b = _fit(data, y, start, c, time, min_df, max_vocabulary, prior)
        scores = (design.matrix(data, start, end, scoring=True) @ coef + b).tolist()
        auc, la = roc_auc(scores, labels), roc_auc(data.added[start:end], labels)
        if auc is not None and la is not None:
            out.append((start, end, auc, la, np.array(scores)))
    return out


def fit(
    rows: Sequence[CommitFeatures],
    labels: Mapping[str, bool],
    *,
    repo_name: str,
    rev: str,
    until: str | None = None,
    validation_fraction: float = 0.2,
    min_df: int = 5,
    max_vocabulary: int = 2000,
    c_grid: Sequence[float] | None = None,
    time_options: Sequence[bool] = (False, True),
    prior: bool = True,
) -> FitResult:
    """Validate by forward chaining, choose the setting, refit on everything. `rows` must be
    oldest first."""
    import numpy as np

    usable = [r for r in rows if r.error is None and r.sha in labels]
    y = np.array([int(labels[r.sha]) for r in usable])
    if len(usable) < MIN_COMMITS:
        raise ModelRejected(f"only {len(usable)} labelled commits could be measured; at least {MIN_COMMITS} are needed")
    pos = int(y.sum())
    if pos < 2 or pos > len(y) - 2:
        raise ModelRejected(f"{pos} of {len(y)} commits are labelled fix-inducing: too few of one class to fit")
    folds = _folds(len(usable), validation_fraction)
    if len(set(y[: folds[0][0]].tolist())) < 2:
        raise ModelRejected("the training part holds one class only: nothing to learn")
    if c_grid is None:
        c_grid = C_GRID if prior else C_GRID_ZERO
    data = _Data(usable)
    best: tuple[float, float, bool, list[tuple[int, int, float, float, Any]]] | None = None
    for time in time_options:
        for c in c_grid:
            scored = _validate(data, y, folds, c, time, min_df, max_vocabulary, prior)
            mean = sum(a for _, _, a, _, _ in scored) / len(scored) if scored else -1.0
            if best is None or mean > best[0] + 1e-9:
                best = (mean, c, time, scored)
    assert best is not None
    _, c, time, scored = best
    if not scored:
        raise ModelRejected(
            f"no validation fold could be scored: each of the newest {len(usable) - folds[0][0]} commits' "
            f"{len(folds)} slice(s) holds one class only (or its older part does), so the model cannot be "
            "compared with lines added"
        )
    fold_terms = tuple(
        Fold(
            commits=end - start,
            buggy=int(y[start:end].sum()),
            auc=round(auc, 4),
            lines_added_auc=round(la, 4),
            first=iso_z(from_timestamp(usable[start].time)),
            last=iso_z(from_timestamp(usable[end - 1].time)),
        )
        for start, end, auc, la, _ in scored
    )
    val_auc = sum(a for _, _, a, _, _ in scored) / len(scored) if scored else None
    la_auc = sum(b for _, _, _, b, _ in scored) / len(scored) if scored else None
    first_val = folds[0][0]

    design, coef_array, b = _fit(data, y, len(usable), c, time, min_df, max_vocabulary, prior)
    coefs = [float(v) for v in coef_array]
    width = len(NUMERIC_FEATURES) + (1 if time else 0)
    intercept = b + math.log(pos / (len(y) - pos))
    numeric = tuple(
        NumericTerm(
            name=name, transform=kind, mean=float(design.means[j]), scale=float(design.scales[j]), coef=coefs[j]
        )
        for j, (name, kind) in enumerate(NUMERIC_FEATURES.items())
    )
    vocabulary = [str(data.tokens[k]) for k in design.columns]
    token_coef = {tok: coefs[width + i] for i, tok in enumerate(vocabulary) if coefs[width + i] != 0.0}
    model = RiskModel(
        intercept=intercept,
        numeric=numeric,
        token_coef=token_coef,
        token_value="binary",
        training=Training(
            repo=repo_name,
            rev=rev,
            commits=len(usable),
            buggy=pos,
            first=iso_z(from_timestamp(usable[0].time)),
            last=iso_z(from_timestamp(usable[-1].time)),
            until=until,
            regularisation=c,
            time_adjusted=time,
            prior="default" if prior else "zero",
        ),
        validation=Validation(
            commits=sum(f.commits for f in fold_terms),
            buggy=sum(f.buggy for f in fold_terms),
            auc=round(val_auc, 4) if val_auc is not None else 0.0,
            lines_added_auc=round(la_auc, 4) if la_auc is not None else 0.0,
            first=fold_terms[0].first if fold_terms else iso_z(from_timestamp(usable[first_val].time)),
            last=iso_z(from_timestamp(usable[-1].time)),
            folds=list(fold_terms),
        ),
    )
    return FitResult(
        model=model,
        train_commits=first_val,
        validation_commits=len(usable) - first_val,
        validation_buggy=int(y[first_val:].sum()),
        validation_auc=val_auc,
        lines_added_auc=la_auc,
        regularisation=c,
        vocabulary=len(token_coef),
        time_adjusted=time,
        folds=fold_terms,
    )

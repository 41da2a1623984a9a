"""A calibrated risk model: the JSON file `triage calibrate` writes, its loader, and scoring.

Input: (PullRequest, ParsedDiff, the default model's `Risk`) and a `RiskModel`; output: a `Risk`
whose factors are the calibrated model's terms. No scikit-learn at run time: the file holds a
logistic model as plain numbers, and scoring is a dot product.

    logit = intercept + sum_j coef_j * (t_j(raw_j) - mean_j) / scale_j + sum_k coef_k * v(count_k)

`v` is 1 for a token the change holds (format version 2, `tokens.value = "binary"`, what
`triage calibrate` writes now) or `log1p(count)` (version 1 files, which still load).

The numeric inputs `raw_j` are exactly the raw values of the default model's factors (lines
added, entropy, history, ...), so a calibrated model sees what `triage run` measures and
nothing else; `t_j` is `log1p` for counts, identity for flags and ratios in [0, 1]. Each numeric
term is centred on its training mean, so its contribution reads "how much this PR's value moves
the score away from a typical commit's". The token terms are the content signal of JITLine
(Pornprasit & Tantithamthavorn, MSR 2021): a bag of the identifiers of added lines (`+name`),
removed lines (`-name`) and the message (`m:name`). They are reported as one `tokens` factor
whose detail names the tokens that weighed most.

Why JSON and why so strict a loader: a model file may come from an untrusted branch (a PR can
add `.triage.toml` pointing at its own file). Pickle would run its code; JSON cannot. The
loader also caps the file's size and the vocabulary, rejects NaN/Infinity and out-of-range
numbers, unknown feature names, mismatched lengths and control characters in the strings that
reports show. Any failure is one `ConfigError` line naming the file (exit 2).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.errors import ConfigError
from triage.models import Metrics, ParsedDiff, PullRequest, Risk, RiskFactor

__all__ = [
    "FORMAT",
    "MAX_MODEL_BYTES",
    "NUMERIC_FEATURES",
    "RiskModel",
    "change_tokens",
    "describe",
    "load_model",
    "materialise",
    "message_text",
    "model_from_bytes",
    "model_from_dict",
    "score",
]

FORMAT: Literal["pr-triage-risk-model"] = "pr-triage-risk-model"
# 2: binary token values, forward-chaining validation folds, the time adjustment flag.
VERSION: Literal[2] = 2
MAX_MODEL_BYTES = 8 * 1024 * 1024
MAX_VOCABULARY = 50_000
MAX_COEF = 1_000.0
# The default model's factors that a calibrated model may use, with their transforms.
Transform = Literal["log1p", "identity"]
TokenValue = Literal["log1p", "binary"]
NUMERIC_FEATURES: dict[str, Transform] = {
    "lines-added": "log1p",
    "lines-deleted": "log1p",
    "files": "log1p",
    "entropy": "identity",
    "subsystems": "log1p",
    "fix": "identity",
    "relative-churn": "log1p",
    "complexity": "log1p",
    "no-tests": "identity",
    "sensitive-paths": "identity",
    "non-code-only": "identity",
    "developers": "log1p",
    "prior-changes": "log1p",
    "file-age": "log1p",
    "author-experience": "log1p",
    "subsystem-experience": "log1p",
}
# Tokens: identifiers of two to forty characters. Longer runs are data (hashes, base64).
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{1,39}")
_MAX_TOKEN_TEXT = 256 * 1024  # characters of changed lines tokenised per PR: bounds a huge PR's cost
_SHOWN_TOKENS = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_Finite = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COEF, le=MAX_COEF)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NumericTerm(_Strict):
    name: str
    transform: Transform
    mean: Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]
    scale: Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e6)]
    coef: _Finite

    @model_validator(mode="after")
    def _known(self) -> NumericTerm:
        expected = NUMERIC_FEATURES.get(self.name)
        if expected is None:
            raise ValueError(f"unknown feature {self.name!r}")
        if expected != self.transform:
            raise ValueError(f"feature {self.name!r} must use transform {expected!r}")
        return self


class TokenTerms(_Strict):
    vocabulary: list[Annotated[str, Field(min_length=3, max_length=42)]] = Field(max_length=MAX_VOCABULARY)
    coef: list[_Finite] = Field(max_length=MAX_VOCABULARY)
    value: TokenValue = "log1p"  # version 1 files hold log1p(count) models

    @model_validator(mode="after")
    def _shapes(self) -> TokenTerms:
        if len(self.vocabulary) != len(self.coef):
            raise ValueError(f"{len(self.vocabulary)} tokens but {len(self.coef)} coefficients")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("duplicate tokens in the vocabulary")
        for token in self.vocabulary:
            prefix, rest = (token[:2], token[2:]) if token.startswith("m:") else (token[:1], token[1:])
            if prefix not in ("+", "-", "m:") or not _TOKEN.fullmatch(rest):
                raise ValueError(f"token {token[:20]!r} is not +name, -name or m:name")
        return self


class Fold(_Strict):
    """One forward-chaining validation fold: a model fitted on every older commit, scored here."""

    commits: Annotated[int, Field(ge=0)]
    buggy: Annotated[int, Field(ge=0)]
    auc: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1)]
    lines_added_auc: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1)]
    first: Annotated[str, Field(max_length=40)] = ""
    last: Annotated[str, Field(max_length=40)] = ""


class Validation(_Strict):
    """`auc` and `lines_added_auc` are the means over `folds` (version 2; a version 1 file
    has one slice and no folds)."""

    commits: Annotated[int, Field(ge=0)]
    buggy: Annotated[int, Field(ge=0)]
    auc: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1)]
    lines_added_auc: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1)]
    first: str = ""
    last: str = ""
    folds: list[Fold] = Field(default_factory=list, max_length=20)


class Training(_Strict):
    repo: Annotated[str, Field(max_length=200)]
    rev: Annotated[str, Field(max_length=64)]
    commits: Annotated[int, Field(ge=0)]
    buggy: Annotated[int, Field(ge=0)]
    first: str = ""
    last: str = ""
    until: str | None = None
    regularisation: Annotated[float, Field(allow_inf_nan=False, gt=0)] = 1.0
    # Fitted with the commit's time as a covariate, left out when scoring (see triage.calibrate.fit).
    time_adjusted: bool = False
    # What the fit shrank toward: 0 (version 1 files, `prior=False`) or the default weights.
    prior: Literal["zero", "default"] = "zero"

    @field_validator("repo", "rev", "first", "last", "until")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # Reports print these: no terminal escapes or line breaks from a hostile file.
        if value is not None and (_CONTROL.search(value) or len(value) > 200):
            raise ValueError("must be one printable line of at most 200 characters")
        return value


class ModelFile(_Strict):
    format: Literal["pr-triage-risk-model"]
    version: Literal[1, 2]
    intercept: _Finite
    numeric: list[NumericTerm] = Field(max_length=len(NUMERIC_FEATURES))
    tokens: TokenTerms
    training: Training
    validation: Validation
    created_by: Annotated[str, Field(max_length=100)] = ""

    @model_validator(mode="after")
    def _unique(self) -> ModelFile:
        names = [t.name for t in self.numeric]
        if len(set(names)) != len(names):
            raise ValueError("a numeric feature is listed twice")
        if self.version == 1 and (self.tokens.value != "log1p" or self.validation.folds or self.training.time_adjusted):
            raise ValueError("version 1 files have log1p tokens, no folds and no time adjustment")
        return self


@dataclass(frozen=True, slots=True)
class RiskModel:
    """A loaded model, in the shape scoring wants (a token -> coefficient map)."""

    intercept: float
    numeric: tuple[NumericTerm, ...]
    token_coef: Mapping[str, float]
    training: Training
    validation: Validation
    path: str | None = None
    sha256: str | None = None
    token_value: TokenValue = "binary"

    def to_dict(self) -> dict[str, Any]:
        """The model file's content (what `triage calibrate` writes)."""
        vocabulary = sorted(self.token_coef)
        return ModelFile(
            format=FORMAT,
            version=VERSION,
            intercept=self.intercept,
            numeric=list(self.numeric),
            tokens=TokenTerms(
                vocabulary=vocabulary, coef=[self.token_coef[t] for t in vocabulary], value=self.token_value
            ),
            training=self.training,
            validation=self.validation,
            created_by=_created_by(),
        ).model_dump(mode="json")


def _created_by() -> str:
    from triage import __version__

    return f"pr-triage {__version__}"


def model_from_dict(data: Any, where: str = "<model>") -> RiskModel:
    """Validate parsed JSON as a model file; a ConfigError naming `where` when it is not one."""
    try:
        parsed = ModelFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{where}: not a valid risk model: {loc}: {first['msg']}") from exc
    if parsed.version >= 2 and "value" not in parsed.tokens.model_fields_set:
        # The field's default is version 1's log1p: a version 2 file without it would score
        # its binary-fitted tokens on the wrong scale, silently.
        raise ConfigError(f"{where}: not a valid risk model: tokens.value: required in version 2 files")
    return RiskModel(
        intercept=parsed.intercept,
        numeric=tuple(parsed.numeric),
        token_coef=dict(zip(parsed.tokens.vocabulary, parsed.tokens.coef, strict=True)),
        training=parsed.training,
        validation=parsed.validation,
        token_value=parsed.tokens.value,
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def load_model(path: str | os.PathLike[str]) -> RiskModel:
    """Read and validate a model file (cached per path, size and modification time)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read risk model ({exc.strerror or exc})") from exc
    return _load_cached(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, size: int, mtime_ns: int) -> RiskModel:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: risk model is not a regular file")
    if size > MAX_MODEL_BYTES:
        raise ConfigError(f"{p}: risk model is {size} bytes, over the {MAX_MODEL_BYTES}-byte limit")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read risk model ({exc.strerror or exc})") from exc
    return model_from_bytes(raw, str(p), path=str(p))


def model_from_bytes(raw: bytes, where: str, *, path: str | None = None) -> RiskModel:
    """Validate a model file's bytes (size cap, strict JSON without NaN/Infinity, the schema);
    a one-line ConfigError naming `where` when they are not a model. `path` is recorded."""
    if len(raw) > MAX_MODEL_BYTES:
        raise ConfigError(f"{where}: risk model is over the {MAX_MODEL_BYTES}-byte limit")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: risk model is not valid JSON ({str(exc).splitlines()[0][:120]})") from exc
    model = model_from_dict(data, where)
    return RiskModel(
        intercept=model.intercept,
        numeric=model.numeric,
        token_coef=model.token_coef,
        training=model.training,
        validation=model.validation,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        token_value=model.token_value,
    )


def materialise(raw: bytes, where: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Validate model bytes read from somewhere that is not a file here (the base branch, in
    CI) and store them under a content-addressed name, so that the path `[risk] model` then
    names holds exactly the bytes that were validated, whatever the working tree holds."""
    model = model_from_bytes(raw, where)
    folder = Path(directory) if directory is not None else Path(tempfile.gettempdir()) / "pr-triage-models"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{model.sha256}.json"
    if not target.is_file() or target.read_bytes() != raw:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, target)
    return target


def describe(model: RiskModel | None) -> str:
    """The one line every report shows about what scored the queue."""
    if model is None:
        return "default weights"
    t, v = model.training, model.validation
    rev = t.rev[:12]
    return (
        f"calibrated on {t.repo} at {rev}, {t.commits} commits, "
        f"validation AUC {v.auc:.3f} vs lines added {v.lines_added_auc:.3f}"
    )


# --------------------------------------------------------------------------------------------
# content signal


def message_text(pr: PullRequest) -> str:
    """The change's message: its commit messages when known (git ranges, calibration), else
    the PR's title and description."""
    if pr.commit_messages:
        return "\n".join(pr.commit_messages)
    return f"{pr.title}\n{pr.body}"


def change_tokens(pr: PullRequest, diff: ParsedDiff) -> Counter[str]:
    """Token counts of a change: `+name` for identifiers on added lines, `-name` on removed
    lines (counted files only: no lockfile or generated code), `m:name` in the message. Case
    is folded; at most `_MAX_TOKEN_TEXT` characters of changed lines are read."""
    counts: Counter[str] = Counter()
    budget = _MAX_TOKEN_TEXT
    for f in diff.files:
        if not f.kind.counts or budget <= 0:
            continue
        for hunk in f.hunks:
            for kind, text in hunk.rows():
                if kind not in "+-" or not text:
                    continue
                budget -= len(text)
                counts.update(kind + tok.lower() for tok in _TOKEN.findall(text))
            if budget <= 0:
                break
    counts.update("m:" + tok.lower() for tok in _TOKEN.findall(message_text(pr)[:_MAX_TOKEN_TEXT]))
    return counts


def token_value(count: int, kind: TokenValue = "binary") -> float:
    """A token's input value: present (1) for binary models, log1p(count) for version 1 ones."""
    return 1.0 if kind == "binary" else math.log1p(count)


def transform(kind: str, raw: float) -> float:
    return math.log1p(max(0.0, raw)) if kind == "log1p" else raw


def numeric_raws(factors: Iterable[RiskFactor]) -> dict[str, float]:
    """The raw inputs of the default model's factors, by name."""
    return {f.name: f.value for f in factors if f.name in NUMERIC_FEATURES}


_HISTORY = frozenset({"developers", "prior-changes", "file-age", "author-experience", "subsystem-experience"})


def score(model: RiskModel, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, default: Risk) -> Risk:
    """Score a PR with a calibrated model. `default` is the default model's Risk for the same
    PR: its factors carry the raw inputs (and their human-readable details).

    An input this run could not measure (history without `--repo`, relative churn without the
    old contents) counts as the training mean, contributing 0, rather than as a zero that the
    model never saw in training, where both were always known."""
    from triage.metrics.risk import level_for, sigmoid

    if any(f.name == "no-data" for f in default.factors):
        return default
    raws = numeric_raws(default.factors)
    if metrics.history is None:
        raws = {k: v for k, v in raws.items() if k not in _HISTORY}
    if metrics.lines_before is None:
        raws.pop("relative-churn", None)
    details = {f.name: f.detail for f in default.factors}
    factors: list[RiskFactor] = [RiskFactor("intercept", 1.0, round(model.intercept, 6), "calibrated baseline")]
    for term in model.numeric:
        raw = raws.get(term.name)
        if raw is None:  # the default model no longer measures it: a typical value
            factors.append(RiskFactor(term.name, 0.0, 0.0, "not measured"))
            continue
        x = (transform(term.transform, raw) - term.mean) / term.scale
        factors.append(RiskFactor(term.name, raw, round(term.coef * x, 6) + 0.0, details.get(term.name, "")))
    tokens = change_tokens(pr, diff)
    coef, kind = model.token_coef, model.token_value
    hits = [(tok, coef[tok] * token_value(n, kind)) for tok, n in tokens.items() if tok in coef]
    total = sum(c for _, c in hits)
    hits.sort(key=lambda tc: (-abs(tc[1]), tc[0]))
    shown = ", ".join(f"{tok} {c:+.2f}" for tok, c in hits[:_SHOWN_TOKENS])
    detail = f"{len(hits)} known token(s)" + (f"; top: {shown}" if shown else "")
    factors.append(RiskFactor("tokens", float(len(hits)), round(total, 6) + 0.0, detail))
    logit = sum(f.contribution for f in factors)
    s = sigmoid(logit)
    return Risk(score=s, level=level_for(s), factors=tuple(factors))

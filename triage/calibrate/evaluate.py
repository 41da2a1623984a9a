"""`triage eval`: how well does the risk score rank a repository's own labelled commits?

The risk score orders the queue, so it has to beat the simplest thing a maintainer could do
instead, sorting by lines added. This module measures that on commits whose outcome is known:
labels from a CSV (the shape of the public just-in-time defect datasets: Kamei et al. 2013,
ApacheJIT, JIT-Defects4J) or, without one, from the repository's own history by SZZ
(`triage.calibrate.szz`), evaluated on the newest slice of commits.

Each commit is triaged as its own PR, exactly as `triage run --repo R --git C^..C` would: the
diff against its first parent, history read at the parent (nothing from the future), the clock
at the commit's own time, the LLM off (the score must stand without it). A commit that cannot
be read (unknown sha, root commit, merge) is skipped with a one-line reason; the rest go on.

Figures, each for the risk score and for the lines-added baseline:

* ROC-AUC (Mann-Whitney, ties half) with a bootstrap 95 % interval, and the paired gain
  (risk AUC minus lines-added AUC on the same resample), whose interval says whether the
  difference is more than noise.
* Effort-aware figures (Kamei et al. 2013; Yang et al. 2016, "Effort-aware just-in-time defect
  prediction"), effort = lines added + deleted: Recall@20%Effort (share of buggy commits found
  when reviewing in the model's order until 20 % of the total effort is spent),
  Effort@20%Recall (share of effort spent before 20 % of the buggy commits are found; lower is
  better) and Popt (area under the effort/recall curve, normalised between the worst and the
  optimal order; 1 is optimal). Lines added as an order puts the *largest* changes first, so
  it does poorly here by construction; that is the point of these figures: the queue reviews
  small things first.
* The same figures for the order the queue would give (`priority`: size, risk, value, age),
  since that is what a reviewer actually sees.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.config import Config
from triage.errors import InputError, TriageError
from triage.gitrepo import GitRepo, GitTree
from triage.metrics.risk_model import RiskModel

if TYPE_CHECKING:
    from triage.calibrate.szz import BlameStore
    from triage.models import Assessment

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_SLICE",
    "EvalReport",
    "Figures",
    "ScoredCommit",
    "bootstrap_auc",
    "effort_figures",
    "evaluate",
    "format_report",
    "read_labels",
    "roc_auc",
    "score_commits",
    "szz_labels",
]

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SLICE = 0.2
_COMMIT_COLUMNS = ("commit", "commit_hash", "commit_id", "sha", "hash")
_LABEL_COLUMNS = ("buggy", "bug", "contains_bug", "is_buggy", "is_buggy_commit", "fix_inducing", "label", "defective")
# Data frames exported to CSV write 0/1 columns as floats ("1.0").
_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t", "buggy"})
_FALSE = frozenset({"0", "0.0", "false", "no", "n", "f", "clean"})


# --------------------------------------------------------------------------------------------
# Labels


def read_labels(path: Path) -> list[tuple[str, bool]]:
    """(commit, buggy) rows, each commit once (the first row wins); a malformed file is an
    error naming the file, the line and the problem."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets write a BOM
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read labels ({exc})") from exc
    if len(rows) < 2:
        raise InputError(f"{path}: no labelled commits")
    header = [name.strip().lower() for name in rows[0]]
    commit_col = next((header.index(c) for c in _COMMIT_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in _LABEL_COLUMNS if c in header), None)
    if commit_col is None or label_col is None:
        raise InputError(
            f"{path}: needs a commit column ({', '.join(_COMMIT_COLUMNS)}) and a label column "
            f"({', '.join(_LABEL_COLUMNS)}); found {', '.join(rows[0])}"
        )
    out: dict[str, bool] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if max(commit_col, label_col) >= len(row):
            raise InputError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        value = row[label_col].strip().lower()
        if value not in _TRUE | _FALSE:
            raise InputError(f"{path}:{line}: label {value!r} is not 1/0, true/false or yes/no")
        out.setdefault(row[commit_col].strip(), value in _TRUE)
    return list(out.items())


def szz_labels(
    repo: GitRepo,
    *,
    newest: float = DEFAULT_SLICE,
    rev: str = "HEAD",
    issue_pattern: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: BlameStore | None = None,
) -> tuple[list[tuple[str, bool]], str]:
    """Label the history by SZZ and keep the newest `newest` share of commits (by time): the
    slice a model calibrated on the older history would be judged on. Returns the labels and a
    one-line description of where they came from, for the report. `cache` keeps blame outcomes
    (the one `triage calibrate` fills: evaluating after calibrating blames nothing again)."""
    from triage.calibrate.szz import label_history

    if not 0.0 < newest <= 1.0:
        raise InputError(f"--slice {newest}: must be in (0, 1]")
    result = label_history(repo, rev=rev, issue_pattern=issue_pattern, progress=progress, cache=cache)
    ordered = sorted(result.commits, key=lambda c: c.time)
    keep = ordered[len(ordered) - max(1, round(len(ordered) * newest)) :] if ordered else []
    labels = [(c.sha, c.buggy) for c in keep]
    since = keep[0].time.date().isoformat() if keep else "-"
    source = (
        f"SZZ on {rev}: {len(result.commits)} commits, {result.fixes} fixes, {result.buggy} fix-inducing; "
        f"newest {newest:.0%} ({len(labels)} commits since {since})"
    )
    return labels, source


# --------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class ScoredCommit:
    """One labelled commit as `triage run` scored it."""

    sha: str
    buggy: bool
    risk: float
    priority: float
    lines_added: int
    lines_deleted: int
    # (term name, raw value, contribution to the logit): for ablations of the model's terms.
    factors: tuple[tuple[str, float, float], ...] = ()

    @property
    def effort(self) -> int:
        return self.lines_added + self.lines_deleted

    @classmethod
    def of(cls, sha: str, buggy: bool, assessment: Assessment, cfg: Config, now: datetime) -> ScoredCommit:
        """The figures evaluation needs from one assessed commit (its risk, the queue's priority,
        its size as effort and the risk terms)."""
        from triage.rank import priority

        files = assessment.diff.files
        return cls(
            sha=sha,
            buggy=buggy,
            risk=assessment.risk.score,
            priority=priority(assessment, cfg, now).score,
            lines_added=sum(f.added for f in files),
            lines_deleted=sum(f.deleted for f in files),
            factors=tuple((f.name, f.value, f.contribution) for f in assessment.risk.factors),
        )


def score_commits(
    repo: GitRepo,
    labels: Sequence[tuple[str, bool]],
    cfg: Config | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    model: RiskModel | None = None,
) -> tuple[list[ScoredCommit], list[str]]:
    """Triage every labelled commit alone; returns the scored commits (in label order) and the
    skip reasons. `model` scores risk as `triage run --model` does (through the run context,
    so the same code path); None means `[risk] model` of `cfg`, else the default weights.
    `workers` > 1 scores in that many processes (the work is CPU-bound parsing and git reads;
    each process keeps its own repository handle, the loaded model travels with it)."""
    cfg = cfg or Config(llm_mode="off")
    scored: list[ScoredCommit] = []
    skipped: list[str] = []
    total = len(labels)
    if workers > 1 and total > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver, not fork: forking a process that runs other threads (a test run, an LLM
        # client) can hand a worker a lock held forever; `make test` hung here that way.
        fresh = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(
            workers, fresh, initializer=_init_worker, initargs=(str(repo.path), cfg, model)
        ) as pool:
            results = pool.map(_score_in_worker, labels, chunksize=8)
            for done, item in enumerate(results, 1):
                _collect(item, scored, skipped)
                if progress is not None:
                    progress(done, total)
        return scored, skipped
    for done, (sha, buggy) in enumerate(labels, 1):
        item = _score_one(repo, cfg, model, sha, buggy)
        _collect(item, scored, skipped)
        if progress is not None:
            progress(done, total)
    return scored, skipped


def _collect(item: ScoredCommit | str, scored: list[ScoredCommit], skipped: list[str]) -> None:
    if isinstance(item, ScoredCommit):
        scored.append(item)
    else:
        skipped.append(item)


_WORKER: tuple[GitRepo, Config, RiskModel | None] | None = None


def _init_worker(path: str, cfg: Config, model: RiskModel | None) -> None:
    global _WORKER
    _WORKER = (GitRepo(path), cfg, model)


def _score_in_worker(label: tuple[str, bool]) -> ScoredCommit | str:
    assert _WORKER is not None
    return _score_one(*_WORKER, *label)


def _score_one(repo: GitRepo, cfg: Config, model: RiskModel | None, sha: str, buggy: bool) -> ScoredCommit | str:
    """One commit as `triage run --git C^..C` scores it, or the reason it cannot be."""
    from triage.pipeline import RunContext, assess_all
    from triage.sources.git import read_range

    try:
        if not sha:
            raise InputError("empty commit id")
        full = repo.rev_parse(sha)
        if not repo.has_revision(f"{full}^"):
            raise InputError("a root commit (no parent to diff against)")
        if repo.has_revision(f"{full}^2"):
            raise InputError("a merge commit (no single-parent diff)")
        (pr,) = read_range(repo, f"{full}^..{full}")
        now = pr.updated_at or pr.created_at or datetime.now(UTC)
        ctx = RunContext(now=now, base=GitTree(repo, pr.base_sha or f"{full}^"), repo=repo, risk_model=model)
        (assessment,) = tuple(assess_all([pr], cfg, ctx))
    except TriageError as exc:
        return f"{sha or '(empty)'}: {exc.format_message()}"
    return ScoredCommit.of(full, buggy, assessment, cfg, now)


# --------------------------------------------------------------------------------------------
# Figures


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the probability that a random buggy commit scores higher than
    a random clean one, ties counting half (Mann-Whitney U). None when a class is empty."""
    return _weighted_auc(_order(scores), scores, labels, [1] * len(scores))


def _order(scores: Sequence[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: scores[i])


def _weighted_auc(
    order: Sequence[int], scores: Sequence[float], labels: Sequence[bool], weights: Sequence[int]
) -> float | None:
    """AUC of a sample in which commit i appears weights[i] times (a bootstrap resample), in one
    pass over the commits sorted by score: O(n) per resample instead of a sort each time."""
    pos_total = sum(w for w, y in zip(weights, labels, strict=True) if y)
    neg_total = sum(w for w, y in zip(weights, labels, strict=True) if not y)
    if not pos_total or not neg_total:
        return None
    below = 0.0  # weighted negatives with a strictly lower score
    wins = 0.0
    i = 0
    n = len(order)
    while i < n:
        j = i
        pos = neg = 0
        while j < n and scores[order[j]] == scores[order[i]]:
            k = order[j]
            if labels[k]:
                pos += weights[k]
            else:
                neg += weights[k]
            j += 1
        wins += pos * (below + neg / 2)
        below += neg
        i = j
    return wins / (pos_total * neg_total)


def bootstrap_auc(
    risk: Sequence[float],
    baseline: Sequence[float],
    labels: Sequence[bool],
    *,
    rounds: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> dict[str, tuple[float, float] | None]:
    """Percentile 95 % intervals of the two AUCs and of their paired difference, from the same
    resamples of commits (seeded: the same data always gives the same interval)."""
    n = len(labels)
    if n == 0 or rounds <= 0:
        return {"risk": None, "baseline": None, "gain": None}
    rng = random.Random(seed)
    order_r, order_b = _order(risk), _order(baseline)
    rs: list[float] = []
    bs: list[float] = []
    gs: list[float] = []
    for _ in range(rounds):
        weights = [0] * n
        for k in rng.choices(range(n), k=n):
            weights[k] += 1
        a = _weighted_auc(order_r, risk, labels, weights)
        b = _weighted_auc(order_b, baseline, labels, weights)
        if a is None or b is None:
            continue
        rs.append(a)
        bs.append(b)
        gs.append(a - b)
    return {"risk": _interval(rs), "baseline": _interval(bs), "gain": _interval(gs)}


def _interval(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    values = sorted(values)
    lo = values[int(0.025 * (len(values) - 1))]
    hi = values[round(0.975 * (len(values) - 1))]
    return (lo, hi)


def effort_figures(
    scores: Sequence[float], efforts: Sequence[float], labels: Sequence[bool]
) -> dict[str, float | None]:
    """Recall@20%Effort, Effort@20%Recall and Popt of reviewing in descending score order
    (ties keep the input order). None when there is no buggy commit or no effort at all."""
    n = len(labels)
    total_effort = float(sum(efforts))
    total_buggy = sum(1 for y in labels if y)
    if not n or not total_buggy or total_effort <= 0:
        return {"recall_at_20_effort": None, "effort_at_20_recall": None, "popt": None}
    order = sorted(range(n), key=lambda i: -scores[i])
    curve = _curve(order, efforts, labels, total_effort, total_buggy)
    recall_at = _recall_at(curve, 0.2)
    effort_at = next(x for x, y in curve if y >= 0.2 - 1e-12)
    best = sorted(range(n), key=lambda i: (not labels[i], efforts[i]))
    worst = sorted(range(n), key=lambda i: (labels[i], -efforts[i]))
    a_model = _area(curve)
    a_best = _area(_curve(best, efforts, labels, total_effort, total_buggy))
    a_worst = _area(_curve(worst, efforts, labels, total_effort, total_buggy))
    popt = 1.0 - (a_best - a_model) / (a_best - a_worst) if a_best > a_worst else None
    return {"recall_at_20_effort": recall_at, "effort_at_20_recall": effort_at, "popt": popt}


def _curve(
    order: Sequence[int], efforts: Sequence[float], labels: Sequence[bool], total_effort: float, total_buggy: int
) -> list[tuple[float, float]]:
    """(share of effort spent, share of buggy commits found) after each commit, from (0, 0)."""
    points = [(0.0, 0.0)]
    spent = 0.0
    found = 0
    for i in order:
        spent += efforts[i]
        found += labels[i]
        points.append((spent / total_effort, found / total_buggy))
    return points


def _recall_at(curve: Sequence[tuple[float, float]], budget: float) -> float:
    """Buggy share found by the commits reviewed entirely within the effort budget."""
    found = 0.0
    for x, y in curve:
        if x > budget + 1e-12:
            break
        found = y
    return found


def _area(curve: Sequence[tuple[float, float]]) -> float:
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in pairwise(curve))


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Figures:
    """The figures of one order of review (risk, lines added, priority)."""

    auc: float | None
    auc_ci: tuple[float, float] | None
    recall_at_20_effort: float | None
    effort_at_20_recall: float | None
    popt: float | None


@dataclass(frozen=True)
class EvalReport:
    source: str  # where the labels came from
    model: str  # which model scored
    commits: int
    buggy: int
    risk: Figures
    lines_added: Figures
    priority: Figures
    gain: float | None
    gain_ci: tuple[float, float] | None
    skipped: tuple[str, ...] = field(default_factory=tuple)
    model_sha256: str | None = None  # of the model file, when one scored

    def to_dict(self) -> dict[str, Any]:
        def figs(f: Figures) -> dict[str, Any]:
            return {
                "roc_auc": _r(f.auc),
                "roc_auc_ci95": None if f.auc_ci is None else [_r(f.auc_ci[0]), _r(f.auc_ci[1])],
                "recall_at_20_effort": _r(f.recall_at_20_effort),
                "effort_at_20_recall": _r(f.effort_at_20_recall),
                "popt": _r(f.popt),
            }

        return {
            "labels": self.source,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "commits_evaluated": self.commits,
            "buggy": self.buggy,
            "risk_score": figs(self.risk),
            "lines_added": figs(self.lines_added),
            "priority": figs(self.priority),
            "gain_roc_auc": _r(self.gain),
            "gain_roc_auc_ci95": None if self.gain_ci is None else [_r(self.gain_ci[0]), _r(self.gain_ci[1])],
            "skipped": len(self.skipped),
            "skipped_reasons": list(self.skipped[:20]),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def evaluate(
    scored: Sequence[ScoredCommit],
    *,
    source: str,
    model: str = "default weights",
    skipped: Sequence[str] = (),
    rounds: int = DEFAULT_BOOTSTRAP,
) -> EvalReport:
    """All figures for a set of scored commits."""
    labels = [c.buggy for c in scored]
    risk = [c.risk for c in scored]
    added = [float(c.lines_added) for c in scored]
    prio = [c.priority for c in scored]
    effort = [float(c.effort) for c in scored]
    ci = bootstrap_auc(risk, added, labels, rounds=rounds)
    prio_ci = bootstrap_auc(prio, added, labels, rounds=rounds)
    r_auc, a_auc = roc_auc(risk, labels), roc_auc(added, labels)

    def figs(scores: list[float], auc: float | None, interval: tuple[float, float] | None) -> Figures:
        e = effort_figures(scores, effort, labels)
        return Figures(auc, interval, e["recall_at_20_effort"], e["effort_at_20_recall"], e["popt"])

    return EvalReport(
        source=source,
        model=model,
        commits=len(scored),
        buggy=sum(labels),
        risk=figs(risk, r_auc, ci["risk"]),
        lines_added=figs(added, a_auc, ci["baseline"]),
        priority=figs(prio, roc_auc(prio, labels), prio_ci["risk"]),
        gain=None if r_auc is None or a_auc is None else r_auc - a_auc,
        gain_ci=ci["gain"],
        skipped=tuple(skipped),
    )


def format_report(report: EvalReport) -> str:
    """The plain-text table `triage eval` prints."""

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    def ci(v: tuple[float, float] | None) -> str:
        return "" if v is None else f"[{v[0]:.3f}, {v[1]:.3f}]"

    lines = [
        f"labels:  {report.source}",
        f"model:   {report.model}",
        f"commits: {report.commits} evaluated, {report.buggy} buggy, {len(report.skipped)} skipped",
        "",
        f"{'order':<12} {'ROC-AUC':>8} {'95% CI':>17} {'R@20%E':>8} {'E@20%R':>8} {'Popt':>7}",
    ]
    for name, f in (("risk score", report.risk), ("lines added", report.lines_added), ("priority", report.priority)):
        lines.append(
            f"{name:<12} {num(f.auc):>8} {ci(f.auc_ci):>17} {num(f.recall_at_20_effort):>8} "
            f"{num(f.effort_at_20_recall):>8} {num(f.popt):>7}"
        )
    gain = "-" if report.gain is None else f"{report.gain:+.3f}"
    gain_ci = "" if report.gain_ci is None else f" [{report.gain_ci[0]:+.3f}, {report.gain_ci[1]:+.3f}]"
    verdict = ""
    if report.gain_ci is not None:
        if report.gain_ci[0] > 0:
            verdict = ": the risk score ranks better than lines added"
        elif report.gain_ci[1] < 0:
            verdict = ": the risk score ranks WORSE than lines added"
        else:
            verdict = ": no significant difference from lines added"
    lines += ["", f"gain over lines added (ROC-AUC): {gain}{gain_ci}{verdict}"]
    lines.append("effort = lines added + deleted; R@20%E: recall at 20% effort; E@20%R: effort at 20% recall")
    for reason in report.skipped[:5]:
        lines.append(f"skipped {reason}")
    if len(report.skipped) > 5:
        lines.append(f"... and {len(report.skipped) - 5} more skipped")
    return "\n".join(lines)


def run_eval(
    repo: GitRepo,
    cfg: Config,
    *,
    labels_path: Path | None = None,
    model_path: Path | None = None,
    newest: float = DEFAULT_SLICE,
    issue_pattern: str | None = None,
    rounds: int = DEFAULT_BOOTSTRAP,
    workers: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvalReport:
    """`triage eval`: labels from the CSV, or SZZ on the history's newest slice; score; figures.

    The model is `model_path` (`--model`), else `[risk] model` of the config, else the default
    weights; it is loaded once, by the loader `triage run` uses, before any labelling starts (a
    bad file fails fast, as one line)."""
    from triage.metrics.risk_model import describe
    from triage.pipeline import configured_risk_model

    if model_path is not None:
        cfg = replace(cfg, risk=replace(cfg.risk, model=str(model_path.absolute())))
    model = configured_risk_model(cfg)
    if labels_path is not None:
        labels = read_labels(labels_path)
        source = f"{labels_path}: {len(labels)} commits"
    else:
        from triage.calibrate.run import blame_store

        with blame_store(cfg) as store:
            labels, source = szz_labels(
                repo,
                newest=newest,
                issue_pattern=issue_pattern,
                progress=None if progress is None else (lambda d, t: progress("labelling (SZZ)", d, t)),
                cache=store,
            )
    if not labels:
        raise InputError(f"{repo.path}: no commits to evaluate")
    scored, skipped = score_commits(
        repo,
        labels,
        cfg,
        progress=None if progress is None else (lambda d, t: progress("scoring", d, t)),
        workers=workers,
        model=model,
    )
    if not scored:
        raise InputError(f"{repo.path}: none of the {len(labels)} labelled commits could be scored ({skipped[0]})")
    report = evaluate(scored, source=source, model=describe(model), skipped=skipped, rounds=rounds)
    return replace(report, model_sha256=None if model is None else model.sha256)

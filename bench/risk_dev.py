"""The default risk score against lines added on public development data (issue #10, item 4).

    python -m bench.risk_dev --apachejit DIR --repos DIR [--links] [--dump FILE.jsonl]
    python -m bench.risk_dev --apachejit DIR --repos DIR --links --links-sample 700 --weights
    python -m bench.risk_dev --apachejit DIR --repos DIR --weights-from FILE.jsonl

or `make bench` with `TRIAGE_BENCH_APACHEJIT` and `TRIAGE_BENCH_REPOS` set (the scenario is
skipped, saying why, when they are not). Nothing here ships data: the labels and repositories
are public mirrors the user fetches (https://github.com/hosseinkshvrz/apachejit, apache/zeppelin,
apache/zookeeper) and points to.

* `--apachejit`: a clone (or bare mirror) of ApacheJIT (Keshavarz & Nagappan, MSR 2022). Its
  `dataset/apachejit_test_small.csv` has SZZ labels for commits of 15 Apache projects; the
  projects with a repository under `--repos` are evaluated.
* `--repos`: a directory holding a clone or bare mirror per project, named `zeppelin`,
  `apache+zeppelin` or `apache+zeppelin/repo` (and so on).
* `--links`: also a larger set per project from ApacheJIT's `data/commit_links_<P>.csv` (fix ->
  bug-inducing pairs): every non-merge commit between the first bug and one year before the last
  fix, buggy when some fix blamed it. Slower (thousands of commits); used to weigh the terms.

Per set: ROC-AUC of the default score and of lines added with the paired gain and its bootstrap
interval, the effort-aware figures, and an ablation: the AUC with each risk term dropped (its
contribution removed from the logit) minus the full model's AUC; a positive value means the
term hurts the ranking on that set (0 for a term the default does not weigh); and each term's
raw value's AUC alone (`single_term_auc`).

`--weights` (or `--weights-from` a dump of an earlier run) is the step that chose the default
weights of `triage/metrics/risk.py` (`weights_report`): a logistic fit of every term on the
links samples, per project and pooled, each term's gain beyond lines added, and its effect
when dropped from the current default, printed as the table the README's weights table cites.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.calibrate.evaluate import ScoredCommit, evaluate, roc_auc, score_commits
from triage.config import Config
from triage.gitrepo import GitRepo

# project -> the key of its ApacheJIT `data/commit_links_<KEY>.csv`; a project without a
# repository under `--repos` is skipped with a note
PROJECTS = {"zeppelin": "ZEPPELIN", "zookeeper": "ZOOKEEPER", "groovy": "GROOVY", "activemq": "AMQ"}
SMALL = "dataset/apachejit_test_small.csv"


def _git_bytes(repo: Path, *args: str) -> bytes | None:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    proc = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _read(apachejit: Path, path: str) -> str | None:
    """A file of the ApacheJIT checkout, or of its HEAD when it is a bare mirror."""
    if (apachejit / path).is_file():
        return (apachejit / path).read_text(encoding="utf-8")
    data = _git_bytes(apachejit, "show", f"HEAD:{path}")
    return None if data is None else data.decode("utf-8")


def find_repo(repos: Path, name: str, work: Path) -> GitRepo | None:
    """A usable repository for `name` under `repos` (`bench.calibration.find_clone`)."""
    from bench.calibration import find_clone

    clone = find_clone(repos, name, work)
    return GitRepo(clone) if clone is not None else None


def small_labels(text: str, project: str) -> list[tuple[str, bool]]:
    rows = csv.DictReader(io.StringIO(text))
    return [(r["commit_id"], r["buggy"].strip().lower() == "true") for r in rows if r["project"] == f"apache/{project}"]


def links_labels(text: str, repo: GitRepo) -> list[tuple[str, bool]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    bugs = {r["bug_hash"] for r in rows}
    lo = min(int(r["bug_date"]) for r in rows)
    hi = max(int(r["fix_date"]) for r in rows) - 365 * 86400  # a year for bugs to surface
    log = repo.git("log", "--no-merges", "--format=%H %at").decode().split("\n")
    out = []
    for line in reversed(log):
        if line:
            sha, stamp = line.split()
            if lo <= int(stamp) <= hi:
                out.append((sha, sha in bugs))
    return out


def ablation(scored: Sequence[ScoredCommit]) -> dict[str, float | None]:
    """AUC change when each term's contribution is removed from the logit (the ranking of a
    logistic model is the ranking of its logit, so no sigmoid is needed)."""
    labels = [c.buggy for c in scored]
    logits = [sum(contribution for _, _, contribution in c.factors) for c in scored]
    full = roc_auc(logits, labels)
    names = sorted({name for c in scored for name, _, _ in c.factors} - {"intercept", "no-data"})
    out: dict[str, float | None] = {}
    for name in names:
        dropped = [
            logit - sum(contribution for n, _, contribution in c.factors if n == name)
            for logit, c in zip(logits, scored, strict=True)
        ]
        auc = roc_auc(dropped, labels)
        out[name] = None if auc is None or full is None else round(auc - full, 4)
    return out


def single_term_auc(scored: Sequence[ScoredCommit]) -> dict[str, float | None]:
    """ROC-AUC of each term's raw value alone (higher value = riskier): which terms carry any
    signal at all, whatever their weight. Below 0.5 means the effect runs the other way."""
    labels = [c.buggy for c in scored]
    names = sorted({name for c in scored for name, _, _ in c.factors} - {"intercept", "no-data"})
    out: dict[str, float | None] = {}
    for name in names:
        values = [next((v for n, v, _ in c.factors if n == name), 0.0) for c in scored]
        auc = roc_auc(values, labels)
        out[name] = None if auc is None else round(auc, 4)
    return out


# --------------------------------------------------------------------------------------------
# the default weights: how `triage/metrics/risk.py`'s WEIGHTS were chosen, as a command


def term_input(name: str, raw: float) -> float:
    """x_i of a default term from its raw value, as `triage.metrics.risk` computes it (the
    history terms' centring is a constant shift: it moves the intercept, not the weight)."""
    import math

    from triage.metrics.risk_model import NUMERIC_FEATURES, transform

    if name == "subsystems":
        return math.log(raw) if raw > 1 else 0.0
    return transform(NUMERIC_FEATURES[name], raw)


def weights_report(rows: Sequence[dict[str, Any]], exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The measurement behind the default weights, on dumped rows of the `*_links` sets
    (commits in `exclude`, the ApacheJIT test commits, left out): per term, the current
    weight; the coefficient of a logistic fit of all terms per project and pooled (one
    intercept per project, no penalty to speak of: C = 100); the in-sample ROC-AUC gain of
    "lines added + the term" over lines added alone per project; the AUC change when the
    current default drops the term (recomputed from the raw values with today's WEIGHTS).
    WEIGHTS were read from this table, not rounded from it mechanically: a term is weighted
    when it adds signal beyond lines added on both projects with the same sign; its weight is
    at or below its pooled coefficient (shrunk toward 0: halving or doubling the non-size
    weights never took a development set's gain below -0.001).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from triage.metrics.risk import WEIGHTS

    terms = list(WEIGHTS)
    weights = np.array([WEIGHTS[t] for t in terms])
    sets = sorted({r["set"] for r in rows if r["set"].endswith("_links")})
    data: dict[str, tuple[Any, Any, list[ScoredCommit]]] = {}
    for name in sets:
        chosen = [r for r in rows if r["set"] == name and r["sha"] not in exclude]
        x = np.array([[term_input(t, r["factors"].get(t, [0.0, 0.0])[0]) for t in terms] for r in chosen])
        y = np.array([int(r["buggy"]) for r in chosen])
        # contributions under the *current* weights, from the raw values: a dump made under
        # other weights still measures today's default
        scored = [
            ScoredCommit(
                r["sha"], r["buggy"], 0.0, 0.0, int(r["la"]), 0, tuple(zip(terms, raws, raws * weights, strict=True))
            )
            for r, raws in zip(chosen, x, strict=True)
        ]
        data[name] = (x, y, scored)

    def coefs(x: Any, y: Any) -> list[float]:
        clf = LogisticRegression(C=100.0, max_iter=5000).fit(x, y)
        return [float(v) for v in clf.coef_[0]]

    out: dict[str, Any] = {"sets": {n: {"commits": len(d[1]), "buggy": int(d[1].sum())} for n, d in data.items()}}
    per_set = {n: coefs(x, y) for n, (x, y, _) in data.items()}
    if data:
        blocks = []
        for i, (x, _, _) in enumerate(data.values()):
            dummies = np.zeros((len(x), len(data) - 1))
            if i:
                dummies[:, i - 1] = 1.0
            blocks.append(np.hstack([x, dummies]))
        pooled = coefs(np.vstack(blocks), np.concatenate([d[1] for d in data.values()]))[: len(terms)]
    else:
        pooled = [0.0] * len(terms)
    dropped = {n: ablation(d[2]) for n, d in data.items()}
    la = terms.index("lines-added")
    table = {}
    for j, term in enumerate(terms):
        beyond = {}
        for n, (x, y, _) in data.items():
            base = roc_auc(list(x[:, la]), [bool(v) for v in y])
            if term == "lines-added" or base is None:
                beyond[n] = None
                continue
            pair = x[:, [la, j]]
            clf = LogisticRegression(C=100.0, max_iter=5000).fit(pair, y)
            both = roc_auc(list(clf.decision_function(pair)), [bool(v) for v in y])
            beyond[n] = None if both is None else round(both - base, 4)
        table[term] = {
            "weight": WEIGHTS[term],
            "pooled_coef": round(pooled[j], 3),
            "coef": {n: round(c[j], 3) for n, c in per_set.items()},
            "auc_gain_beyond_lines_added": beyond,
            "auc_change_when_dropped": {n: d.get(term) for n, d in dropped.items()},
        }
    out["terms"] = table
    return out


def weights_lines(report: dict[str, Any]) -> list[str]:
    """`weights_report` as a Markdown table (what the README's weights table cites)."""
    sets = list(report["sets"])
    head = " | ".join(f"coef {s}" for s in sets)
    beyond = " | ".join(f"+LA gain {s}" for s in sets)
    drop = " | ".join(f"dropped {s}" for s in sets)
    lines = [
        ", ".join(f"{s}: {v['commits']} commits ({v['buggy']} buggy)" for s, v in report["sets"].items()),
        f"| term | weight | pooled coef | {head} | {beyond} | {drop} |",
        "|---" * (3 + 3 * len(sets)) + "|",
    ]

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:+.3f}"

    for term, t in report["terms"].items():
        cells = [num(t["coef"][s]) for s in sets] + [num(t["auc_gain_beyond_lines_added"][s]) for s in sets]
        cells += [num(t["auc_change_when_dropped"][s]) for s in sets]
        lines.append(f"| {term} | {t['weight']:+.2f} | {t['pooled_coef']:+.3f} | " + " | ".join(cells) + " |")
    return lines


# --------------------------------------------------------------------------------------------
# candidate weightings, compared by replaying the dumped raw values (no re-scoring)

# What the default weighed before this measurement (the two-project fit), for comparison.
PREVIOUS_WEIGHTS: dict[str, float] = {
    "lines-added": 0.50,
    "entropy": 0.20,
    "complexity": 0.10,
    "sensitive-paths": 0.35,
    "prior-changes": 0.20,
}
PREVIOUS_INTERCEPT = -3.05
_FLOOR_VALUES = (0.70, 0.85)  # `triage.review.merge` floors: replayed as floors, not increments


def replay_scores(rows: Sequence[dict[str, Any]], weights: dict[str, float], intercept: float) -> list[float]:
    """The default score each dumped commit would get under `weights` (0 for a term not
    named): the logit from the raw values (a missing history input contributes 0, as in
    `triage.metrics.risk`), then the heuristic review's raises the dump recorded
    (`review_raises`): its floor, then its increments, capped at 1. A floor the commit's
    dumped score already exceeded left no trace, so a weighting that lowers such a score
    replays it unfloored: rare (a high-severity flag on a change scoring over 0.70) and only
    ever against the weighting. The intercept matters only through those raises."""
    from triage.metrics.risk import sigmoid

    out = []
    names = [t for t, w in weights.items() if w]
    for r, x in zip(rows, term_matrix(rows, names), strict=True):
        logit = intercept + sum(weights[t] * v for t, v in zip(names, x, strict=True))
        score = max(sigmoid(logit), r.get("review_floor", 0.0))
        out.append(min(1.0, score + r.get("review_increment", 0.0)))
    return out


def term_matrix(rows: Sequence[dict[str, Any]], terms: Sequence[str]) -> list[list[float]]:
    """x_i of each term for each dumped commit, as `triage.metrics.risk` computes it: history
    terms centred, and 0 when the input is missing (no history in a `--diff-only` dump, no
    earlier change for file age)."""
    from triage.metrics.risk import _CENTRE

    out = []
    for r in rows:
        factors = r["factors"]
        history = r.get("history", True)  # dumps before --diff-only were all made with history
        x = []
        for t in terms:
            raw = factors.get(t, [0.0, 0.0])[0]
            if t not in _CENTRE:
                x.append(term_input(t, raw))
            elif not history or (t == "file-age" and raw == 0.0):
                x.append(0.0)
            else:
                x.append(term_input(t, raw) - math.log1p(_CENTRE[t]))
        out.append(x)
    return out


def measure_weights(
    rows: Sequence[dict[str, Any]], exclude: set[str] | frozenset[str], rounds: int = 1000
) -> dict[str, Any]:
    """`--compare`: today's WEIGHTS against the previous ones and lines added alone on every
    dumped set (with intervals), the AUC change on each set when each weighted term is
    dropped from today's weights, and the leave-one-project-out check of today's terms."""
    from triage.metrics.risk import INTERCEPT, WEIGHTS

    now = {t: w for t, w in WEIGHTS.items() if w}
    candidates = {
        "size term only": ({"lines-added": WEIGHTS["lines-added"]}, INTERCEPT),
        "before": (PREVIOUS_WEIGHTS, PREVIOUS_INTERCEPT),
        "now": (now, INTERCEPT),
    }
    report = compare_report(rows, candidates, rounds)
    full = report["now"]["sets"]
    dropped: dict[str, dict[str, float]] = {}
    for term in now:
        without = compare_report(rows, {"x": ({t: w for t, w in now.items() if t != term}, INTERCEPT)}, 0)
        dropped[term] = {n: round(v["default"] - full[n]["default"], 4) for n, v in without["x"]["sets"].items()}
    return {
        "candidates": report,
        "dropped": dropped,
        "leave_one_out": leave_one_out(rows, list(now), exclude, rounds),
    }


def measure_lines(report: dict[str, Any]) -> list[str]:
    """`measure_weights` as Markdown tables (the README's tables cite them)."""

    def ci(v: list[float] | None) -> str:
        return "" if v is None else f" [{v[0]:+.3f}, {v[1]:+.3f}]"

    cands = report["candidates"]
    sets = list(cands["now"]["sets"])
    lines = ["| set | commits (buggy) | lines added | " + " | ".join(f"{c} (gain, 95 % CI)" for c in cands) + " |"]
    lines.append("|---" * (3 + len(cands)) + "|")
    for name in sets:
        first = cands["now"]["sets"][name]
        cells = [
            f"{v['sets'][name]['default']:.3f} ({v['sets'][name]['gain']:+.3f}{ci(v['sets'][name]['gain_ci95'])})"
            for v in cands.values()
        ]
        lines.append(
            f"| {name} | {first['commits']} ({first['buggy']}) | {first['lines_added']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    for kind in ("small", "links"):
        means = " | ".join(f"{v['mean_gain'][kind]:+.4f}" for v in cands.values())
        lines.append(f"| mean gain, {kind} sets | | | {means} |")
    lines += [
        "",
        "| term | weight | " + " | ".join(f"dropped {n}" for n in sets) + " |",
        "|---" * (2 + len(sets)) + "|",
    ]
    for term, changes in report["dropped"].items():
        weight = cands["now"]["weights"][term]
        lines.append(f"| {term} | {weight:+.2f} | " + " | ".join(f"{changes.get(n, 0.0):+.3f}" for n in sets) + " |")
    lines += ["", "| held-out project | fitted on | fitted weights | held-out gain (95 % CI) |", "|---|---|---|---|"]
    for held, v in report["leave_one_out"].items():
        weights = ", ".join(f"{t} {w:+.2f}" for t, w in v["weights"].items())
        gains = "; ".join(f"{n} {f['gain']:+.3f}{ci(f['gain_ci95'])}" for n, f in v["sets"].items())
        lines.append(f"| {held} | {', '.join(v['fitted_on'])} | {weights} | {gains} |")
    return lines


def _project(set_name: str) -> str:
    return set_name.rsplit("_", 1)[0]


def _set_order(set_name: str) -> tuple[str, str]:
    project, kind = set_name.rsplit("_", 1)
    return (kind, project)


def compare_report(
    rows: Sequence[dict[str, Any]], candidates: dict[str, tuple[dict[str, float], float]], rounds: int = 1000
) -> dict[str, Any]:
    """Each candidate weighting replayed on every dumped set (`replay_scores`): the default's
    ROC-AUC, lines added's, the paired gain and its bootstrap 95 % interval; and the mean gain
    over the projects, per kind of set (`small` = ApacheJIT's test commits, `links` = the
    larger samples)."""
    from triage.calibrate.evaluate import bootstrap_auc

    sets = sorted({r["set"] for r in rows}, key=_set_order)
    by_set = {name: [r for r in rows if r["set"] == name] for name in sets}
    out: dict[str, Any] = {}
    for cname, (weights, intercept) in candidates.items():
        per: dict[str, Any] = {}
        for name, chosen in by_set.items():
            labels = [bool(r["buggy"]) for r in chosen]
            scores = replay_scores(chosen, weights, intercept)
            la = [float(r["la"]) for r in chosen]
            a, b = roc_auc(scores, labels), roc_auc(la, labels)
            if a is None or b is None:
                continue
            ci = bootstrap_auc(scores, la, labels, rounds=rounds)["gain"]
            per[name] = {
                "commits": len(chosen),
                "buggy": sum(labels),
                "default": round(a, 4),
                "lines_added": round(b, 4),
                "gain": round(a - b, 4),
                "gain_ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)],
            }
        means = {}
        for kind in ("small", "links"):
            gains = [v["gain"] for n, v in per.items() if n.endswith(f"_{kind}")]
            means[kind] = round(sum(gains) / len(gains), 4) if gains else None
        kept = {t: w for t, w in weights.items() if w}
        out[cname] = {"weights": kept, "intercept": intercept, "sets": per, "mean_gain": means}
    return out


def leave_one_out(
    rows: Sequence[dict[str, Any]], terms: Sequence[str], exclude: set[str] | frozenset[str], rounds: int = 1000
) -> dict[str, Any]:
    """Is the choice of `terms` fitted to one project? For each project, a logistic fit of
    `terms` on the *other* projects' links samples (one intercept per project, test commits
    left out, C = 100), then its gain over lines added on the held-out project's sets, with
    the bootstrap interval: the figure to expect on a project the weights never saw."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    projects = sorted({_project(r["set"]) for r in rows if r["set"].endswith("_links")})
    out: dict[str, Any] = {}
    for held in projects:
        train = [
            r for r in rows if r["set"].endswith("_links") and _project(r["set"]) != held and r["sha"] not in exclude
        ]
        others = sorted({_project(r["set"]) for r in train})
        x = np.array(term_matrix(train, terms))
        dummies = np.array([[float(_project(r["set"]) == p) for p in others[1:]] for r in train])
        dummies = dummies.reshape(len(train), -1)
        y = np.array([int(r["buggy"]) for r in train])
        clf = LogisticRegression(C=100.0, max_iter=5000).fit(np.hstack([x, dummies]), y)
        weights = {t: round(float(c), 3) for t, c in zip(terms, clf.coef_[0], strict=False)}
        held_rows = [r for r in rows if _project(r["set"]) == held]
        report = compare_report(held_rows, {"fit": (weights, float(clf.intercept_[0]))}, rounds=rounds)
        out[held] = {"fitted_on": others, "weights": weights, "sets": report["fit"]["sets"]}
    return out


def dump_row(name: str, commit: ScoredCommit, *, history: bool) -> dict[str, Any]:
    """One scored commit as a `--dump` line: what `replay_scores` and the fits need."""
    row: dict[str, Any] = {"set": name, "sha": commit.sha, "buggy": commit.buggy, "history": history}
    row["la"], row["ld"] = commit.lines_added, commit.lines_deleted
    row["factors"] = {n: [v, k] for n, v, k in commit.factors if not n.startswith("review:")}
    row["review_floor"], row["review_increment"] = review_raises(commit)
    return row


def review_raises(commit: ScoredCommit) -> tuple[float, float]:
    """The heuristic review's raises of a scored commit's risk (`triage.review.merge`): the
    floor it put under the score (0 when none did) and the sum of its increments, so a
    candidate weighting can be replayed with them (`replay_scores`)."""
    from triage.metrics.risk import sigmoid

    base = sigmoid(sum(k for n, _, k in commit.factors if not n.startswith("review:")))
    floor, increment = 0.0, 0.0
    for name, _, contribution in commit.factors:
        if not name.startswith("review:"):
            continue
        if not floor and not increment and any(abs(base + contribution - f) < 1e-5 for f in _FLOOR_VALUES):
            floor = base + contribution
        else:
            increment += contribution
    return round(floor, 6), increment


def read_dump(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score_diff_only(repo: GitRepo, labels: Sequence[tuple[str, bool]]) -> tuple[list[ScoredCommit], list[str]]:
    """Every labelled commit as `triage run PATCH` scores it: the diff alone, no `--repo` (no
    history terms, no file contents for complexity or relative churn). The repository only
    supplies each commit's patch; the run context knows nothing of it."""
    from datetime import UTC, datetime

    from triage.errors import TriageError
    from triage.pipeline import RunContext, assess_all
    from triage.sources.git import read_range

    cfg = Config(llm_mode="off")
    scored: list[ScoredCommit] = []
    skipped: list[str] = []
    for sha, buggy in labels:
        try:
            full = repo.rev_parse(sha)
            prs = list(read_range(repo, f"{full}^..{full}"))
        except TriageError as exc:
            skipped.append(f"{sha}: {exc.format_message()}")
            continue
        if len(prs) != 1:
            skipped.append(f"{sha}: a root or merge commit (no single-parent diff)")
            continue
        now = prs[0].updated_at or prs[0].created_at or datetime.now(UTC)
        (a,) = tuple(assess_all(prs, cfg, RunContext(now=now)))
        scored.append(ScoredCommit.of(full, buggy, a, cfg, now))
    return scored, skipped


def evaluate_set(
    name: str,
    repo: GitRepo,
    labels: list[tuple[str, bool]],
    dump: Path | None,
    workers: int,
    diff_only: bool = False,
) -> dict[str, Any]:
    start = time.perf_counter()
    if diff_only:
        scored, skipped = score_diff_only(repo, labels)
    else:
        scored, skipped = score_commits(repo, labels, Config(llm_mode="off"), workers=workers)
    seconds = time.perf_counter() - start
    if dump is not None:
        with dump.open("a", encoding="utf-8") as fh:
            for c in scored:
                fh.write(json.dumps(dump_row(name, c, history=not diff_only)) + "\n")
    report = evaluate(scored, source=name, skipped=skipped).to_dict()
    report["ablation_auc_change"] = ablation(scored)
    report["single_term_auc"] = single_term_auc(scored)
    report["seconds"] = round(seconds, 1)
    return report


def sample(labels: list[tuple[str, bool]], size: int | None, seed: int = 0) -> list[tuple[str, bool]]:
    """A seeded random subset of `size` labels in their original (time) order; all when None."""
    if size is None or size >= len(labels):
        return labels
    keep = set(random.Random(seed).sample(range(len(labels)), size))
    return [label for i, label in enumerate(labels) if i in keep]


def run(
    apachejit: Path,
    repos: Path,
    *,
    links: bool,
    dump: Path | None,
    workers: int = 2,
    links_sample: int | None = None,
    small: bool = True,
    projects: Sequence[str] = tuple(PROJECTS),
    diff_only: bool = False,
) -> dict[str, Any]:
    small_text = _read(apachejit, SMALL)
    if small_text is None:
        raise SystemExit(f"{apachejit}: no {SMALL} (is it a clone of hosseinkshvrz/apachejit?)")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="risk-dev-") as tmp:
        for project in projects:
            repo = find_repo(repos, project, Path(tmp))
            if repo is None:
                results[project] = {"skipped": f"no repository for {project} under --repos"}
                continue
            if small:
                results[f"{project}_small"] = evaluate_set(
                    f"{project}_small", repo, small_labels(small_text, project), dump, workers, diff_only
                )
            if links:
                text = _read(apachejit, f"data/commit_links_{PROJECTS[project]}.csv")
                if text is not None:
                    labels = sample(links_labels(text, repo), links_sample)
                    results[f"{project}_links"] = evaluate_set(
                        f"{project}_links", repo, labels, dump, workers, diff_only
                    )
    return results


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, r in results.items():
        if "skipped" in r and isinstance(r["skipped"], str):
            lines.append(f"{name}: skipped ({r['skipped']})")
            continue
        gain_ci = r["gain_roc_auc_ci95"]
        lines.append(
            f"{name}: {r['commits_evaluated']} commits ({r['buggy']} buggy): default {r['risk_score']['roc_auc']} "
            f"vs lines added {r['lines_added']['roc_auc']}, gain {r['gain_roc_auc']:+.3f} "
            f"[{gain_ci[0]:+.3f}, {gain_ci[1]:+.3f}]; Popt risk {r['risk_score']['popt']} "
            f"priority {r['priority']['popt']} lines-added {r['lines_added']['popt']}"
        )
    return lines


def scenario() -> dict[str, Any]:
    """`make bench`'s `risk_default` scenario: the small sets, when the environment names the
    data (`TRIAGE_BENCH_APACHEJIT`, `TRIAGE_BENCH_REPOS`); otherwise a note saying what to set.
    `TRIAGE_BENCH_RISK_LINKS=N` adds a seeded sample of N commits of each larger links set
    (about 1.5 s per commit on 2 cores: the history of every commit is read at its parent)."""
    apachejit, repos = os.environ.get("TRIAGE_BENCH_APACHEJIT"), os.environ.get("TRIAGE_BENCH_REPOS")
    if not apachejit or not repos:
        return {
            "skipped": "set TRIAGE_BENCH_APACHEJIT (a clone or mirror of hosseinkshvrz/apachejit) and "
            "TRIAGE_BENCH_REPOS (a directory with apache/zeppelin and apache/zookeeper clones or mirrors)"
        }
    links = os.environ.get("TRIAGE_BENCH_RISK_LINKS", "")
    if links and not links.isdigit():
        raise SystemExit(f"TRIAGE_BENCH_RISK_LINKS={links!r}: must be a number of commits")
    results = run(
        Path(apachejit), Path(repos), links=bool(links), dump=None, links_sample=int(links) if links else None
    )
    for line in summary_lines(results):
        print(line, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.risk_dev", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apachejit", required=True, type=Path, help="clone or bare mirror of ApacheJIT")
    parser.add_argument("--repos", required=True, type=Path, help="directory with the projects' clones or mirrors")
    parser.add_argument("--links", action="store_true", help="also the larger commit_links sets (slow)")
    parser.add_argument("--links-sample", type=int, help="score a seeded random sample of this many links commits")
    parser.add_argument("--no-small", action="store_true", help="skip the apachejit_test_small sets")
    parser.add_argument("--dump", type=Path, help="append every scored commit's factors here (JSON lines)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--diff-only",
        action="store_true",
        help="score each commit from its diff alone, as `triage run PATCH` does (no --repo history)",
    )
    parser.add_argument(
        "--projects",
        nargs="+",
        choices=list(PROJECTS),
        default=list(PROJECTS),
        help="the ApacheJIT projects to evaluate (default: all with a repository under --repos)",
    )
    parser.add_argument(
        "--weights",
        action="store_true",
        help="after scoring, fit the default's terms on the links sets (how WEIGHTS were chosen); needs --links",
    )
    parser.add_argument("--weights-from", type=Path, metavar="DUMP", help="only the weights fit, from a --dump file")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="with --weights-from: today's weights vs the previous ones and lines added, drop-one, leave-one-out",
    )
    args = parser.parse_args(argv)
    if args.weights_from is not None:
        small_text = _read(args.apachejit, SMALL) or ""
        exclude = {sha for p in PROJECTS for sha, _ in small_labels(small_text, p)}
        rows = read_dump(args.weights_from)
        if args.compare:
            report = measure_weights(rows, exclude)
            print("\n".join(measure_lines(report)))
        else:
            report = weights_report(rows, exclude)
            print("\n".join(weights_lines(report)))
        if args.out:
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return 0
    if args.weights and not args.links:
        parser.error("--weights needs --links (the weights are fitted on the links sets)")
    dump = args.dump
    tmp_dump = None
    if args.weights and dump is None:
        tmp_dump = Path(tempfile.mkstemp(prefix="risk-dev-", suffix=".jsonl")[1])
        dump = tmp_dump
    results = run(
        args.apachejit,
        args.repos,
        links=args.links,
        dump=dump,
        workers=args.workers,
        links_sample=args.links_sample,
        small=not args.no_small,
        projects=args.projects,
        diff_only=args.diff_only,
    )
    print("\n".join(summary_lines(results)))
    if args.weights and dump is not None:
        small_text = _read(args.apachejit, SMALL) or ""
        exclude = {sha for p in PROJECTS for sha, _ in small_labels(small_text, p)}
        results["weights"] = weights_report(read_dump(dump), exclude)
        print("\n".join(weights_lines(results["weights"])))
        if tmp_dump is not None:
            tmp_dump.unlink(missing_ok=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

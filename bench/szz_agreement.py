"""How far our SZZ labels agree with ApacheJIT's on the development projects (issue #10).

    python -m bench.szz_agreement --apachejit DIR --repos DIR [--project zookeeper] [--pattern]

or `make bench` with `TRIAGE_BENCH_APACHEJIT` and `TRIAGE_BENCH_REPOS` set (skipped, saying
why, without them). The acceptance evaluates a model calibrated on our labels against
ApacheJIT's labels (Keshavarz & Nagappan, MSR 2022), so labels that disagree cap what any model
can score; this step measures the disagreement, per project, over the period ApacheJIT covers
(its first to last fix commit of the project, on the repository's HEAD history):

* **fix commits**: ours (`parse_message`, as `label_history` uses it) against ApacheJIT's
  `data/<PROJECT>.csv` (the commits linked to a resolved JIRA issue of type Bug): precision
  (of our fixes, how many are theirs) and recall (of theirs, how many we find).
* **bug-inducing commits** on two label sets: `test_small` (ApacheJIT's final labels of
  `dataset/apachejit_test_small.csv`, the acceptance's test commits) and `links` (every commit of
  the period, buggy when `data/commit_links_<PROJECT>.csv` pairs it with a fix: their SZZ
  before the issue-date, count and GumTree filters, so an upper bound of their buggy set).
  Precision and recall of our `buggy` on the commits both sides label, and the base rates.

Each project is labelled with no issue pattern (what `triage calibrate` does by default), once
more with ApacheJIT's outlier filters (`default_outlier_filters`, `drop_outliers`), and, with
`--pattern` (always in `make bench`), with `--issue-pattern '<PROJECT>-\\d+'`.
Nothing here ships data: the user fetches the public mirrors and points to them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.risk_dev import SMALL, _read
from triage.calibrate.szz import label_history, parse_message
from triage.gitrepo import GitRepo

PROJECTS = ("zookeeper", "zeppelin")


def _pr(ours: set[str], theirs: set[str]) -> dict[str, Any]:
    tp = len(ours & theirs)
    return {
        "ours": len(ours),
        "theirs": len(theirs),
        "both": tp,
        "precision": round(tp / len(ours), 3) if ours else None,
        "recall": round(tp / len(theirs), 3) if theirs else None,
    }


def _history(repo: GitRepo) -> dict[str, tuple[int, str]]:
    """sha -> (author time, message) of every non-merge commit of HEAD."""
    raw = repo.git("log", "--no-merges", "-z", "--format=%H%x1f%at%x1f%B", "HEAD", "--").decode("utf-8", "replace")
    out: dict[str, tuple[int, str]] = {}
    for record in raw.split("\x00"):
        if record.strip():
            sha, stamp, body = record.strip("\n").split("\x1f", 2)
            out[sha] = (int(stamp), body.strip("\n"))
    return out


class _MemoryStore:
    """Blame outcomes shared by the variants of one run (each fix is blamed once)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = value


def project_agreement(
    name: str,
    repo: GitRepo,
    apachejit: Path,
    pattern: str | None,
    drop_outliers: bool = False,
    cache: _MemoryStore | None = None,
) -> dict[str, Any]:
    key = name.upper()
    fixes_text = _read(apachejit, f"data/{key}.csv")
    links_text = _read(apachejit, f"data/commit_links_{key}.csv")
    small_text = _read(apachejit, SMALL)
    if fixes_text is None or links_text is None or small_text is None:
        return {"skipped": f"{apachejit}: no data/{key}.csv, data/commit_links_{key}.csv or {SMALL}"}
    history = _history(repo)
    their_fixes = {r["commit_id"] for r in csv.DictReader(io.StringIO(fixes_text))} & history.keys()
    if not their_fixes:
        return {"skipped": f"none of ApacheJIT's {key} fix commits is on HEAD"}
    stamps = [history[s][0] for s in their_fixes]
    lo, hi = min(stamps), max(stamps)
    period = {s for s, (t, _) in history.items() if lo <= t <= hi}
    our_fixes = {s for s in period if parse_message(history[s][1], pattern).is_fix}

    start = time.perf_counter()
    result = label_history(repo, rev="HEAD", issue_pattern=pattern, drop_outliers=drop_outliers, cache=cache)
    labelled = result.by_sha()
    seconds = round(time.perf_counter() - start, 1)

    small = {
        r["commit_id"]: r["buggy"].strip().lower() == "true"
        for r in csv.DictReader(io.StringIO(small_text))
        if r["project"] == f"apache/{name}"
    }
    links_bugs = {r["bug_hash"] for r in csv.DictReader(io.StringIO(links_text))}
    sets = {
        "test_small": {s: b for s, b in small.items() if s in labelled},
        "links": {s: s in links_bugs for s in period if s in labelled},
    }
    buggy: dict[str, Any] = {}
    for label_set, theirs in sets.items():
        ours = {s for s in theirs if labelled[s].buggy}
        buggy[label_set] = {
            "commits": len(theirs),
            "their_rate": round(sum(theirs.values()) / len(theirs), 3) if theirs else None,
            "our_rate": round(len(ours) / len(theirs), 3) if theirs else None,
            **_pr(ours, {s for s, b in theirs.items() if b}),
        }
        positives = sum(theirs.values())
        if 0 < positives < len(theirs):
            # Our label as a score of theirs: (TPR + TNR) / 2, the ROC-AUC that a perfect
            # predictor of our labels would reach on ApacheJIT's.
            tpr = len(ours & {s for s, b in theirs.items() if b}) / positives
            fpr = len({s for s in ours if not theirs[s]}) / (len(theirs) - positives)
            buggy[label_set]["auc_of_our_labels"] = round((1 + tpr - fpr) / 2, 3)
    return {
        "pattern": pattern,
        "drop_outliers": drop_outliers,
        "outlier_fixes": result.outlier_fixes,
        "outlier_candidates": result.outlier_candidates,
        "period_commits": len(period),
        "fixes": _pr(our_fixes & period, their_fixes),
        "buggy": buggy,
        "labelling_seconds": seconds,
    }


def scenario(
    repos: Path | None = None, apachejit: Path | None = None, with_pattern: bool = True, only: str | None = None
) -> dict[str, Any]:
    from bench.risk_dev import find_repo

    if repos is None and (env := os.environ.get("TRIAGE_BENCH_REPOS")):
        repos = Path(env)
    if apachejit is None and (env := os.environ.get("TRIAGE_BENCH_APACHEJIT")):
        apachejit = Path(env)
    if repos is None or apachejit is None:
        return {
            "skipped": "set TRIAGE_BENCH_REPOS (zookeeper / zeppelin clones or mirrors) and "
            "TRIAGE_BENCH_APACHEJIT (a clone or mirror of hosseinkshvrz/apachejit)"
        }
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="szz-agree-") as tmp:
        for name in PROJECTS:
            if only is not None and name != only:
                continue
            repo = find_repo(repos, name, Path(tmp))
            if repo is None:
                out[name] = {"skipped": f"no clone named {name} under the repos directory"}
                continue
            store = _MemoryStore()
            runs = {
                "default": project_agreement(name, repo, apachejit, None, cache=store),
                "default_outlier_filters": project_agreement(name, repo, apachejit, None, True, store),
            }
            if with_pattern:
                pattern = rf"{name.upper()}-\d+"
                runs["issue_pattern"] = project_agreement(name, repo, apachejit, pattern, cache=store)
            out[name] = runs
            print(f"szz_agreement {name}: {json.dumps(runs)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.szz_agreement")
    parser.add_argument("--apachejit", type=Path)
    parser.add_argument("--repos", type=Path)
    parser.add_argument("--project", choices=PROJECTS)
    parser.add_argument("--pattern", action="store_true", help="also label with --issue-pattern '<PROJECT>-\\d+'")
    args = parser.parse_args(argv)
    result = scenario(args.repos, args.apachejit, args.pattern, args.project)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate the risk score on labelled commits: ROC-AUC of `risk.score` against "lines added".

    python -m bench.jit_eval --repo path/to/clone --labels labels.csv [--out result.json]

`labels.csv` has a header and one row per commit: a commit column (`commit`, `commit_hash`,
`commit_id`, `sha` or `hash`) and a label column (`buggy`, `bug`, `contains_bug`, `is_buggy`,
`label` or `defective`; 1/0, true/false, yes/no), the shape of the public just-in-time
defect-prediction datasets (Kamei et al. 2013, ApacheJIT, JIT-Defects4J), whose labels come
from SZZ: a commit is "buggy" when a later fix blames lines it introduced.

Each commit is triaged as its own PR, exactly as `triage run --repo R --git C^..C` would: the
diff against its first parent, history read at the parent (nothing from the future), the
clock at the commit's own time, the LLM off (the score must stand without it). The baseline is
the commit's added lines, all files counted, as the datasets' LA column. A commit that cannot
be read (unknown sha, root commit, merge) is skipped with a one-line reason; the rest go on.

No labelled data ships with the project (it is not available offline), so this is the
command that measures the claim in the README, not a figure quoted there.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.config import Config
from triage.errors import TriageError
from triage.gitrepo import GitRepo, GitTree
from triage.pipeline import RunContext, assess_all
from triage.sources.git import read_range

_COMMIT_COLUMNS = ("commit", "commit_hash", "commit_id", "sha", "hash")
_LABEL_COLUMNS = ("buggy", "bug", "contains_bug", "is_buggy", "label", "defective")
_TRUE = frozenset({"1", "true", "yes", "y", "t", "buggy"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "clean"})


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the probability that a random buggy commit scores higher than
    a random clean one, ties counting half (Mann-Whitney U with average ranks). None when one
    of the classes is empty."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # 1-based average rank of the tie group
        i = j + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def read_labels(path: Path) -> list[tuple[str, bool]]:
    """(commit, buggy) rows, each commit once (the first row wins); a malformed file is an
    error naming the file, the line and the problem."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets write a BOM
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TriageError(f"{path}: cannot read labels ({exc})") from exc
    if len(rows) < 2:
        raise TriageError(f"{path}: no labelled commits")
    header = [name.strip().lower() for name in rows[0]]
    commit_col = next((header.index(c) for c in _COMMIT_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in _LABEL_COLUMNS if c in header), None)
    if commit_col is None or label_col is None:
        raise TriageError(
            f"{path}: needs a commit column ({', '.join(_COMMIT_COLUMNS)}) and a label column "
            f"({', '.join(_LABEL_COLUMNS)}); found {', '.join(rows[0])}"
        )
    out: dict[str, bool] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if max(commit_col, label_col) >= len(row):
            raise TriageError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        value = row[label_col].strip().lower()
        if value not in _TRUE | _FALSE:
            raise TriageError(f"{path}:{line}: label {value!r} is not 1/0, true/false or yes/no")
        out.setdefault(row[commit_col].strip(), value in _TRUE)
    return list(out.items())


@dataclass
class Evaluation:
    """What the evaluation collected, commit by commit (parallel lists), and what it skipped."""

    risk_scores: list[float] = field(default_factory=list)
    lines_added: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        risk_auc = roc_auc(self.risk_scores, self.labels)
        size_auc = roc_auc(self.lines_added, self.labels)
        return {
            "commits_evaluated": len(self.labels),
            "buggy": sum(self.labels),
            "roc_auc_risk_score": None if risk_auc is None else round(risk_auc, 4),
            "roc_auc_lines_added": None if size_auc is None else round(size_auc, 4),
            "skipped": len(self.skipped),
            "skipped_reasons": self.skipped[:20],
        }


def evaluate(repo: GitRepo, labels: Sequence[tuple[str, bool]], cfg: Config | None = None) -> Evaluation:
    """Triage every labelled commit alone and collect (score, lines added, label)."""
    cfg = cfg or Config(llm_mode="off")
    out = Evaluation()
    for sha, buggy in labels:
        try:
            if not sha:
                raise TriageError("empty commit id")
            full = repo.rev_parse(sha)
            if not repo.has_revision(f"{full}^"):
                raise TriageError("a root commit (no parent to diff against)")
            if repo.has_revision(f"{full}^2"):
                raise TriageError("a merge commit (no single-parent diff)")
            (pr,) = read_range(repo, f"{full}^..{full}")
            now = pr.updated_at or pr.created_at or datetime.now(UTC)
            ctx = RunContext(now=now, base=GitTree(repo, pr.base_sha or f"{full}^"), repo=repo)
            (assessment,) = tuple(assess_all([pr], cfg, ctx))
        except TriageError as exc:
            out.skipped.append(f"{sha or '(empty)'}: {exc.format_message()}")
            continue
        out.risk_scores.append(assessment.risk.score)
        out.lines_added.append(float(sum(f.added for f in assessment.diff.files)))
        out.labels.append(buggy)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jit_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="a local clone holding the labelled commits")
    parser.add_argument("--labels", required=True, help="CSV: a commit column and a buggy column")
    parser.add_argument("--out", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    try:
        result = evaluate(GitRepo(args.repo), read_labels(Path(args.labels))).result()
    except TriageError as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

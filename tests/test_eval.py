"""`triage eval` (triage/calibrate/evaluate.py): AUC and effort arithmetic, label files, and real
runs over commits of generated git repositories, with a labels CSV and with SZZ labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.calibrate.evaluate import (
    ScoredCommit,
    bootstrap_auc,
    effort_figures,
    evaluate,
    format_report,
    read_labels,
    roc_auc,
    score_commits,
)
from triage.cli import main
from triage.errors import TriageError
from triage.gitrepo import GitRepo


def test_auc_is_the_chance_a_buggy_commit_outranks_a_clean_one() -> None:
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [False, True, False, True]) == 0.5  # ties count half
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, True, False, True]) == 1.0
    assert roc_auc([0.1, 0.4, 0.4, 0.8], [False, True, False, True]) == pytest.approx(0.875)
    assert roc_auc([0.3, 0.6], [True, True]) is None  # one class only: undefined


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate() -> None:
    labels = [i % 3 == 0 for i in range(60)]
    risk = [(1.0 if y else 0.0) + (i % 7) / 10 for i, y in enumerate(labels)]  # informative
    size = [float(i % 5) for i in range(60)]  # noise
    first = bootstrap_auc(risk, size, labels, rounds=200)
    assert first == bootstrap_auc(risk, size, labels, rounds=200)  # the same data, the same interval
    lo, hi = first["gain"]  # type: ignore[misc]
    assert 0 < lo <= hi  # risk beats noise on every resample's percentile range
    r_lo, r_hi = first["risk"]  # type: ignore[misc]
    assert r_lo <= roc_auc(risk, labels) <= r_hi  # type: ignore[operator]


def test_effort_figures_reward_finding_bugs_in_small_changes_first() -> None:
    # Four commits: two small buggy ones, two large clean ones; total effort 220.
    efforts = [10.0, 10.0, 100.0, 100.0]
    labels = [True, True, False, False]
    best = effort_figures([4, 3, 2, 1], efforts, labels)
    assert best["recall_at_20_effort"] == 1.0  # 20 of 220 lines of effort find both
    assert best["effort_at_20_recall"] == pytest.approx(10 / 220)
    assert best["popt"] == pytest.approx(1.0)
    worst = effort_figures([1, 2, 3, 4], efforts, labels)
    assert worst["recall_at_20_effort"] == 0.0
    assert worst["effort_at_20_recall"] == pytest.approx(210 / 220)
    assert worst["popt"] == pytest.approx(0.0)
    assert effort_figures([1, 2], [1.0, 1.0], [False, False])["popt"] is None


def test_label_files_accept_the_datasets_column_names(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("commit_hash,contains_bug,other\nabc,True,x\ndef,0,y\n", encoding="utf-8")
    assert read_labels(path) == [("abc", True), ("def", False)]
    path.write_text("sha,label\nabc,maybe\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"labels.csv:2: label 'maybe'"):
        read_labels(path)
    path.write_text("id,verdict\nabc,1\n", encoding="utf-8")
    with pytest.raises(TriageError, match="needs a commit column"):
        read_labels(path)
    # A spreadsheet's byte-order mark, extra fields, blank lines and repeated commits.
    path.write_text("\ufeffCommit,Buggy\nabc,1,extra\n\ndef,no\nabc,0\n", encoding="utf-8")
    assert read_labels(path) == [("abc", True), ("def", False)]
    # A data frame written by pandas: an index column, float labels.
    path.write_text(",commit_hash,is_buggy_commit\n0,abc,1.0\n1,def,0.0\n", encoding="utf-8")
    assert read_labels(path) == [("abc", True), ("def", False)]
    path.write_text("commit,buggy\nabc\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"labels.csv:2: 1 fields"):
        read_labels(path)


def _history(tmp_path: Path) -> tuple[ScratchRepo, dict[str, str]]:
    repo = ScratchRepo.create(tmp_path)
    repo.write("README.md", "# app\n")
    shas = {"root": repo.commit("initial", date="2024-01-01T00:00:00+00:00")}
    repo.write("src/core.py", "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(10)))
    shas["big"] = repo.commit("add core", date="2024-01-02T00:00:00+00:00")
    repo.write("docs/guide.md", "Some words.\n")
    shas["docs"] = repo.commit("docs: a guide", date="2024-01-03T00:00:00+00:00")
    body = "".join(
        f"def g{i}(x):\n    if x > {i} and x < 99:\n        for k in range(x):\n            x -= k\n    return x\n"
        for i in range(40)
    )
    repo.write("src/auth/login.py", body)
    shas["risky"] = repo.commit("add login", date="2024-01-04T00:00:00+00:00")
    repo.write("docs/guide.md", "Some more words.\n")
    shas["typo"] = repo.commit("docs: typo", date="2024-01-05T00:00:00+00:00")
    return repo, shas


def test_scoring_takes_each_commit_alone_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    labels = [
        (shas["big"], True),
        (shas["docs"], False),
        (shas["risky"], True),
        (shas["typo"], False),
        (shas["root"], False),  # no parent: skipped
        ("0" * 40, True),  # unknown: skipped
    ]
    repo.git("checkout", "-q", "-b", "side", shas["docs"])
    repo.write("side.txt", "x\n")
    repo.commit("side work")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    labels.append((repo.head(), True))  # a merge: skipped, its branch's commits are not scored
    scored, skipped = score_commits(GitRepo(repo.root), labels)
    assert [c.sha for c in scored] == [shas["big"], shas["docs"], shas["risky"], shas["typo"]]
    assert len(skipped) == 3
    assert any("merge commit" in reason for reason in skipped)
    assert any("root commit" in reason for reason in skipped)
    big = scored[0]
    assert big.lines_added == 20 and big.lines_deleted == 0 and big.effort == 20
    assert {name for name, _, _ in big.factors} >= {"intercept", "lines-added", "fix"}
    assert sum(k for _, _, k in big.factors) == pytest.approx(_logit(big.risk), abs=1e-4)
    # Two processes give the same answer as one.
    parallel, _ = score_commits(GitRepo(repo.root), labels, workers=2)
    assert parallel == scored

    report = evaluate(scored, source="test", skipped=skipped, rounds=50)
    assert report.commits == 4 and report.buggy == 2
    assert report.risk.auc == 1.0 and report.lines_added.auc == 1.0  # code outscores doc edits
    assert report.gain == 0.0
    text = format_report(report)
    assert "risk score" in text and "lines added" in text and "priority" in text and "Popt" in text


def _logit(p: float) -> float:
    import math

    return math.log(p / (1 - p))


def test_the_command_prints_figures_with_a_labels_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, shas = _history(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"commit,buggy\n{shas['risky']},1\n{shas['typo']},0\n{shas['big']},1\n{shas['docs']},0\n", encoding="utf-8"
    )
    args = ["eval", "--repo", str(repo.root), "--labels", str(labels), "--bootstrap", "50", "--workers", "1"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["commits_evaluated"] == 4 and result["buggy"] == 2
    assert result["risk_score"]["roc_auc"] == 1.0
    assert result["lines_added"]["roc_auc"] == 1.0
    assert set(result["priority"]) == {"roc_auc", "roc_auc_ci95", "recall_at_20_effort", "effort_at_20_recall", "popt"}
    assert result["model"] == "default weights"
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "gain over lines added (ROC-AUC): +0.000" in out and "R@20%E" in out


def test_the_command_labels_the_history_itself_without_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("src/app.py", "def f(x):\n    return x\n")
    repo.commit("initial", date="2024-01-01T00:00:00+00:00")
    day = 2
    buggy = []
    for i in range(8):  # eight features, every other one fixed later
        repo.write(f"src/m{i}.py", f"def g(x):\n    return x * {i + 2}\n" + "".join(f"A{k} = {k}\n" for k in range(i)))
        sha = repo.commit(f"add m{i}", date=f"2024-01-{day:02d}T00:00:00+00:00")
        day += 1
        if i % 2:
            buggy.append(sha)
            repo.write(
                f"src/m{i}.py", f"def g(x):\n    return x * {i + 1}\n" + "".join(f"A{k} = {k}\n" for k in range(i))
            )
            repo.commit(f"fix m{i} factor", date=f"2024-01-{day:02d}T00:00:00+00:00")
            day += 1
    assert main(["eval", "--repo", str(repo.root), "--slice", "1.0", "--bootstrap", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["labels"].startswith("SZZ on HEAD:") and "4 fix-inducing" in result["labels"]
    assert result["buggy"] == 4  # the four features that needed a fix
    assert result["commits_evaluated"] == 12  # every commit but the root


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, shas = _history(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"commit,buggy\n{shas['risky']},1\n", encoding="utf-8")
    assert main(["eval", "--repo", str(tmp_path / "nowhere"), "--labels", str(labels)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["eval", "--repo", str(repo.root), "--labels", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: cannot read labels" in capsys.readouterr().err
    model = tmp_path / "model.json"
    model.write_text("{not json", encoding="utf-8")
    assert main(["eval", "--repo", str(repo.root), "--labels", str(labels), "--model", str(model)]) == 2
    assert "model.json: risk model is not valid JSON" in capsys.readouterr().err
    assert main(["eval", "--repo", str(repo.root), "--slice", "0"]) == 2
    assert "--slice 0.0: must be in (0, 1]" in capsys.readouterr().err


def test_scored_commit_effort() -> None:
    c = ScoredCommit(sha="x", buggy=True, risk=0.5, priority=1.0, lines_added=3, lines_deleted=4)
    assert c.effort == 7

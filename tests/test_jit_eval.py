"""The risk-score evaluation (bench/jit_eval.py): AUC arithmetic, label files, and a real run
over commits of a scratch git repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import ScratchRepo

from bench.jit_eval import evaluate, main, read_labels, roc_auc
from triage.errors import TriageError
from triage.gitrepo import GitRepo


def test_auc_is_the_chance_a_buggy_commit_outranks_a_clean_one() -> None:
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [False, True, False, True]) == 0.5  # ties count half
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, True, False, True]) == 1.0
    assert roc_auc([0.1, 0.4, 0.4, 0.8], [False, True, False, True]) == pytest.approx(0.875)
    assert roc_auc([0.3, 0.6], [True, True]) is None  # one class only: undefined


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
    path.write_text("commit,buggy\nabc\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"labels.csv:2: 1 fields"):
        read_labels(path)


def _history(tmp_path: Path) -> tuple[ScratchRepo, dict[str, str]]:
    repo = ScratchRepo.create(tmp_path)
    repo.write("README.md", "# app\n")
    shas = {"root": repo.commit("initial")}
    repo.write("src/core.py", "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(10)))
    shas["big"] = repo.commit("add core")
    repo.write("docs/guide.md", "Some words.\n")
    shas["docs"] = repo.commit("docs: a guide")
    body = "".join(
        f"def g{i}(x):\n    if x > {i} and x < 99:\n        for k in range(x):\n            x -= k\n    return x\n"
        for i in range(40)
    )
    repo.write("src/auth/login.py", body)
    shas["risky"] = repo.commit("Fix crash in login")
    repo.write("docs/guide.md", "Some more words.\n")
    shas["typo"] = repo.commit("docs: typo")
    return repo, shas


def test_evaluation_scores_each_commit_alone_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
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
    result = evaluate(GitRepo(repo.root), labels).result()
    assert result["commits_evaluated"] == 4 and result["buggy"] == 2
    assert result["skipped"] == 3
    assert any("merge commit" in reason for reason in result["skipped_reasons"])
    assert any("root commit" in reason for reason in result["skipped_reasons"])
    assert result["roc_auc_risk_score"] == 1.0  # the two source changes outscore the two doc edits
    assert result["roc_auc_lines_added"] == 1.0


def test_the_command_prints_and_writes_the_result(tmp_path: Path, capsys) -> None:
    repo, shas = _history(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"commit,buggy\n{shas['risky']},1\n{shas['typo']},0\n", encoding="utf-8")
    out = tmp_path / "result.json"
    assert main(["--repo", str(repo.root), "--labels", str(labels), "--out", str(out)]) == 0
    assert '"roc_auc_risk_score": 1.0' in capsys.readouterr().out
    assert '"commits_evaluated": 2' in out.read_text(encoding="utf-8")
    assert main(["--repo", str(tmp_path / "nowhere"), "--labels", str(labels)]) == 2
    assert "not a directory" in capsys.readouterr().err

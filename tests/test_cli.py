"""The `triage` command in-process: exit codes, written reports, printed queue, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from gitutil import ScratchRepo
from rich.console import Console

from triage.cli import main
from triage.report import load_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

PATCH = """diff --git a/lib/calc.py b/lib/calc.py
index 1111111..2222222 100644
--- a/lib/calc.py
+++ b/lib/calc.py
@@ -1,2 +1,5 @@
 def add(a, b):
-    return a + b
+    if a is None:
+        return b
+    return a + b
+
"""


def _run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    console = Console(record=True, width=160, force_terminal=False)
    code = main(argv, environ=env or {}, console=console)
    return code, console.export_text()


def test_run_writes_three_reports_and_prints_queue(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "fix-calc.diff").write_text(PATCH)
    out = tmp_path / "out"
    code, text = _run(["run", str(tmp_path / "in"), "--out", str(out), "--no-progress"])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"queue.json", "queue.md", "queue.html"}
    doc = json.loads((out / "queue.json").read_text())
    jsonschema.validate(doc, load_schema())
    (item,) = doc["items"]
    assert item["id"] == "fix-calc"  # a bare diff's id is its file stem
    assert item["metrics"]["lines_added"] == 4 and item["metrics"]["lines_deleted"] == 1
    assert doc["review_source"] == "heuristic"
    assert "fix-calc" in text


def test_run_rows_caps_the_terminal_table_not_the_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for n in range(4):
        (tmp_path / "in" / f"fix-{n}.diff").write_text(PATCH)
    out = tmp_path / "out"
    code, text = _run(["run", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--rows", "1"])
    assert code == 0
    assert len(json.loads((out / "queue.json").read_text())["items"]) == 4
    rows = [line for line in text.splitlines() if line.count("│") >= 9]
    assert len(rows) == 1 and "… and 3 more PRs" in text
    code, text = _run(["run", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--rows", "0"])
    rows = [line for line in text.splitlines() if line.count("│") >= 9]
    assert code == 0 and len(rows) == 4 and "more PRs" not in text


def test_run_negative_rows_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.diff").write_text(PATCH)
    code, _ = _run(["run", str(tmp_path / "a.diff"), "--out", str(tmp_path / "o"), "--rows", "-1"])
    assert code == 2
    assert "--rows -1: must be 0 (all) or a positive number of rows" in capsys.readouterr().err


def test_no_inputs_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["run"])
    assert code == 2
    assert "give at least one INPUT" in capsys.readouterr().err


def test_missing_input_path_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["run", str(tmp_path / "nope.diff"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "nope.diff" in err and len(err.splitlines()) == 1


def test_bad_config_exits_2_naming_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[gates]\nauthor_cap = 3\n")
    (tmp_path / "a.diff").write_text(PATCH)
    code, _ = _run(["run", str(tmp_path / "a.diff"), "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "[gates] unknown key 'author_cap'" in capsys.readouterr().err


def test_bad_flag_value_exits_2() -> None:
    code, _ = _run(["run", "x.diff", "--llm", "sometimes"])
    assert code == 2


def test_fail_on_gate_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ci]\nfail_on = ["unparseable"]\n')
    (tmp_path / "broken.diff").write_text("this is not a diff\n")
    code, _ = _run(["run", str(tmp_path / "broken.diff"), "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "broken" in capsys.readouterr().err
    # the reports are still written before the gate fails the run
    assert (tmp_path / "o" / "queue.json").is_file()


def test_git_range_each_commit_is_a_pr(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path / "repo")
    repo.write("src/app.py", "def f(x):\n    return x\n")
    base = repo.commit("base")
    repo.write("src/app.py", "def f(x):\n    if x:\n        return 1\n    return x\n")
    first = repo.commit("Fix f for truthy x")
    repo.write("docs/guide.md", "# Guide\n\nHello.\n")
    repo.commit("Document the guide")
    out = tmp_path / "out"
    code, _ = _run(["run", "--repo", str(repo.root), "--git", f"{base}..HEAD", "--out", str(out), "--no-progress"])
    assert code == 0
    doc = json.loads((out / "queue.json").read_text())
    assert [i["title"] for i in doc["items"]].count("Fix f for truthy x") == 1
    assert len(doc["items"]) == 2
    assert any(i["id"].startswith(first[:7]) for i in doc["items"])

    code, _ = _run(
        ["run", "--repo", str(repo.root), "--git", f"{base}..HEAD", "--squash", "--out", str(out), "--no-progress"]
    )
    assert code == 0
    assert len(json.loads((out / "queue.json").read_text())["items"]) == 1


def test_git_without_repo_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["run", "--git", "a..b"])
    assert code == 2
    assert "--repo" in capsys.readouterr().err


@pytest.mark.skipif(not (FIXTURES / "prs").is_dir(), reason="fixtures/prs not present")
def test_fixtures_show_every_decision_kind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, printed = _run(
        [
            "run",
            str(FIXTURES / "prs"),
            "--base",
            str(FIXTURES / "base"),
            "--out",
            str(out),
            "--now",
            "2026-11-29T12:00:00Z",
            "--no-progress",
        ]
    )
    assert code == 0
    # The terminal names, per cluster, which PR is reviewed and which it replaces.
    assert "clusters: 2 · duplicates shed 2 · " in printed
    assert "241 (canonical) ← 240 duplicate · competing PRs" in printed
    assert "243 (canonical) ← 242 duplicate · re-submissions by one author" in printed
    doc = json.loads((out / "queue.json").read_text())
    jsonschema.validate(doc, load_schema())
    kinds = {i["decision"] for i in doc["items"]}
    assert kinds == {"review", "needs-split", "reject", "throttled", "close", "skipped", "duplicate"}
    for item in doc["items"]:
        if item["decision"] != "review":
            assert item["reasons"], item["id"]
        else:
            assert item["owner"] and item["rank"] >= 1
    assert any(i["errors"] for i in doc["items"])  # the malformed fixtures are items with errors
    html = (out / "queue.html").read_text()
    assert "<svg" in html and "<script src" not in html and "<link" not in html


def test_the_cluster_lines_are_capped_and_say_how_many_more() -> None:
    from datetime import UTC, datetime

    from triage.config import Config
    from triage.gitrepo import DirTree
    from triage.pipeline import RunContext, run
    from triage.report.terminal import cluster_member_lines
    from triage.sources import load_inputs

    ctx = RunContext(now=datetime(2026, 11, 29, 12, tzinfo=UTC), base=DirTree(FIXTURES / "base"))
    queue = run(load_inputs([str(FIXTURES / "prs")]), Config(llm_mode="off"), ctx)
    assert len(cluster_member_lines(queue)) == 2
    capped = cluster_member_lines(queue, limit=1)
    assert len(capped) == 2 and capped[1] == "  … and 1 more cluster (queue.html lists all)"

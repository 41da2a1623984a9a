"""File-system safety at the edges: reports respect the umask; input directories never follow a
symlink out of themselves; a sidecar cannot name a diff outside its directory; a FIFO or device
is a one-line error item, never a hang; the sticky comment fits GitHub's 65,536 characters."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triage.config import Config
from triage.github.comment import MAX_COMMENT_CHARS, sticky_body
from triage.github.convert import STICKY_MARKER
from triage.pipeline import RunContext, run
from triage.report.writer import write_reports
from triage.sources import load_inputs

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SECRET = "TOP-SECRET-CONTENT-OUTSIDE"
DIFF = b"""diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1 +1,2 @@
 x = 1
+y = 2
"""


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "leak.diff").write_bytes(DIFF.replace(b"y = 2", SECRET.encode()))
    (secret / "sub").mkdir()
    (secret / "sub" / "deep.diff").write_bytes(DIFF.replace(b"y = 2", SECRET.encode()))
    return secret


def _all(paths: list[Path]) -> list[object]:
    return list(load_inputs([str(p) for p in paths]))


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_reports_get_the_mode_the_umask_allows(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        written = write_reports(run([], Config(llm_mode="off"), RunContext(now=NOW)), tmp_path / "out")
    finally:
        os.umask(old)
    assert written
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_symlinks_out_of_an_input_directory_are_not_followed(tmp_path: Path) -> None:
    secret = _outside(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok.diff").write_bytes(DIFF)
    (inbox / "link.diff").symlink_to(secret / "leak.diff")
    (inbox / "dirlink").symlink_to(secret / "sub", target_is_directory=True)
    (inbox / "inside.diff").symlink_to(inbox / "ok.diff")  # stays inside: fine (read once)
    prs = {pr.id: pr for pr in load_inputs([str(inbox)])}
    assert all(SECRET.encode() not in pr.diff for pr in prs.values())
    (good,) = (prs[k] for k in ("inside", "ok") if k in prs)  # one file, read once
    assert good.diff == DIFF and not good.load_errors
    for bad in ("link", "dirlink"):
        (err,) = prs[bad].load_errors
        assert "outside the input directory" in err and "\n" not in err


def test_a_pr_directory_does_not_read_a_diff_symlinked_from_outside(tmp_path: Path) -> None:
    secret = _outside(tmp_path)
    pr_dir = tmp_path / "pr-7"
    pr_dir.mkdir()
    (pr_dir / "pr.json").write_text(json.dumps({"number": 7, "title": "t"}))
    (pr_dir / "change.diff").symlink_to(secret / "leak.diff")
    (pr,) = load_inputs([str(pr_dir)])
    assert SECRET.encode() not in pr.diff
    assert any("outside the input directory" in e for e in pr.load_errors)


@pytest.mark.parametrize("named", ["ABS", "../elsewhere/leak.diff", "sub/../../elsewhere/leak.diff", "link.diff"])
def test_a_sidecar_cannot_name_a_diff_outside_its_directory(tmp_path: Path, named: str) -> None:
    secret = _outside(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "sub").mkdir()
    (inbox / "link.diff").symlink_to(secret / "leak.diff")
    target = str(secret / "leak.diff") if named == "ABS" else named
    (inbox / "s3.json").write_text(json.dumps({"number": 3, "title": "t", "diff_file": target}))
    for given in ([inbox / "s3.json"], [inbox]):
        prs = _all(given)
        assert all(SECRET.encode() not in pr.diff for pr in prs)  # type: ignore[attr-defined]
        sidecar_pr = next(pr for pr in prs if pr.id == "3")  # type: ignore[attr-defined]
        assert any("outside the sidecar's directory" in e for e in sidecar_pr.load_errors)  # type: ignore[attr-defined]


def test_a_fifo_is_an_error_item_not_a_hang(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok.diff").write_bytes(DIFF)
    os.mkfifo(inbox / "pipe.diff")
    os.mkfifo(inbox / "pipe.json")
    os.mkfifo(tmp_path / "explicit.patch")
    prs = {pr.id: pr for pr in load_inputs([str(inbox), str(tmp_path / "explicit.patch")])}
    assert not prs["ok"].load_errors
    for name in ("pipe", "explicit"):
        (err,) = prs[name].load_errors
        assert "a FIFO, not a regular file" in err and "\n" not in err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_a_device_given_as_input_is_an_error_item(tmp_path: Path) -> None:
    (pr,) = load_inputs(["/dev/zero"])
    assert pr.diff == b""
    assert pr.load_errors == ("/dev/zero: a character device, not a regular file; give a .diff/.patch or .json file",)


@pytest.mark.parametrize("size", [MAX_COMMENT_CHARS - 100, MAX_COMMENT_CHARS, 3 * MAX_COMMENT_CHARS])
def test_the_sticky_comment_fits_githubs_limit_and_keeps_its_head(size: int) -> None:
    head = "### PR triage: `reject`\n\n#7 the event PR\n\n"
    rows = "".join(f"| row {i} | <details>{'x' * 40}</details> |\n" for i in range(size // 50))
    body = sticky_body(head + "<details>\n" + rows)
    assert len(body) <= MAX_COMMENT_CHARS
    assert body.startswith(STICKY_MARKER + "\n" + head)
    if len(head) + len(rows) > MAX_COMMENT_CHARS:
        assert "cut to fit GitHub's comment limit" in body
        assert body.count("<details>") == body.count("</details>")


def test_the_sticky_comment_of_a_huge_queue_fits(tmp_path: Path) -> None:
    from triage.report import render_item_markdown

    prs = list(load_inputs([str(_many(tmp_path, 3))]))  # a few PRs, each with many flags
    queue = run(prs, Config(llm_mode="off"), RunContext(now=NOW))
    for item in queue.items:
        assert len(sticky_body(render_item_markdown(queue, item.pr.id))) <= MAX_COMMENT_CHARS


def _many(tmp_path: Path, n: int) -> Path:
    inbox = tmp_path / "many"
    inbox.mkdir()
    for i in range(n):
        hunks = "".join(f"+password_{j} = 'hunter2-{j}-{i}-abcdefghijk'\n" for j in range(3000))
        (inbox / f"p{i}.diff").write_text(
            f"diff --git a/f{i}.py b/f{i}.py\n--- a/f{i}.py\n+++ b/f{i}.py\n@@ -0,0 +1,3000 @@\n{hunks}"
        )
    return inbox

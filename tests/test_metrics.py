"""The measure stage: size, diffusion, buckets, before/after complexity, limits.

Diffs come from real git (ScratchRepo) and are parsed by the real parse stage, so the counts
under test are the ones the pipeline sees.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.config import Config, SizeConfig
from triage.diff import parse_diff
from triage.gitrepo import DirTree, GitRepo, GitTree
from triage.metrics import MAX_FILE_BYTES, MAX_SOURCE_FILES, empty_metrics, measure
from triage.metrics.apply import apply_hunks
from triage.metrics.size import entropy, size_bucket
from triage.models import ChangeType, FileDiff, FileKind, Hunk, ParsedDiff, PullRequest, SizeBucket

PR = PullRequest(id="1", title="Add feature")
CFG = Config()

OLD_MODULE = """\
def untouched(x):
    if x:
        return 1
    return 0


def changed(x):
    return x
"""
NEW_MODULE = """\
def untouched(x):
    if x:
        return 1
    return 0


def changed(x):
    if x > 0 and x < 10:
        for i in range(x):
            x += i
    return x
"""


def snapshot(repo: ScratchRepo, files: dict[str, str]) -> str:
    for path, text in files.items():
        repo.write(path, text)
    return repo.commit("snapshot")


@pytest.fixture
def module_repo(tmp_path: Path) -> tuple[ScratchRepo, str, str]:
    repo = ScratchRepo.create(tmp_path)
    base = snapshot(repo, {"pkg/mod.py": OLD_MODULE})
    head = snapshot(repo, {"pkg/mod.py": NEW_MODULE})
    return repo, base, head


def hunk(old_start: int, old_len: int, new_start: int, new_len: int, body: str) -> Hunk:
    lines = body.splitlines()
    return Hunk(
        old_start,
        old_len,
        new_start,
        new_len,
        "",
        sum(1 for line in lines if line.startswith("+")),
        sum(1 for line in lines if line.startswith("-")),
        body,
    )


def file_diff(path: str, kind: FileKind, added: int, deleted: int, language: str | None = None) -> FileDiff:
    return FileDiff(path, path, ChangeType.MODIFIED, kind, language, added, deleted)


# -- size and diffusion ----------------------------------------------------------------------


def test_counts_exclude_machine_made_files(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    base = snapshot(repo, {"README.md": "hello\n"})
    snapshot(
        repo,
        {
            "src/app.py": "a = 1\nb = 2\nc = 3\n",
            "tests/test_app.py": "def test_a():\n    assert True\n",
            "docs/guide.md": "# Guide\n",
            "package-lock.json": "{\n" + "".join(f'  "k{i}": {i},\n' for i in range(50)) + "}\n",
            "dist/app.js": "var a=1;\n" * 20,
        },
    )
    diff = parse_diff(repo.diff(base))
    m = measure(PR, diff, CFG)
    assert (m.lines_added, m.lines_deleted) == (3 + 2 + 1, 0)
    assert m.excluded_lines == 52 + 20
    assert (m.source_lines, m.test_lines, m.docs_lines) == (3, 2, 1)
    assert m.files == 5
    assert m.subsystems == ("docs", "src", "tests")  # lockfile and dist/ do not spread the change
    assert m.directories == 3
    assert m.languages == ("python",)
    assert dict(m.kinds) == {"source": 1, "test": 1, "docs": 1, "generated": 1, "lockfile": 1}
    assert m.size_bucket is SizeBucket.XS


def test_lockfile_only_change_still_says_where_it_lands() -> None:
    diff = ParsedDiff(files=(file_diff("package-lock.json", FileKind.LOCKFILE, 400, 380),))
    m = measure(PR, diff, CFG)
    assert (m.lines_added, m.lines_deleted, m.excluded_lines) == (0, 0, 780)
    assert m.subsystems == (".",)
    assert m.size_bucket is SizeBucket.XS


@pytest.mark.parametrize(
    ("lines", "bucket"),
    [
        (0, SizeBucket.XS),
        (9, SizeBucket.XS),
        (10, SizeBucket.S),
        (29, SizeBucket.S),
        (30, SizeBucket.M),
        (99, SizeBucket.M),
        (100, SizeBucket.L),
        (499, SizeBucket.L),
        (500, SizeBucket.XL),
        (999, SizeBucket.XL),
        (1000, SizeBucket.XXL),
    ],
)
def test_size_bucket_bounds_are_exclusive(lines: int, bucket: SizeBucket) -> None:
    assert size_bucket(lines, SizeConfig()) is bucket


def test_size_bucket_follows_the_config() -> None:
    cfg = Config(size=SizeConfig(xs=2, s=3, m=4, l=5, xl=6))
    diff = ParsedDiff(files=(file_diff("a.py", FileKind.SOURCE, 3, 2),))
    assert measure(PR, diff, cfg).size_bucket is SizeBucket.XL


def test_entropy_normalised_by_file_count() -> None:
    assert entropy([10]) == 0.0
    assert entropy([5, 5]) == pytest.approx(1.0)
    assert entropy([5, 5, 5, 5]) == pytest.approx(1.0)
    expected = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert entropy([30, 10]) == pytest.approx(expected)
    assert entropy([0, 10]) == 0.0  # a file with no changed lines (binary) spreads nothing


def test_diffusion_counts_root_files_as_one_area() -> None:
    diff = ParsedDiff(
        files=(
            file_diff("setup.py", FileKind.SOURCE, 1, 0),
            file_diff("Makefile", FileKind.SOURCE, 1, 0),
            file_diff("lib/a/x.py", FileKind.SOURCE, 1, 1),
            file_diff("lib/b/y.py", FileKind.SOURCE, 1, 1),
        )
    )
    m = measure(PR, diff, CFG)
    assert m.subsystems == (".", "lib")
    assert m.directories == 3
    assert m.entropy == pytest.approx(entropy([1, 1, 2, 2]), abs=1e-6)


def test_empty_metrics_are_all_zero() -> None:
    m = empty_metrics()
    assert (m.files, m.changed_lines, m.excluded_lines, m.subsystems, m.functions) == (0, 0, 0, (), ())
    assert m.history is None and m.size_bucket is SizeBucket.XS


# -- complexity: before/after, reconstruction, fallback --------------------------------------


def test_before_and_after_snapshots_give_exact_deltas(module_repo: tuple[ScratchRepo, str, str]) -> None:
    repo, base, head = module_repo
    git = GitRepo(repo.root)
    diff = parse_diff(repo.diff(base, head))
    m = measure(PR, diff, CFG, before=GitTree(git, base), after=GitTree(git, head))
    assert [(f.name, f.estimated) for f in m.functions] == [("changed", False)]
    fc = m.functions[0]
    assert (fc.cyclomatic_before, fc.cyclomatic_after) == (1, 4)
    assert (fc.cognitive_before, fc.cognitive_after) == (0, 4)  # if +1, and +1, for +2
    assert fc.line == 7
    assert m.complexity_delta == 4 and m.max_cognitive == 4
    assert m.lines_before == OLD_MODULE.count("\n")


def test_after_is_rebuilt_from_before_and_the_hunks(tmp_path: Path, module_repo: tuple[ScratchRepo, str, str]) -> None:
    repo, base, head = module_repo
    base_dir = tmp_path / "base"
    (base_dir / "pkg").mkdir(parents=True)
    (base_dir / "pkg" / "mod.py").write_text(OLD_MODULE)
    diff = parse_diff(repo.diff(base, head))
    m = measure(PR, diff, CFG, before=DirTree(base_dir))
    assert [(f.name, f.cognitive_before, f.cognitive_after, f.estimated) for f in m.functions] == [
        ("changed", 0, 4, False)
    ]


def test_before_is_rebuilt_from_after_and_the_hunks(module_repo: tuple[ScratchRepo, str, str]) -> None:
    repo, base, head = module_repo
    diff = parse_diff(repo.diff(base, head))
    m = measure(PR, diff, CFG, after=GitTree(GitRepo(repo.root), head))
    assert [(f.name, f.cognitive_before, f.cognitive_after, f.estimated) for f in m.functions] == [
        ("changed", 0, 4, False)
    ]


def test_a_base_that_does_not_match_falls_back_to_hunks(
    tmp_path: Path, module_repo: tuple[ScratchRepo, str, str]
) -> None:
    repo, base, head = module_repo
    base_dir = tmp_path / "base"
    (base_dir / "pkg").mkdir(parents=True)
    (base_dir / "pkg" / "mod.py").write_text("something else entirely\n")
    diff = parse_diff(repo.diff(base, head))
    m = measure(PR, diff, CFG, before=DirTree(base_dir))
    assert m.functions and all(f.estimated for f in m.functions)
    assert any("estimated from hunks" in note for note in m.notes)


def test_hunk_local_fallback_counts_the_added_decisions(module_repo: tuple[ScratchRepo, str, str]) -> None:
    repo, base, head = module_repo
    m = measure(PR, parse_diff(repo.diff(base, head)), CFG)
    # The hunk's context holds `def changed(x):`, so the fragment names the function; the
    # decision points are those of the visible fragment on each side.
    assert [(f.name, f.estimated) for f in m.functions] == [("changed", True)]
    fc = m.functions[0]
    assert (fc.cyclomatic_before, fc.cyclomatic_after) == (1, 4)  # 1 + if + and + for
    assert (fc.cognitive_before, fc.cognitive_after) == (0, 4)
    assert fc.line == 7
    assert m.lines_before is None


def test_hunk_local_names_changes_outside_visible_functions_by_section() -> None:
    body = " x = 1\n y = 2\n z = 3\n+if x and y:\n+    z = 4\n w = 5\n"
    h = Hunk(40, 4, 40, 6, "def far_above(x):", 2, 0, body)
    f = FileDiff("m.py", "m.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 2, 0, (h,))
    m = measure(PR, ParsedDiff(files=(f,)), CFG)
    assert [(c.name, c.line, c.cognitive_before, c.cognitive_after) for c in m.functions] == [
        ("def far_above(x):", 43, 0, 2)
    ]


def test_added_and_deleted_files_are_measured_whole(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    base = snapshot(
        repo,
        {"old.go": "package m\n\nfunc Gone(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 0\n}\n"},
    )
    repo.remove("old.go")
    snapshot(repo, {"new.rs": "fn fresh(x: i32) -> i32 {\n    while x > 0 { return 1; }\n    0\n}\n"})
    m = measure(PR, parse_diff(repo.diff(base)), CFG)
    by_name = {f.name: f for f in m.functions}
    assert set(by_name) == {"Gone", "fresh"}
    gone, fresh = by_name["Gone"], by_name["fresh"]
    assert (gone.cognitive_before, gone.cognitive_after, gone.estimated) == (1, None, False)
    assert (fresh.cognitive_before, fresh.cognitive_after, fresh.estimated) == (None, 1, False)
    assert m.complexity_delta == 0  # one removed, one added


def test_files_without_a_language_have_no_functions() -> None:
    body = "+if x then y\n"
    f = FileDiff("notes.cob", None, ChangeType.ADDED, FileKind.SOURCE, None, 1, 0, (hunk(0, 0, 1, 1, body),))
    m = measure(PR, ParsedDiff(files=(f,)), CFG)
    assert m.functions == () and m.notes == ()


def test_too_many_source_files_skips_complexity_with_a_note() -> None:
    files = tuple(
        FileDiff(
            f"src/m{i}.py",
            None,
            ChangeType.ADDED,
            FileKind.SOURCE,
            "python",
            2,
            0,
            (hunk(0, 0, 1, 2, "+def f():\n+    if x: pass\n"),),
        )
        for i in range(MAX_SOURCE_FILES + 1)
    )
    m = measure(PR, ParsedDiff(files=files), CFG)
    assert m.functions == ()
    assert m.notes == (f"complexity skipped: {MAX_SOURCE_FILES + 1} source files (limit {MAX_SOURCE_FILES})",)


def test_huge_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    big = "x = 1\n" * (MAX_FILE_BYTES // 6 + 10)
    (tmp_path / "big.py").write_text(big)
    f = FileDiff(
        "big.py",
        "big.py",
        ChangeType.MODIFIED,
        FileKind.SOURCE,
        "python",
        1,
        1,
        (hunk(1, 1, 1, 1, "-x = 1\n+if y: x = 2\n"),),
    )
    m = measure(PR, ParsedDiff(files=(f,)), CFG, before=DirTree(tmp_path))
    assert m.functions == ()
    assert any("over 1000000 bytes: big.py" in note for note in m.notes)


# -- apply -----------------------------------------------------------------------------------


def test_apply_hunks_rebuilds_the_new_text_and_reverses() -> None:
    old = "a\nb\nc\nd\n"
    hunks = (hunk(1, 2, 1, 2, " a\n-b\n+B\n"), hunk(4, 1, 4, 2, " d\n+e\n"))
    new = apply_hunks(old, hunks)
    assert new == "a\nB\nc\nd\ne\n"
    assert apply_hunks(new, hunks, reverse=True) == old


def test_apply_hunks_inserts_at_the_start_and_into_an_empty_file() -> None:
    assert apply_hunks("b\n", (hunk(0, 0, 1, 1, "+a\n"),)) == "a\nb\n"
    assert apply_hunks("", (hunk(0, 0, 1, 2, "+x\n+y\n"),)) == "x\ny\n"


def test_apply_hunks_refuses_what_does_not_match() -> None:
    assert apply_hunks("a\nb\n", (hunk(1, 1, 1, 1, "-z\n+y\n"),)) is None
    assert apply_hunks("a\n", (hunk(5, 1, 5, 1, "-a\n+b\n"),)) is None
    overlapping = (hunk(1, 2, 1, 2, " a\n-b\n+c\n"), hunk(2, 1, 2, 1, "-b\n+d\n"))
    assert apply_hunks("a\nb\n", overlapping) is None


def test_apply_hunks_keeps_crlf_as_content() -> None:
    assert apply_hunks("a\r\nb\r\n", (hunk(2, 1, 2, 1, "-b\r\n+c\r\n"),)) == "a\r\nc\r\n"


def test_hunk_sides_in_one_pass_keep_crlf_markers_and_line_numbers() -> None:
    """Both sides of a hunk from one pass: '\\r' stays content, a "No newline" marker and a
    prefix-less empty line are handled as `Hunk.rows` reads them, numbers follow each side."""
    from triage.metrics.touched import _sides

    body = (
        "     if a:\r\n-        x = 1\r\n+        x = 2\r\n+        y = 3\r\n\n     return x\r\n"
        "\\ No newline at end of file\n"
    )
    (new, new_numbers, added), (old, old_numbers, removed) = _sides(Hunk(10, 4, 20, 5, "", 2, 1, body))
    assert new == b"if a:\r\n    x = 2\r\n    y = 3\r\n\nreturn x\r\n"
    assert old == b"if a:\r\n    x = 1\r\n\nreturn x\r\n"
    assert (list(new_numbers), added) == ([20, 21, 22, 23, 24], [2, 3])
    assert (list(old_numbers), removed) == ([10, 11, 12, 13], [2])
    (new, new_numbers, added), (old, old_numbers, removed) = _sides(Hunk(0, 0, 1, 1, "", 1, 0, "+only\n"))
    assert (new, list(new_numbers), added) == (b"only\n", [1], [1])
    assert (old, list(old_numbers), removed) == (b"", [], [])

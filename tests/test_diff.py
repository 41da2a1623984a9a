"""The parse stage against real git: every count must equal `git diff --numstat`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitutil import ScratchRepo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.classify import GitAttributes
from triage.config import ClassifyConfig
from triage.diff import parse_diff
from triage.models import ChangeType, FileDiff, FileKind, Hunk, ParsedDiff


def counts(parsed: ParsedDiff) -> dict[str, tuple[int | None, int | None]]:
    """The parse result in numstat's shape: binary files are (None, None)."""
    return {f.path: (None, None) if f.binary else (f.added, f.deleted) for f in parsed.files}


def check(repo: ScratchRepo, base: str, head: str = "HEAD", *extra: str) -> ParsedDiff:
    """Commit pending work, parse `git diff` of the range, and assert it agrees with numstat."""
    if repo.git("status", "--porcelain"):
        repo.commit("pending")
    parsed = parse_diff(repo.diff(base, head, *extra))
    assert parsed.errors == ()
    assert counts(parsed) == repo.numstat(base, head, *extra)
    for f in parsed.files:
        assert f.added == sum(h.added for h in f.hunks)
        assert f.deleted == sum(h.deleted for h in f.hunks)
        for h in f.hunks:  # the body agrees with the hunk's own counts and header
            kinds = [ln.kind for ln in h.lines()]
            assert kinds.count("+") == h.added and kinds.count("-") == h.deleted
            assert kinds.count(" ") + h.deleted == h.old_length
            assert kinds.count(" ") + h.added == h.new_length
    return parsed


def by_path(parsed: ParsedDiff) -> dict[str, FileDiff]:
    return {f.path: f for f in parsed.files}


@pytest.fixture
def repo(tmp_path: Path) -> ScratchRepo:
    return ScratchRepo.create(tmp_path)


# --------------------------------------------------------------------------------------------
# Real git cases, each compared with numstat


def test_modified_added_deleted_files(repo: ScratchRepo) -> None:
    repo.write("src/app.py", "".join(f"line {i}\n" for i in range(100)))
    repo.write("old.txt", "one\ntwo\nthree\n")
    base = repo.commit("base")
    repo.write("src/app.py", "".join(f"line {i}\n" if i % 20 else f"changed {i}\n" for i in range(105)))
    repo.remove("old.txt")
    repo.write("new/mod.go", "package x\n\nfunc F() {}\n")
    parsed = check(repo, base)
    files = by_path(parsed)
    assert files["src/app.py"].change is ChangeType.MODIFIED
    assert files["src/app.py"].language == "python"
    assert files["src/app.py"].old_path == "src/app.py"
    assert files["old.txt"].change is ChangeType.DELETED
    assert files["old.txt"].old_mode == "100644" and files["old.txt"].new_mode is None
    assert files["new/mod.go"].change is ChangeType.ADDED
    assert files["new/mod.go"].old_path is None and files["new/mod.go"].new_mode == "100644"
    assert files["new/mod.go"].language == "go"
    assert len(files["src/app.py"].hunks) > 1
    assert parsed.warnings == ()


def test_binary_files_both_formats(repo: ScratchRepo) -> None:
    repo.write("img.png", b"\x89PNG\r\n\x1a\n\x00\x01\x02" * 20)
    repo.write("a.txt", "a\n")
    base = repo.commit("base")
    repo.write("img.png", b"\x89PNG\r\n\x1a\n\x00\x03\x04" * 30)
    repo.write("new.bin", b"\x00\xff" * 100)
    repo.write("a.txt", "b\n")
    repo.commit("head")
    for extra in ((), ("--binary",)):
        parsed = check(repo, base, "HEAD", *extra)
        files = by_path(parsed)
        assert files["img.png"].binary and files["img.png"].added == files["img.png"].deleted == 0
        assert files["new.bin"].binary and files["new.bin"].change is ChangeType.ADDED
        assert files["a.txt"].added == 1 and not files["a.txt"].binary


def test_pure_rename_and_rename_with_edits(repo: ScratchRepo) -> None:
    body = "".join(f"value = {i}\n" for i in range(40))
    repo.write("pkg/a.py", body)
    repo.write("pkg/b.py", body.replace("value", "other"))
    base = repo.commit("base")
    repo.rename("pkg/a.py", "pkg/moved/a.py")
    repo.rename("pkg/b.py", "pkg/b2.py")
    repo.write("pkg/b2.py", body.replace("value", "other").replace("= 3\n", "= 33\n"))
    parsed = check(repo, base)
    files = by_path(parsed)
    pure = files["pkg/moved/a.py"]
    assert (pure.change, pure.old_path, pure.similarity, pure.added, pure.hunks) == (
        ChangeType.RENAMED,
        "pkg/a.py",
        100,
        0,
        (),
    )
    edited = files["pkg/b2.py"]
    assert edited.change is ChangeType.RENAMED and edited.old_path == "pkg/b.py"
    assert edited.similarity is not None and 50 <= edited.similarity < 100
    assert (edited.added, edited.deleted) == (1, 1)


def test_copy(repo: ScratchRepo) -> None:
    body = "".join(f"row {i}\n" for i in range(30))
    repo.write("orig.c", body)
    base = repo.commit("base")
    repo.write("copy.c", body + "extra\n")
    repo.commit("copy")
    parsed = check(repo, base, "HEAD", "-C", "--find-copies-harder")
    copied = by_path(parsed)["copy.c"]
    assert copied.change is ChangeType.COPIED and copied.old_path == "orig.c"
    assert (copied.added, copied.deleted) == (1, 0)
    assert copied.similarity is not None and copied.similarity >= 90


def test_mode_change_only_and_with_edit(repo: ScratchRepo) -> None:
    repo.write("run.sh", "echo hi\n")
    repo.write("build.sh", "echo build\n")
    base = repo.commit("base")
    repo.chmod("run.sh", 0o755)
    repo.write("build.sh", "echo build2\n", executable=True)
    parsed = check(repo, base)
    files = by_path(parsed)
    assert files["run.sh"].change is ChangeType.MODE_CHANGED
    assert (files["run.sh"].old_mode, files["run.sh"].new_mode) == ("100644", "100755")
    assert files["build.sh"].change is ChangeType.MODIFIED
    assert files["build.sh"].new_mode == "100755" and files["build.sh"].added == 1


def test_new_empty_file_and_deleted_file(repo: ScratchRepo) -> None:
    repo.write("gone-empty", "some\ncontent\n")
    repo.write("keep.txt", "k\n")
    base = repo.commit("base")
    repo.write("empty file.txt", "")
    repo.remove("gone-empty")
    parsed = check(repo, base)
    files = by_path(parsed)
    assert files["empty file.txt"].change is ChangeType.ADDED
    assert (files["empty file.txt"].added, files["empty file.txt"].deleted) == (0, 0)
    assert files["gone-empty"].change is ChangeType.DELETED


def test_symlinks_and_type_changes(repo: ScratchRepo) -> None:
    repo.write("target.txt", "t\n")
    repo.write("becomes-link", "was a file\nwith two lines\n")
    repo.symlink("becomes-file", "target.txt")
    repo.symlink("link", "target.txt")
    base = repo.commit("base")
    repo.remove("becomes-link")
    repo.symlink("becomes-link", "target.txt")
    repo.remove("becomes-file")
    repo.write("becomes-file", "now a file\n")
    repo.symlink("link", "elsewhere.txt")
    repo.symlink("new-link", "target.txt")
    parsed = check(repo, base)
    files = by_path(parsed)
    assert len(parsed.files) == 4  # a type change is one entry, like numstat
    to_link = files["becomes-link"]
    assert to_link.change is ChangeType.TYPE_CHANGED and to_link.symlink
    assert (to_link.old_mode, to_link.new_mode) == ("100644", "120000")
    assert (to_link.added, to_link.deleted) == (1, 2)
    to_file = files["becomes-file"]
    assert to_file.change is ChangeType.TYPE_CHANGED
    assert (to_file.old_mode, to_file.new_mode) == ("120000", "100644")
    assert files["link"].change is ChangeType.MODIFIED and files["link"].symlink
    assert files["new-link"].change is ChangeType.ADDED and files["new-link"].symlink
    assert files["new-link"].language is None


def test_submodule_pointer(repo: ScratchRepo) -> None:
    repo.write("a.txt", "a\n")
    repo.commit("base")
    (repo.root / "deps" / "lib").mkdir(parents=True)  # an unpopulated submodule checkout
    repo.git("update-index", "--add", "--cacheinfo", "160000," + "1" * 40 + ",deps/lib")
    repo.git("commit", "-q", "-m", "add submodule")
    first = repo.head()
    repo.git("update-index", "--cacheinfo", "160000," + "2" * 40 + ",deps/lib")
    repo.git("commit", "-q", "-m", "bump submodule")
    parsed = check(repo, first)
    sub = parsed.files[0]
    assert sub.submodule and sub.path == "deps/lib" and (sub.added, sub.deleted) == (1, 1)
    assert sub.kind is FileKind.VENDORED and "submodule" in sub.kind_reason
    assert sub.hunks[0].body.startswith("-Subproject commit 1111")
    added = check(repo, "HEAD~2").files[0]
    assert added.change is ChangeType.ADDED and added.submodule and added.new_mode == "160000"


def test_crlf_and_other_line_separators_are_content(repo: ScratchRepo) -> None:
    repo.write("win.txt", b"one\r\ntwo\r\nthree\r\n")
    repo.write("odd.txt", b"a\rb\nform\x0cfeed\nsep\xe2\x80\xa8here\nnel\xc2\x85x\n")
    base = repo.commit("base")
    repo.write("win.txt", b"one\r\nTWO\r\nthree\r\nfour\r\n")
    repo.write("odd.txt", b"a\rB\nform\x0cFEED\nsep\xe2\x80\xa8HERE\nnel\xc2\x85Y\n")
    parsed = check(repo, base)
    files = by_path(parsed)
    assert (files["win.txt"].added, files["win.txt"].deleted) == (2, 1)
    assert (files["odd.txt"].added, files["odd.txt"].deleted) == (4, 4)
    assert "\r\n" in files["win.txt"].hunks[0].body  # the \r is kept as content
    assert any("CRLF" in w and "win.txt" in w for w in parsed.warnings)
    assert files["odd.txt"].hunks[0].body.count("\n") == 7  # 8 lines, split on \n only


def test_whole_diff_converted_to_crlf(repo: ScratchRepo) -> None:
    """A .patch saved with Windows line endings: headers end in \r too, counts are unchanged."""
    repo.write("a b.py", "x\n")
    repo.write("t", "file\n")
    base = repo.commit("base")
    repo.write("a b.py", "y\nz\n")
    repo.remove("t")
    repo.symlink("t", "a b.py")
    repo.commit("head")
    parsed = parse_diff(repo.diff(base).replace(b"\n", b"\r\n"))
    assert parsed.errors == ()
    assert counts(parsed) == repo.numstat(base)
    assert parsed.warnings == ("CRLF line endings in 2 file(s): a b.py, t",)


def test_non_utf8_bytes_warn_and_still_count(repo: ScratchRepo) -> None:
    repo.write("latin1.c", "/* caf\xe9 */\nint x;\n".encode("latin-1"))
    repo.write("ok.py", "x = 1\n")
    base = repo.commit("base")
    repo.write("latin1.c", "/* na\xefve */\nint x;\nint y;\n".encode("latin-1"))
    repo.write("ok.py", "x = 2\n")
    parsed = check(repo, base)
    assert any("non-UTF-8" in w and "latin1.c" in w for w in parsed.warnings)
    assert not any("ok.py" in w for w in parsed.warnings)
    assert "\ufffd" in by_path(parsed)["latin1.c"].hunks[0].body


@pytest.mark.parametrize(
    "name",
    [
        "with space.txt",
        "dir with space/file name.py",
        'quote"d.txt',
        "back\\slash.txt",
        "caf\u00e9/\u00fcber.md",
        "tab\there.txt",
        "\u65e5\u672c.go",
        "a b/c d b/e.txt",  # " b/" inside the name: the diff --git line is ambiguous
    ],
)
def test_quoted_and_spaced_paths(repo: ScratchRepo, name: str) -> None:
    repo.write("anchor", "x\n")
    repo.write(name, "one\n")
    base = repo.commit("base")
    repo.write(name, "one\ntwo\n")
    parsed = check(repo, base)
    assert [f.path for f in parsed.files] == [name]
    # and as an addition, a deletion with no hunks to read names from, and a rename
    new_empty = name + ".new"
    repo.write(new_empty, "")
    repo.commit("more")
    assert [f.path for f in check(repo, "HEAD~1").files] == [new_empty]
    repo.rename(name, "renamed/" + name.rsplit("/", 1)[-1])
    repo.commit("rename")
    renamed = check(repo, "HEAD~1").files
    assert [(f.path, f.old_path, f.change) for f in renamed] == [
        ("renamed/" + name.rsplit("/", 1)[-1], name, ChangeType.RENAMED)
    ]


def test_quoted_path_octal_escapes_decode_to_utf8() -> None:
    diff = (
        b'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"\n'
        b"index 1111111..2222222 100644\n"
        b'--- "a/caf\\303\\251.txt"\n'
        b'+++ "b/caf\\303\\251.txt"\n'
        b"@@ -1 +1 @@\n-a\n+b\n"
    )
    parsed = parse_diff(diff)
    assert parsed.errors == ()
    assert parsed.files[0].path == "caf\u00e9.txt"


def test_no_newline_at_end_of_file(repo: ScratchRepo) -> None:
    repo.write("a.txt", "x\ny")
    repo.write("b.txt", "p\nq\n")
    repo.write("c.txt", "m")
    base = repo.commit("base")
    repo.write("a.txt", "x\nz")
    repo.write("b.txt", "p\nq")
    repo.write("c.txt", "m\n")
    parsed = check(repo, base)
    body = by_path(parsed)["a.txt"].hunks[0].body
    assert body.count("\\ No newline at end of file") == 2
    assert [ln.kind for ln in by_path(parsed)["a.txt"].hunks[0].lines()] == [" ", "-", "+"]


def test_lines_that_look_like_headers_inside_hunks(repo: ScratchRepo) -> None:
    tricky = "-- sql comment\n++ odd\ndiff --git a/x b/x\n@@ -1 +1 @@\n--- a/y\n+++ b/y\nBinary files a and b differ\n"
    repo.write("q.sql", tricky)
    repo.write("z.txt", "z\n")
    base = repo.commit("base")
    repo.write("q.sql", tricky.replace("-- sql comment\n", "").replace("--- a/y\n", "--- a/w\n") + "++ new\n")
    repo.write("z.txt", "zz\n")
    parsed = check(repo, base)
    assert sorted(f.path for f in parsed.files) == ["q.sql", "z.txt"]


def test_zero_context_hunks(repo: ScratchRepo) -> None:
    repo.write("a.py", "".join(f"{i}\n" for i in range(30)))
    base = repo.commit("base")
    lines = [f"{i}\n" for i in range(30)]
    lines[3] = "three\n"
    lines.insert(10, "inserted\n")
    del lines[20]
    repo.write("a.py", "".join(lines))
    check(repo, base, "HEAD", "-U0")
    check(repo, base, "HEAD", "-U20")


def test_no_prefix_and_custom_prefix(repo: ScratchRepo) -> None:
    repo.write("a/inner.txt", "1\n")  # a top-level directory named "a"
    base = repo.commit("base")
    repo.write("a/inner.txt", "2\n")
    repo.write("a/new.txt", "n\n")
    repo.commit("head")
    for extra in (("--no-prefix",), ("--src-prefix=i/", "--dst-prefix=w/"), ()):
        parsed = check(repo, base, "HEAD", *extra)
        assert sorted(f.path for f in parsed.files) == ["a/inner.txt", "a/new.txt"]


def test_format_patch_mbox_with_signature(repo: ScratchRepo) -> None:
    repo.write("a.py", "a = 1\n")
    repo.write("b.md", "# t\n")
    base = repo.commit("base")
    repo.write("a.py", "a = 2\nb = 3\n")
    repo.write("b.md", "# t\n\n- item\n")
    repo.commit("subject line\n\nbody mentions\n--- not a header\n-- \nstill body")
    parsed = parse_diff(repo.format_patch(f"{base}..HEAD"))
    assert parsed.errors == () and parsed.warnings == ()
    assert counts(parsed) == repo.numstat(base)
    assert not by_path(parsed)["b.md"].hunks[-1].body.endswith("-- ")


def test_format_patch_series_of_two_commits(repo: ScratchRepo) -> None:
    repo.write("a.py", "a = 1\n")
    base = repo.commit("base")
    repo.write("a.py", "a = 2\n")
    repo.commit("first")
    repo.write("b.py", "b = 1\nc = 2\n")
    repo.rename("a.py", "moved.py")
    repo.commit("second")
    parsed = parse_diff(repo.format_patch(f"{base}..HEAD"))
    assert parsed.errors == () and parsed.warnings == ()
    assert [(f.path, f.added, f.deleted) for f in parsed.files] == [
        ("a.py", 1, 1),
        ("b.py", 2, 0),
        ("moved.py", 0, 0),
    ]


def test_combined_merge_diff_is_an_error_not_zero(repo: ScratchRepo) -> None:
    repo.write("f.txt", "a\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("f.txt", "a\nb\n")
    repo.commit("side")
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "a\nc\n")
    repo.commit("main")
    with pytest.raises(RuntimeError):  # conflict: resolve it by hand
        repo.git("merge", "-q", "side")
    repo.write("f.txt", "a\nb\nc\nd\n")
    repo.commit("merge")
    for args in (("show", "--cc", "--format=", "HEAD"), ("show", "-c", "--format=", "HEAD")):
        parsed = parse_diff(repo.git(*args))
        assert parsed.errors == ("f.txt: unsupported combined merge diff",)
        assert [f.path for f in parsed.files] == ["f.txt"]


def test_plain_unified_diffs(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "sub").mkdir(parents=True)
    (new / "sub").mkdir(parents=True)
    (old / "sub" / "x.c").write_text("int a;\nint b;\n")
    (new / "sub" / "x.c").write_text("int a;\nint c;\nint d;\n")
    (new / "added.py").write_text("p = 1\n")
    (old / "gone.txt").write_text("bye\n")
    (old / "logo.bin").write_bytes(b"\x00\x01" * 10)
    (new / "logo.bin").write_bytes(b"\x00\x02" * 10)
    proc = subprocess.run(["diff", "-ruN", "old", "new"], cwd=tmp_path, capture_output=True, check=False)
    parsed = parse_diff(proc.stdout)
    assert parsed.errors == ()
    assert {f.path: (f.added, f.deleted) for f in parsed.files} == {
        "logo.bin": (0, 0),
        "sub/x.c": (2, 1),
        "added.py": (1, 0),
        "gone.txt": (0, 1),
    }
    assert [f.path for f in parsed.files if f.binary] == ["logo.bin"]
    single = subprocess.run(
        ["diff", "-u", "old/sub/x.c", "new/sub/x.c"], cwd=tmp_path, capture_output=True, check=False
    )
    one = parse_diff(single.stdout)
    assert [(f.path, f.added, f.deleted, f.change) for f in one.files] == [("sub/x.c", 2, 1, ChangeType.MODIFIED)]
    dev_null = b"--- /dev/null\n+++ b/new.rs\n@@ -0,0 +1,2 @@\n+fn a() {}\n+fn b() {}\n"
    assert [(f.path, f.change, f.added) for f in parse_diff(dev_null).files] == [("new.rs", ChangeType.ADDED, 2)]


# --------------------------------------------------------------------------------------------
# Broken input: errors, never exceptions


def test_empty_and_not_a_diff() -> None:
    assert parse_diff(b"").errors == ("empty diff",)
    assert parse_diff(b"  \n\n").errors == ("empty diff",)
    for junk in (b"hello world\n", b'{"a": 1}', b"\x00\x01\x02\xff", b"--- only\n", b"@@ -1 +1 @@\n-a\n+b\n"):
        parsed = parse_diff(junk)
        assert parsed.errors == ("not a unified diff",) and parsed.files == ()


def _two_file_diff(repo: ScratchRepo) -> tuple[bytes, str]:
    repo.write("first.py", "".join(f"a{i}\n" for i in range(20)))
    repo.write("second.py", "".join(f"b{i}\n" for i in range(20)))
    base = repo.commit("base")
    repo.write("first.py", "".join(f"A{i}\n" for i in range(20)))
    repo.write("second.py", "".join(f"B{i}\n" if i % 2 else f"b{i}\n" for i in range(20)))
    repo.commit("head")
    return repo.diff(base), base


def test_truncated_hunk_keeps_what_parsed(repo: ScratchRepo) -> None:
    diff, _ = _two_file_diff(repo)
    cut = diff[: diff.index(b"+B5\n")]  # second.py stops in the middle of its hunk
    parsed = parse_diff(cut)
    assert len(parsed.errors) == 1 and parsed.errors[0].startswith("second.py: hunk")
    assert "truncated" in parsed.errors[0]
    files = by_path(parsed)
    assert (files["first.py"].added, files["first.py"].deleted) == (20, 20)
    second = files["second.py"]
    assert 0 < second.added < 10 and 0 < second.deleted <= 10


def test_truncated_after_file_header(repo: ScratchRepo) -> None:
    diff, _ = _two_file_diff(repo)
    cut = diff[: diff.index(b"+++ b/second.py\n") + len(b"+++ b/second.py\n")]
    parsed = parse_diff(cut)
    assert parsed.errors == ("second.py: file header without hunks (truncated diff?)",)
    assert by_path(parsed)["first.py"].added == 20


def test_malformed_file_does_not_lose_the_others(repo: ScratchRepo) -> None:
    diff, base = _two_file_diff(repo)
    broken = diff.replace(b"@@ -1,20 +1,20 @@", b"@@ -1,twenty +1,20 @@", 1)
    parsed = parse_diff(broken)
    assert any(e.startswith("first.py: malformed hunk header") for e in parsed.errors)
    assert by_path(parsed)["second.py"].added == repo.numstat(base)["second.py"][0]
    overlong = diff.replace(b"-a19\n", b"-a19\n-extra\n", 1)
    parsed = parse_diff(overlong)
    assert any(e.startswith("first.py:") for e in parsed.errors)
    assert by_path(parsed)["second.py"].added == 10


def test_garbage_between_files_is_ignored_but_reported(repo: ScratchRepo) -> None:
    diff, base = _two_file_diff(repo)
    at = diff.index(b"diff --git a/second.py")
    noisy = diff[:at] + b"+stray added line\n" + diff[at:]
    parsed = parse_diff(noisy)
    assert parsed.errors == ()
    assert counts(parsed) == repo.numstat(base)
    assert any("outside any hunk" in w and "first.py" in w for w in parsed.warnings)


_SAMPLE = (
    b"From 1 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] x\n\n---\n"
    b"diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n"
    b"@@ -1,3 +1,4 @@ def f():\n x\n-y\n+z\n+w\n q\n\\ No newline at end of file\n"
    b'diff --git "a/b c.txt" "b/b c.txt"\nnew file mode 100644\n--- /dev/null\n+++ "b/b c.txt"\n'
    b"@@ -0,0 +1 @@\n+n\r\n"
    b"diff --git a/img b/img\nBinary files a/img and b/img differ\n"
    b"diff --git a/l b/l\nold mode 100644\nnew mode 120000\n"
    b"diff --cc m\n--- a/m\n+++ b/m\n@@@ -1 -1 +1 @@@\n- a\n -b\n++c\n-- \n2.39\n"
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_never_raises_on_mutated_diffs(data: st.DataObject) -> None:
    blob = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(0, 6))):
        op = data.draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(blob) - 1)))
        if op == "cut":
            del blob[pos:]
        elif op == "flip" and blob:
            blob[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            blob[pos:pos] = data.draw(st.binary(max_size=8))
        elif blob:
            del blob[pos : pos + data.draw(st.integers(1, 20))]
    parsed = parse_diff(bytes(blob))
    assert isinstance(parsed, ParsedDiff)
    assert all(isinstance(e, str) and "\n" not in e for e in parsed.errors)
    assert all(f.added >= 0 and f.deleted >= 0 for f in parsed.files)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_never_raises_on_random_bytes(blob: bytes) -> None:
    assert isinstance(parse_diff(b"diff --git a/x b/x\n" + blob), ParsedDiff)
    assert isinstance(parse_diff(blob), ParsedDiff)


def test_sample_parses_as_documented() -> None:
    parsed = parse_diff(_SAMPLE)
    files = by_path(parsed)
    assert parsed.errors == ("m: unsupported combined merge diff",)
    assert (files["a.py"].added, files["a.py"].deleted) == (2, 1)
    assert files["a.py"].hunks[0].section == "def f():"
    assert files["b c.txt"].change is ChangeType.ADDED
    assert files["img"].binary
    assert files["l"].change is ChangeType.TYPE_CHANGED
    assert [ln.new_no for ln in files["a.py"].hunks[0].lines() if ln.kind == "+"] == [2, 3]


# --------------------------------------------------------------------------------------------
# Classification inside parse_diff


def test_files_are_classified_with_attributes_and_markers(repo: ScratchRepo) -> None:
    repo.write("README.md", "x\n")
    base = repo.commit("base")
    repo.write("package-lock.json", "{}\n")
    repo.write("api/gen.go", "// Code generated by protoc. DO NOT EDIT.\npackage api\n")
    repo.write("schema/models.py", "x = 1\n")
    repo.write("vendor/lib/a.c", "int a;\n")
    repo.write("tests/test_a.py", "def test(): pass\n")
    repo.write("README.md", "y\n")
    repo.write("src/app.ts", "export {}\n")
    repo.write("gen/out.py", "print()\n")
    repo.commit("head")
    attrs = GitAttributes.from_text("schema/*.py linguist-generated\n")
    parsed = parse_diff(repo.diff(base), attributes=attrs, classify=ClassifyConfig(generated=("gen/",)))
    kinds = {f.path: f.kind for f in parsed.files}
    assert kinds == {
        "README.md": FileKind.DOCS,
        "api/gen.go": FileKind.GENERATED,
        "gen/out.py": FileKind.GENERATED,
        "package-lock.json": FileKind.LOCKFILE,
        "schema/models.py": FileKind.GENERATED,
        "src/app.ts": FileKind.SOURCE,
        "tests/test_a.py": FileKind.TEST,
        "vendor/lib/a.c": FileKind.VENDORED,
    }
    reasons = {f.path: f.kind_reason for f in parsed.files}
    assert "Code generated" in reasons["api/gen.go"]
    assert reasons["schema/models.py"] == ".gitattributes linguist-generated"
    assert by_path(parsed)["src/app.ts"].language == "typescript"


def test_big_diff_is_linear_and_exact(repo: ScratchRepo) -> None:
    """A ~2 MB diff of many files parses with exact counts (speed is measured in the bench)."""
    for i in range(40):
        repo.write(f"m/f{i}.py", "".join(f"v{j} = {j}\n" for j in range(1500)))
    base = repo.commit("base")
    for i in range(40):
        repo.write(f"m/f{i}.py", "".join(f"v{j} = {j * (1 + (j % 3 == 0))}\n" for j in range(1600)))
    parsed = check(repo, base)
    assert len(parsed.files) == 40 and parsed.added > 20000


def _runs_from_lines(hunk: Hunk) -> list[tuple[list[str], list[int]]]:
    """The reference: consecutive '+' Lines of `Hunk.lines()`."""
    runs: list[tuple[list[str], list[int]]] = []
    texts: list[str] = []
    numbers: list[int] = []
    for line in hunk.lines():
        if line.kind == "+":
            texts.append(line.text)
            assert line.new_no is not None
            numbers.append(line.new_no)
        elif texts:
            runs.append((texts, numbers))
            texts, numbers = [], []
    if texts:
        runs.append((texts, numbers))
    return runs


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.sampled_from(["+", "-", " ", "", "\\", "\r"]), st.sampled_from(["", "x", "a b", "+", "-", " "])),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=50),
)
def test_added_runs_match_the_lines_view(parts: list[tuple[str, str]], start: int) -> None:
    body = "".join(kind + (" No newline at end of file" if kind == "\\" else text) + "\n" for kind, text in parts)
    added = sum(1 for raw in body.split("\n") if raw.startswith("+"))
    hunk = Hunk(start, 0, start, 0, "", added, 0, body)
    assert hunk.added_runs() == _runs_from_lines(hunk)


def test_added_runs_break_at_removed_lines_and_skip_no_newline_markers() -> None:
    hunk = Hunk(1, 3, 10, 4, "", 3, 1, " ctx\n+a\n\\ No newline at end of file\n+b\n-gone\n+c\n")
    assert hunk.added_runs() == [(["a", "b"], [11, 12]), (["c"], [13])]


def test_a_crlf_empty_context_line_without_its_space_still_counts() -> None:
    diff = parse_diff(b"--- a/w.txt\n+++ b/w.txt\n@@ -1,2 +1,3 @@\n a\r\n\r\n+tok\r\n")
    (hunk,) = diff.files[0].hunks
    assert not diff.errors
    assert [(ln.kind, ln.new_no) for ln in hunk.lines()] == [(" ", 1), (" ", 2), ("+", 3)]
    assert hunk.added_runs() == [(["tok\r"], [3])]

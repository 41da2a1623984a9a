"""`triage.gitrepo.GitRepo` against real repositories built in tmp dirs: the diff stream of a
range and what a handle caches."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.gitrepo import GitRepo

_ARGS = ("-p", "--binary", "-M", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")


def _alone(repo: ScratchRepo, sha: str) -> bytes:
    """What `git diff-tree` says for one commit on its own (the reference)."""
    return repo.git("diff-tree", "--no-commit-id", "--root", *_ARGS, sha)


@pytest.fixture()
def varied(tmp_path: Path) -> tuple[ScratchRepo, list[str]]:
    """A root commit, an edit, an empty commit, a rename + binary, a mode change, a deletion."""
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.py", "def f():\n    return 1\n")
    repo.write("docs/guide.md", "".join(f"line {i}\n" for i in range(20)))
    shas = [repo.commit("root")]
    repo.write("a.py", "def f():\n    return 2\n")
    shas.append(repo.commit("edit"))
    shas.append(repo.commit("nothing", allow_empty=True))
    repo.rename("docs/guide.md", "docs/manual.md")
    repo.write("logo.bin", bytes(range(256)))
    shas.append(repo.commit("rename, binary"))
    repo.chmod("a.py", 0o755)
    shas.append(repo.commit("mode"))
    repo.remove("logo.bin")
    shas.append(repo.commit("delete"))
    return repo, shas


def test_the_stream_gives_each_commit_the_bytes_diff_tree_gives_it_alone(
    varied: tuple[ScratchRepo, list[str]],
) -> None:
    repo, shas = varied
    streamed = list(GitRepo(repo.root).commit_diffs(shas, _ARGS))
    assert streamed == [_alone(repo, sha) for sha in shas]
    assert streamed[2] == b""  # the empty commit
    assert b"GIT binary patch" in streamed[3] and b"rename to docs/manual.md" in streamed[3]


def _git_logging_to(log: Path, tmp_path: Path) -> dict[str, str]:
    """An environment whose `git` records its arguments in `log`, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.skipif(sys.platform == "win32", reason="the logging git is a shell script")
def test_one_git_process_diffs_the_whole_range_and_reads_it_lazily(
    varied: tuple[ScratchRepo, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, shas = varied
    log = tmp_path / "git.log"
    for key, value in _git_logging_to(log, tmp_path).items():
        monkeypatch.setenv(key, value)
    handle = GitRepo(repo.root)
    asked: list[str] = []

    def commits() -> object:
        for sha in shas:
            asked.append(sha)
            yield sha

    stream = handle.commit_diffs(commits(), _ARGS)  # type: ignore[arg-type]
    assert next(stream) == _alone(repo, shas[0])
    assert asked == shas[:1]  # nothing is read ahead of the consumer
    rest = list(stream)
    assert rest == [_alone(repo, sha) for sha in shas[1:]]
    runs = [line for line in log.read_text().splitlines() if "diff-tree" in line and "--stdin" in line]
    assert len(runs) == 1


def test_a_commit_the_stream_cannot_diff_is_none_and_the_stream_goes_on(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.txt", "one\n")
    shas = [repo.commit("base")]
    repo.write("a.txt", "one\ntwo\n")
    shas.append(repo.commit("its blob goes missing"))
    for n in range(3):
        repo.write(f"b{n}.txt", f"fine {n}\n")
        shas.append(repo.commit(f"fine {n}"))
    blob = repo.git("rev-parse", f"{shas[1]}:a.txt").decode().strip()
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    repo.write("a.txt", "edited\n")  # else git reads the blob back from the (matching) work tree
    handle = GitRepo(repo.root)
    streamed = list(handle.commit_diffs([*shas[2:3], *shas[1:], "f" * 40, "HEAD\nHEAD"], _ARGS))
    fine = [_alone(repo, sha) for sha in shas[2:]]
    # a good commit, the broken one (git stops: None), the rest from a new process; a commit
    # that does not exist and a name that is no object id are None as well
    assert streamed == [fine[0], None, *fine, None, None]


def test_full_object_ids_are_resolved_once_per_handle(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.txt", "one\n")
    first = repo.commit("one")
    repo.git("tag", "-a", "-m", "a tag", "v1")
    tag = repo.git("rev-parse", "v1").decode().strip()
    handle = GitRepo(repo.root)
    assert handle.rev_parse(tag) == first  # an annotated tag's id names its commit
    assert handle.has_revision(first) and not handle.has_revision("f" * 40)
    handle.close()
    moved = tmp_path / "moved"
    (repo.root / ".git").rename(moved)  # git can no longer answer anything about this repository
    assert handle.rev_parse(tag) == first and handle.has_revision(first)  # cached
    assert not handle.has_revision("HEAD")  # a name that can move is asked again
    (moved).rename(repo.root / ".git")


def test_close_returns_when_another_process_holds_the_batch_pipe(tmp_path: Path) -> None:
    """A forked worker inherits the pipe to the handle's `cat-file`, so closing our end does not
    end its input; close() (also run from __del__, in any thread) must not wait for it forever:
    a calibration once hung in the pool's result thread exactly so."""
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.py", "x = 1\n")
    head = repo.commit("one")
    handle = GitRepo(repo.root)
    assert handle.rev_parse("HEAD") == head  # starts the batch process
    proc = handle._batch
    assert proc is not None and proc.stdin is not None
    held = os.dup(proc.stdin.fileno())  # what a forked child would hold
    try:
        handle.close()
        assert proc.returncode is not None  # ended (killed after the grace period)
    finally:
        os.close(held)


def test_file_contents_are_kept_bounded_and_a_huge_one_is_not_kept(tmp_path: Path) -> None:
    from triage.errors import InputError
    from triage.gitrepo import _BLOB_BYTES

    repo = ScratchRepo.create(tmp_path)
    repo.write("small.txt", "small\n")
    repo.write("huge.txt", "x" * (_BLOB_BYTES // 2) + "\n")
    sha = repo.commit("two files")
    handle = GitRepo(repo.root)
    assert handle.show(sha, "small.txt") == b"small\n"
    assert handle.show(sha, "huge.txt") is not None
    assert handle.show(sha, "absent.txt") is None
    handle.close()
    moved = tmp_path / "moved"
    (repo.root / ".git").rename(moved)  # from now on only what the handle kept can be answered
    try:
        assert handle.show(sha, "small.txt") == b"small\n"
        assert handle.show(sha, "absent.txt") is None  # "not there" is kept as well
        with pytest.raises(InputError):
            handle.show(sha, "huge.txt")  # a quarter of the budget or more is never kept
    finally:
        moved.rename(repo.root / ".git")


def test_a_full_id_not_there_yet_is_asked_again_once_it_arrives(tmp_path: Path) -> None:
    """Only found commits are cached: a PR head fetched after the first question must be seen."""
    here = ScratchRepo.create(tmp_path / "here")
    here.write("a.txt", "one\n")
    here.commit("one")
    other = ScratchRepo.create(tmp_path / "other")
    other.write("b.txt", "two\n")
    later = other.commit("elsewhere")
    handle = GitRepo(here.root)
    assert not handle.has_revision(later)
    here.git("fetch", "-q", str(other.root), "HEAD")
    assert handle.has_revision(later) and handle.rev_parse(later) == later

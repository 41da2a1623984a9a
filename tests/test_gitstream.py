"""Many diffs from one `git diff-tree --stdin` (triage/calibrate/gitstream.py): the same bytes
as one `git diff-tree` per commit, in order, and None (never another commit's patch) for a
pair git cannot answer."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.calibrate.gitstream import MAX_BATCH, diff_batch
from triage.gitrepo import GitRepo
from triage.sources.git import _DIFF_ARGS

_OPTIONS = tuple(a for a in _DIFF_ARGS[1:] if a != "--no-commit-id")


def _history(tmp_path: Path) -> tuple[GitRepo, list[str]]:
    repo = ScratchRepo.create(tmp_path)
    shas = []
    repo.write("a.py", "x = 1\n")
    shas.append(repo.commit("one"))
    repo.write("a.py", "x = 2\n")
    repo.write("b.bin", b"\x00\x01binary\x00" * 40)
    shas.append(repo.commit("two"))
    shas.append(repo.commit("empty", allow_empty=True))
    repo.rename("a.py", "c.py")
    repo.write("c.py", "x = 2\ny = 3\n")
    shas.append(repo.commit("rename"))
    return GitRepo(repo.root), shas


def test_each_patch_is_what_one_diff_tree_per_commit_prints(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    pairs = list(pairwise(shas))
    got = list(diff_batch(repo, pairs, _OPTIONS))
    assert got == [repo.git(*_DIFF_ARGS, parent, commit) for parent, commit in pairs]
    assert got[1] == b""  # an empty commit has an empty patch, not the next one's
    assert b"rename from a.py" in got[2] and b"GIT binary patch" in got[0]


def test_a_pair_git_cannot_read_is_none_and_the_others_stay_in_place(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    missing = "0123456789abcdef0123456789abcdef01234567"
    pairs = [(shas[0], shas[1]), (shas[0], missing), (shas[2], shas[3])]
    got = list(diff_batch(repo, pairs, _OPTIONS))
    assert got[1] is None
    assert got[0] == repo.git(*_DIFF_ARGS, shas[0], shas[1])
    assert got[2] == repo.git(*_DIFF_ARGS, shas[2], shas[3])
    assert list(diff_batch(repo, [(missing, missing)], _OPTIONS)) == [None]


def test_a_batch_is_bounded(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    assert list(diff_batch(repo, [], _OPTIONS)) == []
    with pytest.raises(ValueError, match="at most"):
        list(diff_batch(repo, [(shas[0], shas[1])] * (MAX_BATCH + 1), _OPTIONS))

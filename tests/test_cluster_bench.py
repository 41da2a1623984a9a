"""The clustering bench's labelled set and scores (bench/cluster_bench.py) on a real git
repository with GitHub-style pull refs: what a PR is made of, its base branch and label, and
pairwise precision/recall."""

from __future__ import annotations

import re
from pathlib import Path

from gitutil import ScratchRepo

from bench.cluster_bench import labelled_set, pairwise, without_keys

LINES = "".join(f"line {i}\n" for i in range(1, 31))


def _pull(repo: ScratchRepo, number: int, start: str, edits: list[tuple[str, str]]) -> str:
    repo.git("checkout", "-q", "--detach", start)
    lines = (repo.root / "a.txt").read_text().splitlines(keepends=True)
    for message, new in edits:
        lines[number - 1] = f"{new}\n"
        repo.write("a.txt", "".join(lines))
        repo.commit(message)
    head = repo.head()
    repo.git("update-ref", f"refs/pull/{number}/head", head)
    return head


def test_pull_refs_become_labelled_prs_on_their_base(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.txt", LINES)
    base = repo.commit("base")
    repo.git("branch", "release-1", base)
    repo.write("b.txt", "main moved on\n")
    main = repo.commit("main moved on")
    _pull(repo, 3, main, [("PROJ-7: fix line three", "line three"), ("address review", "line 3!")])
    _pull(repo, 5, main, [("PROJ-7 fix it again", "line five")])
    repo.git("checkout", "-q", "release-1")
    repo.write("c.txt", "release fix\n")
    release = repo.commit("release-only commit")
    _pull(repo, 8, release, [("PROJ-7: backport", "line eight")])
    _pull(repo, 9, main, [("no key here", "line nine")])
    repo.git("checkout", "-q", "main")
    items, stats = labelled_set(repo.root, r"PROJ-\d+")
    by = {x.pr.id: x for x in items}
    assert sorted(by) == ["3", "5", "8"] and stats["no_key_in_title"] == 1
    three = by["3"]
    assert three.key == "PROJ-7" and three.base == "main" and three.pr.base_sha == main
    assert three.pr.title == "PROJ-7: fix line three"  # the first commit's subject
    assert b"+line 3!" in three.pr.diff and b"b.txt" not in three.pr.diff  # from the merge base
    assert by["8"].base == "release-1" and b"c.txt" not in by["8"].pr.diff
    keyless = without_keys(three.pr, re.compile(r"PROJ-\d+"))
    assert keyless.title == "fix line three" and "PROJ" not in " ".join(keyless.commit_messages)


def test_pairwise_precision_and_recall() -> None:
    truth = {"a": "K1", "b": "K1", "c": "K1", "d": "K2", "e": "K3"}
    predicted = {"a": "x", "b": "x", "c": None, "d": "x", "e": None}
    scores = pairwise(predicted, truth)
    # predicted pairs ab, ad, bd (1 right); true pairs ab, ac, bc
    assert (scores["pairs_predicted"], scores["pairs_true"], scores["pairs_right"]) == (3, 3, 1)
    assert scores["precision"] == 0.333 and scores["recall"] == 0.333
    assert (scores["clusters_predicted"], scores["clusters_true"]) == (1, 1)

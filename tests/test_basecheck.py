"""The base check against real git repositories (issue #11): a change already cherry-picked to
the base is `close` as `already-landed`, naming the commit; a PR that conflicts with the base
is held with `needs-rebase` and its label, whatever the PR is (a head commit in the clone, a
diff with the commit it was made on, or a bare patch); the clone itself is never changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.basecheck import BaseChecker
from triage.config import Config
from triage.diff import parse_diff
from triage.gitrepo import GitRepo, GitTree
from triage.models import DecisionKind, PullRequest, Queue, QueueItem
from triage.pipeline import RunContext, run

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
LINES = "".join(f"line {i}\n" for i in range(1, 41))


def _edit(text: str, number: int, new: str) -> str:
    return text.replace(f"line {number}\n", f"{new}\n")


@pytest.fixture
def repo(tmp_path: Path) -> ScratchRepo:
    """main: one file of 40 lines and an unrelated second file."""
    r = ScratchRepo.create(tmp_path)
    r.write("app.txt", LINES)
    r.write("other.txt", "other\n")
    r.commit("base")
    return r


def _branch(repo: ScratchRepo, name: str, start: str = "main") -> None:
    repo.git("checkout", "-q", "-b", name, start)


def _unrelated(repo: ScratchRepo) -> None:
    """A commit on main first, so a cherry-pick gets a new sha (commit dates are fixed)."""
    repo.write("other.txt", "other, moved on\n")
    repo.commit("unrelated work on main")


def _pr(
    repo: ScratchRepo, pid: str, base: str, head: str, *, with_head: bool = True, with_base: bool = True
) -> PullRequest:
    return PullRequest(
        id=pid,
        title=f"PR {pid}",
        author="carol",
        diff=repo.diff(base, head),
        head_sha=head if with_head else None,
        base_sha=base if with_base else None,
        source=f"test:{pid}",
    )


def _triage(repo: ScratchRepo, prs: list[PullRequest], base: str = "main") -> Queue:
    git = GitRepo(repo.root)
    ctx = RunContext(now=NOW, base=GitTree(git, git.rev_parse(base)), repo=git)
    return run(prs, Config(llm_mode="off"), ctx)


def _item(queue: Queue, pid: str) -> QueueItem:
    return next(i for i in queue.items if i.pr.id == pid)


def _rules(item: QueueItem) -> list[str]:
    return [r.rule for r in item.decision.reasons]


# --------------------------------------------------------------------------- already landed


def test_change_cherry_picked_to_the_base_is_closed_naming_the_commit(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "feature")
    repo.write("app.txt", _edit(LINES, 10, "line 10 fixed"))
    feature = repo.commit("fix line 10")
    repo.git("checkout", "-q", "main")
    _unrelated(repo)
    repo.git("cherry-pick", feature)
    picked = repo.head()
    repo.write("app.txt", _edit(LINES, 10, "line 10 fixed again"))  # the base moves on
    repo.commit("later work on line 10")
    queue = _triage(repo, [_pr(repo, "picked", base, feature)])
    item = _item(queue, "picked")
    assert item.decision.kind is DecisionKind.CLOSE
    assert _rules(item) == ["already-landed"]
    message = item.decision.reasons[0].message
    assert picked[:7] in message and "same patch id" in message and "fix line 10" in message
    assert item.decision.reasons[0].override_label == "triage/override-already-landed"
    assert item.rank is None


def test_every_hunk_already_applied_is_closed_even_without_commits(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "feature")
    repo.write("app.txt", _edit(LINES, 5, "line 5 reworded"))
    feature = repo.commit("reword line 5")
    repo.git("checkout", "-q", "main")
    # The same change landed by hand, mixed into a bigger commit (a different patch id).
    repo.write("app.txt", _edit(LINES, 5, "line 5 reworded"))
    repo.write("other.txt", "other, changed too\n")
    landed = repo.commit("squashed release work")
    patch = _pr(repo, "patch", base, feature, with_head=False, with_base=False)  # a bare patch file
    item = _item(_triage(repo, [patch]), "patch")
    assert item.decision.kind is DecisionKind.CLOSE and _rules(item) == ["already-landed"]
    assert "every hunk is there" in item.decision.reasons[0].message
    assert landed[:7] in item.decision.reasons[0].message


def test_each_commit_cherry_picked_separately_is_landed(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "feature")
    repo.write("app.txt", _edit(LINES, 2, "two"))
    first = repo.commit("first")
    repo.write("app.txt", _edit(_edit(LINES, 2, "two"), 30, "thirty"))
    second = repo.commit("second")
    repo.git("checkout", "-q", "main")
    _unrelated(repo)
    repo.git("cherry-pick", first, second)
    repo.write("app.txt", _edit(_edit(_edit(LINES, 2, "two!"), 30, "thirty!"), 3, "three"))
    repo.commit("rework both lines afterwards")  # the reverse-apply check cannot see it now
    item = _item(_triage(repo, [_pr(repo, "two-commits", base, second)]), "two-commits")
    assert item.decision.kind is DecisionKind.CLOSE
    assert "every commit already on the base" in item.decision.reasons[0].message
    assert "(and 1 more)" in item.decision.reasons[0].message


def test_merged_head_is_landed_and_an_open_change_is_not(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "done")
    repo.write("app.txt", _edit(LINES, 7, "seven"))
    done = repo.commit("done work")
    _branch(repo, "open", base)
    repo.write("other.txt", "other, open work\n")
    open_ = repo.commit("open work")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "done")
    queue = _triage(repo, [_pr(repo, "done", base, done), _pr(repo, "open", base, open_)])
    assert "already merged" in _item(queue, "done").decision.reasons[0].message
    fresh = _item(queue, "open")
    assert fresh.decision.kind is DecisionKind.REVIEW and fresh.rank == 1
    assert fresh.assessment.base_check is not None and fresh.assessment.base_check.conflicts is None


def test_a_base_commit_from_before_the_merge_base_is_not_a_landing(repo: ScratchRepo) -> None:
    # The PR reverts a base commit, then re-applies it: its diff equals that old commit's.
    repo.write("app.txt", _edit(LINES, 9, "nine"))
    old = repo.commit("old change")
    repo.write("app.txt", LINES)
    base = repo.commit("revert old change")
    _branch(repo, "again")
    repo.write("app.txt", _edit(LINES, 9, "nine"))
    again = repo.commit("bring it back")
    repo.git("checkout", "-q", "main")
    item = _item(_triage(repo, [_pr(repo, "again", base, again)]), "again")
    assert item.decision.kind is DecisionKind.REVIEW, old


# ------------------------------------------------------------------------------- conflicts


def _conflicting(repo: ScratchRepo) -> tuple[str, str]:
    base = repo.head()
    _branch(repo, "topic")
    repo.write("app.txt", _edit(LINES, 20, "line 20 by the PR"))
    head = repo.commit("PR edits line 20")
    repo.git("checkout", "-q", "main")
    repo.write("app.txt", _edit(LINES, 20, "line 20 on main"))
    repo.commit("main edits line 20")
    return base, head


@pytest.mark.parametrize(
    ("shape", "with_head", "with_base", "checked_with"),
    [
        ("head commit in the clone", True, True, "git merge-tree"),
        ("diff and the commit it was made on", False, True, "git merge-tree"),
        ("bare patch", False, False, "git apply (two-way)"),
    ],
)
def test_conflicting_pr_needs_rebase_and_stays_out_of_the_queue(
    repo: ScratchRepo, shape: str, with_head: bool, with_base: bool, checked_with: str
) -> None:
    base, head = _conflicting(repo)
    pr = _pr(repo, "conflict", base, head, with_head=with_head, with_base=with_base)
    item = _item(_triage(repo, [pr]), "conflict")
    assert item.decision.kind is DecisionKind.THROTTLED, shape
    assert _rules(item) == ["needs-rebase"]
    reason = item.decision.reasons[0]
    assert "in app.txt" in reason.message and checked_with in reason.message
    assert reason.override_label == "triage/override-needs-rebase"
    assert "needs-rebase" in item.decision.labels and "triage/throttled" in item.decision.labels
    assert item.rank is None and item.position is None  # not even in the waiting line


def test_a_pr_that_merges_cleanly_is_reviewed_even_though_the_base_moved(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "topic")
    repo.write("app.txt", _edit(LINES, 2, "line 2 by the PR"))
    head = repo.commit("PR edits line 2")
    repo.git("checkout", "-q", "main")
    repo.write("app.txt", _edit(LINES, 38, "line 38 on main"))
    repo.commit("main edits line 38")
    item = _item(_triage(repo, [_pr(repo, "clean", base, head)]), "clean")
    assert item.decision.kind is DecisionKind.REVIEW
    assert item.assessment.base_check is not None
    assert item.assessment.base_check.checked_with == "git merge-tree"
    assert "needs-rebase" not in item.decision.labels


def test_old_git_degrades_to_a_two_way_check_with_a_note(repo: ScratchRepo) -> None:
    base, head = _conflicting(repo)
    git = GitRepo(repo.root)
    with BaseChecker(git, "main") as checker:
        checker.version = (2, 30)  # what `git version` would say on an older git
        pr = _pr(repo, "old-git", base, head)
        check = checker.check(pr, parse_diff(pr.diff))
    assert check.conflicts == ("app.txt",) and check.checked_with == "git apply (two-way)"
    assert any("older than 2.38" in note for note in check.notes)


def test_the_clone_is_left_untouched(repo: ScratchRepo) -> None:
    base, head = _conflicting(repo)
    objects_before = sorted(p.name for p in (repo.root / ".git" / "objects").rglob("*") if p.is_file())
    index_before = (repo.root / ".git" / "index").read_bytes()
    status_before = repo.git("status", "--porcelain")
    prs = [_pr(repo, "a", base, head), _pr(repo, "b", base, head, with_head=False)]
    _triage(repo, prs)
    assert sorted(p.name for p in (repo.root / ".git" / "objects").rglob("*") if p.is_file()) == objects_before
    assert (repo.root / ".git" / "index").read_bytes() == index_before
    assert repo.git("status", "--porcelain") == status_before


def test_the_check_travels_to_pool_workers_with_the_same_answers(repo: ScratchRepo) -> None:
    """With --repo the static stage runs in worker processes (issue #13): the checker travels
    as its repository and base, and each worker's own scratch index gives the answers the
    parent would; the batch is past the serial prefix so most PRs are checked in workers."""
    import pickle

    from triage.pipeline import _SERIAL_FIRST

    base, head = _conflicting(repo)
    git = GitRepo(repo.root)
    with BaseChecker(git, "main") as checker:
        copy = pickle.loads(pickle.dumps(checker))
        pr = _pr(repo, "x", base, head)
        assert copy.check(pr, parse_diff(pr.diff)) == checker.check(pr, parse_diff(pr.diff))
        assert copy._tmp is not None and checker._tmp is not None
        assert copy._tmp.name != checker._tmp.name  # its own scratch directory
        copy.close()
        assert not Path(copy._tmp.name).exists()
    prs = [_pr(repo, f"c{i}", base, head, with_head=i % 2 == 0) for i in range(_SERIAL_FIRST + 20)]
    queue = _triage(repo, prs)
    # (identical PRs are also one cluster; the base check's answer is what is compared here)
    missing = [item.pr.id for item in queue.items if "needs-rebase" not in _rules(item)]
    assert not missing and all(item.assessment.base_check.conflicts == ("app.txt",) for item in queue.items)


def test_a_pooled_run_leaves_no_scratch_directory_behind(repo: ScratchRepo, tmp_path: Path) -> None:
    """Every worker's scratch directory goes when the run ends. Workers unpickle the checker
    before multiprocessing resets their exit hooks, so a cleanup registered at unpickling was
    lost: each `--repo` run with a pool left one directory per worker in the temp dir."""
    import os
    import subprocess
    import sys

    from triage.pipeline import _SERIAL_FIRST

    for i in range(_SERIAL_FIRST + 40):
        repo.write("app.txt", _edit(LINES, i % 40 + 1, f"edit {i}"))
        repo.commit(f"edit {i}")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    rev_range = f"HEAD~{_SERIAL_FIRST + 40}..HEAD"
    command = ["run", "--repo", str(repo.root), "--git", rev_range, "--out", str(tmp_path / "out"), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "triage", *command],
        env={**os.environ, "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "queue.json").is_file()
    assert sorted(p.name for p in scratch.iterdir() if p.name.startswith("triage-basecheck-")) == []


# speed2 (#13): per-commit patch-ids are computed once per checker and shared between PRs.
def test_commit_patch_ids_are_those_of_each_commit_and_shared_between_prs(repo: ScratchRepo) -> None:
    base = repo.head()
    _branch(repo, "topic")
    text = LINES
    heads = []
    for number in (3, 13, 23):
        text = _edit(text, number, f"changed {number}")
        repo.write("app.txt", text)
        heads.append(repo.commit(f"edit {number}"))
    heads.append(repo.commit("no change", allow_empty=True))
    repo.git("checkout", "-q", "main")
    _unrelated(repo)
    git = GitRepo(repo.root)
    log = repo.git("log", "--no-merges", "-p", "--format=commit %H", f"{base}..{heads[-1]}")
    expected = [line.split()[0] for line in git.plumb("patch-id", "--stable", input=log)[1].decode().splitlines()]
    assert len(expected) == 3  # the empty commit has no patch-id
    with BaseChecker(git, "main") as checker:
        shorter = checker.check(_pr(repo, "short", base, heads[1]), parse_diff(repo.diff(base, heads[1])))
        longer = checker.check(_pr(repo, "long", base, heads[-1]), parse_diff(repo.diff(base, heads[-1])))
    assert list(longer.commit_patch_ids) == expected
    assert list(shorter.commit_patch_ids) == expected[1:]


# ------------------------------------------------------- the fixtures' clone (branch flood2)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.skipif(not (FIXTURES / "prs").is_dir(), reason="fixtures/prs not present")
def test_the_fixture_clone_shows_already_landed_and_needs_rebase(tmp_path: Path) -> None:
    """`make triage-repo`: the fixtures against a clone whose main moved on. 227 was
    cherry-picked and edited next to since (only the patch id can tell), 226 was merged, and
    main changed the line 245 edits; the other PRs are decided as without the clone."""
    import subprocess
    import sys

    from triage.sources import load_inputs

    clone = tmp_path / "tidewater"
    proc = subprocess.run(
        [sys.executable, str(FIXTURES / "make_fixtures.py"), "--repo", str(clone)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    git = GitRepo(clone)
    ctx = RunContext(now=NOW, base=GitTree(git, git.rev_parse("main")), repo=git)
    queue = run(load_inputs([str(FIXTURES / "prs")]), Config(llm_mode="off"), ctx)
    by = {i.pr.id: i for i in queue.items}
    picked = git.git("log", "-1", "--format=%h %s", "main~3").decode().strip()
    assert picked.endswith("ratelimit: do not allow a request when one token short")
    assert by["227"].decision.kind is DecisionKind.CLOSE and _rules(by["227"]) == ["already-landed"]
    assert f"the same patch id as {picked} on the base" in by["227"].decision.reasons[0].message
    assert by["227"].assessment.base_check.landed_how == "patch-id"
    assert by["226"].decision.kind is DecisionKind.CLOSE and by["226"].assessment.base_check.landed_how == "merged"
    assert _rules(by["245"]) == ["needs-rebase"]
    assert "in web/tsconfig.json (git merge-tree)" in by["245"].decision.reasons[0].message
    landed = {i.pr.id for i in queue.items if "already-landed" in _rules(i)}
    conflicting = {i.pr.id for i in queue.items if "needs-rebase" in _rules(i)}
    assert (landed, conflicting) == ({"226", "227"}, {"245"})
    assert by["240"].decision.kind is DecisionKind.DUPLICATE  # the clusters are the same


# speed2 (#13): ancestry from the batch's history log must give what git gives.
def test_ancestry_from_the_history_log_gives_the_same_checks_as_git(repo: ScratchRepo) -> None:
    from triage.metrics.history import HistoryCache

    base = repo.head()
    _branch(repo, "topic")
    text = LINES
    heads = []
    for number in (5, 15, 25):
        text = _edit(text, number, f"topic {number}")
        repo.write("app.txt", text)
        heads.append(repo.commit(f"topic {number}"))
    repo.git("checkout", "-q", "main")
    _unrelated(repo)
    repo.git("merge", "-q", "--no-ff", "-m", "merge the first", heads[0])
    tip = repo.head()
    git = GitRepo(repo.root)
    history = HistoryCache(tip=heads[-1])
    history.log(git, heads[-1])
    history.log(git, tip)
    prs = [
        _pr(repo, "linear", base, heads[-1]),  # base of the check is an ancestor: log answers
        _pr(repo, "merged", base, heads[0]),  # head already in main: landed by merge
        _pr(repo, "one", heads[1], heads[2]),
    ]
    for rev in (base, "main"):
        with BaseChecker(git, rev) as checker:
            for pr in prs:
                diff = parse_diff(pr.diff)
                assert checker.check(pr, diff, history) == checker.check(pr, diff), (rev, pr.id)
    with BaseChecker(git, base) as checker:
        assert history.loaded(git, checker.base, heads[-1]) is not None  # the log path was taken


# hist3 (#13): a PR that contains the base has no base commits to match by patch-id; the
# reverse apply still finds a change that is already there (here: a revert of the PR before it).
def test_a_pr_containing_the_base_skips_patch_ids_but_is_still_found_applied(repo: ScratchRepo) -> None:
    base = repo.head()
    repo.write("app.txt", _edit(LINES, 7, "changed 7"))
    change = repo.commit("change line 7")
    repo.write("app.txt", LINES)
    revert = repo.commit("revert the change")
    git = GitRepo(repo.root)
    with BaseChecker(git, base) as checker:
        ahead = checker.check(_pr(repo, "ahead", base, change), parse_diff(repo.diff(base, change)))
        back = checker.check(_pr(repo, "back", change, revert), parse_diff(repo.diff(change, revert)))
    assert ahead.merge_base == base and ahead.patch_id is None and ahead.commit_patch_ids == ()
    assert ahead.landed_in is None
    assert back.merge_base == base and back.patch_id is None
    assert back.landed_how == "applied"
    _branch(repo, "side", base)
    _unrelated(repo)
    with BaseChecker(git, "side") as checker:  # a base that moved on elsewhere: patch-ids count
        moved = checker.check(_pr(repo, "moved", base, change), parse_diff(repo.diff(base, change)))
    assert moved.merge_base == base and moved.patch_id == _patch_id_of(git, repo.diff(base, change))


def _patch_id_of(git: GitRepo, diff: bytes) -> str:
    return git.plumb("patch-id", "--stable", input=diff)[1].decode().split()[0]


# hist3 (#13): the reverse apply is told from the base's files when they prove it cannot apply;
# whenever the check says "cannot", git must agree, and anything it cannot tell goes to git.
@pytest.mark.parametrize(
    ("case", "told"),
    [
        ("new change", True),  # the after-side lines are nowhere in the base
        ("already there", False),  # the base has them: git decides (and applies)
        ("only whitespace differs", False),  # whitespace is ignored: git decides
        ("deletes a file the base has", True),
        ("adds a file the base lacks", True),
        ("binary", False),
    ],
)
def test_the_reverse_apply_precheck_agrees_with_git(repo: ScratchRepo, case: str, told: bool) -> None:
    base = repo.head()
    if case == "already there":
        repo.write("app.txt", _edit(LINES, 9, "changed 9"))
        base = repo.commit("the base has it")
        repo.write("app.txt", LINES)
        start = repo.commit("undo on the branch")
        repo.write("app.txt", _edit(LINES, 9, "changed 9"))
    elif case == "only whitespace differs":
        repo.write("app.txt", _edit(LINES, 9, "changed  9"))
        base = repo.commit("the base has it, spaced differently")
        repo.write("app.txt", LINES)
        start = repo.commit("undo on the branch")
        repo.write("app.txt", _edit(LINES, 9, "changed 9"))
    else:
        start = base
        if case == "new change":
            repo.write("app.txt", _edit(LINES, 9, "changed 9"))
        elif case == "deletes a file the base has":
            repo.write("gone.txt", "bye\n")
            base = start = repo.commit("a file to delete")
            repo.remove("gone.txt")
        elif case == "adds a file the base lacks":
            repo.write("new.txt", "hello\n")
        else:
            repo.write("logo.bin", bytes(range(256)))
    head = repo.commit(case)
    pr = _pr(repo, "pr", start, head, with_head=False, with_base=False)
    if case == "binary":
        pr = replace(pr, diff=repo.git("diff", "--binary", start, head))
    git = GitRepo(repo.root)
    with BaseChecker(git, base) as checker:
        said = checker._cannot_be_in_base(pr, parse_diff(pr.diff))
        applies = checker._applies(pr.diff, reverse=True)[0]
    assert said is told
    assert not (said and applies)
    if case == "already there":
        assert applies

"""History metrics against a real git repository with several authors and dated commits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.config import Config
from triage.gitrepo import GitRepo
from triage.metrics import measure
from triage.metrics.history import HistoryCache, base_revision, file_history
from triage.models import ChangeType, FileDiff, FileHistory, FileKind, ParsedDiff, PullRequest

ALICE = "Alice Example <alice@example.com>"
BOB = "Bob Builder <bob@example.com>"
CAROL = "Carol <12345+carol@users.noreply.github.com>"


def commit(repo: ScratchRepo, files: dict[str, str], author: str, date: str, message: str = "change") -> str:
    for path, text in files.items():
        repo.write(path, text)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", message, f"--author={author}", f"--date={date}T00:00:00+00:00")
    return repo.head()


@pytest.fixture
def history_repo(tmp_path: Path) -> tuple[GitRepo, list[str]]:
    repo = ScratchRepo.create(tmp_path)
    shas = [
        commit(repo, {"src/a.py": "a = 1\n", "src/b.py": "b = 1\n", "README.md": "hi\n"}, ALICE, "2024-01-01"),
        commit(repo, {"src/a.py": "a = 2\n"}, BOB, "2024-02-01"),
        commit(repo, {"docs/guide.md": "guide\n"}, ALICE, "2024-03-01"),
        commit(repo, {"src/b.py": "b = 2\n"}, CAROL, "2024-03-11"),
    ]
    return GitRepo(repo.root), shas


def changed_files() -> tuple[FileDiff, ...]:
    return (
        FileDiff("src/a.py", "src/a.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 1, 1),
        FileDiff("src/new.py", None, ChangeType.ADDED, FileKind.SOURCE, "python", 3, 0),
        FileDiff("lib/c.py", "src/b.py", ChangeType.RENAMED, FileKind.SOURCE, "python", 1, 1),
    )


CREATED = datetime(2024, 3, 31, tzinfo=UTC)


def test_per_file_age_changes_and_authors(history_repo: tuple[GitRepo, list[str]]) -> None:
    repo, _ = history_repo
    pr = PullRequest(id="1", title="t", author="alice", author_email="Alice@Example.com", created_at=CREATED)
    log = HistoryCache().log(repo, base_revision(pr, repo))
    history = file_history(pr, changed_files(), ("lib", "src"), log)
    assert history.files == (
        FileHistory("src/a.py", age_days=59.0, prior_changes=2, authors=2),
        FileHistory("src/new.py", age_days=None, prior_changes=0, authors=0),
        FileHistory("lib/c.py", age_days=20.0, prior_changes=2, authors=2),  # history of src/b.py
    )
    assert history.author_changes == 2  # EXP: both of Alice's commits, e-mail matched case-insensitively
    assert history.author_subsystem_changes == 1  # SEXP: only the first touched src/


@pytest.mark.parametrize(
    ("author", "email", "exp"),
    [
        ("Bob Builder", None, 1),  # by name
        ("carol", None, 1),  # GitHub login = local part of a noreply address
        ("mallory", "mallory@example.com", 0),  # a newcomer
        ("", None, 0),  # unknown author
    ],
)
def test_author_matching(history_repo: tuple[GitRepo, list[str]], author: str, email: str | None, exp: int) -> None:
    repo, _ = history_repo
    pr = PullRequest(id="1", title="t", author=author, author_email=email, created_at=CREATED)
    history = file_history(pr, changed_files(), ("src",), HistoryCache().log(repo, "HEAD"))
    assert history.author_changes == exp


def test_base_sha_limits_history_to_what_came_before(history_repo: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history_repo
    pr = PullRequest(id="1", title="t", base_sha=shas[1])
    assert base_revision(pr, repo) == shas[1]
    history = file_history(pr, changed_files(), ("src",), HistoryCache().log(repo, base_revision(pr, repo)))
    # Without a creation date, ages count from the base commit (Bob's, 2024-02-01).
    assert history.files[0] == FileHistory("src/a.py", age_days=0.0, prior_changes=2, authors=2)
    assert history.files[2] == FileHistory("lib/c.py", age_days=31.0, prior_changes=1, authors=1)


def test_unknown_base_sha_falls_back_to_head(history_repo: tuple[GitRepo, list[str]]) -> None:
    repo, _ = history_repo
    assert base_revision(PullRequest(id="1", title="t", base_sha="f" * 40), repo) == "HEAD"
    assert base_revision(PullRequest(id="1", title="t"), repo) == "HEAD"


def test_cache_reads_each_revision_once(history_repo: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history_repo
    cache = HistoryCache()
    first = cache.log(repo, "HEAD")
    assert cache.log(repo, shas[-1]) is first  # same commit, another spelling: one parsed log
    assert cache.log(repo, shas[0]) is not first
    assert len(cache.log(repo, shas[0]).commits) == 1


def test_measure_attaches_history_and_shares_the_cache(history_repo: tuple[GitRepo, list[str]]) -> None:
    repo, _ = history_repo
    cache = HistoryCache()
    pr = PullRequest(id="1", title="t", author_email="bob@example.com", created_at=CREATED)
    m = measure(pr, ParsedDiff(files=changed_files()), Config(), repo=repo, history_cache=cache)
    assert m.history is not None
    assert m.history.author_changes == 1
    assert [f.prior_changes for f in m.history.files] == [2, 0, 2]
    again = measure(pr, ParsedDiff(files=changed_files()), Config(), repo=repo, history_cache=cache)
    assert again == m


def test_a_repository_without_commits_gives_a_note_not_a_crash(tmp_path: Path) -> None:
    empty = ScratchRepo.create(tmp_path, "empty")
    m = measure(PullRequest(id="1", title="t"), ParsedDiff(files=changed_files()), Config(), repo=GitRepo(empty.root))
    assert m.history is None
    assert any(note.startswith("history unavailable:") for note in m.notes)


# --- one shared log for many bases (issue #13) ------------------------------------------------


@pytest.fixture
def merge_repo(tmp_path: Path) -> tuple[ScratchRepo, dict[str, str]]:
    """main: m1 - m2 - m3 ------- M - m4, with a side branch s1 - s2 forked at m1 and merged at M.
    m2/m3 (main, after the fork) are not ancestors of s1/s2, although they sit below them in
    a topological listing of the whole history."""
    repo = ScratchRepo.create(tmp_path)
    shas: dict[str, str] = {}
    shas["m1"] = commit(repo, {"src/a.py": "1\n", "lib/x.py": "1\n"}, ALICE, "2024-01-01")
    repo.git("branch", "side")
    shas["m2"] = commit(repo, {"src/a.py": "2\n"}, BOB, "2024-01-05")
    shas["m3"] = commit(repo, {"lib/x.py": "3\n"}, ALICE, "2024-01-06")
    repo.git("checkout", "-q", "side")
    shas["s1"] = commit(repo, {"src/a.py": "s1\n", "src/s.py": "s\n"}, CAROL, "2024-01-02")
    shas["s2"] = commit(repo, {"src/s.py": "s2\n"}, ALICE, "2024-01-03")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge side", "side")
    shas["M"] = repo.head()
    shas["m4"] = commit(repo, {"src/a.py": "4\n"}, BOB, "2024-01-10")
    return repo, shas


def _git_count(repo: ScratchRepo, base: str, *args: str, path: str | None = None) -> int:
    """What `git log` itself lists at `base`: the reference the shared log must match."""
    paths = [path] if path else []
    out = repo.git("log", "--no-merges", "--full-history", "--format=%H", *args, base, "--", *paths).decode()
    return len(out.split())


FILES = (
    FileDiff("src/a.py", "src/a.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 1, 1),
    FileDiff("src/s.py", "src/s.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 1, 1),
    FileDiff("lib/x.py", "lib/x.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 1, 1),
)


def test_views_of_one_shared_log_count_exactly_what_git_log_of_each_base_lists(
    merge_repo: tuple[ScratchRepo, dict[str, str]],
) -> None:
    scratch, shas = merge_repo
    repo = GitRepo(scratch.root)
    cache = HistoryCache(tip=shas["m4"])
    for label, base in shas.items():
        for author, email in (("alice", "alice@example.com"), ("bob", "bob@example.com"), ("carol", None)):
            pr = PullRequest(id=label, title="t", author=author, author_email=email, created_at=CREATED)
            history = file_history(pr, FILES, ("src",), cache.log(repo, base))
            for f, fh in zip(FILES, history.files, strict=True):
                assert fh.prior_changes == _git_count(scratch, base, path=f.path), (label, f.path)
            pattern = email or "carol@"
            assert history.author_changes == _git_count(scratch, base, f"--author={pattern}"), (label, author)
            expected_sexp = _git_count(scratch, base, f"--author={pattern}", path="src")
            assert history.author_subsystem_changes == expected_sexp, (label, author)
    assert cache.reads == 1  # every base is in the log of the tip: one `git log` for all


def test_side_branch_base_does_not_see_main_commits_made_after_the_fork(
    merge_repo: tuple[ScratchRepo, dict[str, str]],
) -> None:
    scratch, shas = merge_repo
    repo = GitRepo(scratch.root)
    cache = HistoryCache(tip=shas["m4"])
    pr = PullRequest(id="1", title="t", author_email="bob@example.com", created_at=CREATED)
    on_side = file_history(pr, FILES, ("src",), cache.log(repo, shas["s2"]))
    assert on_side.author_changes == 0  # Bob's m2 is on main only
    assert on_side.files[0].prior_changes == 2  # m1 and s1 touched src/a.py; m2 did not reach s2
    after_merge = file_history(pr, FILES, ("src",), cache.log(repo, shas["M"]))
    assert after_merge.author_changes == 1
    assert after_merge.files[0].prior_changes == 3


def test_the_cache_is_bounded_and_evicts_least_recently_used(
    merge_repo: tuple[ScratchRepo, dict[str, str]],
) -> None:
    scratch, shas = merge_repo
    repo = GitRepo(scratch.root)
    cache = HistoryCache(tip=shas["m4"], max_logs=1, max_views=2)
    first = cache.log(repo, shas["m1"])
    cache.log(repo, shas["m2"])
    cache.log(repo, shas["m3"])
    assert cache.views == 2
    assert cache.log(repo, shas["m1"]) is not first  # evicted, rebuilt from the same shared log
    assert cache.reads == 1
    other = ScratchRepo.create(scratch.root.parent, "other")
    commit(other, {"a.py": "1\n"}, ALICE, "2024-01-01")
    log = HistoryCache(max_logs=1).log(GitRepo(other.root), "HEAD")
    assert len(log.commits) == 1
    cache.log(GitRepo(other.root), "HEAD")  # another repository: its log replaces the first one
    assert cache.logs == 1 and cache.reads == 2
    again = cache.log(repo, shas["m4"])
    assert cache.logs == 1 and cache.reads == 3
    assert len(again.commits) == 6


def test_a_pickled_repository_opens_its_own_handle(merge_repo: tuple[ScratchRepo, dict[str, str]]) -> None:
    import pickle

    scratch, shas = merge_repo
    repo = GitRepo(scratch.root)
    assert repo.show(shas["m1"], "src/a.py") == b"1\n"
    copy = pickle.loads(pickle.dumps(repo))
    assert copy.path == repo.path
    assert copy.show(shas["m4"], "src/a.py") == b"4\n"
    assert copy.show(shas["m4"], "missing.py") is None
    assert copy.show(shas["m4"], "src") is None  # a tree, not a file
    assert copy.has_revision(shas["s2"]) and not copy.has_revision("f" * 40)
    assert not copy.has_revision("HEAD\nHEAD")
    repo.close()
    copy.close()

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

"""`triage.sources.git.read_range` against real repositories built in tmp dirs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.diff import parse_diff
from triage.errors import InputError
from triage.gitrepo import GitRepo
from triage.models import Trailer
from triage.sources.git import parse_range, read_range


def _commit_as(repo: ScratchRepo, message: str, author: str = "Test Author <author@example.com>") -> str:
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", f"--author={author}", "-m", message)
    return repo.head()


def _short(repo: ScratchRepo, rev: str) -> str:
    return repo.git("rev-parse", "--short", rev).decode().strip()


@pytest.fixture()
def history(tmp_path: Path) -> tuple[ScratchRepo, str, list[str]]:
    """base, then three commits: a fix with trailers, a rename + binary, a bot's commit."""
    repo = ScratchRepo.create(tmp_path)
    repo.write("src/app.py", "def f(x):\n    return x\n")
    repo.write("docs/guide.md", "# Guide\n\n" + "".join(f"line {i}\n" for i in range(20)))
    base = repo.commit("base")
    repo.write("src/app.py", "def f(x):\n    if x:\n        return x\n    return 0\n")
    first = _commit_as(
        repo,
        "Fix f for falsy x\n\nIt returned None.\n\nFixes #12\n\n"
        "Signed-off-by: Jane Doe <jane@example.com>\nAssisted-by: Claude",
        "Jane Doe <jane@example.com>",
    )
    repo.rename("docs/guide.md", "docs/manual.md")
    repo.write("assets/logo.bin", bytes(range(256)))
    second = _commit_as(repo, "Move the guide, add the logo", "Jane Doe <1234+janed@users.noreply.github.com>")
    repo.write("src/app.py", "def f(x):\n    if x:\n        return x\n    return -1\n")
    third = _commit_as(
        repo,
        "Return -1 for falsy x\n\nCo-authored-by: Kim Lee <kim@example.com>",
        "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
    )
    return repo, base, [first, second, third]


def test_each_commit_is_one_pr_oldest_first(history: tuple[ScratchRepo, str, list[str]]) -> None:
    repo, base, shas = history
    prs = list(read_range(GitRepo(repo.root), f"{base}..HEAD"))
    assert [p.id for p in prs] == [_short(repo, s) for s in shas]
    assert [p.head_sha for p in prs] == shas
    assert [p.base_sha for p in prs] == [base, *shas[:2]]
    assert [p.title for p in prs] == ["Fix f for falsy x", "Move the guide, add the logo", "Return -1 for falsy x"]

    fix = prs[0]
    assert fix.body.startswith("It returned None.")
    assert (fix.author, fix.author_email, fix.author_is_bot) == ("jane", "jane@example.com", False)
    assert fix.created_at == datetime(2024, 1, 1, tzinfo=UTC) and fix.created_at.tzinfo is not None
    assert fix.trailers == (Trailer("Signed-off-by", "Jane Doe <jane@example.com>"), Trailer("Assisted-by", "Claude"))
    assert fix.linked_issues == ("#12",)
    assert fix.commit_messages[0].startswith("Fix f for falsy x\n\nIt returned None.")
    assert fix.source == f"git:{fix.id}" and fix.load_errors == ()
    assert fix.diff == repo.diff(base, shas[0])  # the same bytes `git diff` prints

    assert prs[1].author == "janed"  # GitHub noreply address -> login
    assert prs[2].author == "dependabot[bot]" and prs[2].author_is_bot
    assert prs[2].trailers == (Trailer("Co-authored-by", "Kim Lee <kim@example.com>"),)


def test_commit_diffs_carry_renames_and_binaries(history: tuple[ScratchRepo, str, list[str]]) -> None:
    repo, base, _ = history
    [_, moved, _] = read_range(GitRepo(repo.root), f"{base}..HEAD")
    assert b"rename from docs/guide.md\nrename to docs/manual.md\n" in moved.diff
    assert b"GIT binary patch" in moved.diff  # --binary: the content is there, not just "differ"
    parsed = parse_diff(moved.diff)
    assert parsed.errors == ()
    assert {f.path for f in parsed.files} == {"docs/manual.md", "assets/logo.bin"}
    assert {f.path: (f.added, f.deleted) for f in parsed.files if not f.binary} == {"docs/manual.md": (0, 0)}


def test_squash_makes_the_range_one_pr(history: tuple[ScratchRepo, str, list[str]]) -> None:
    repo, base, shas = history
    [pr] = read_range(GitRepo(repo.root), f"{base}..HEAD", squash=True)
    assert pr.id == f"{_short(repo, base)}..{_short(repo, shas[-1])}"
    assert pr.title == "Fix f for falsy x (+2 more commits)"
    assert (pr.base_sha, pr.head_sha) == (base, shas[-1])
    assert len(pr.commit_messages) == 3
    assert pr.trailers == (
        Trailer("Signed-off-by", "Jane Doe <jane@example.com>"),
        Trailer("Assisted-by", "Claude"),
        Trailer("Co-authored-by", "Kim Lee <kim@example.com>"),
    )
    assert pr.linked_issues == ("#12",)
    assert pr.author == "jane"
    parsed = parse_diff(pr.diff)
    numstat = repo.numstat(base, shas[-1])
    assert {f.path: (f.added, f.deleted) for f in parsed.files if not f.binary} == {
        p: c for p, c in numstat.items() if c != (None, None)
    }


def test_squash_of_one_commit_keeps_its_subject(history: tuple[ScratchRepo, str, list[str]]) -> None:
    repo, base, shas = history
    [pr] = read_range(GitRepo(repo.root), f"{base}..{shas[0]}", squash=True)
    assert pr.title == "Fix f for falsy x" and pr.body.startswith("It returned None.")


def test_merge_commits_are_skipped(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.txt", "a\n")
    base = repo.commit("base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("b.txt", "b\n")
    topic = repo.commit("topic work")
    repo.git("checkout", "-q", "main")
    repo.write("c.txt", "c\n")
    main = repo.commit("main work")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "topic")
    merge = repo.head()
    prs = list(read_range(GitRepo(repo.root), f"{base}..{merge}"))
    assert sorted(p.head_sha for p in prs) == sorted([topic, main])  # type: ignore[type-var]
    assert merge not in {p.head_sha for p in prs}
    [squashed] = read_range(GitRepo(repo.root), f"{base}..{merge}", squash=True)
    assert sorted(f.path for f in parse_diff(squashed.diff).files) == ["b.txt", "c.txt"]


def test_open_ended_and_empty_ranges(history: tuple[ScratchRepo, str, list[str]]) -> None:
    repo, _, shas = history
    git_repo = GitRepo(repo.root)
    assert [p.head_sha for p in read_range(git_repo, "HEAD~1..")] == [shas[-1]]
    assert list(read_range(git_repo, "HEAD..HEAD")) == []
    assert list(read_range(git_repo, "HEAD..HEAD", squash=True)) == []


@pytest.mark.parametrize("bad", ["HEAD", "..", "main...HEAD", "no-such-rev..HEAD", "HEAD..nope", "a b..HEAD"])
def test_bad_ranges_raise_at_call_time(history: tuple[ScratchRepo, str, list[str]], bad: str) -> None:
    repo, _, _ = history
    with pytest.raises(InputError):
        read_range(GitRepo(repo.root), bad)  # no iteration: the error comes before any PR


def test_parse_range() -> None:
    assert parse_range("v1.0..main") == ("v1.0", "main")
    assert parse_range("v1.0..") == ("v1.0", "HEAD")
    assert parse_range("..topic") == ("HEAD", "topic")


# speed2 (#13): a commit git cannot diff is one item with a load error, not the end of the run.
def test_a_commit_with_a_missing_object_becomes_a_load_error_and_the_range_goes_on(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write("a.txt", "one\n")
    base = repo.commit("base")
    repo.write("a.txt", "one\ntwo\n")
    broken = repo.commit("the blob of this commit goes missing")
    repo.write("b.txt", "fine\n")
    fine = repo.commit("a later commit is fine")
    blob = repo.git("rev-parse", f"{broken}:a.txt").decode().strip()
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # loose objects: one file each
    repo.write("a.txt", "edited\n")  # else git reads the blob back from the (matching) work tree
    prs = list(read_range(GitRepo(repo.root), f"{base}..{fine}"))
    assert [pr.head_sha for pr in prs] == [broken, fine]
    assert prs[0].diff == b"" and len(prs[0].load_errors) == 1
    assert prs[0].load_errors[0].startswith(f"git:{_short(repo, broken)}: ") and blob in prs[0].load_errors[0]
    assert not prs[1].load_errors and b"+fine" in prs[1].diff

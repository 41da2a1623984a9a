"""GitHub CODEOWNERS semantics, one test per rule of DESIGN.md §5.

Each case states which paths a pattern must own and which it must not, with the same owner on
every line so a wrong match shows up as a wrong path, not a wrong owner.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.gitrepo import DirTree, GitRepo, GitTree
from triage.policy.codeowners import MAX_CODEOWNERS_BYTES, CodeOwners, compile_pattern, find_codeowners


def owned(pattern: str, path: str) -> bool:
    return CodeOwners.parse(f"{pattern} @o\n").owners_for(path) == ("@o",)


def check(pattern: str, yes: list[str], no: list[str]) -> None:
    assert [p for p in yes if not owned(pattern, p)] == [], f"{pattern} must own these"
    assert [p for p in no if owned(pattern, p)] == [], f"{pattern} must not own these"


# ----------------------------------------------------------------------------- file location


def _tree(tmp_path: Path, files: dict[str, bytes]) -> DirTree:
    for name, data in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return DirTree(tmp_path)


def test_github_dir_wins_over_root_and_docs(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path, {".github/CODEOWNERS": b"* @gh\n", "CODEOWNERS": b"* @root\n", "docs/CODEOWNERS": b"* @docs\n"}
    )
    assert find_codeowners(tree) == (".github/CODEOWNERS", "* @gh\n")


def test_root_wins_over_docs(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"CODEOWNERS": b"* @root\n", "docs/CODEOWNERS": b"* @docs\n"})
    assert find_codeowners(tree) == ("CODEOWNERS", "* @root\n")


def test_docs_location_is_used_last(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"docs/CODEOWNERS": b"* @docs\n"})
    assert find_codeowners(tree) == ("docs/CODEOWNERS", "* @docs\n")


def test_no_codeowners_file(tmp_path: Path) -> None:
    assert find_codeowners(_tree(tmp_path, {"README": b"hi\n"})) is None


def test_file_over_3mb_is_not_loaded(tmp_path: Path) -> None:
    big = b"* @gh\n" + b"#" * MAX_CODEOWNERS_BYTES
    tree = _tree(tmp_path, {".github/CODEOWNERS": big, "CODEOWNERS": b"* @root\n"})
    assert find_codeowners(tree) is None


def test_file_of_exactly_3mb_is_loaded(tmp_path: Path) -> None:
    data = b"* @gh\n".ljust(MAX_CODEOWNERS_BYTES, b"\n")
    found = find_codeowners(_tree(tmp_path, {"CODEOWNERS": data}))
    assert found is not None and CodeOwners.parse(found[1]).owners_for("a") == ("@gh",)


def test_routing_comes_from_the_base_revision(tmp_path: Path) -> None:
    repo = ScratchRepo.create(tmp_path)
    repo.write(".github/CODEOWNERS", "* @maintainers\n")
    base = repo.commit("base")
    repo.write(".github/CODEOWNERS", "* @attacker\n")
    head = repo.commit("PR rewrites CODEOWNERS")
    git = GitRepo(repo.root)
    base_found = find_codeowners(GitTree(git, base))
    head_found = find_codeowners(GitTree(git, head))
    assert base_found == (".github/CODEOWNERS", "* @maintainers\n")
    assert head_found is not None and "@attacker" in head_found[1]


# ----------------------------------------------------------------------------- file syntax


def test_last_matching_rule_wins_and_owners_are_not_merged() -> None:
    co = CodeOwners.parse("*.js @a @b\n/src/ @c\n")
    assert co.owners_for("src/app.js") == ("@c",)
    assert co.owners_for("lib/app.js") == ("@a", "@b")


def test_pattern_without_owners_unowns() -> None:
    co = CodeOwners.parse("/apps/ @octocat\n/apps/github\n")
    assert co.owners_for("apps/x.py") == ("@octocat",)
    assert co.owners_for("apps/github/x.py") == ()


def test_whole_line_and_inline_comments() -> None:
    co = CodeOwners.parse("# a comment @nobody\n*.py @py # reviewers: @notowner\n  # indented\n")
    assert co.owners_for("a.py") == ("@py",)
    assert len(co.rules) == 1 and not co.errors


def test_escaped_space_in_pattern() -> None:
    co = CodeOwners.parse("my\\ docs/ @writer\n")
    assert co.owners_for("my docs/readme.md") == ("@writer",)
    assert co.owners_for("my/readme.md") == ()


def test_owner_forms_user_team_email() -> None:
    co = CodeOwners.parse("* @user @my-org/core-team dev@example.com\n")
    assert co.owners_for("x") == ("@user", "@my-org/core-team", "dev@example.com")


def test_line_with_invalid_owner_is_skipped_and_reported() -> None:
    co = CodeOwners.parse("* @good\n/src/ not-an-owner\n", ".github/CODEOWNERS")
    assert co.owners_for("src/a.py") == ("@good",)
    assert co.errors == (".github/CODEOWNERS:2: invalid owner 'not-an-owner'; line ignored",)


def test_no_hash_escape() -> None:
    co = CodeOwners.parse("\\#notes @o\n")
    assert co.owners_for("#notes") == ()
    assert co.owners_for("\\#notes") == ("@o",)  # the backslash is part of the pattern


def test_bang_is_not_negation_and_the_rule_is_ignored() -> None:
    co = CodeOwners.parse("* @all\n!*.md @o\n")
    assert co.owners_for("README.md") == ("@all",)
    assert len(co.errors) == 1 and "'!' negation is not supported" in co.errors[0]


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"CODEOWNERS": "\ufeff*.py @py\r\n".encode()})
    found = find_codeowners(tree)
    assert found is not None
    assert CodeOwners.parse(found[1]).owners_for("a.py") == ("@py",)


# ----------------------------------------------------------------------------- patterns


def test_name_matches_at_any_depth_file_or_dir() -> None:
    check("foo", yes=["foo", "a/foo", "a/b/foo", "foo/x.py", "a/foo/b/c"], no=["foobar", "a/xfoo", "bar"])


def test_leading_slash_anchors_to_root() -> None:
    check("/foo", yes=["foo", "foo/x.py"], no=["a/foo", "a/foo/x.py"])


def test_trailing_slash_matches_directories_only() -> None:
    check("foo/", yes=["foo/x.py", "a/foo/x.py", "a/foo/b/c.py"], no=["foo", "a/foo"])


def test_inner_slash_anchors_to_root() -> None:
    check("a/b", yes=["a/b", "a/b/c.py"], no=["x/a/b", "x/a/b/c.py"])


def test_dir_star_matches_direct_children_only() -> None:
    check("docs/*", yes=["docs/getting-started.md"], no=["docs/build-app/troubleshooting.md", "x/docs/a.md"])


def test_star_stays_within_a_segment() -> None:
    check("*.js", yes=["a.js", "src/deep/b.js"], no=["a.jsx", "a.ts"])
    check("/src/*.py", yes=["src/a.py"], no=["src/sub/a.py"])


def test_question_mark_is_one_character() -> None:
    check("/v?.txt", yes=["v1.txt"], no=["v10.txt", "v/.txt"])


def test_double_star_prefix() -> None:
    check("**/logs", yes=["logs", "build/logs", "deeply/nested/logs", "build/logs/a.log"], no=["build/logsx"])


def test_double_star_suffix() -> None:
    check("x/**", yes=["x/a", "x/a/b/c"], no=["x", "y/x/a"])


def test_double_star_middle() -> None:
    check("a/**/b", yes=["a/b", "a/x/b", "a/x/y/b", "a/x/b/c.py"], no=["b", "x/a/b", "a/xb"])


def test_dir_double_star_slash_matches_contents() -> None:
    check("foo/**/", yes=["foo/bar", "foo/bar/baz.py"], no=["foo", "x/foo/bar"])


def test_lone_star_owns_everything() -> None:
    check("*", yes=["a", "a/b/c.py", ".github/x"], no=[])


def test_root_star_owns_root_files_only() -> None:
    check("/*", yes=["README.md"], no=["src/a.py"])


def test_brackets_are_literal() -> None:
    check("[ab].txt", yes=["[ab].txt", "d/[ab].txt"], no=["a.txt", "b.txt"])


def test_matching_is_case_sensitive() -> None:
    check("/Docs/", yes=["Docs/a.md"], no=["docs/a.md", "DOCS/a.md"])


def test_lone_slash_matches_nothing() -> None:
    co = CodeOwners.parse("/ @o\n")
    assert co.owners_for("a") == () and len(co.errors) == 1


def test_patterns_are_compiled_once() -> None:
    co = CodeOwners.parse("*.py @o\n")
    assert co.rules[0].regex is co.rules[0].regex
    assert co.rules[0].regex.pattern == compile_pattern("*.py").pattern


@pytest.mark.parametrize("path", ["/src/a.py", "src/a.py"])
def test_leading_slash_in_queried_path_is_ignored(path: str) -> None:
    assert CodeOwners.parse("/src/ @o\n").owners_for(path) == ("@o",)

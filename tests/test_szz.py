"""SZZ labelling (triage/calibrate/szz.py) on generated git histories whose answer is known:
which commit wrote the lines a later fix had to change, and which changes must not count
(re-indentation, comments, tests, commits made after the bug was known)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitutil import ScratchRepo

from triage.calibrate.szz import SzzResult, is_comment_line, label_history, parse_message
from triage.errors import InputError
from triage.gitrepo import GitRepo

_BASE = "def total(items):\n    s = 0\n    for x in items:\n        s += x\n    return s\n"


def _labels(repo: ScratchRepo, **kwargs: object) -> tuple[SzzResult, dict[str, object]]:
    result = label_history(GitRepo(repo.root), **kwargs)  # type: ignore[arg-type]
    return result, result.by_sha()


def _day(n: int) -> str:
    return f"2024-01-{n:02d}T12:00:00+00:00"


def _start(tmp_path: Path) -> tuple[ScratchRepo, str]:
    repo = ScratchRepo.create(tmp_path)
    repo.write("src/app.py", _BASE)
    return repo, repo.commit("initial app", date=_day(1))


def test_a_fix_labels_the_commit_that_wrote_the_lines_it_changed(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / (len(items) - 1)\n")
    feature = repo.commit("add mean", date=_day(2))
    repo.write("README.md", "# app\n")
    docs = repo.commit("docs: readme", date=_day(3))
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / len(items)\n")
    fix = repo.commit("Fix off-by-one in mean", date=_day(4))

    result, by = _labels(repo)
    assert [c.sha for c in result.commits] == [root, feature, docs, fix]  # oldest first
    assert by[feature].buggy and by[feature].fixed_by == (fix,)
    assert not by[root].buggy and not by[docs].buggy and not by[fix].buggy
    assert by[fix].is_fix and not by[feature].is_fix
    assert result.fixes == 1 and result.buggy == 1 and result.blamed_lines == 1
    assert by[feature].time.isoformat() == "2024-01-02T12:00:00+00:00"


def test_whitespace_comment_and_test_only_fixes_label_nothing(tmp_path: Path) -> None:
    repo, _ = _start(tmp_path)
    repo.write("src/app.py", "# Sum of items.\n" + _BASE)
    repo.write("tests/test_app.py", "def test_total():\n    assert total([1]) == 2\n")
    feature = repo.commit("add comment and test", date=_day(2))
    # Re-indent the body (whitespace only), reword the comment, and fix the test.
    repo.write("src/app.py", "# Sum of all items.\n" + _BASE.replace("    ", "\t"))
    repo.write("tests/test_app.py", "def test_total():\n    assert total([1]) == 1\n")
    fix = repo.commit("Fix formatting, comment and test", date=_day(3))

    result, by = _labels(repo)
    assert by[fix].is_fix
    assert result.buggy == 0, [c for c in result.commits if c.buggy]
    assert not by[feature].buggy
    assert result.ignored_lines >= 2  # the comment line and the test line


def test_a_rename_between_bug_and_fix_still_finds_the_author(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    repo.write("src/app.py", _BASE.replace("s = 0", "s = 1"))
    bug = repo.commit("start from one", date=_day(2))
    repo.rename("src/app.py", "src/core/sums.py")
    moved = repo.commit("move app into core", date=_day(3))
    repo.write("src/core/sums.py", _BASE)
    fix = repo.commit("fix the initial sum", date=_day(4))

    _, by = _labels(repo)
    assert by[bug].buggy and by[bug].fixed_by == (fix,)
    assert not by[moved].buggy and not by[root].buggy


def test_merges_are_skipped_and_blame_reaches_the_side_branch_commit(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/extra.py", "def half(x):\n    return x // 3\n")
    side = repo.commit("add half", date=_day(2))
    repo.git("checkout", "-q", "main")
    repo.write("README.md", "# app\n")
    main_work = repo.commit("docs", date=_day(3))
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'feature' (fixes nothing)", "feature", date=_day(4))
    merge = repo.head()
    repo.write("src/extra.py", "def half(x):\n    return x // 2\n")
    fix = repo.commit("bug: half divided by three", date=_day(5))

    result, by = _labels(repo)
    assert merge not in by  # neither a fix (despite its message) nor a candidate
    assert set(by) == {root, side, main_work, fix}
    assert by[side].buggy and by[side].fixed_by == (fix,)
    assert result.buggy == 1


def test_a_revert_labels_the_reverted_commit(tmp_path: Path) -> None:
    repo, _ = _start(tmp_path)
    repo.write("src/app.py", _BASE + "\nLIMIT = 10\n")
    bad = repo.commit("add a limit", date=_day(2))
    repo.write("src/other.py", "X = 1\n")
    other = repo.commit("other work", date=_day(3))
    repo.git("revert", "--no-edit", bad, date=_day(4))
    revert = repo.head()

    result, by = _labels(repo)
    assert by[bad].buggy and by[bad].fixed_by == (revert,)
    assert by[revert].is_fix and not by[other].buggy
    assert result.reverts == 1


def test_commits_after_the_bug_was_known_are_not_blamed(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    # Day 2: a first, partial fix names the issue: the bug is known from then on.
    repo.write("src/app.py", _BASE.replace("s += x", "s += int(x)"))
    partial = repo.commit("APP-7: fix crash on strings", date=_day(2))
    repo.write("src/app.py", _BASE.replace("s += x", "s += int(x)").replace("return s", "return s or 0"))
    later = repo.commit("APP-9: empty input returns zero", date=_day(3))
    repo.write("src/app.py", _BASE.replace("s += x", "s += float(x)").replace("s = 0", "s = 0.0"))
    fix = repo.commit("APP-7: fix crash on floats", date=_day(5))

    result, by = _labels(repo)
    assert by[partial].buggy and by[root].buggy  # written before day 2
    assert not by[later].buggy  # written on day 3, after APP-7 was known
    assert result.dropped_late == 1
    assert fix in by[root].fixed_by and fix in by[partial].fixed_by


def test_a_commit_authored_after_its_fix_is_not_blamed(tmp_path: Path) -> None:
    """Rebased histories can put a fix's author date before a line's: that line cannot have
    caused the bug the fix was written for."""
    repo, _ = _start(tmp_path)
    repo.write("src/app.py", _BASE.replace("s = 0", "s = 1"))
    newer = repo.commit("start from one", date=_day(9))
    repo.write("src/app.py", _BASE)
    fix = repo.commit("fix the initial sum", date=_day(5))
    result, by = _labels(repo)
    assert by[fix].is_fix and not by[newer].buggy and result.dropped_late == 1


def test_until_cuts_the_history_and_progress_counts_fixes(tmp_path: Path) -> None:
    repo, _ = _start(tmp_path)
    repo.write("src/app.py", _BASE.replace("s = 0", "s = 1"))
    bug = repo.commit("start from one", date=_day(2))
    repo.write("src/app.py", _BASE)
    fix = repo.commit("fix the initial sum", date=_day(20))
    seen: list[tuple[int, int]] = []
    result, by = _labels(repo, until="2024-01-10", progress=lambda done, total: seen.append((done, total)))
    assert fix not in by and not by[bug].buggy and seen == [(0, 0)]
    result, by = _labels(repo, progress=lambda done, total: seen.append((done, total)))
    assert by[bug].buggy and seen[-1] == (1, 1)
    result, by = _labels(repo, until=bug)  # a revision works too
    assert set(by) == {c.sha for c in result.commits} and fix not in by
    with pytest.raises(InputError, match="unknown revision"):
        label_history(GitRepo(repo.root), until="no-such-rev")
    with pytest.raises(InputError, match="not a regular expression"):
        label_history(GitRepo(repo.root), issue_pattern="(")


def test_fix_messages() -> None:
    assert parse_message("Fix NPE in session close").is_fix
    assert parse_message("bugfix: x").is_fix and parse_message("Regression in loader").is_fix
    assert parse_message("[HOTFIX] restore build").is_fix
    assert not parse_message("Add prefix option and debug logging").is_fix
    assert not parse_message("Add fixtures for the loader").is_fix
    # Merge scripts write "Closes #N" for every pull request: not a fix by itself.
    assert not parse_message("ZOOKEEPER-12: add metrics\n\nCloses #2254 from a/b").is_fix
    assert parse_message("ZOOKEEPER-12: add metrics\n\nCloses #2254").refs == ("ZOOKEEPER-12",)
    msg = parse_message("Handle empty input\n\nFixes #12")
    assert msg.is_fix and msg.refs == ("#12",)
    msg = parse_message("Handle empty input\n\nCloses-Bug: #1234567")
    assert msg.is_fix and msg.refs == ("lp#1234567",)
    # A body's PR template ("Bug Fix | Improvement") does not make a fix.
    assert not parse_message("Add shell\n\n### What type of PR is it?\nBug Fix | Improvement").is_fix
    # A configured issue pattern names bug keys: a match is a fix.
    assert parse_message("BUG-42 handle empty input", r"BUG-\d+").is_fix
    assert not parse_message("FEAT-42 handle empty input", r"BUG-\d+").is_fix
    assert not parse_message("FEAT-42 handle empty input").is_fix
    rev = parse_message('Revert "add a limit"\n\nThis reverts commit 0123456789abcdef.')
    assert rev.is_fix and rev.reverts_sha == "0123456789abcdef" and rev.reverts_subject == "add a limit"


def test_comment_lines_by_language() -> None:
    assert is_comment_line("a.py", "   # note")
    assert not is_comment_line("a.py", "x = 1  # note")
    assert is_comment_line("A.java", " * @param x")
    assert is_comment_line("A.java", "// TODO")
    assert not is_comment_line("a.c", "#include <stdio.h>")  # a directive, not a comment
    assert is_comment_line("a.sql", "-- why")
    assert is_comment_line("a.py", '"""One line docstring."""')
    assert is_comment_line("x.unknown", "   ")


def test_control_characters_in_a_message_do_not_break_the_walk(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    repo.write("src/app.py", _BASE.replace("s = 0", "s = 1"))
    bug = repo.commit("start from one\x1e\x1f (pasted from a terminal)", date=_day(2))
    repo.write("src/app.py", _BASE)
    fix = repo.commit("fix the initial sum\x1e", date=_day(3))

    result, by = _labels(repo)
    assert [c.sha for c in result.commits] == [root, bug, fix]
    assert by[bug].buggy and by[bug].fixed_by == (fix,)


class _Store(dict[str, bytes]):
    """A blame store in memory (the calibration passes a `KVStore` namespace)."""

    def put(self, key: str, value: bytes) -> None:
        self[key] = value


def _fixed_history(tmp_path: Path) -> tuple[ScratchRepo, str, str]:
    repo, _ = _start(tmp_path)
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / (len(items) - 1)\n")
    feature = repo.commit("add mean", date=_day(2))
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / len(items)\n")
    fix = repo.commit("Fix off-by-one in mean", date=_day(3))
    return repo, feature, fix


def test_blame_outcomes_are_cached_and_a_second_run_blames_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, feature, fix = _fixed_history(tmp_path)
    store = _Store()
    first, by = _labels(repo, cache=store)
    assert by[feature].fixed_by == (fix,) and len(store) == 1

    import triage.calibrate.szz as szz

    def no_blame(*args: object) -> object:
        raise AssertionError("blamed although the outcome was cached")

    monkeypatch.setattr(szz, "_blame_batch", no_blame)
    again, _ = _labels(repo, cache=store)
    assert again == first


def test_a_cache_entry_that_is_not_ours_is_blamed_again(tmp_path: Path) -> None:
    repo, feature, fix = _fixed_history(tmp_path)
    store = _Store()
    fresh, _ = _labels(repo, cache=store)
    (key,) = store
    store[key] = b'{"c": "not a mapping"}'
    result, by = _labels(repo, cache=store)
    assert result == fresh and by[feature].fixed_by == (fix,)
    assert store[key] != b'{"c": "not a mapping"}'  # rewritten with the real outcome


def test_the_cache_key_changes_with_the_fix_limit(tmp_path: Path) -> None:
    repo, _, _ = _fixed_history(tmp_path)
    store = _Store()
    _labels(repo, cache=store)
    _labels(repo, cache=store, max_fix_files=0)  # the fix is now too large: a different answer
    assert len(store) == 2
    result, _ = _labels(repo, cache=store, max_fix_files=0)
    assert result.skipped_fixes == 1 and result.buggy == 0


# Fix detection by bug-report titles and PR templates (branch szzq): ApacheJIT-style fixes name
# the symptom ("ZOOKEEPER-12. Deadlock in ...") rather than the action.


def test_symptom_words_in_the_subject_make_a_fix() -> None:
    assert parse_message("ZOOKEEPER-1839. Deadlock in NettyServerCnxn").is_fix
    assert parse_message("Potential NPE in ReferenceCountedACLCache#deserialize").is_fix
    assert parse_message("zkCli exits when an invalid ACL exception is thrown").is_fix
    assert parse_message("Watch event isn't handled correctly; server cannot rejoin").is_fix
    assert not parse_message("Support cancel job in the R interpreter").is_fix
    assert not parse_message("Upgrade Jetty to 9.4").is_fix
    # Only the subject speaks: a body's stack trace or quoted history does not make a fix.
    assert not parse_message("Add metrics endpoint\n\nThis avoids an exception seen before").is_fix


def test_a_pr_templates_declared_type_decides_over_the_words() -> None:
    heading = "### What type of PR is it?\n"
    assert parse_message(f"ZEPPELIN-9 Shell output order\n\n{heading}Bug Fix\n").is_fix
    assert parse_message(f"ZEPPELIN-9 Shell output order\n\n{heading}[Hot Fix]\n").is_fix
    assert not parse_message(f"Avoid error messages on startup\n\n{heading}[Improvement]\n").is_fix
    assert not parse_message(f"Handle missing docs\n\n{heading}Documentation\n").is_fix
    # The template left unedited lists every type: no answer, the subject decides.
    assert parse_message(f"Crash on empty note\n\n{heading}Bug Fix | Improvement | Feature\n").is_fix
    boxes = "## Types of changes\n- [ ] Bug fix (non-breaking change which fixes an issue)\n"
    assert not parse_message(f"Handle empty input\n\n{boxes}- [x] New feature (adds a thing)\n").is_fix
    boxes = "- [x] Bug fix (non-breaking change which fixes an issue)\n- [ ] Breaking change (fix or feature)\n"
    assert parse_message(f"Handle empty input\n\n{boxes}").is_fix
    assert not parse_message("Handle empty input\n\n- [x] Breaking change (fix or feature)\n").is_fix


def test_with_an_issue_pattern_a_fix_must_name_an_issue() -> None:
    pattern = r"ZOOKEEPER-\d+"
    assert parse_message("ZOOKEEPER-12: Deadlock in leader election", pattern).is_fix
    assert not parse_message("ZOOKEEPER-12: Add metrics for the leader", pattern).is_fix
    assert not parse_message("Fix typo in the log message", pattern).is_fix  # no issue: not tracked
    assert parse_message('Revert "ZOOKEEPER-12: Add metrics"', pattern).is_fix  # reverts always count
    assert parse_message("Fix typo in the log message").is_fix  # without a pattern, the words decide


def test_key_only_bug_titles_label_the_inducing_commit_on_a_history(tmp_path: Path) -> None:
    repo, root = _start(tmp_path)
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / (len(items) - 1)\n")
    feature = repo.commit("PROJ-1. Add mean", date=_day(2))
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / (len(items) + 1)\n")
    improvement = repo.commit(
        "PROJ-2. Mean divides by count plus one\n\n### What type of PR is it?\n[Improvement]\n", date=_day(3)
    )
    repo.write("src/app.py", _BASE + "\n\ndef mean(items):\n    return total(items) / len(items)\n")
    fix = repo.commit("PROJ-3. Wrong mean for short lists", date=_day(4))

    for pattern in (None, r"PROJ-\d+"):
        result, by = _labels(repo, issue_pattern=pattern)
        assert by[fix].is_fix and not by[improvement].is_fix and not by[feature].is_fix
        # The declared improvement blames nothing; the symptom-titled fix blames the line it
        # changed, which the improvement wrote.
        assert by[improvement].buggy and by[improvement].fixed_by == (fix,)
        assert not by[feature].buggy and not by[root].buggy and result.fixes == 1


def _feature_and_fix_pairs(repo: ScratchRepo, n: int, day: int) -> list[str]:
    """`n` features, each in its own module, each later fixed once: one link per fix."""
    features = []
    for k in range(n):
        repo.write(f"src/mod{k}.py", f"def f{k}(x):\n    return x + {k}\n")
        features.append(repo.commit(f"add f{k}", date=_day(day)))
    for k in range(n):
        repo.write(f"src/mod{k}.py", f"def f{k}(x):\n    return x - {k}\n")
        repo.commit(f"Fix sign in f{k}", date=_day(day + 1))
    return features


def test_a_fix_blaming_unusually_many_commits_is_dropped(tmp_path: Path) -> None:
    repo, _ = _start(tmp_path)
    features = _feature_and_fix_pairs(repo, 10, 2)
    tangled_parts = []
    for k in range(6):
        repo.write(f"src/big{k}.py", f"LIMIT_{k} = {k}\n")
        tangled_parts.append(repo.commit(f"add limit {k}", date=_day(5)))
    for k in range(6):
        repo.write(f"src/big{k}.py", f"LIMIT_{k} = {k + 10}\n")
    tangled = repo.commit("Fix limits everywhere", date=_day(6))

    result, by = _labels(repo, drop_outliers=True)
    assert all(by[f].buggy for f in features)
    assert by[tangled].is_fix and not any(by[p].buggy for p in tangled_parts)
    assert result.outlier_fixes == 1 and result.outlier_candidates == 0
    result, by = _labels(repo)  # off by default
    assert all(by[p].buggy for p in tangled_parts) and result.outlier_fixes == 0


def test_a_commit_blamed_by_unusually_many_fixes_is_not_labelled(tmp_path: Path) -> None:
    repo, _ = _start(tmp_path)
    features = _feature_and_fix_pairs(repo, 10, 2)
    repo.write("src/core.py", "".join(f"V{k} = {k}\n" for k in range(12)))
    core = repo.commit("import core", date=_day(5))
    for k in range(12):
        repo.write("src/core.py", "".join(f"V{j} = {j + 100 if j <= k else j}\n" for j in range(12)))
        repo.commit(f"Fix V{k}", date=_day(6 + k))

    result, by = _labels(repo, drop_outliers=True)
    assert all(by[f].buggy for f in features) and not by[core].buggy
    assert result.outlier_candidates == 1 and result.outlier_fixes == 0
    assert _labels(repo)[1][core].buggy

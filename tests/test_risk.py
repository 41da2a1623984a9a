"""The risk model: direction of every weighted effect, unweighted terms still explained, the
explanation adds up, bounds hold."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.config import Config
from triage.metrics import empty_metrics, measure
from triage.metrics.risk import (
    HIGH_THRESHOLD,
    LOW_THRESHOLD,
    assess_risk,
    is_fix,
    is_sensitive_path,
    level_for,
    sigmoid,
)
from triage.models import (
    ChangeType,
    FileDiff,
    FileHistory,
    FileKind,
    FunctionChange,
    History,
    Metrics,
    ParsedDiff,
    PullRequest,
    RiskLevel,
)

CFG = Config()


def fd(path: str, kind: FileKind, added: int, deleted: int = 0) -> FileDiff:
    return FileDiff(path, path, ChangeType.MODIFIED, kind, None, added, deleted)


def score(files: tuple[FileDiff, ...], title: str = "Add feature", **metric_changes: object) -> float:
    pr = PullRequest(id="1", title=title)
    diff = ParsedDiff(files=files)
    metrics = measure(pr, diff, CFG)
    if metric_changes:
        metrics = replace(metrics, **metric_changes)
    return assess_risk(pr, diff, metrics).score


def test_monotonic_in_size_all_else_equal() -> None:
    scores = [score((fd("src/a.py", FileKind.SOURCE, n, n // 4),)) for n in (1, 5, 20, 80, 300, 1200, 5000)]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


def test_deleted_lines_raise_risk_at_equal_lines_added() -> None:
    """Measured on three projects: lines deleted add ranking signal beyond lines added (a
    rewrite is riskier than an addition of the same size)."""
    assert score((fd("src/a.py", FileKind.SOURCE, 80, 60),)) > score((fd("src/a.py", FileKind.SOURCE, 80, 0),))


def test_a_large_rewrite_of_busy_files_ranks_above_a_small_change_to_quiet_ones() -> None:
    """The ranking the default is for, with every weighted term pointing the same way: more
    lines added and deleted, more complexity, files changed often before."""
    small = (fd("src/a.py", FileKind.SOURCE, 5, 1),)
    large = (fd("src/a.py", FileKind.SOURCE, 200, 90), fd("src/b.py", FileKind.SOURCE, 40, 10))
    fn = FunctionChange("src/a.py", "f", "python", 1, 2, 9, 1, 13, estimated=False)
    quiet = History(files=(FileHistory("src/a.py", 300.0, 1, 1),), author_changes=400, author_subsystem_changes=90)
    busy = History(
        files=(FileHistory("src/a.py", 3.0, 60, 5), FileHistory("src/b.py", 9.0, 30, 4)),
        author_changes=0,
        author_subsystem_changes=0,
    )
    low = score(small, history=quiet)
    high = score(large, functions=(fn,), complexity_delta=15, history=busy)
    assert high > low
    assert level_for(low) is RiskLevel.LOW and level_for(high) is not RiskLevel.LOW


def test_message_wording_does_not_move_the_score() -> None:
    """ "fix" in a title had no ranking signal on the development data, and a title is untrusted
    text: calling a change a fix (or not) must not move its risk. The flag is still reported."""
    files = (fd("src/a.py", FileKind.SOURCE, 40, 10),)
    assert score(files, "Fix crash when the cache is empty") == score(files, "Add cache statistics")
    pr = PullRequest(id="1", title="Fix crash")
    diff = ParsedDiff(files=files)
    fix = next(f for f in assess_risk(pr, diff, measure(pr, diff, CFG)).factors if f.name == "fix")
    assert (fix.value, fix.contribution) == (1.0, 0.0)
    assert "not weighted" in fix.detail


def test_diffusion_raises_risk_at_equal_size() -> None:
    one = score((fd("src/a.py", FileKind.SOURCE, 120, 30),))
    spread = score(
        (
            fd("src/a.py", FileKind.SOURCE, 40, 10),
            fd("api/b.py", FileKind.SOURCE, 40, 10),
            fd("web/c.py", FileKind.SOURCE, 40, 10),
        )
    )
    assert spread > one


def test_generated_and_lockfile_only_changes_are_low() -> None:
    lock = score((fd("package-lock.json", FileKind.LOCKFILE, 4000, 3500),))
    generated = score((fd("api/gen/stubs_pb2.py", FileKind.GENERATED, 9000, 8000),))
    for s in (lock, generated):
        assert level_for(s) is RiskLevel.LOW, s
        assert s < score((fd("src/a.py", FileKind.SOURCE, 1),))


def test_test_and_docs_lines_count_as_lines_added() -> None:
    """Measured: down-weighting test and docs lines lowered the AUC, so a change that adds tests
    is a bigger change, and a tests-only or docs-only change scores as a source change of the
    same size."""
    src = fd("src/a.py", FileKind.SOURCE, 60, 10)
    assert score((src, fd("tests/test_a.py", FileKind.TEST, 80, 0))) > score((src,))
    source_only = score((fd("src/a.py", FileKind.SOURCE, 300, 20),))
    tests_only = score((fd("tests/test_a.py", FileKind.TEST, 300, 20),))
    docs_only = score((fd("docs/a.md", FileKind.DOCS, 300, 20),))
    assert tests_only == docs_only == pytest.approx(source_only)
    assert docs_only > score((fd("docs/a.md", FileKind.DOCS, 30, 2),))


def test_sensitive_paths_raise_risk() -> None:
    plain = score((fd("src/render.py", FileKind.SOURCE, 30),))
    auth = score((fd("src/auth/session.py", FileKind.SOURCE, 30),))
    assert auth > plain
    assert is_sensitive_path("db/migrations/0042_add_index.sql")
    assert is_sensitive_path(".github/workflows/ci.yml")
    assert not is_sensitive_path("docs/authors.md")


def test_complexity_and_change_history_raise_risk() -> None:
    files = (fd("src/a.py", FileKind.SOURCE, 50, 10),)
    fn = FunctionChange("src/a.py", "f", "python", 1, 2, 9, 1, 13, estimated=False)
    assert score(files, functions=(fn,), complexity_delta=12) > score(files, functions=(fn,), complexity_delta=0)
    quiet = History(files=(FileHistory("src/a.py", 3.0, 2, 1),), author_changes=5, author_subsystem_changes=1)
    busy = replace(quiet, files=(FileHistory("src/a.py", 3.0, 200, 1),))
    assert score(files, history=busy) > score(files, history=quiet)


def test_unweighted_terms_are_reported_but_do_not_move_the_score() -> None:
    """Terms whose effect disagreed between the development projects (experience: its sign
    flipped when one project was held out; developers, file age, relative churn) stay in the
    explanation with their raw values, for a calibrated model to weigh, without changing the
    default score."""
    files = (fd("src/a.py", FileKind.SOURCE, 50, 10),)
    newcomer = History(files=(FileHistory("src/a.py", 3.0, 40, 9),), author_changes=0, author_subsystem_changes=0)
    veteran = replace(
        newcomer, files=(FileHistory("src/a.py", 3000.0, 40, 30),), author_changes=500, author_subsystem_changes=200
    )
    assert score(files, history=newcomer) == score(files, history=veteran)
    assert score(files, lines_before=60) == score(files, lines_before=6000)
    pr = PullRequest(id="1", title="x")
    diff = ParsedDiff(files=files)
    metrics = replace(measure(pr, diff, CFG), history=veteran)
    factors = {f.name: f for f in assess_risk(pr, diff, metrics).factors}
    assert factors["author-experience"].value == 500 and factors["author-experience"].contribution == 0.0
    assert factors["developers"].value == 30


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("Fix crash on empty input", True),
        ("fix(parser): handle CRLF", True),
        ("Bugfix for #12", True),
        ("Resolve regression in 2.3", True),
        ("[PATCH v2 3/7] net: add tunable", False),  # format-patch tag is not a fix
        ("Add prefix option", False),
        ("Move test fixtures", False),
        ("Improve debug output", False),
    ],
)
def test_fix_detection(text: str, fix: bool) -> None:
    assert is_fix([text]) is fix


def test_commit_messages_set_the_fix_flag() -> None:
    pr = PullRequest(id="1", title="Update parser", commit_messages=("Parser: fix off-by-one",))
    diff = ParsedDiff(files=(fd("src/p.py", FileKind.SOURCE, 10),))
    factors = {f.name: f for f in assess_risk(pr, diff, measure(pr, diff, CFG)).factors}
    assert factors["fix"].value == 1.0


def test_factors_add_up_to_the_logit() -> None:
    pr = PullRequest(id="1", title="Fix crash")
    diff = ParsedDiff(files=(fd("src/auth/a.py", FileKind.SOURCE, 120, 40), fd("lib/b.py", FileKind.SOURCE, 20, 3)))
    risk = assess_risk(pr, diff, measure(pr, diff, CFG))
    logit = sum(f.contribution for f in risk.factors)
    assert risk.score == pytest.approx(sigmoid(logit), abs=1e-12)
    assert {f.name for f in risk.factors} >= {
        "intercept",
        "lines-added",
        "fix",
        "entropy",
        "files",
        "no-tests",
    }
    assert all(f.detail for f in risk.factors)


def test_unparseable_pr_scores_zero_with_a_reason() -> None:
    risk = assess_risk(PullRequest(id="1", title="x"), ParsedDiff(errors=("not a diff",)), empty_metrics())
    assert (risk.score, risk.level) == (0.0, RiskLevel.LOW)
    assert [f.name for f in risk.factors] == ["no-data"]


def test_levels_follow_the_thresholds() -> None:
    assert level_for(LOW_THRESHOLD - 1e-9) is RiskLevel.LOW
    assert level_for(LOW_THRESHOLD) is RiskLevel.MEDIUM
    assert level_for(HIGH_THRESHOLD) is RiskLevel.HIGH


def test_deterministic() -> None:
    files = (fd("src/a.py", FileKind.SOURCE, 33, 7), fd("src/b.py", FileKind.SOURCE, 3, 1))
    assert score(files, "Fix it") == score(files, "Fix it")


sizes = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=200, deadline=None)
@given(
    added=sizes,
    deleted=sizes,
    files=st.integers(min_value=1, max_value=5000),
    areas=st.integers(min_value=1, max_value=300),
    entropy=st.floats(min_value=0.0, max_value=1.0),
    delta=st.integers(min_value=-(10**6), max_value=10**6),
    before=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
    exp=st.integers(min_value=0, max_value=10**7),
    age=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1e6)),
    fix=st.booleans(),
)
def test_score_stays_in_bounds_for_extreme_inputs(
    added: int,
    deleted: int,
    files: int,
    areas: int,
    entropy: float,
    delta: int,
    before: int | None,
    exp: int,
    age: float | None,
    fix: bool,
) -> None:
    metrics = Metrics(
        lines_added=added,
        lines_deleted=deleted,
        files=files,
        directories=files,
        subsystems=tuple(f"a{i}" for i in range(areas)),
        entropy=entropy,
        size_bucket=empty_metrics().size_bucket,
        excluded_lines=0,
        source_lines=added + deleted,
        test_lines=0,
        docs_lines=0,
        complexity_delta=delta,
        lines_before=before,
        history=History(files=(FileHistory("a", age, 10**6, 10**4),), author_changes=exp, author_subsystem_changes=exp),
    )
    diff = ParsedDiff(files=(fd("src/a.py", FileKind.SOURCE, added, deleted),))
    risk = assess_risk(PullRequest(id="1", title="fix" if fix else "feat"), diff, metrics)
    assert 0.0 <= risk.score <= 1.0
    assert not math.isnan(risk.score)
    assert risk.level is level_for(risk.score)
    assert risk.score == pytest.approx(sigmoid(sum(f.contribution for f in risk.factors)), abs=1e-9)

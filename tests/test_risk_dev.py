"""bench.risk_dev: the opt-in scenario says what to set when the data is absent; the ablation
and the sample behave as documented."""

from __future__ import annotations

import pytest

from bench import risk_dev
from triage.calibrate.evaluate import ScoredCommit


def test_scenario_is_skipped_with_a_note_without_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_BENCH_APACHEJIT", raising=False)
    monkeypatch.delenv("TRIAGE_BENCH_REPOS", raising=False)
    result = risk_dev.scenario()
    assert "TRIAGE_BENCH_APACHEJIT" in result["skipped"] and "TRIAGE_BENCH_REPOS" in result["skipped"]


def test_sample_is_seeded_and_keeps_the_order() -> None:
    labels = [(f"c{i}", i % 3 == 0) for i in range(100)]
    picked = risk_dev.sample(labels, 10)
    assert picked == risk_dev.sample(labels, 10)
    assert len(picked) == 10 and picked == sorted(picked, key=labels.index)
    assert risk_dev.sample(labels, None) == labels


def _commit(buggy: bool, size: float, noise: float) -> ScoredCommit:
    factors = (("intercept", 1.0, -3.0), ("lines-added", size, size), ("noise", noise, noise))
    return ScoredCommit("x", buggy, 0.0, 0.0, int(size), 0, factors)


def test_ablation_reports_the_auc_change_of_each_dropped_term() -> None:
    # size ranks perfectly; "noise" is large and anti-correlated, so it hurts: dropping it helps.
    scored = [_commit(True, 5.0, 0.0), _commit(True, 4.0, 1.0), _commit(False, 1.0, 9.0), _commit(False, 2.0, 8.0)]
    change = risk_dev.ablation(scored)
    assert set(change) == {"lines-added", "noise"}
    assert change["noise"] is not None and change["noise"] > 0
    assert change["lines-added"] is not None and change["lines-added"] <= 0


def test_single_term_auc_ranks_by_each_raw_value() -> None:
    scored = [_commit(True, 5.0, 0.0), _commit(True, 4.0, 1.0), _commit(False, 1.0, 9.0), _commit(False, 2.0, 8.0)]
    single = risk_dev.single_term_auc(scored)
    assert single == {"lines-added": 1.0, "noise": 0.0}

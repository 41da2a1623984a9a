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


def _dump_rows(name: str, n: int, seed: int) -> list[dict]:  # type: ignore[type-arg]
    """Dumped rows of one links set: lines added drives the label, entropy is noise."""
    import math
    import random

    from triage.metrics.risk import WEIGHTS

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        la = rng.randrange(1, 500)
        buggy = rng.random() < 1 / (1 + math.exp(-(math.log1p(la) - 3.5)))
        factors = {t: [0.0, 0.0] for t in WEIGHTS} | {
            "intercept": [1.0, -3.05],
            "lines-added": [float(la), 0.5 * math.log1p(la)],
            "entropy": [rng.random(), 0.0],
        }
        rows.append({"set": name, "sha": f"{name}{i}", "buggy": buggy, "la": la, "ld": 0, "factors": factors})
    return rows


def test_weights_report_fits_the_terms_per_project_and_pooled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    rows = _dump_rows("zeppelin_links", 300, 1) + _dump_rows("zookeeper_links", 300, 2)
    rows += _dump_rows("zeppelin_small", 20, 3)  # the test sets are not fitted
    dump = tmp_path / "d.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = risk_dev.weights_report(risk_dev.read_dump(dump), exclude={"zookeeper_links0", "zookeeper_links1"})
    assert report["sets"]["zeppelin_links"]["commits"] == 300
    assert report["sets"]["zookeeper_links"]["commits"] == 298
    la, ent = report["terms"]["lines-added"], report["terms"]["entropy"]
    assert la["weight"] == 0.5 and la["pooled_coef"] > 0.5
    assert all(v > 0.5 for v in la["coef"].values())
    assert abs(ent["pooled_coef"]) < la["pooled_coef"]
    assert la["auc_change_when_dropped"]["zeppelin_links"] < 0  # dropping size hurts
    assert all(abs(v) < 0.05 for v in ent["auc_gain_beyond_lines_added"].values())  # noise adds nothing
    lines = risk_dev.weights_lines(report)
    assert lines[1].startswith("| term | weight | pooled coef |")
    assert any(x.startswith("| lines-added | +0.50 |") for x in lines)


def test_the_acceptance_protocol_cuts_the_day_before_the_test_period_and_skips_without_data() -> None:
    from bench import calibration

    text = (
        "commit_id,project,buggy,author_date\n"
        "a,apache/zeppelin,True,1481552052\nb,apache/zeppelin,False,1577000000\nc,apache/kudu,True,1\n"
    )
    assert calibration.jit_cut(text, "zeppelin") == "2016-12-11"  # first test commit 2016-12-12T14:14Z
    assert "TRIAGE_BENCH_APACHEJIT" in calibration.jit_scenario(None, None)["skipped"]


def test_the_acceptance_protocol_skips_each_project_without_a_clone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench import calibration

    apachejit, repos = tmp_path / "apachejit", tmp_path / "repos"
    (apachejit / "dataset").mkdir(parents=True)
    (apachejit / "dataset" / "apachejit_test_small.csv").write_text(
        "commit_id,project,buggy,author_date\na,apache/groovy,True,1481552052\n"
    )
    repos.mkdir()
    result = calibration.jit_scenario(repos, apachejit)
    assert set(result) == {"zookeeper", "zeppelin", "groovy"}
    assert all("no clone named" in r["skipped"] for r in result.values())


def test_the_fit_scenario_fits_synthetic_rows_with_forward_folds() -> None:
    from bench import calibration

    result = calibration.fit_scenario(400)
    assert result["commits"] == 400 and result["folds"] == 3 and result["settings_tried"] == 4
    assert result["validation_auc"] > 0.5 and result["target_seconds"] == 60

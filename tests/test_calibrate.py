"""`triage calibrate`'s mining and fitting, and scoring with the model file it writes.

The histories are real git repositories built in a temp dir with a planted pattern whose right
answer is known: every commit that adds a call to `unsafe_call` is fix-inducing, whatever its
size, so a model that reads the change's content must learn that token and beat lines added.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import jsonschema
import pytest
from gitutil import ScratchRepo
from rich.console import Console

from triage.calibrate.features import HistoryIndex, mine, read_log
from triage.calibrate.fit import ModelRejected, fit
from triage.cli import main
from triage.config import Config
from triage.errors import ConfigError
from triage.gitrepo import GitRepo
from triage.metrics.history import HistoryCache, file_history
from triage.metrics.risk_model import describe, load_model, model_from_dict
from triage.report import load_schema
from triage.report.text import md as md_escape
from triage.sources.git import read_range

CFG = Config(llm_mode="off")


def _body(rng: random.Random, n: int, name: str, unsafe: bool) -> str:
    lines = [f"def {name}(value):", "    total = 0"]
    for i in range(n):
        lines.append(f"    total += helper_{rng.randrange(20)}(value, {i})")
    if unsafe:
        lines.append("    unsafe_call(value)")
    lines.append("    return total")
    return "\n".join(lines) + "\n\n"


def _planted(root: Path, commits: int = 70, seed: int = 7) -> tuple[GitRepo, dict[str, bool]]:
    """A linear history: each commit appends a function of random size to one of four modules
    (two authors); about a third of them also call `unsafe_call`: those are the buggy ones."""
    rng = random.Random(seed)
    repo = ScratchRepo.create(root)
    files = {f"src/mod{k}.py": "" for k in range(4)}
    for path in files:
        repo.write(path, "")
    repo.commit("initial layout")
    labels: dict[str, bool] = {}
    for i in range(commits):
        path = rng.choice(sorted(files))
        unsafe = rng.random() < 0.35
        files[path] += _body(rng, rng.randrange(1, 30), f"feature_{i}", unsafe)
        repo.write(path, files[path])
        if rng.random() < 0.3:
            repo.write(f"docs/note{i}.md", f"note {i}\n")
        author = ("Ann Author", "ann@example.com") if i % 3 else ("Bob Builder", "bob@example.com")
        repo.git("config", "user.name", author[0])
        repo.git("config", "user.email", author[1])
        repo.git("add", "-A")
        repo.git(
            "-c", f"user.name={author[0]}", "-c", f"user.email={author[1]}", "commit", "-q", "-m", f"add feature {i}"
        )
        labels[repo.head()] = unsafe
    return GitRepo(repo.root), labels


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, dict[str, bool]]:
    return _planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def mined(planted: tuple[GitRepo, dict[str, bool]]) -> list:  # type: ignore[type-arg]
    repo, _ = planted
    return mine(repo, read_log(repo, "HEAD"), None, CFG, workers=1)


def test_history_index_matches_file_history_on_a_linear_history(planted: tuple[GitRepo, dict[str, bool]]) -> None:
    """The one-pass index gives what `triage run --repo` computes from the parent's own log."""
    repo, _ = planted
    log = read_log(repo, "HEAD")
    index = HistoryIndex(log)
    cache = HistoryCache()
    from triage.diff import parse_diff

    for position in (5, 30, len(log) - 1):
        sha = log[position].commit.sha
        (pr,) = read_range(repo, f"{sha}^..{sha}")
        diff = parse_diff(pr.diff)
        counted = tuple(f for f in diff.files if f.kind.counts) or diff.files
        subsystems = sorted({f.path.partition("/")[0] if "/" in f.path else "." for f in counted})
        expected = file_history(pr, counted, subsystems, cache.log(repo, f"{sha}^"))
        assert index.history(position, pr, counted, subsystems) == expected
        assert expected.author_changes > 0  # the comparison is not between two empty histories


def test_mining_in_two_workers_gives_the_same_rows(planted: tuple[GitRepo, dict[str, bool]], mined: list) -> None:  # type: ignore[type-arg]
    repo, _ = planted
    parallel = mine(repo, read_log(repo, "HEAD"), None, CFG, workers=2)
    assert parallel == mined
    assert len(mined) == 70 and not [r for r in mined if r.error]  # the root commit is not a row
    seen: list[tuple[int, int]] = []
    mine(repo, read_log(repo, "HEAD"), None, CFG, workers=1, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (70, 70)


def test_tokens_of_added_lines_and_message_are_mined(planted: tuple[GitRepo, dict[str, bool]], mined: list) -> None:  # type: ignore[type-arg]
    _, labels = planted
    for row in mined:
        tokens = dict(row.tokens)
        assert ("+unsafe_call" in tokens) == labels[row.sha]
        assert tokens.get("m:feature") == 1


def test_fit_learns_the_planted_token_and_beats_lines_added(
    planted: tuple[GitRepo, dict[str, bool]],
    mined: list,  # type: ignore[type-arg]
) -> None:
    _, labels = planted
    result = fit(mined, labels, repo_name="planted", rev="abc", min_df=2, prior=False)
    assert result.validation_auc is not None and result.lines_added_auc is not None
    assert result.validation_auc > 0.9 > result.lines_added_auc
    assert result.beats_lines_added
    coef = result.model.token_coef
    assert coef["+unsafe_call"] == max(coef.values()) > 0
    assert result.train_commits + result.validation_commits == 70
    # The validation slice is the newest commits, after every training commit.
    assert result.model.validation.first >= result.model.training.first


def test_model_file_round_trip_and_pure_python_score_match_the_fit(
    planted: tuple[GitRepo, dict[str, bool]],
    mined: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    repo, labels = planted
    result = fit(mined, labels, repo_name="planted", rev="a" * 40, min_df=2)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(result.model.to_dict()))
    loaded = load_model(path)
    assert loaded.token_coef == result.model.token_coef
    assert loaded.numeric == result.model.numeric and loaded.intercept == result.model.intercept
    assert describe(loaded) == (
        f"calibrated on planted at aaaaaaaaaaaa, 70 commits, validation AUC {result.model.validation.auc:.3f} "
        f"vs lines added {result.model.validation.lines_added_auc:.3f}"
    )
    # Scoring the newest commit through the pipeline with the loaded model ranks an unsafe
    # change above a safe one of the same shape.
    from triage.pipeline import RunContext, assess_all

    head = repo.rev_parse("HEAD")
    (pr,) = read_range(repo, f"{head}^..{head}")
    ctx = RunContext(now=pr.created_at, repo=repo, risk_model=loaded)  # type: ignore[arg-type]
    (a,) = assess_all([pr], CFG, ctx)
    names = [f.name for f in a.risk.factors]
    assert names[0] == "intercept" and "tokens" in names and "lines-added" in names
    model_factors = [f for f in a.risk.factors if not f.name.startswith("review:")]  # flags add on top
    logit = sum(f.contribution for f in model_factors)
    assert a.risk.score >= 1 / (1 + math.exp(-logit)) - 1e-6
    tokens = next(f for f in a.risk.factors if f.name == "tokens")
    assert ("+unsafe_call" in tokens.detail) == labels[head]


def test_refuses_when_lines_added_already_ranks_perfectly(mined: list) -> None:  # type: ignore[type-arg]
    """Labels that are exactly "the biggest commits": nothing can beat lines added."""
    ranked = sorted(mined, key=lambda r: r.lines_added)
    labels = {r.sha: i >= len(ranked) * 2 // 3 for i, r in enumerate(ranked)}
    result = fit(mined, labels, repo_name="planted", rev="abc", min_df=2)
    assert result.lines_added_auc == 1.0
    assert not result.beats_lines_added


def test_too_few_commits_is_a_clear_refusal(mined: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(ModelRejected, match="at least 30 are needed"):
        fit(mined[:10], {r.sha: True for r in mined}, repo_name="x", rev="y")


# ---------------------------------------------------------------------------------------------
# the loader: a model file may come from an untrusted branch


def _valid() -> dict:  # type: ignore[type-arg]
    return {
        "format": "pr-triage-risk-model",
        "version": 1,
        "intercept": -1.0,
        "numeric": [{"name": "lines-added", "transform": "log1p", "mean": 2.0, "scale": 1.0, "coef": 0.5}],
        "tokens": {"vocabulary": ["+unsafe_call", "m:fix"], "coef": [1.5, 0.25]},
        "training": {"repo": "acme/widgets", "rev": "0123456789abcdef", "commits": 100, "buggy": 30},
        "validation": {"commits": 20, "buggy": 6, "auc": 0.81, "lines_added_auc": 0.7},
    }


def test_a_minimal_model_file_loads(tmp_path: Path) -> None:
    model = model_from_dict(_valid())
    assert model.token_coef == {"+unsafe_call": 1.5, "m:fix": 0.25}
    assert describe(model).startswith("calibrated on acme/widgets at 0123456789ab, 100 commits")
    assert describe(None) == "default weights"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="pickle"), "format"),
        (lambda d: d.update(version=3), "version"),
        (lambda d: d["tokens"].update(value="binary"), "version 1 files"),
        (lambda d: d["tokens"].update(value="tfidf"), "value"),
        (lambda d: d.update(intercept=1e9), "intercept"),
        (lambda d: d.update(intercept="1.0"), "intercept"),
        (lambda d: d["tokens"]["coef"].append(1.0), "2 tokens but 3 coefficients"),
        (lambda d: d["tokens"].update(vocabulary=["+a b", "m:fix"]), "is not +name"),
        (lambda d: d["numeric"][0].update(name="rm -rf"), "unknown feature"),
        (lambda d: d["numeric"][0].update(scale=0.0), "scale"),
        (lambda d: d["numeric"][0].update(transform="identity"), "must use transform 'log1p'"),
        (lambda d: d["training"].update(repo="evil\x1b[2J"), "printable"),
        (lambda d: d.update(code="__import__('os')"), "code"),
        (lambda d: d["validation"].update(auc=1.5), "auc"),
    ],
)
def test_loader_rejects_bad_model_files_in_one_line(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _valid()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_model(path)
    text = info.value.format_message()
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"intercept": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "not a valid risk model"),
    ],
)
def test_loader_rejects_what_is_not_a_json_model(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_model(path)


def test_loader_refuses_an_oversized_file_and_a_directory(tmp_path: Path) -> None:
    from triage.metrics import risk_model

    big = tmp_path / "big.json"
    big.write_bytes(b" " * (risk_model.MAX_MODEL_BYTES + 1))
    with pytest.raises(ConfigError, match="limit"):
        load_model(big)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_model(tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_model(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------
# every report says which model scored the queue

PATCH = """diff --git a/lib/calc.py b/lib/calc.py
index 1111111..2222222 100644
--- a/lib/calc.py
+++ b/lib/calc.py
@@ -1,2 +1,3 @@
 def add(a, b):
-    return a + b
+    unsafe_call(a)
+    return a + b
"""


def _run(argv: list[str]) -> tuple[int, str]:
    console = Console(record=True, width=160, force_terminal=False)
    code = main(argv, environ={}, console=console)
    return code, console.export_text()


def _reports(out: Path) -> tuple[dict, str, str]:  # type: ignore[type-arg]
    doc = json.loads((out / "queue.json").read_text())
    jsonschema.validate(doc, load_schema())
    return doc, (out / "queue.md").read_text(), (out / "queue.html").read_text()


def test_reports_say_default_weights_without_a_model(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.diff").write_text(PATCH)
    code, text = _run(["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0
    doc, md, html = _reports(tmp_path / "out")
    assert doc["risk_model"] == {"description": "default weights", "sha256": None}
    assert "**Risk model:** default weights" in md
    assert "risk model: default weights" in html and "risk model: default weights" in text


def test_reports_name_the_calibrated_model_and_its_factors(tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    model.write_text(json.dumps(_valid()))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.diff").write_text(PATCH)
    out = tmp_path / "out"
    code, text = _run(["run", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--model", str(model)])
    assert code == 0
    doc, md, html = _reports(out)
    line = "calibrated on acme/widgets at 0123456789ab, 100 commits, validation AUC 0.810 vs lines added 0.700"
    assert doc["risk_model"]["description"] == line and len(doc["risk_model"]["sha256"]) == 64
    assert md_escape(line) in md and line in html and line in text
    (item,) = doc["items"]
    factors = {f["name"]: f for f in item["risk"]["factors"]}
    assert factors["tokens"]["contribution"] == pytest.approx(1.5 * math.log(2), abs=1e-3)
    assert "+unsafe_call +1.04" in factors["tokens"]["detail"]
    assert factors["lines-added"]["contribution"] == pytest.approx(0.5 * (math.log1p(2) - 2.0), abs=1e-3)


def test_model_from_the_config_file_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "model.json").write_text(json.dumps(_valid()))
    (tmp_path / "cfg" / "triage.toml").write_text('[risk]\nmodel = "model.json"\n')
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.diff").write_text(PATCH)
    argv = ["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"]
    code, _ = _run([*argv, "--config", str(tmp_path / "cfg" / "triage.toml")])
    assert code == 0
    doc, _, _ = _reports(tmp_path / "out")
    assert doc["risk_model"]["description"].startswith("calibrated on acme/widgets")


def test_a_bad_model_file_is_a_one_line_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.json"
    model.write_text('{"format": "pr-triage-risk-model", "version": 1, "intercept": NaN}')
    (tmp_path / "a.diff").write_text(PATCH)
    code, _ = _run(["run", str(tmp_path / "a.diff"), "--out", str(tmp_path / "out"), "--model", str(model)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("triage: error: ") and str(model) in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_the_mining_walk_keeps_a_commit_whose_message_holds_the_record_separator(tmp_path: Path) -> None:
    """A pasted terminal line can put 0x1e (the walk's record separator) in a message: the
    commit must still be read whole, with its files, and the next one too."""
    scratch = ScratchRepo.create(tmp_path)
    scratch.write("a.py", "x = 1\n")
    first = scratch.commit("first\x1e with a separator\x1f and a unit separator")
    scratch.write("b.py", "y = 2\n")
    second = scratch.commit("second")
    log = read_log(GitRepo(scratch.root), "HEAD")
    assert [(c.commit.sha, c.files) for c in log] == [(first, ("a.py",)), (second, ("b.py",))]
    assert log[0].commit.subject.startswith("first\x1e with a separator")


# ---------------------------------------------------------------------------------------------
# forward-chaining folds and the time covariate (calgain)


def _drifting_rows(n: int = 600, seed: int = 5) -> tuple[list, dict[str, bool]]:  # type: ignore[type-arg]
    """Labels whose base rate falls with time (as immature SZZ labels do) and a history input,
    prior changes, that grows with time but has no effect of its own; lines added matters."""
    from triage.calibrate.features import CommitFeatures
    from triage.metrics.risk_model import NUMERIC_FEATURES

    rng = random.Random(seed)
    names = list(NUMERIC_FEATURES)
    rows, labels = [], {}
    for i in range(n):
        added = rng.randrange(1, 400)
        raw = dict.fromkeys(names, 0.0) | {"lines-added": float(added), "prior-changes": float(i // 3)}
        sha = f"{i:040x}"
        rows.append(
            CommitFeatures(
                sha=sha,
                time=1_600_000_000 + 86_400 * i,
                numeric=tuple(raw[k] for k in names),
                tokens=((f"+x{rng.randrange(50)}", 1),),
                lines_added=added,
            )
        )
        logit = 0.6 * math.log1p(added) - 2.5 - 3.0 * i / n
        labels[sha] = rng.random() < 1 / (1 + math.exp(-logit))
    return rows, labels


def test_validation_folds_chain_forward_in_time() -> None:
    rows, labels = _drifting_rows()
    result = fit(rows, labels, repo_name="drift", rev="abc")
    folds = result.model.validation.folds
    assert len(folds) == 3 and [f.commits for f in folds] == [120, 120, 120]
    assert result.train_commits == 240 and result.validation_commits == 360
    # each fold starts where the previous one ended; the first after every training-only commit
    assert all(a.last <= b.first for a, b in itertools.pairwise(folds))
    assert abs(result.model.validation.auc - sum(f.auc for f in folds) / 3) < 1e-3
    assert result.model.validation.commits == 360


def test_the_time_covariate_keeps_a_drifting_base_rate_off_the_history_inputs() -> None:
    rows, labels = _drifting_rows()

    def prior_changes_coef(time: bool) -> float:
        result = fit(rows, labels, repo_name="drift", rev="abc", c_grid=(1.0,), time_options=(time,))
        assert result.time_adjusted is time and result.model.training.time_adjusted is time
        return next(t.coef for t in result.model.numeric if t.name == "prior-changes")

    confounded, adjusted = prior_changes_coef(False), prior_changes_coef(True)
    assert confounded < -0.3  # credited with the trend
    assert abs(adjusted) < abs(confounded) / 3


def test_a_version_2_file_round_trips_its_token_value_and_folds(tmp_path: Path) -> None:
    rows, labels = _drifting_rows(200)
    result = fit(rows, labels, repo_name="drift", rev="abc", min_df=1)
    data = result.model.to_dict()
    assert data["version"] == 2 and data["tokens"]["value"] == "binary"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    loaded = load_model(path)
    assert loaded.token_value == "binary" and loaded.validation.folds == result.model.validation.folds
    # version 1 files (log1p token counts) still load and score with log1p
    old = _valid()
    (tmp_path / "v1.json").write_text(json.dumps(old))
    assert load_model(tmp_path / "v1.json").token_value == "log1p"


def test_no_scorable_validation_fold_is_a_refusal_saying_why() -> None:
    """Fix-inducing commits only in the oldest part: every validation fold holds clean commits
    only, so no fold can say whether the model beats lines added."""
    rows, _ = _drifting_rows(100)
    labels = {r.sha: i < 40 and i % 3 == 0 for i, r in enumerate(rows)}
    with pytest.raises(ModelRejected, match="no validation fold could be scored"):
        fit(rows, labels, repo_name="drift", rev="abc", min_df=1)


def test_a_version_2_file_without_its_token_value_is_rejected_naming_the_field(tmp_path: Path) -> None:
    rows, labels = _drifting_rows(200)
    data = fit(rows, labels, repo_name="drift", rev="abc", min_df=1).model.to_dict()
    del data["tokens"]["value"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_model(path)
    text = info.value.format_message()
    assert text.startswith(f"{path}: ") and "tokens.value" in text and "\n" not in text
    # a version 1 file has no such field and still loads (log1p token values)
    (tmp_path / "v1.json").write_text(json.dumps(_valid()))
    assert load_model(tmp_path / "v1.json").token_value == "log1p"


def test_a_fit_on_labels_without_signal_ranks_like_the_default_weights() -> None:
    """Shrunk toward the default weights, a model that learns nothing is the default: labels
    drawn at random give back (nearly) the default's order, and the file holds the sum."""
    from triage.metrics.risk import WEIGHTS
    from triage.metrics.risk_model import NUMERIC_FEATURES, transform

    rows, _ = _drifting_rows(600)
    rng = random.Random(11)
    labels = {r.sha: rng.random() < 0.2 for r in rows}
    result = fit(rows, labels, repo_name="noise", rev="abc")
    assert result.model.training.prior == "default"

    def model_logit(r) -> float:  # type: ignore[no-untyped-def]
        z = sum(
            t.coef * (transform(t.transform, v) - t.mean) / t.scale
            for t, v in zip(result.model.numeric, r.numeric, strict=True)
        )
        return z + sum(result.model.token_coef.get(tok, 0.0) for tok, _ in r.tokens)

    def default_logit(r) -> float:  # type: ignore[no-untyped-def]
        return sum(WEIGHTS[n] * transform(k, v) for (n, k), v in zip(NUMERIC_FEATURES.items(), r.numeric, strict=True))

    a, b = [model_logit(r) for r in rows], [default_logit(r) for r in rows]
    ra = {i: k for k, i in enumerate(sorted(range(len(a)), key=a.__getitem__))}
    rb = {i: k for k, i in enumerate(sorted(range(len(b)), key=b.__getitem__))}
    n = len(a)
    spearman = 1 - 6 * sum((ra[i] - rb[i]) ** 2 for i in range(n)) / (n * (n * n - 1))
    assert spearman > 0.95
    # toward zero, the same labels give an order unrelated to the default's
    zero = fit(rows, labels, repo_name="noise", rev="abc", prior=False, c_grid=(0.1,))
    assert zero.model.training.prior == "zero"

"""`triage calibrate` -> `triage eval --model` -> `triage run --model`, end to end on a real git
history built here, where the SZZ answer is known.

The history (`_history`): features append functions to four modules; a planted third of them
call `unsafe_call(value, i)`, and a later commit whose subject says "fix" replaces exactly that
line, so SZZ must blame the feature. Around them, the cases SZZ gets wrong when done naively:
a module renamed between a bug and its fix, a bug written on a side branch and merged with
`--no-ff`, a commit undone by `git revert`, and a "fix" that only changes whitespace (it must
label nothing). Lines added carries no signal about the planted bugs; the change's content
does, so a calibrated model must beat lines added on the newest slice.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
from gitutil import ScratchRepo
from rich.console import Console

from triage.calibrate.szz import label_history
from triage.cli import main
from triage.gitrepo import GitRepo
from triage.kvstore import CACHE_FILE, KVStore
from triage.metrics.risk_model import describe, load_model
from triage.report import load_schema
from triage.report.text import md as md_escape

NAME = "acme/planted"


@dataclass
class Planted:
    repo: ScratchRepo
    buggy: set[str] = field(default_factory=set)  # the commits SZZ must label fix-inducing
    clean: set[str] = field(default_factory=set)  # every other non-merge commit
    fixes: set[str] = field(default_factory=set)
    merge: str = ""
    rename: str = ""
    reverted: str = ""
    revert: str = ""
    whitespace_fix: str = ""
    whitespace_target: str = ""


def _function(rng: random.Random, i: int, unsafe: bool) -> str:
    lines = [f"def feature_{i}(value):", "    total = 0"]
    lines += [f"    total += helper_{rng.randrange(30)}(value, {k})" for k in range(rng.randrange(1, 25))]
    if unsafe:
        lines.append(f"    unsafe_call(value, {i})")
    lines.append("    return total")
    return "\n".join(lines) + "\n\n"


class _Clock:
    """One hour later at each call: commit times in the order the commits are made."""

    def __init__(self) -> None:
        self.hour = 0

    def __call__(self) -> str:
        self.hour += 1
        return f"2024-01-{1 + self.hour // 24:02d}T{self.hour % 24:02d}:00:00+00:00"


def _history(root: Path, features: int = 64, seed: int = 11) -> Planted:
    rng = random.Random(seed)
    repo = ScratchRepo.create(root)
    out = Planted(repo)
    clock = _Clock()

    def commit(message: str) -> str:
        return repo.commit(message, date=clock())

    paths = [f"src/mod{k}.py" for k in range(4)]
    text = dict.fromkeys(paths, "")
    for p in paths:
        repo.write(p, "")
    out.clean.add(commit("initial layout"))
    pending: list[tuple[int, str, str]] = []  # (fix at feature number, path, line to fix)
    for i in range(features):
        if i == 20:  # a rename between a bug and its fix: blame must follow it
            repo.rename("src/mod3.py", "src/core/mod3.py")
            text["src/core/mod3.py"] = text.pop("src/mod3.py")
            paths[3] = "src/core/mod3.py"
            pending = [(at, "src/core/mod3.py" if p == "src/mod3.py" else p, line) for at, p, line in pending]
            out.rename = commit("move mod3 into core")
            out.clean.add(out.rename)
        if i == 30:  # a bug on a side branch, merged, fixed on main later
            repo.git("checkout", "-q", "-b", "side")
            repo.write("src/side.py", f"def side(value):\n    unsafe_call(value, {i})\n    return value\n")
            side = commit("add side helper")
            repo.git("checkout", "-q", "main")
            repo.write("docs/notes.md", "notes\n")
            out.clean.add(commit("add notes"))
            repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'side'", "side", date=clock())
            out.merge = repo.head()
            out.buggy.add(side)
            pending.append((i + 2, "src/side.py", f"    unsafe_call(value, {i})"))
        if i == 40:  # a commit undone by git revert
            repo.write("src/cache.py", "def cached(value):\n    unsafe_call(value, 0)\n    return value\n")
            out.reverted = commit("add a flaky cache")
            repo.write("src/mod0.py", text["src/mod0.py"] + "# cache notes\n")
            text["src/mod0.py"] += "# cache notes\n"
            out.clean.add(commit("cache notes"))
            repo.git("revert", "--no-edit", out.reverted, date=clock())
            out.revert = repo.head()
            out.buggy.add(out.reverted)
            out.fixes.add(out.revert)
        if i == 50:  # a whitespace-only "fix" of a clean feature: labels nothing
            target = out.whitespace_target
            path = next(p for p in paths if f"def feature_{target}(" in text[p])
            text[path] = text[path].replace(
                f"def feature_{target}(value):\n    total = 0", f"def feature_{target}(value):\n\ttotal = 0"
            )
            repo.write(path, text[path])
            out.whitespace_fix = commit("fix indentation")
            out.fixes.add(out.whitespace_fix)
        for at, path, line in [p for p in pending if p[0] == i]:
            pending.remove((at, path, line))
            text.setdefault(path, (root / "repo" / path).read_text())
            text[path] = text[path].replace(line, line.replace("unsafe_call", "safe_call"))
            repo.write(path, text[path])
            fix = commit(f"fix unsafe call in {path}")
            out.fixes.add(fix)
        unsafe = rng.random() < 0.35 and i < features - 4
        path = paths[i % 4]
        text[path] += _function(rng, i, unsafe)
        repo.write(path, text[path])
        sha = commit(f"add feature {i}")
        if unsafe:
            out.buggy.add(sha)
            pending.append((i + rng.randrange(1, 4), path, f"    unsafe_call(value, {i})"))
        else:
            out.clean.add(sha)
            if not out.whitespace_target and i > 5:
                out.whitespace_target = str(i)
    assert not pending, pending
    out.clean |= out.fixes
    out.clean -= out.buggy
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return _history(tmp_path_factory.mktemp("calib"))


_CACHE = Path(tempfile.mkdtemp(prefix="calibrate-cli-cache-"))  # never the working directory's


@pytest.fixture(scope="module", autouse=True)
def _drop_cache() -> Iterator[None]:
    """The shared cache lives as long as this module's tests, then goes."""
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)


def _run(argv: list[str], cache: Path = _CACHE) -> tuple[int, str]:
    console = Console(record=True, width=400, force_terminal=False)
    code = main(argv, environ={"TRIAGE_CACHE_DIR": str(cache)}, console=console)
    return code, console.export_text()


# ---------------------------------------------------------------------------------------------
# the labels are the known answer


def test_szz_finds_exactly_the_planted_bugs(planted: Planted) -> None:
    result = label_history(GitRepo(planted.repo.root))
    by = result.by_sha()
    assert planted.merge not in by
    assert {c.sha for c in result.commits if c.buggy} == planted.buggy
    assert set(by) == planted.buggy | planted.clean
    assert by[planted.reverted].fixed_by == (planted.revert,)
    assert by[planted.whitespace_fix].is_fix and not by[planted.rename].buggy
    target = next(
        s
        for s in by
        if planted.repo.git("log", "-1", "--format=%s", s).decode().strip()
        == f"add feature {planted.whitespace_target}"
    )
    assert not by[target].buggy  # the whitespace-only fix blamed nothing


# ---------------------------------------------------------------------------------------------
# calibrate -> eval -> run


@pytest.fixture(scope="module")
def calibrated(planted: Planted, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    # Markup characters in the path: the console must print them as text (issue 12 item 6).
    out = tmp_path_factory.mktemp("model") / "m[/x][bold].json"
    code, text = _run(
        [
            "calibrate",
            "--repo",
            str(planted.repo.root),
            "--out",
            str(out),
            "--name",
            NAME,
            "--no-progress",
            "--jobs",
            "2",
            # the planted token is learned with the weaker penalty toward zero; toward the
            # default weights 89 commits are too few to move them (see test_calibrate)
            "--prior",
            "zero",
        ]
    )
    assert code == 0, text
    return out, text


def test_calibrate_writes_a_model_that_beats_lines_added(planted: Planted, calibrated: tuple[Path, str]) -> None:
    path, text = calibrated
    model = load_model(path)
    v = model.validation
    assert v.auc > v.lines_added_auc
    assert model.training.repo == NAME and model.training.rev == planted.repo.head()
    assert model.training.buggy == len(planted.buggy)
    assert model.token_coef.get("+unsafe_call", 0.0) > 0  # the planted content signal was learnt
    flat = " ".join(text.split())
    assert f"model AUC {v.auc:.3f} vs lines added {v.lines_added_auc:.3f}" in flat
    assert f"{len(planted.fixes)} fix commits" in flat
    assert f"wrote {path}: {describe(model)}" in flat


@pytest.mark.slow
def test_eval_scores_with_the_model_file(planted: Planted, calibrated: tuple[Path, str]) -> None:
    path, _ = calibrated
    repo = str(planted.repo.root)
    code, text = _run(
        [
            "eval",
            "--repo",
            repo,
            "--model",
            str(path),
            "--json",
            "--no-progress",
            "--bootstrap",
            "200",
            "--slice",
            "0.5",
        ]
    )
    assert code == 0, text
    with_model = json.loads(text)
    code, text = _run(["eval", "--repo", repo, "--json", "--no-progress", "--bootstrap", "200", "--slice", "0.5"])
    assert code == 0, text
    default = json.loads(text)
    model = load_model(path)
    assert with_model["model"] == describe(model)
    assert with_model["model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert default["model"] == "default weights" and default["model_sha256"] is None
    # The same commits, scored differently: the model ranks the planted bugs almost perfectly.
    assert with_model["commits_evaluated"] == default["commits_evaluated"] and with_model["buggy"] >= 2
    assert with_model["risk_score"]["roc_auc"] >= 0.9
    assert with_model["risk_score"]["roc_auc"] != default["risk_score"]["roc_auc"]
    assert with_model["lines_added"] == default["lines_added"]
    for order in ("risk_score", "priority"):
        assert with_model[order]["popt"] is not None and with_model[order]["recall_at_20_effort"] is not None


def test_run_names_the_model_in_every_report(planted: Planted, calibrated: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = calibrated
    out = tmp_path / "out"
    repo = str(planted.repo.root)
    code, text = _run(
        [
            "run",
            "--repo",
            repo,
            "--git",
            "HEAD~6..HEAD",
            "--model",
            str(path),
            "--out",
            str(out),
            "--llm",
            "off",
            "--no-progress",
        ]
    )
    assert code == 0, text
    model = load_model(path)
    line = describe(model)
    assert line.startswith(
        f"calibrated on {NAME} at {planted.repo.head()[:12]}, {model.training.commits} commits, validation AUC "
    )
    assert f"vs lines added {model.validation.lines_added_auc:.3f}" in line
    doc = json.loads((out / "queue.json").read_text())
    jsonschema.validate(doc, load_schema())
    assert doc["risk_model"] == {"description": line, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert md_escape(line) in (out / "queue.md").read_text()
    assert line in (out / "queue.html").read_text()
    assert line in " ".join(text.split())
    assert len(doc["items"]) == 6
    for item in doc["items"]:
        names = [f["name"] for f in item["risk"]["factors"]]
        assert names[0] == "intercept" and "tokens" in names  # the calibrated model's terms, explained


# ---------------------------------------------------------------------------------------------
# refusal


@pytest.mark.slow
def test_a_second_calibration_reads_the_blame_outcomes_from_the_cache(planted: Planted, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    argv = ["calibrate", "--repo", str(planted.repo.root), "--name", NAME, "--no-progress", "--jobs", "2"]
    argv += ["--prior", "zero"]
    code, first = _run([*argv, "--out", str(tmp_path / "a.json")], cache)
    assert code == 0, first
    with KVStore(cache / CACHE_FILE, "szz-blame") as store:
        entries = len(store)
    fixes = label_history(GitRepo(planted.repo.root)).fixes
    assert 0 < entries <= fixes  # one outcome per blamed fix (reverts need no blame)
    code, second = _run([*argv, "--out", str(tmp_path / "b.json")], cache)
    assert code == 0, second
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    with KVStore(cache / CACHE_FILE, "szz-blame") as store:
        assert len(store) == entries
    assert re.search(r"fitting [\d.]+ s \(CPU [\d.]+ s, [\d.]+ s, [\d.]+ s\)", " ".join(second.split()))


@pytest.mark.slow
def test_eval_without_labels_reads_the_blame_outcomes_calibrate_cached(planted: Planted, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    repo = str(planted.repo.root)
    argv = ["eval", "--repo", repo, "--json", "--no-progress", "--bootstrap", "50", "--slice", "0.5"]
    code, cold = _run(argv, tmp_path / "empty")  # no outcomes cached: blames every fix itself
    assert code == 0, cold
    model = str(tmp_path / "m.json")
    code, out = _run(
        ["calibrate", "--repo", repo, "--name", NAME, "--no-progress", "--out", model, "--prior", "zero"], cache
    )
    assert code == 0, out
    with KVStore(cache / CACHE_FILE, "szz-blame") as store:
        entries = len(store)
    assert entries > 0
    code, warm = _run(argv, cache)
    assert code == 0, warm
    with KVStore(cache / CACHE_FILE, "szz-blame") as store:
        assert len(store) == entries  # every fix's outcome came from the cache
    assert json.loads(warm)["labels"] == json.loads(cold)["labels"]
    with KVStore(tmp_path / "empty" / CACHE_FILE, "szz-blame") as store:
        assert len(store) == entries  # eval fills the same cache calibrate reads


def test_calibrate_refuses_a_model_that_does_not_beat_lines_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Here lines added ranks perfectly (every bug is the largest change of its kind), so the
    model cannot beat it: exit 1 and no file, unless --force."""
    repo = ScratchRepo.create(tmp_path)
    clock = _Clock()
    repo.write("src/a.py", "")
    repo.commit("initial", date=clock())
    body = ""
    for i in range(45):
        big = i % 3 == 0
        body += f"def f{i}(v):\n" + "".join(f"    v += {k}\n" for k in range(40 if big else 2)) + "    return v\n\n"
        repo.write("src/a.py", body)
        repo.commit(f"add f{i}", date=clock())
        if big:
            body = body.replace("    v += 39\n    return v\n\n", "    v += 39 + 0\n    return v\n\n", 1)
            repo.write("src/a.py", body)
            repo.commit(f"fix f{i}", date=clock())
    out = tmp_path / "m.json"
    argv = ["calibrate", "--repo", str(repo.root), "--out", str(out), "--no-progress", "--jobs", "1"]
    code, text = _run(argv)
    flat = " ".join(text.split())
    assert code == 1, flat
    assert "model AUC 1.000 vs lines added 1.000 (gain +0.000, fold means)" in flat
    err = capsys.readouterr().err.strip()
    assert err == (
        "triage: error: the calibrated model does not beat lines added on the validation folds "
        f"(1.000 <= 1.000); {out} not written (--force writes it anyway)"
    )
    assert not out.exists()
    code, _ = _run([*argv, "--force"])
    assert code == 0 and load_model(out).training.commits == 60
    assert "writing it because of --force" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# a model file from an untrusted branch


def _valid(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


BAD = {
    "malformed": b'{"format": "pr-triage-risk-model", ',
    "nan": None,  # built from the real file below
    "extra-keys": None,
    "huge": None,
    "wrong-type": b"[1, 2, 3]",
    "binary": b"\xff\xfe\x00\x01",
}


def _bad_file(kind: str, good: Path, tmp_path: Path) -> Path:
    from triage.metrics.risk_model import MAX_MODEL_BYTES

    target = tmp_path / f"{kind}.json"
    data = _valid(good)
    if kind == "nan":
        target.write_text(json.dumps(data).replace(f'"intercept": {json.dumps(data["intercept"])}', '"intercept": NaN'))
    elif kind == "extra-keys":
        data["exec"] = "__import__('os').system('id')"
        target.write_text(json.dumps(data))
    elif kind == "huge":
        target.write_bytes(b" " * (MAX_MODEL_BYTES + 1) + json.dumps(data).encode())
    else:
        target.write_bytes(BAD[kind])  # type: ignore[arg-type]
    return target


@pytest.mark.parametrize("command", ["run", "eval"])
@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_hostile_model_file_is_a_one_line_error(
    kind: str,
    command: str,
    planted: Planted,
    calibrated: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = _bad_file(kind, calibrated[0], tmp_path)
    repo = str(planted.repo.root)
    if command == "run":
        argv = [
            "run",
            "--repo",
            repo,
            "--git",
            "HEAD~1..HEAD",
            "--model",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    else:
        argv = ["eval", "--repo", repo, "--model", str(bad), "--no-progress", "--json"]
    code, text = _run(argv)
    assert code == 2, text
    err = capsys.readouterr().err.strip()
    assert err.startswith("triage: error: ") and str(bad) in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()


def test_the_model_travels_to_the_static_stages_process_pool(calibrated: tuple[Path, str], tmp_path: Path) -> None:
    """More PRs than the pipeline triages in-process (48): the rest go to worker processes,
    which must score with the same model (every item lists the calibrated terms)."""
    from triage import pipeline

    count = pipeline._SERIAL_FIRST + 2 * pipeline._BATCH_PRS
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(count):
        call = "unsafe_call" if i % 2 else "safe_call"
        (inputs / f"p{i:03d}.diff").write_text(
            f"diff --git a/src/m{i}.py b/src/m{i}.py\n--- a/src/m{i}.py\n+++ b/src/m{i}.py\n"
            f"@@ -1,1 +1,2 @@\n def f(value):\n+    {call}(value, {i})\n"
        )
    out = tmp_path / "out"
    code, text = _run(
        ["run", str(inputs), "--model", str(calibrated[0]), "--out", str(out), "--no-progress", "--llm", "off"]
    )
    assert code == 0, text
    items = json.loads((out / "queue.json").read_text())["items"]
    assert len(items) == count
    for item in items:
        names = [f["name"] for f in item["risk"]["factors"]]
        assert names[0] == "intercept" and "tokens" in names, (item["id"], names)
    by_id = {item["id"]: item["risk"]["score"] for item in items}
    # past the in-process ones too, the planted token raises the score
    late = range(pipeline._SERIAL_FIRST, count)
    assert all(by_id[f"p{i:03d}"] > by_id[f"p{i - 1:03d}"] for i in late if i % 2)


# ---------------------------------------------------------------------------------------------
# a model named by a repository's own config file


def _model_bytes(repo: str) -> bytes:
    from test_calibrate import _valid as valid_model

    data = valid_model()
    data["training"]["repo"] = repo
    return json.dumps(data).encode()


@pytest.mark.parametrize("value", ["/etc/passwd", "../outside.json", "models/../../outside.json", "C:/m.json"])
def test_a_repository_config_cannot_name_a_model_outside_the_repository(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside.json").write_bytes(_model_bytes("evil/outside"))
    work = tmp_path / "repo"
    work.mkdir()
    (work / ".triage.toml").write_text(f"[risk]\nmodel = {json.dumps(value)}\n")
    (work / "a.diff").write_text("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n x\n+y\n")
    monkeypatch.chdir(work)
    code, _ = _run(["run", "a.diff", "--out", str(tmp_path / "o"), "--no-progress", "--llm", "off"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("triage: error: .triage.toml: [risk] model") and "\n" not in err, err
    assert "inside the repository" in err
    assert not (tmp_path / "o").exists()


def test_a_symlinked_model_leaving_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside.json").write_bytes(_model_bytes("evil/outside"))
    work = tmp_path / "repo"
    (work / "models").mkdir(parents=True)
    (work / "models" / "m.json").symlink_to(tmp_path / "outside.json")
    (work / ".triage.toml").write_text('[risk]\nmodel = "models/m.json"\n')
    (work / "a.diff").write_text("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n x\n+y\n")
    monkeypatch.chdir(work)
    code, _ = _run(["run", "a.diff", "--out", str(tmp_path / "o"), "--no-progress", "--llm", "off"])
    assert code == 2
    assert "leads outside the repository" in capsys.readouterr().err
    (work / "models" / "m.json").unlink()
    (work / "models" / "m.json").write_bytes(_model_bytes("acme/inside"))
    code, _ = _run(["run", "a.diff", "--out", str(tmp_path / "o"), "--no-progress", "--llm", "off"])
    assert code == 0
    doc = json.loads((tmp_path / "o" / "queue.json").read_text())
    assert doc["risk_model"]["description"].startswith("calibrated on acme/inside at ")


TOKEN = "ghs_stub_token_do_not_leak"


def _github(stub_url: str, tmp_path: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    from io import StringIO

    code = main(
        ["github", "--repo", "octo/widgets", "--api-url", stub_url, "--llm", "off", "--out", str(tmp_path / "o")],
        environ={"GITHUB_TOKEN": TOKEN, "TRIAGE_CACHE_DIR": str(tmp_path / "cache")},
        console=Console(file=StringIO(), width=200),
    )
    queue = tmp_path / "o" / "queue.json"
    return code, json.loads(queue.read_text()) if queue.is_file() else {}


def test_in_ci_the_model_comes_from_the_base_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PR's checkout holds its own model file under the same name: the base branch's
    copy scores the queue, byte for byte."""
    from github_stub import GitHubStub, add_simple_pull, make_pr

    base_model = _model_bytes("acme/base-branch")
    with GitHubStub(token=TOKEN) as stub:
        add_simple_pull(stub, "octo/widgets", make_pr(8, association="MEMBER"), [("src/a.py", 3)])
        head = stub.repo("octo/widgets").head_sha
        stub.repo("octo/widgets").contents[(head, ".triage.toml")] = b'[risk]\nmodel = "ci/model.json"\n'
        stub.repo("octo/widgets").contents[(head, "ci/model.json")] = base_model
        (tmp_path / "ci").mkdir()
        (tmp_path / ".triage.toml").write_text('[risk]\nmodel = "ci/model.json"\n')
        (tmp_path / "ci" / "model.json").write_bytes(_model_bytes("evil/pr-branch"))
        monkeypatch.chdir(tmp_path)
        code, queue = _github(stub.url, tmp_path)
        assert code == 0, capsys.readouterr().err
        assert queue["risk_model"]["description"].startswith("calibrated on acme/base-branch at ")
        assert queue["risk_model"]["sha256"] == hashlib.sha256(base_model).hexdigest()
        assert "ignoring [risk] model" not in capsys.readouterr().err  # same name: nothing to warn about

        # A base config naming a path outside the repository, or a file the base lacks: one line, exit 2.
        for value, message in (("../model.json", "inside the repository"), ("gone.json", "no such file on the")):
            stub.repo("octo/widgets").contents[(head, ".triage.toml")] = f'[risk]\nmodel = "{value}"\n'.encode()
            code, _ = _github(stub.url, tmp_path / value.replace("/", "_"))
            assert code == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("triage: error: ") and message in err and "\n" not in err, err

        # A hostile model file on the base branch is refused like any other.
        stub.repo("octo/widgets").contents[(head, ".triage.toml")] = b'[risk]\nmodel = "ci/model.json"\n'
        stub.repo("octo/widgets").contents[(head, "ci/model.json")] = b'{"intercept": NaN}'
        code, _ = _github(stub.url, tmp_path / "nan")
        assert code == 2
        assert "ci/model.json: risk model is not valid JSON" in capsys.readouterr().err

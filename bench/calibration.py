"""`triage calibrate` on development projects and at scale (issue #10, items 2, 5 and Done-means).

    python -m bench.calibration [--repos DIR] [--only dev|scale|overhead] [--commits N]

or `make bench` (`bench.run` calls `scenarios()`). Three scenarios:

* **dev** (needs `TRIAGE_BENCH_REPOS` or `--repos`: a directory holding a clone or bare
  mirror per project, named `zookeeper`, `apache+zookeeper` or `apache+zookeeper/repo`, and
  the same for `zeppelin`; skipped with a note when absent). Per project: the non-merge
  history is cut at the author date of its 80th percentile commit; `triage calibrate --until
  CUT` learns a model from the history before the cut only (SZZ labels it sees stop there
  too), in a child process measured with its whole process tree (wall, CPU, peak RSS). The
  later slice is then labelled by SZZ on the whole history (a fix after the cut may blame a
  commit after the cut) and scored twice, by the default weights and by the model, exactly as
  `triage eval` scores: ROC-AUC with bootstrap 95 % intervals, the paired gain over lines
  added, and the effort-aware figures for the risk order and the queue's priority order.
* **scale**: a generated 10,000-commit history (built with `git fast-import` in a temp dir:
  modules growing and shrinking, one commit in six a fix that rewrites lines an earlier commit
  wrote), calibrated with progress lines; wall and CPU time against the 10-minute target,
  commits per second of each stage.
* **jit** (needs `TRIAGE_BENCH_REPOS` and `TRIAGE_BENCH_APACHEJIT`): issue #10's acceptance
  protocol on the development projects: calibrate up to the day before ApacheJIT's test
  period, evaluate on ApacheJIT's test commits with its SZZ labels, default and model; on
  zookeeper, zeppelin and groovy (a project without a clone is skipped with a note).
* **fit**: fitting alone (folds x settings and the final fit) on 10,000 synthetic mined rows
  (`synthetic_rows`), against the 60-second target; no mirror needed.
* **overhead**: `triage run --repo G --git A..B` on the newest 150 commits of that history,
  with the calibrated model and without (best of three, wall and CPU), against the 10 % target.

Timings are what this machine gave while other work shared it; CPU seconds are reported next
to wall seconds because they are less sensitive to that. Nothing here ships data: the mirrors
are public repositories the user fetches and points to.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.proctree import measure_command
from triage.timeutil import from_timestamp

PROJECTS = ("zookeeper", "zeppelin")
# The acceptance protocol also runs on apache/groovy: 327 ApacheJIT test commits (23 buggy)
# give far tighter intervals than zookeeper's 72. Its 23,000-commit history is too long for
# the dev scenario's repeated labelling, so it is here only.
JIT_PROJECTS = (*PROJECTS, "groovy")
CUT_FRACTION = 0.8
SCALE_COMMITS = 10_000
TARGET_CALIBRATION_SECONDS = 600
TARGET_OVERHEAD = 0.10
TARGET_FIT_SECONDS = 60


# --------------------------------------------------------------------------------------------
# repositories


def find_clone(repos: Path, name: str, work: Path) -> Path | None:
    """A work-tree clone for `name`: a clone as is, a bare mirror through a shared, no-checkout
    clone in `work` (GitRepo wants a work tree; objects are borrowed, not copied)."""
    for candidate in (repos / name, repos / f"apache+{name}", repos / f"apache+{name}" / "repo"):
        if (candidate / ".git").exists():
            return candidate
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            clone = work / name
            if not clone.exists():
                subprocess.run(
                    ["git", "clone", "-q", "--shared", "--no-checkout", str(candidate), str(clone)], check=True
                )
            return clone
    return None


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, check=True, env={**os.environ, "LC_ALL": "C"}
    ).stdout.decode("utf-8", "replace")


def cut_date(repo: Path, fraction: float = CUT_FRACTION) -> datetime:
    """The author date of the commit at `fraction` of the non-merge history, by time."""
    times = sorted(int(t) for t in _git(repo, "log", "--no-merges", "--format=%at", "HEAD").split())
    return from_timestamp(times[int(len(times) * fraction)])


# --------------------------------------------------------------------------------------------
# calibration in a child process


_TIME_LINE = re.compile(r"labelling ([\d.]+) s, measuring ([\d.]+) s \((\d+) workers\), fitting ([\d.]+) s")
_CPU_LINE = re.compile(r"fitting [\d.]+ s \(CPU ([\d.]+) s, ([\d.]+) s, ([\d.]+) s\)")


def run_calibrate(repo: Path, out: Path, *extra: str) -> dict[str, Any]:
    """`triage calibrate` as a user runs it, measured with its process tree. The summary it
    prints gives the stage times (wall and CPU); the model file gives the counts and
    validation figures. The blame cache starts empty (a directory next to `out`): the figures
    are those of a first calibration, not of a re-run served from the cache."""
    log = out.with_suffix(".log")
    argv = [sys.executable, "-m", "triage", "calibrate", "--repo", str(repo), "--out", str(out), "--force", *extra]
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=out.parent))
    env = {**os.environ, "TRIAGE_CACHE_DIR": str(cache)}
    figures = measure_command(argv, env=env, stdout=log, stderr=out.with_suffix(".progress"))
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    m = _TIME_LINE.search(" ".join(text.split()))
    if m is not None:
        figures["stage_seconds"] = {
            "labelling": float(m.group(1)),
            "measuring": float(m.group(2)),
            "fitting": float(m.group(4)),
        }
        figures["workers"] = int(m.group(3))
    if (c := _CPU_LINE.search(" ".join(text.split()))) is not None:
        figures["stage_cpu_seconds"] = {
            "labelling": float(c.group(1)),
            "measuring": float(c.group(2)),
            "fitting": float(c.group(3)),
        }
    if out.is_file():
        model = json.loads(out.read_text())
        t, v = model["training"], model["validation"]
        figures["training"] = {k: t[k] for k in ("commits", "buggy", "first", "last", "until", "regularisation")}
        figures["validation"] = v
        figures["vocabulary"] = len(model["tokens"]["vocabulary"])
        figures["commits_per_second"] = round(t["commits"] / figures["seconds"], 1) if figures["seconds"] else None
        if "stage_seconds" in figures and figures["stage_seconds"]["measuring"]:
            figures["measured_commits_per_second"] = round(t["commits"] / figures["stage_seconds"]["measuring"], 1)
    else:
        figures["output"] = " ".join(text.split())[-400:]
    return figures


# --------------------------------------------------------------------------------------------
# dev: calibrate before the cut, evaluate after it


def dev_project(name: str, clone: Path, work: Path, workers: int = 2) -> dict[str, Any]:
    from triage.calibrate.evaluate import evaluate, score_commits
    from triage.calibrate.szz import label_history
    from triage.config import Config
    from triage.gitrepo import GitRepo
    from triage.metrics.risk_model import describe, load_model

    cut = cut_date(clone)
    until = cut.isoformat().replace("+00:00", "Z")
    model_path = work / f"{name}-model.json"
    calibration = run_calibrate(clone, model_path, "--until", until, "--name", f"apache/{name}", "--no-progress")
    if not model_path.is_file():
        return {"cut": until, "calibration": calibration, "error": "no model written"}
    model = load_model(model_path)
    repo = GitRepo(clone)
    start = time.perf_counter()
    labelled = label_history(repo, rev="HEAD")
    later = [(c.sha, c.buggy) for c in labelled.commits if c.time > cut]
    labelling = time.perf_counter() - start
    cfg = Config(llm_mode="off")
    source = f"SZZ on HEAD, commits after {until}"
    out: dict[str, Any] = {
        "cut": until,
        "calibration": calibration,
        "evaluation": {"commits": len(later), "buggy": sum(b for _, b in later), "szz_seconds": round(labelling, 1)},
    }
    for key, scorer in (("default", None), ("calibrated", model)):
        start = time.perf_counter()
        scored, skipped = score_commits(repo, later, cfg, workers=workers, model=scorer)
        report = evaluate(scored, source=source, model=describe(scorer), skipped=skipped)
        out[key] = {**report.to_dict(), "scoring_seconds": round(time.perf_counter() - start, 1)}
        out[key].pop("skipped_reasons", None)
    return out


def dev_scenario(repos: Path | None) -> dict[str, Any]:
    if repos is None or not repos.is_dir():
        return {"skipped": "set TRIAGE_BENCH_REPOS (or --repos) to a directory with zookeeper / zeppelin clones"}
    return per_project(repos, "dev", dev_project)


def per_project(
    repos: Path,
    label: str,
    run: Callable[[str, Path, Path], dict[str, Any]],
    projects: tuple[str, ...] = PROJECTS,
) -> dict[str, Any]:
    """`run(name, clone, tmp)` for each development project found under `repos`, a line each."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"calib-{label}-") as tmp:
        for name in projects:
            clone = find_clone(repos, name, Path(tmp))
            if clone is None:
                results[name] = {"skipped": f"no clone named {name} under the repos directory"}
                continue
            results[name] = run(name, clone, Path(tmp))
            print(f"calibration {label} {name}: {json.dumps(summary(results[name]))}", flush=True)
    return results


def jit_cut(small_text: str, project: str) -> str:
    """The day before ApacheJIT's first test commit of `project`: "calibrated on the project's
    history before the evaluation period", as issue #10's acceptance asks."""
    import csv
    import io
    from datetime import timedelta

    stamps = [
        int(r["author_date"]) for r in csv.DictReader(io.StringIO(small_text)) if r["project"] == f"apache/{project}"
    ]
    return (from_timestamp(min(stamps)) - timedelta(days=1)).date().isoformat()


def jit_project(name: str, clone: Path, small_text: str, work: Path, workers: int = 2) -> dict[str, Any]:
    """The acceptance protocol on a development project: `triage calibrate --until` the day
    before the ApacheJIT test period, then the ApacheJIT test commits (their SZZ labels, not
    ours) scored by the default weights and by the model, as `triage eval --labels` scores."""
    from bench.risk_dev import small_labels
    from triage.calibrate.evaluate import evaluate, score_commits
    from triage.config import Config
    from triage.gitrepo import GitRepo
    from triage.metrics.risk_model import describe, load_model

    until = jit_cut(small_text, name)
    model_path = work / f"{name}-jit-model.json"
    calibration = run_calibrate(clone, model_path, "--until", until, "--name", f"apache/{name}", "--no-progress")
    out: dict[str, Any] = {"cut": until, "calibration": calibration}
    if not model_path.is_file():
        return {**out, "error": "no model written"}
    labels = small_labels(small_text, name)
    repo = GitRepo(clone)
    source = f"ApacheJIT apachejit_test_small.csv, apache/{name}: {len(labels)} commits"
    for key, scorer in (("default", None), ("calibrated", load_model(model_path))):
        scored, skipped = score_commits(repo, labels, Config(llm_mode="off"), workers=workers, model=scorer)
        report = evaluate(scored, source=source, model=describe(scorer), skipped=skipped).to_dict()
        report.pop("skipped_reasons", None)
        out[key] = report
    return out


def jit_scenario(repos: Path | None, apachejit: Path | None) -> dict[str, Any]:
    from bench.risk_dev import SMALL, _read

    if repos is None or apachejit is None:
        return {
            "skipped": "set TRIAGE_BENCH_REPOS (zookeeper / zeppelin / groovy clones or mirrors) and "
            "TRIAGE_BENCH_APACHEJIT (a clone or mirror of hosseinkshvrz/apachejit)"
        }
    small_text = _read(apachejit, SMALL)
    if small_text is None:
        return {"skipped": f"{apachejit}: no {SMALL}"}
    return per_project(repos, "jit", lambda name, clone, tmp: jit_project(name, clone, small_text, tmp), JIT_PROJECTS)


def summary(project: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one project, for the console and the README."""
    if "default" not in project:
        return project
    d, c = project["default"], project["calibrated"]
    return {
        "eval_commits": d["commits_evaluated"],
        "buggy": d["buggy"],
        "lines_added_auc": d["lines_added"]["roc_auc"],
        "default_auc": d["risk_score"]["roc_auc"],
        "default_gain_ci": d["gain_roc_auc_ci95"],
        "calibrated_auc": c["risk_score"]["roc_auc"],
        "calibrated_auc_ci": c["risk_score"]["roc_auc_ci95"],
        "calibrated_gain": c["gain_roc_auc"],
        "calibrated_gain_ci": c["gain_roc_auc_ci95"],
        "calibration_seconds": project["calibration"]["seconds"],
        "calibration_peak_rss_mb": project["calibration"]["peak_rss_mb_total"],
    }


# --------------------------------------------------------------------------------------------
# scale: a generated history


_WORDS = ("parse", "render", "store", "fetch", "merge", "split", "check", "build", "load", "route")


def _function(rng: random.Random, name: str, risky: bool) -> list[str]:
    lines = [f"def {name}(value, other):", "    total = 0"]
    for i in range(rng.randrange(3, 30)):
        lines.append(f"    total += {rng.choice(_WORDS)}_{rng.randrange(50)}(value, {i})")
    if risky:  # unique per function: identical lines would let blame -M pin them all on the oldest
        lines.append(f"    shared_state.update(value, {name!r})  # unguarded")
    lines += ["    return total", ""]
    return lines


def generate_history(root: Path, commits: int = SCALE_COMMITS, seed: int = 1) -> Path:
    """A repository of `commits` commits written by `git fast-import` (seconds, not the
    minutes that one `git commit` per commit would take): 300 modules in 12 packages, twelve
    authors; most commits add a function to one to three modules (a third of them with the
    planted risky line), one in six is a "fix" rewriting lines of an earlier risky function,
    and modules over 400 lines drop their oldest function."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    paths = [f"pkg{k}/mod{j}.py" for k in range(12) for j in range(25)]
    # Each module is a list of functions (name, lines); `risky` holds the planted, unfixed ones.
    files: dict[str, list[tuple[str, list[str]]]] = {p: [] for p in paths}
    risky: list[tuple[str, str]] = []
    start = 1_600_000_000
    chunks: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        chunks.append(b"data %d\n%s\n" % (len(raw), raw))

    for n in range(commits):
        author = f"Dev {n % 12} <dev{n % 12}@example.com>"
        when = start + n * 3600
        changed: list[str] = []
        if risky and rng.random() < 1 / 6:
            path, func = risky.pop(rng.randrange(len(risky)))
            lines = next(body for name, body in files[path] if name == func)
            lines[:] = [ln.replace("    shared_state.update(", "    with lock: shared_state.update(") for ln in lines]
            message = f"fix race in {func}"
            changed.append(path)
        else:
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                path = rng.choice(paths)
                bad = rng.random() < 0.33
                func = f"f{n}_{len(changed)}"
                files[path].append((func, _function(rng, func, bad)))
                if bad:
                    risky.append((path, func))
                while sum(len(body) for _, body in files[path]) > 400:
                    dropped, _ = files[path].pop(0)
                    if (path, dropped) in risky:
                        risky.remove((path, dropped))
                changed.append(path)
            message = f"add {rng.choice(_WORDS)} support ({n})"
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(f"author {author} {when} +0000\ncommitter {author} {when} +0000\n".encode())
        data(message)
        for path in dict.fromkeys(changed):
            chunks.append(f"M 100644 inline {path}\n".encode())
            data("\n".join(line for _, body in files[path] for line in body) + "\n")
        chunks.append(b"\n")
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(chunks), check=True)
    subprocess.run(["git", "-C", str(root), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--soft", "main"], check=True)
    return root


def scale_scenario(commits: int, work: Path) -> dict[str, Any]:
    start = time.perf_counter()
    repo = generate_history(work / "generated", commits)
    built = time.perf_counter() - start
    model = work / "generated-model.json"
    result = run_calibrate(repo, model, "--name", "generated")
    seconds = result["seconds"]
    return {
        "commits": commits,
        "generate_seconds": round(built, 1),
        "calibration": result,
        "target_seconds": TARGET_CALIBRATION_SECONDS,
        "within_target_wall": seconds <= TARGET_CALIBRATION_SECONDS,
        "within_target_cpu_per_core": (result.get("cpu_seconds") or 0) / 2 <= TARGET_CALIBRATION_SECONDS,
    }


def overhead_scenario(work: Path, prs: int = 150, repeat: int = 3) -> dict[str, Any]:
    """`triage run --repo G --git HEAD~N..HEAD` with and without the model of the scale run."""
    repo = work / "generated"
    model = work / "generated-model.json"
    if not model.is_file():
        return {"skipped": "the scale scenario wrote no model"}
    base = [sys.executable, "-m", "triage", "run", "--repo", str(repo), "--git", f"HEAD~{prs}..HEAD", "--llm", "off"]
    rows: dict[str, dict[str, float]] = {}
    for key, extra in (("default", []), ("model", ["--model", str(model)])):
        best: dict[str, float] = {}
        for i in range(repeat):
            out = work / f"out-{key}-{i}"
            m = measure_command([*base, "--out", str(out), "--no-progress", *extra])
            if m["exit_code"] != 0:
                return {"error": f"triage run exited {m['exit_code']}"}
            for k in ("seconds", "cpu_seconds"):
                if m.get(k) is not None:
                    best[k] = min(best.get(k, float("inf")), float(m[k]))
        rows[key] = best
    wall = rows["model"]["seconds"] / rows["default"]["seconds"] - 1
    cpu = (
        rows["model"]["cpu_seconds"] / rows["default"]["cpu_seconds"] - 1
        if rows["default"].get("cpu_seconds")
        else None
    )
    return {
        "prs": prs,
        "best_of": repeat,
        "default": rows["default"],
        "model": rows["model"],
        "overhead_wall": round(wall, 3),
        "overhead_cpu": None if cpu is None else round(cpu, 3),
        "target": TARGET_OVERHEAD,
    }


def synthetic_rows(commits: int = SCALE_COMMITS, seed: int = 3) -> tuple[list[Any], dict[str, bool]]:
    """Mined-commit rows shaped like a real window's (log-normal sizes, a Zipf vocabulary of
    30,000 code and message tokens; distinct tokens a commit log-normal, median about 100 and
    mean about 250, as in zeppelin's and zookeeper's mined rows) with labels that
    depend on size and on a few tokens: what `fit` sees after mining, without the mining."""
    import math

    from triage.calibrate.features import CommitFeatures
    from triage.metrics.risk_model import NUMERIC_FEATURES

    rng = random.Random(seed)
    words = [f"{p}{w}{i}" for i in range(10_000) for p, w in (("+", "name"), ("-", "name"), ("m:", "word"))]
    cumulative = list(itertools.accumulate(1.0 / (1 + i) for i in range(len(words))))
    risky = set(rng.sample(words[:2000], 40))
    rows, labels = [], {}
    for i in range(commits):
        added = int(rng.lognormvariate(3.0, 1.6))
        numeric = [float(added), float(int(rng.lognormvariate(2.0, 1.5)))]
        numeric += [float(rng.randrange(0, 30)) for _ in range(len(NUMERIC_FEATURES) - 2)]
        toks = set(rng.choices(words, cum_weights=cumulative, k=min(4000, int(rng.lognormvariate(5.0, 1.3)))))
        logit = -4.0 + 0.5 * math.log1p(added) + sum(0.4 for t in toks if t in risky)
        sha = f"{i:040x}"
        rows.append(
            CommitFeatures(
                sha=sha,
                time=1_500_000_000 + i * 3600,
                numeric=tuple(numeric),
                tokens=tuple((t, 1 + rng.randrange(3)) for t in sorted(toks)),
                lines_added=added,
            )
        )
        labels[sha] = rng.random() < 1 / (1 + math.exp(-logit))
    return rows, labels


def fit_scenario(commits: int = SCALE_COMMITS) -> dict[str, Any]:
    """Fitting alone (`triage.calibrate.fit.fit`: forward folds x settings, then the final fit)
    on `synthetic_rows`, in this process: wall and CPU seconds against the 60-second target."""
    from triage.calibrate.fit import C_GRID, fit

    rows, labels = synthetic_rows(commits)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fit(rows, labels, repo_name="synthetic", rev="0" * 40)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "commits": commits,
        "buggy": sum(labels.values()),
        "settings_tried": 2 * len(C_GRID),
        "folds": len(result.folds),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "target_seconds": TARGET_FIT_SECONDS,
        "validation_auc": round(result.validation_auc or 0.0, 4),
        "lines_added_auc": round(result.lines_added_auc or 0.0, 4),
        "vocabulary": result.vocabulary,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def scenarios(repos: Path | None, commits: int = SCALE_COMMITS) -> dict[str, Callable[[], dict[str, Any]]]:
    """The scenarios for `bench.run`; scale and overhead share one generated history."""
    made: list[Path] = []

    def work() -> Path:
        if not made:
            made.append(Path(tempfile.mkdtemp(prefix="calib-bench-")))
        return made[0]

    return {
        "calibration_dev": lambda: dev_scenario(repos),
        "calibration_scale": lambda: scale_scenario(commits, work()),
        "calibration_overhead": lambda: overhead_scenario(work()),
        "calibration_fit": lambda: fit_scenario(commits),
        "calibration_jit": lambda: jit_scenario(
            repos, Path(jit) if (jit := os.environ.get("TRIAGE_BENCH_APACHEJIT")) else None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calibration")
    env = os.environ.get("TRIAGE_BENCH_REPOS")
    parser.add_argument("--repos", type=Path, default=Path(env) if env else None)
    parser.add_argument("--commits", type=int, default=SCALE_COMMITS)
    parser.add_argument("--only", action="append", choices=("dev", "scale", "overhead", "fit", "jit"))
    args = parser.parse_args(argv)
    from bench.run import write_results

    results: dict[str, Any] = {"run_at": datetime.now(UTC).isoformat(timespec="seconds"), "scenarios": {}}
    for name, fn in scenarios(args.repos, args.commits).items():
        if args.only and name.removeprefix("calibration_") not in args.only:
            continue
        section = fn()
        results["scenarios"][name] = section
        print(f"{name}: {json.dumps(section, sort_keys=True)}", flush=True)
    known = set(scenarios(None))
    results["machine"] = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    path = write_results(results, known | _other_scenarios())
    print(f"wrote {path}")
    return 0


def _other_scenarios() -> set[str]:
    """Scenario names bench.run knows, so writing these results keeps theirs."""
    previous = Path(__file__).resolve().parent / "results" / "results.json"
    if not previous.is_file():
        return set()
    return set(json.loads(previous.read_text()).get("scenarios", {}))


if __name__ == "__main__":
    sys.exit(main())

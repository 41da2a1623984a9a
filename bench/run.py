"""`make bench`: throughput and memory of the pipeline, written to bench/results.md and .json.

Scenarios (each prints one line and adds a section to the results):
- static: the whole pipeline with the LLM off on a generated heavy-tailed corpus plus one 8 MB
  diff, next to bare `unidiff.PatchSet` parsing of the same bytes (the floor);
- linearity: parse time (and parse+measure, and the unidiff floor) of one diff at 1, 2, 4 and
  8 MB; complexity analysis is capped at 1 MB of source per PR, so measure time flattens;
- llm_tokens: tokens sent against the whole diff, on the fixtures and one over-budget PR;
- llm_scale_2500 / llm_faults_2500: 2,500 PRs through the LLM stage at 1 s latency and
  concurrency 16, then again from the cache (`bench.llm_scale`), without and with 10 % of
  calls failing in mixed ways;
- huge_llm_50mb: `triage run` on one 50 MB diff with the LLM on (`bench.huge_llm`), peak RSS
  of that process alone;
- llm_server (opt-in: `TRIAGE_BENCH_LLM=1` or `--only llm_server`): the fixtures against a
  real local llama.cpp `llama-server` (`bench.llm_server`): seconds and tokens per PR, share
  of valid reviews, the mode chosen.
- risk_default: the default risk score against lines added on ApacheJIT's zeppelin and
  zookeeper commits (`bench.risk_dev`), when `TRIAGE_BENCH_APACHEJIT` and `TRIAGE_BENCH_REPOS`
  name the data; skipped with a note otherwise.
- history_generated / history_real / real_diffs: `triage run --repo --git REV~N..REV` for
  N = 200, 1000, 2500 on a repository the bench builds, and on the clones named by
  `TRIAGE_BENCH_REPOS`; `triage run DIR` on 1,200 real `git format-patch` diffs next to the
  unidiff floor (`bench.history_scale`): wall, CPU of the whole process tree, peak RSS.
- cluster_time_2500 / cluster_pr_history: the added time of clustering on 2,500 generated PRs,
  and clustering precision and recall on a mirror's real pull requests with and without issue
  keys (`bench.cluster_bench`; the second needs TRIAGE_BENCH_PR_MIRROR, else it says skipped).

Timings are wall-clock on whatever machine runs it; the README quotes a run on the project's
reference machine (2 cores). Benchmarks never run in `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import unidiff

from bench import (
    calibration,
    cluster_bench,
    github_scale,
    history_scale,
    huge_llm,
    llm_scale,
    llm_server,
    risk_dev,
    szz_agreement,
)
from bench.corpus import NOW, generate
from bench.memory import peak_rss_mb
from triage.config import Config
from triage.pipeline import RunContext, run

RESULTS = Path(__file__).resolve().parent / "results"


def _floor(diffs: list[bytes]) -> float:
    start = time.perf_counter()
    for data in diffs:
        unidiff.PatchSet(data.decode("utf-8", "replace"))
    return time.perf_counter() - start


def _timed_run(prs: list[Any], repeat: int = 3) -> dict[str, Any]:
    """Best of `repeat` runs for the pipeline and for the floor alike (as `timeit` advises: the
    minimum is the run least disturbed by the rest of the machine)."""
    diffs = [pr.diff for pr in prs]
    elapsed = floor = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        queue = run(iter(prs), Config(llm_mode="off"), RunContext(now=NOW))
        elapsed = min(elapsed, time.perf_counter() - start)
        floor = min(floor, _floor(diffs))
    return {
        "prs": len(prs),
        "bytes": sum(len(d) for d in diffs),
        "seconds": round(elapsed, 3),
        "prs_per_second": round(len(prs) / elapsed, 1),
        "unidiff_floor_seconds": round(floor, 3),
        "ratio_to_floor": round(elapsed / floor, 2),
        "items": len(queue.items),
    }


def static_scenario(count: int) -> dict[str, Any]:
    """The corpus, the 8 MB diff alone, and both together (the issue's figure)."""
    prs = list(generate(count, huge_bytes=8 * 1024 * 1024))
    return {
        "corpus": _timed_run(prs[:-1]),
        "huge_8mb_alone": _timed_run(prs[-1:]),
        "corpus_plus_8mb": _timed_run(prs),
    }


def linearity_scenario() -> dict[str, Any]:
    from triage.diff import parse_diff
    from triage.metrics import measure
    from triage.models import PullRequest

    rows = []
    cfg = Config(llm_mode="off")
    for mb in (1, 2, 4, 8):
        pr = next(p for p in generate(0, seed=mb, huge_bytes=mb * 1024 * 1024))
        start = time.perf_counter()
        diff = parse_diff(pr.diff)
        parsed = time.perf_counter() - start
        measure(PullRequest(id=pr.id, title=pr.title), diff, cfg)
        elapsed = time.perf_counter() - start
        floor = _floor([pr.diff])
        rows.append(
            {
                "megabytes": mb,
                "parse_seconds": round(parsed, 3),
                "parse_and_measure_seconds": round(elapsed, 3),
                "unidiff_floor_seconds": round(floor, 3),
                "parse_seconds_per_mb": round(parsed / mb, 3),
            }
        )
    return {"rows": rows}


def tokens_scenario() -> dict[str, Any]:
    """Tokens the LLM stage would send per PR (budgeted) against the whole diff, on the fixtures
    and on one generated over-budget PR."""
    from statistics import median

    from triage.diff import parse_diff
    from triage.metrics import measure
    from triage.metrics.risk import assess_risk
    from triage.review.budget import build_payload
    from triage.sources import load_inputs

    cfg = Config(llm_mode="off")
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "prs"

    def payload(pr: Any) -> Any:
        diff = parse_diff(pr.diff)
        metrics = measure(pr, diff, cfg)
        return build_payload(pr, diff, metrics, assess_risk(pr, diff, metrics), cfg.llm.max_input_tokens)

    rows = [payload(pr) for pr in load_inputs([str(fixtures)])]
    big_pr = max(generate(400, seed=3), key=lambda p: len(p.diff))
    big = payload(big_pr)
    return {
        "budget_tokens": cfg.llm.max_input_tokens,
        "fixtures": {
            "prs": len(rows),
            "tokens_full_total": sum(r.tokens_full for r in rows),
            "tokens_sent_total": sum(r.tokens_sent for r in rows),
            "tokens_sent_median": median(r.tokens_sent for r in rows),
            "prs_with_omissions": sum(1 for r in rows if r.omitted),
        },
        "over_budget_pr": {
            "diff_bytes": len(big_pr.diff),
            "tokens_full": big.tokens_full,
            "tokens_sent": big.tokens_sent,
            "omitted_items": len(big.omitted),
        },
    }


def write_results(results: dict[str, Any], known: set[str]) -> Path:
    """Write the results; scenarios not run this time keep their previous figures (`--only`),
    and figures of scenarios that no longer exist are dropped."""
    RESULTS.mkdir(exist_ok=True)
    previous = RESULTS / "results.json"
    if previous.is_file():
        old = json.loads(previous.read_text()).get("scenarios", {})
        kept = {name: section for name, section in old.items() if name in known}
        results["scenarios"] = {**kept, **results["scenarios"]}
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Run at {results['run_at']} on {results['machine']}.",
        "",
    ]
    for name, section in results["scenarios"].items():
        lines += [f"## {name}", "", "```json", json.dumps(section, indent=2, sort_keys=True), "```", ""]
    path = RESULTS / "results.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--count", type=int, default=2000, help="PRs in the static corpus")
    parser.add_argument("--only", action="append", help="run only these scenarios")
    args = parser.parse_args(argv)
    scenarios: dict[str, Callable[[], dict[str, Any]]] = {
        "static": lambda: static_scenario(args.count),
        "linearity": linearity_scenario,
        "llm_tokens": tokens_scenario,
        "llm_scale_2500": lambda: llm_scale.scenario(2500, latency=1.0, concurrency=16),
        "llm_faults_2500": lambda: llm_scale.scenario(2500, latency=1.0, concurrency=16, fail_rate=0.10),
        "github_faults_2500": lambda: github_scale.scenario(2500),
        "huge_llm_50mb": lambda: huge_llm.scenario(50),
        "llm_server": llm_server.scenario,
        "risk_default": risk_dev.scenario,
        # issue 10: our SZZ labels against ApacheJIT's on the dev projects (bench/szz_agreement.py)
        "szz_agreement": szz_agreement.scenario,
        "history_generated": history_scale.generated_scenario,
        "history_real": history_scale.real_scenario,
        "real_diffs": history_scale.real_diffs_scenario,
        "cluster_time_2500": lambda: cluster_bench.time_scenario(2500),
        "cluster_pr_history": cluster_bench.history_scenario,
        # issue 10: calibration on the dev projects (TRIAGE_BENCH_REPOS), a generated 10,000-commit
        # history, and the scoring overhead of a model (bench/calibration.py)
        **calibration.scenarios(
            Path(os.environ["TRIAGE_BENCH_REPOS"]) if os.environ.get("TRIAGE_BENCH_REPOS") else None
        ),
    }
    # Scenarios that need what a plain clone lacks (a real model server): only when asked.
    opt_in = {"llm_server": os.environ.get("TRIAGE_BENCH_LLM") == "1"}
    results: dict[str, Any] = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "scenarios": {},
    }
    for name, fn in scenarios.items():
        if args.only and name not in args.only:
            continue
        if not args.only and not opt_in.get(name, True):
            continue
        try:
            section = fn()
        except Exception as exc:  # one failing scenario must not lose the others' figures
            section = {"error": f"{type(exc).__name__}: {exc}"}
        section["peak_rss_mb_so_far"] = round(peak_rss_mb(), 1)
        results["scenarios"][name] = section
        print(f"{name}: {json.dumps(section, sort_keys=True)}", flush=True)
    path = write_results(results, set(scenarios))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

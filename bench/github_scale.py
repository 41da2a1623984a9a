"""Scale scenario `github_faults_2500`: `triage github` over 2,500 open PRs while both services fail.

Four processes, so each figure is measured alone: the GitHub REST stub (`tests/github_stub.py`)
serving the seeded corpus of `bench.corpus` as open PRs and answering a random share of all
requests with 500/502/503 or a secondary rate limit (403/429 with a `retry-after` of 0 or 1 s);
the OpenAI-compatible stub of `bench.llm_scale` (`serve`: a share of calls failing in mixed
ways); the batch (`triage.github.batch.run_batch`, a dry run, LLM on) in a child process whose
peak RSS is its own; and this process, which only orchestrates.

On top of the random share, every `hard_every`-th PR's diff request fails on every attempt
(502 as many times as the client tries), so the load errors the report must count are known in
advance. The GitHub client's waits (exponential backoff on 5xx, `retry-after`) are recorded at
their full length but slept `sleep_scale` times as long: the point is what the pipeline does
with the faults, and 1,000 real backoffs in a serial fetch would be a quarter of an hour of
sleeping.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.llm_scale import ROOT, run_child, start_stub, stop_stub
from bench.memory import peak_rss_mb
from triage.models import PullRequest
from triage.timeutil import iso_z

REPO = "bench/widgets"
TOKEN = "ghs_bench_token"  # the stub's, never a real one
VIEWER = "triage-bot"
MAX_ATTEMPTS = 5  # triage.github.client.RetryPolicy.max_attempts: a hard fault outlasts them all

FaultAnswer = tuple[int, dict[str, str], Any]


def _stub_module() -> Any:
    """tests/github_stub.py, which is not part of the package: the tests and the bench share it."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import github_stub

    return github_stub


def _github_faults() -> list[Callable[[], FaultAnswer]]:
    """The mixed answers of a misbehaving GitHub: server errors and secondary rate limits."""
    limited = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    return [
        lambda: (500, {}, {"message": "Server Error"}),
        lambda: (502, {}, {"message": "Bad Gateway"}),
        lambda: (503, {}, {"message": "Service Unavailable"}),
        lambda: (403, {"retry-after": "1"}, limited),
        lambda: (429, {"retry-after": "0"}, limited),
    ]


def random_faults(rate: float, seed: int, counts: Counter[str]) -> Callable[[str, str], FaultAnswer | None]:
    """A `GitHubStub.fault_hook` failing `rate` of all requests in mixed ways, from a seeded RNG
    (the batch fetches serially, so the same seed fails the same requests). Counts what it did."""
    rng = random.Random(seed)
    faults = _github_faults()

    def hook(_method: str, _path: str) -> FaultAnswer | None:
        if rng.random() >= rate:
            return None
        answer = rng.choice(faults)()
        counts["random_faults"] += 1
        counts[f"random_{answer[0]}"] += 1
        return answer

    return hook


def hard_fault_numbers(count: int, hard_every: int) -> list[int]:
    """The PRs whose diff never arrives: every `hard_every`-th one (none when 0)."""
    return list(range(hard_every, count + 1, hard_every)) if hard_every > 0 else []


def files_of(diff: bytes) -> list[dict[str, Any]]:
    """The files-endpoint entries of a plain multi-file diff (modified text files only, which is
    what the corpus generates), so the stub's files and diff agree."""
    entries: list[dict[str, Any]] = []
    for stanza in diff.decode("utf-8", "replace").split("diff --git ")[1:]:
        lines = stanza.split("\n")
        path = next((ln[6:] for ln in lines if ln.startswith("+++ b/")), lines[0].split(" b/", 1)[-1])
        start = next((i for i, ln in enumerate(lines) if ln.startswith("@@")), len(lines))
        body = lines[start:]
        added = sum(1 for ln in body if ln.startswith("+"))
        deleted = sum(1 for ln in body if ln.startswith("-"))
        entries.append(
            {
                "sha": "0" * 40,
                "filename": path,
                "status": "modified",
                "additions": added,
                "deletions": deleted,
                "changes": added + deleted,
                "patch": "\n".join(body).rstrip("\n"),
            }
        )
    return entries


def to_github(pr: PullRequest, repo: str = REPO) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """One generated PR as GitHub serves it: (PR object, files entries, commits).

    A bot's human is named by a `Co-authored-by` trailer in its commits (that is where agents put
    it, and why the batch reads a bot PR's commits); a human's AI-assistance trailer sits at the
    end of the body. The corpus links issue #12 with a closing keyword in the body.
    """
    make_pr = _stub_module().make_pr
    assert pr.number is not None and pr.created_at is not None
    bot = pr.author.endswith("[bot]")
    body = pr.body
    if pr.linked_issues and "#12" not in body:
        body = (body + "\n\n" if body else "") + "Closes #12"
    trailer_block = "\n".join(f"{t.key}: {t.value}" for t in pr.trailers)
    if trailer_block and not bot:
        body = (body + "\n\n" if body else "") + trailer_block
    created = iso_z(pr.created_at)
    data = make_pr(
        pr.number,
        repo=repo,
        login=pr.author,
        user_type="Bot" if bot else "User",
        title=pr.title,
        body=body,
        association=pr.author_association or "NONE",
        created_at=created,
    )
    if pr.updated_at is not None:
        data["updated_at"] = iso_z(pr.updated_at)
    commits: list[dict[str, Any]] = []
    if bot:
        message = pr.title + (f"\n\n{trailer_block}" if trailer_block else "")
        commits.append(
            {
                "sha": f"{pr.number:040x}",
                "author": None,
                "commit": {"message": message, "author": {"name": pr.author, "date": created}},
            }
        )
    return data, files_of(pr.diff), commits


def load_corpus(stub: Any, prs: Any, repo: str = REPO) -> int:
    """Put every generated PR on the stub as an open PR; returns how many."""
    n = 0
    for pr in prs:
        data, files, commits = to_github(pr, repo)
        stub.add_pull(repo, data, files=files, diff=pr.diff)
        stub.repo(repo).commits[int(data["number"])] = commits
        n += 1
    return n


def add_hard_faults(stub: Any, numbers: list[int], repo: str = REPO) -> None:
    """Each listed PR's diff request answers 502 on every attempt the client makes."""
    for number in numbers:
        stub.fail("GET", rf"^/repos/{repo}/pulls/{number}$", 502, times=MAX_ATTEMPTS)


def serve_github(count: int, fail_rate: float, hard_every: int, seed: int, port_file: Path, count_file: Path) -> None:
    """Run the GitHub stub with the corpus until SIGTERM; then write what it answered."""
    from bench.corpus import generate

    counts: Counter[str] = Counter()
    with _stub_module().GitHubStub(token=TOKEN, viewer=VIEWER) as stub:
        loaded = load_corpus(stub, generate(count))
        hard = hard_fault_numbers(count, hard_every)
        add_hard_faults(stub, hard)
        stub.fault_hook = random_faults(fail_rate, seed, counts)

        def stop(*_: object) -> None:
            with stub._lock:
                statuses = Counter(r.status for r in stub.requests)
                scripted = sum(MAX_ATTEMPTS - f.times for f in stub.faults)
                result = {
                    "open_prs": loaded,
                    "requests": len(stub.requests),
                    "writes": len(stub.writes),
                    "by_status": {str(k): v for k, v in sorted(statuses.items())},
                    "random_faults": counts["random_faults"],
                    "random_faults_by_status": {k[7:]: v for k, v in sorted(counts.items()) if k[7:].isdigit()},
                    "hard_fault_prs": len(hard),
                    "hard_faults_answered": scripted,
                }
            count_file.write_text(json.dumps(result))
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        port_file.write_text(stub.url)
        while True:
            time.sleep(0.5)


class ScaledSleep:
    """The GitHub client's `sleep`: records every wait at full length, sleeps a fraction of it."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.waits = 0
        self.requested = 0.0
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits += 1
            self.requested += seconds
        time.sleep(seconds * self.scale)


def batch_child(
    count: int, github_url: str, llm_url: str, cache_dir: str, out_dir: str, sleep_scale: float, concurrency: int
) -> dict[str, Any]:
    """`triage github` (dry run, LLM on) against both stubs; runs in its own process."""
    from bench.corpus import NOW
    from triage.config import CacheConfig, Config, LLMConfig
    from triage.github.batch import run_batch
    from triage.report.summary import queue_summary

    cfg = Config(
        llm_mode="on",
        llm=LLMConfig(base_url=llm_url, api_key="bench-key", concurrency=concurrency, timeout=30.0, max_retries=3),
        cache=CacheConfig(dir=cache_dir),
    )
    sleep = ScaledSleep(sleep_scale)
    start = time.perf_counter()
    queue, plan = run_batch(
        cfg, REPO, api_url=github_url, token=TOKEN, apply=False, out_dir=Path(out_dir), now=NOW, sleep=sleep
    )
    wall = time.perf_counter() - start
    report = json.loads((Path(out_dir) / "queue.json").read_text(encoding="utf-8"))
    markdown = (Path(out_dir) / "queue.md").read_text(encoding="utf-8")
    degraded = asdict(queue_summary(queue).degraded)
    numbers = sorted(i.pr.number for i in queue.items if i.pr.number is not None)
    return {
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": peak_rss_mb(),
        "items": len(queue.items),
        # every open PR is an item exactly once, and every item carries a decision
        "prs_missing": sorted(set(range(1, count + 1)) - set(numbers)),
        "prs_duplicated": len(numbers) - len(set(numbers)),
        "decisions": dict(Counter(i.decision.kind.value for i in queue.items)),
        "review_sources": dict(Counter(i.assessment.review.source.value for i in queue.items)),
        "degraded": degraded,
        "degraded_in_queue_json": report["summary"]["degraded"],
        "degraded_line_in_queue_md": next((ln for ln in markdown.splitlines() if "**Degraded:**" in ln), None),
        "load_error_prs": [i.pr.number for i in queue.items if i.pr.load_errors],
        "planned_actions": dict(Counter(a.kind.value for a in plan)),
        "github_waits": sleep.waits,
        "github_wait_seconds_requested": round(sleep.requested, 1),
        "github_wait_seconds_slept": round(sleep.requested * sleep_scale, 1),
    }


def scenario(
    count: int = 2500,
    *,
    llm_latency: float = 0.2,
    concurrency: int = 16,
    llm_fail_rate: float = 0.10,
    github_fail_rate: float = 0.10,
    hard_every: int = 100,
    sleep_scale: float = 0.05,
    seed: int = 23,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        gh_args = [
            "bench.github_scale",
            "serve-github",
            str(count),
            str(github_fail_rate),
            str(hard_every),
            str(seed),
            str(t / "gh-url"),
            str(t / "gh-counts"),
        ]
        llm_args = [
            "bench.llm_scale",
            "serve",
            str(llm_latency),
            str(llm_fail_rate),
            str(t / "llm-url"),
            str(t / "llm-counts"),
        ]
        gh_server, gh_url = start_stub(gh_args, t / "gh-url", wait=300.0)
        try:
            llm_server, llm_url = start_stub(llm_args, t / "llm-url")
            try:
                run = run_child(
                    [
                        "bench.github_scale",
                        "child",
                        str(count),
                        gh_url,
                        llm_url,
                        str(t / "cache"),
                        str(t / "out"),
                        str(sleep_scale),
                        str(concurrency),
                    ]
                )
            finally:
                llm = stop_stub(llm_server, t / "llm-counts")
        finally:
            github = stop_stub(gh_server, t / "gh-counts")
    hard = hard_fault_numbers(count, hard_every)
    ideal = count * llm_latency / concurrency
    return {
        "prs": count,
        "mode": "dry run (no writes), LLM on",
        "llm_latency_seconds": llm_latency,
        "llm_concurrency": concurrency,
        "llm_fail_rate": llm_fail_rate,
        "llm_ideal_seconds": round(ideal, 1),
        "github_fail_rate": github_fail_rate,
        "github_hard_fault_every": hard_every,
        "github_sleep_scale": sleep_scale,
        "every_pr_decided": run["items"] == count and not run["prs_missing"] and not run["prs_duplicated"],
        "load_errors_expected_from_hard_faults": len(hard),
        "load_errors_match": sorted(run["load_error_prs"]) == hard,
        "run": run,
        "github_server": github,
        "llm_server": llm,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.github_scale")
    parser.add_argument("mode", choices=("serve-github", "child", "scenario"))
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args(argv)
    if ns.mode == "serve-github":
        count, fail_rate, hard_every, seed, port_file, count_file = ns.args
        serve_github(int(count), float(fail_rate), int(hard_every), int(seed), Path(port_file), Path(count_file))
    elif ns.mode == "child":
        count, github_url, llm_url, cache, out, scale, concurrency = ns.args
        print(json.dumps(batch_child(int(count), github_url, llm_url, cache, out, float(scale), int(concurrency))))
    else:
        count = int(ns.args[0]) if ns.args else 2500
        print(json.dumps(scenario(count)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

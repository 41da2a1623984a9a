"""Scale scenarios for `make bench`: 2,500 PRs through the LLM stage against a loopback stub.

Three processes, so each figure is measured alone: the OpenAI-compatible stub
(`tests/openai_stub.py`, 1 s latency per call, optionally failing a share of calls in mixed
ways) runs in its own process; the pipeline runs in a child process whose peak RSS is its own;
this process only orchestrates. The same seeded corpus is triaged twice with one cache
directory: the second run must make zero requests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]


def serve(latency: float, fail_rate: float, port_file: Path, count_file: Path) -> None:
    """Run the stub until SIGTERM; then write how many requests it answered."""
    sys.path.insert(0, str(ROOT / "tests"))
    from openai_stub import VALID_REVIEW, OpenAIStub, empty_choices, ok, raw, status

    rng = random.Random(11)
    faults = [
        lambda: status(429, "slow down", headers={"retry-after": "1"}),
        lambda: status(500),
        lambda: status(502),
        lambda: status(503),
        lambda: raw(b"<html>gateway</html>"),
        empty_choices,
        lambda: ok({"summary": 3, "flags": "nope"}),
    ]
    counts = Counter[str](requests=0, faults=0)

    def responder(_request: dict[str, Any]) -> Any:
        counts["requests"] += 1
        if rng.random() < fail_rate:
            counts["faults"] += 1
            return rng.choice(faults)()
        return ok(VALID_REVIEW, delay=latency)

    def stop(*_: object) -> None:
        count_file.write_text(json.dumps(dict(counts)))
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with OpenAIStub(default=None, responder=responder) as stub:
        port_file.write_text(stub.base_url)
        while True:
            time.sleep(0.5)


def triage_child(count: int, base_url: str, concurrency: int, cache_dir: str) -> dict[str, Any]:
    """The pipeline on the corpus with the LLM on; runs in its own process."""
    from bench.corpus import NOW, generate
    from triage.config import CacheConfig, Config, LLMConfig
    from triage.pipeline import RunContext, run

    cfg = Config(
        llm_mode="on",
        llm=LLMConfig(base_url=base_url, api_key="bench-key", concurrency=concurrency, timeout=30.0, max_retries=3),
        cache=CacheConfig(dir=cache_dir),
    )
    start = time.perf_counter()
    queue = run(generate(count), cfg, RunContext(now=NOW))
    wall = time.perf_counter() - start
    return {
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": peak_rss_mb(),
        # the static stage's worker processes: the largest one (ru_maxrss of children is a max)
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "items": len(queue.items),
        "decisions": dict(Counter(i.decision.kind.value for i in queue.items)),
        "review_sources": dict(Counter(i.assessment.review.source.value for i in queue.items)),
        "cached_reviews": sum(1 for i in queue.items if i.assessment.review.cached),
    }


def start_stub(args: list[str], port_file: Path, *, wait: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start a stub server, `python -m <args>`, in its own process; return it and its URL once
    it has written the URL to `port_file` (shared with `bench.github_scale`)."""
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT)
    deadline = time.monotonic() + wait
    while not (port_file.exists() and port_file.read_text()):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"stub {' '.join(args[:2])} did not start (exit code {server.poll()})")
        time.sleep(0.05)
    return server, port_file.read_text()


def stop_stub(server: subprocess.Popen[bytes], count_file: Path) -> dict[str, Any]:
    """Stop a stub started by `start_stub` (SIGTERM) and return the counts it wrote on the way out."""
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=10)
    counts: dict[str, Any] = json.loads(count_file.read_text())
    return counts


def run_child(args: list[str]) -> dict[str, Any]:
    """Run `python -m <args>` to completion; its last stdout line is its result as JSON."""
    out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run_child(count: int, url: str, concurrency: int, cache_dir: str) -> dict[str, Any]:
    return run_child(["bench.llm_scale", "child", str(count), url, str(concurrency), cache_dir])


def scenario(count: int = 2500, latency: float = 1.0, concurrency: int = 16, fail_rate: float = 0.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file, count_file = Path(tmp) / "url", Path(tmp) / "counts"
        serve_args = ["bench.llm_scale", "serve", str(latency), str(fail_rate), str(port_file), str(count_file)]
        cache = str(Path(tmp) / "cache")
        server, url = start_stub(serve_args, port_file)
        try:
            first = _run_child(count, url, concurrency, cache)
        finally:
            first_requests = stop_stub(server, count_file)
        server, url = start_stub(serve_args, port_file)
        try:
            second = _run_child(count, url, concurrency, cache)
        finally:
            second_requests = stop_stub(server, count_file)
    ideal = count * latency / concurrency
    return {
        "prs": count,
        "latency_seconds": latency,
        "concurrency": concurrency,
        "fail_rate": fail_rate,
        "ideal_seconds": round(ideal, 1),
        "first_run": {**first, "server": first_requests, "ratio_to_ideal": round(first["wall_seconds"] / ideal, 2)},
        "second_run": {
            **second,
            "server": second_requests,
            "cache_hit_rate": round(second["cached_reviews"] / max(1, count), 3),
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_scale")
    parser.add_argument("mode", choices=("serve", "child", "scenario"))
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args(argv)
    if ns.mode == "serve":
        latency, fail_rate, port_file, count_file = ns.args
        serve(float(latency), float(fail_rate), Path(port_file), Path(count_file))
    elif ns.mode == "child":
        count, url, concurrency, cache = ns.args
        print(json.dumps(triage_child(int(count), url, int(concurrency), cache)))
    else:
        count = int(ns.args[0]) if ns.args else 2500
        print(json.dumps(scenario(count, fail_rate=float(os.environ.get("FAIL_RATE", "0")))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

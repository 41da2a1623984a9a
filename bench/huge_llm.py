"""A 50 MB diff with the LLM on, against a loopback stub: the pipeline's peak RSS.

The stub runs in its own process (`bench.llm_scale serve`, no latency); the pipeline runs
`triage run` in-process in a child of its own, so the figure is the child's own peak
(`bench.memory.peak_rss_mb`): reading the file, parsing, measuring, building the budgeted
prompt, and writing the three reports. The diff is generated into a temporary directory.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.llm_scale import run_child, start_stub, stop_stub
from bench.memory import peak_rss_mb

__all__ = ["scenario"]


def write_diff(path: Path, size: int) -> int:
    """A diff of about `size` bytes: many Python files, each one added and one changed hunk."""
    import random

    from bench.corpus import huge_diff_chunks

    written = 0
    with path.open("w", encoding="utf-8") as fh:
        for text in huge_diff_chunks(size, random.Random(5)):
            fh.write(text)
            written += len(text)
    return written


def child(diff: str, url: str, out: str) -> dict[str, Any]:
    """`triage run DIFF --out OUT` with the LLM on, in this process."""
    import os

    from triage.cli import main

    os.environ["OPENAI_BASE_URL"] = url
    os.environ["OPENAI_API_KEY"] = "bench-key"
    os.environ["TRIAGE_CACHE_DIR"] = str(Path(out) / "cache")
    start = time.perf_counter()
    code = main(["run", diff, "--out", out, "--llm", "on", "--no-progress"])
    wall = time.perf_counter() - start
    return {"exit_code": code, "wall_seconds": round(wall, 1), "peak_rss_mb": peak_rss_mb()}


def scenario(megabytes: int = 50) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        diff = root / "huge.diff"
        size = write_diff(diff, megabytes * 1024 * 1024)
        port_file, count_file = root / "url", root / "counts"
        server, url = start_stub(["bench.llm_scale", "serve", "0", "0", str(port_file), str(count_file)], port_file)
        try:
            result = run_child(["bench.huge_llm", "child", str(diff), url, str(root / "out")])
        finally:
            counts = stop_stub(server, count_file)
        queue = json.loads((root / "out" / "queue.json").read_text())
    item = queue["items"][0]
    return {
        "diff_bytes": size,
        **result,
        "llm_requests": counts.get("requests", 0),
        "review_source": item["review"]["source"],
        "omitted": len(item["review"]["omitted"]),
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "child":
        print(json.dumps(child(*argv[1:4])))
    else:
        print(json.dumps(scenario(int(argv[0]) if argv else 50)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

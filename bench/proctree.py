"""Wall time, CPU and peak memory of a command *and every process it starts*.

`getrusage(RUSAGE_CHILDREN)` misses the static stage's workers: they are children of the
multiprocessing fork server, not of the command, so their CPU never reaches the parent's
accounts. This samples /proc every `interval` seconds instead: each process of the tree
(found by parent pid) contributes its last seen utime+stime, and the peak is the largest sum
of resident sets seen at one instant (what the machine had to hold) as well as the largest
single process. Linux only; elsewhere the CPU and memory figures are None.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = ["measure_command"]

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, utime+stime in clock ticks, rss in pages) of one process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21])


def _tree(root: int) -> dict[int, tuple[int, int]]:
    """{pid: (cpu ticks, rss pages)} of `root` and all its descendants right now."""
    parents: dict[int, int] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is not None:
            parents[int(entry.name)] = found[0]
            stats[int(entry.name)] = found[1:]
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return {pid: stats[pid] for pid in members if pid in stats}


def measure_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    interval: float = 0.1,
    stdout: Path | None = None,
    stderr: Path | None = None,
) -> dict[str, Any]:
    """Run `argv` to completion; return its exit code, wall seconds, CPU seconds of the whole
    process tree, cores used (CPU / wall) and peak RSS (tree total and largest process).
    Its output is dropped, or written to the files `stdout` / `stderr` name."""
    linux = _PROC.is_dir() and (_PROC / "self" / "stat").is_file()
    ticks = os.sysconf("SC_CLK_TCK") if linux else 100
    page = os.sysconf("SC_PAGE_SIZE") if linux else 4096
    cpu: dict[int, int] = {}
    start = time.perf_counter()
    with ExitStack() as files:
        out = files.enter_context(stdout.open("wb")) if stdout is not None else subprocess.DEVNULL
        err = files.enter_context(stderr.open("wb")) if stderr is not None else None
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, stdout=out, stderr=err)
        peak_total, peak_one = _watch(proc, cpu, linux, page, interval)
    wall = time.perf_counter() - start
    cpu_seconds = sum(cpu.values()) / ticks if linux else None
    return {
        "exit_code": proc.returncode,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu_seconds, 2) if cpu_seconds is not None else None,
        "cores_used": round(cpu_seconds / wall, 2) if cpu_seconds is not None and wall else None,
        "peak_rss_mb_total": round(peak_total / 2**20, 1) if linux else None,
        "peak_rss_mb_largest_process": round(peak_one / 2**20, 1) if linux else None,
    }


def _watch(
    proc: subprocess.Popen[bytes], cpu: dict[int, int], linux: bool, page: int, interval: float
) -> tuple[int, int]:
    """Sample the tree until `proc` ends: CPU per pid into `cpu`; returns the RSS peaks."""
    peak_total = peak_one = 0
    while proc.poll() is None:
        if linux:
            now = _tree(proc.pid)
            for pid, (used, _) in now.items():
                cpu[pid] = max(cpu.get(pid, 0), used)
            rss = [pages * page for _, pages in now.values()]
            peak_total = max(peak_total, sum(rss))
            peak_one = max(peak_one, max(rss, default=0))
        time.sleep(interval)
    return peak_total, peak_one

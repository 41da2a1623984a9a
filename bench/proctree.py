"""Wall time, CPU and peak memory of a command *and every process it starts*.

`getrusage(RUSAGE_CHILDREN)` misses the static stage's workers: they are children of the
multiprocessing fork server, not of the command, so their CPU never reaches the parent's
accounts. This samples /proc every `interval` seconds instead: each process of the tree
(found by parent pid) contributes its last seen utime+stime *and* the CPU of the children it
has reaped (cutime+cstime: the many short `git` processes, which live less than one interval
and are never seen themselves). A process that was seen and then reaped by a parent of the
tree is in that parent's children time already: the overlap is taken off once. The command
itself is measured exactly by `getrusage` after it exits. The peak is the largest sum of
resident sets seen at one instant as well as the largest single process, and the largest sum
of proportional set sizes (PSS: shared pages split between the processes sharing them, so the
pack files every `git` process maps count once; what the machine had to hold). A `vfork` child
caught before its exec shows its parent's memory and is not counted again. The 1-minute
load average before and after says how busy the machine was (wall time on a shared machine
means little without it). Linux only; elsewhere the CPU and memory figures are None.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = ["measure_command"]

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int, int, int] | None:
    """(parent pid, utime+stime, cutime+cstime in clock ticks, rss in pages) of one process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    return int(fields[1]), own, reaped, int(fields[21])


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split between their processes: the many
    `git` processes map the same pack files, which a sum of RSS counts once per process)."""
    try:
        with open(_PROC / str(pid) / "smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(_PROC / str(pid) / "exe")
    except OSError:
        return None


def _shares_parent_memory(pid: int, tree: Mapping[int, tuple[int, int, int, int]], pss: Mapping[int, int]) -> bool:
    """Whether `pid` is a `vfork` child that has not called exec yet: Python starts each `git`
    that way, and until exec the child runs in its parent's address space, so /proc shows it
    the parent's whole memory a second time (a sample that caught one counted a worker twice).
    Seen as: same executable as its parent, and the very same resident and proportional sizes
    (the parent is suspended meanwhile). A child just forked also matches for an instant;
    skipping it then undercounts one sample by its share, which a peak does not notice."""
    parent = tree[pid][0]
    if parent not in tree or tree[pid][3] != tree[parent][3] or pss.get(pid) != pss.get(parent):
        return False
    exe = _exe(pid)
    return exe is not None and exe == _exe(parent)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _tree(root: int) -> dict[int, tuple[int, int, int, int]]:
    """{pid: (parent, own cpu ticks, reaped children's ticks, rss pages)} of `root` and all its
    descendants right now."""
    parents: dict[int, int] = {}
    stats: dict[int, tuple[int, int, int, int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is not None:
            parents[int(entry.name)] = found[0]
            stats[int(entry.name)] = found
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
    own: dict[int, int] = {}
    reaped: dict[int, int] = {}
    parent_of: dict[int, int] = {}
    peak_total = peak_one = peak_pss = 0
    load_before = _load()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # The parent's copies of the output files can close once the child has inherited them.
    with ExitStack() as files:
        out = files.enter_context(stdout.open("wb")) if stdout is not None else subprocess.DEVNULL
        err = files.enter_context(stderr.open("wb")) if stderr is not None else None
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, stdout=out, stderr=err)
    while proc.poll() is None:
        if linux:
            now = _tree(proc.pid)
            for pid, (parent, used, kids, _) in now.items():
                own[pid] = max(own.get(pid, 0), used)
                reaped[pid] = max(reaped.get(pid, 0), kids)
                parent_of[pid] = parent
            pss = {pid: _pss(pid) for pid in now}
            alone = [pid for pid in now if not _shares_parent_memory(pid, now, pss)]
            rss = [now[pid][3] * page for pid in alone]
            peak_total = max(peak_total, sum(rss))
            peak_one = max(peak_one, max(rss, default=0))
            peak_pss = max(peak_pss, sum(pss[pid] for pid in alone))
        time.sleep(interval)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds: float | None = None
    if linux:
        # Seen processes reaped by a seen parent are in that parent's children time already.
        dead_children: dict[int, int] = {}
        for pid, parent in parent_of.items():
            if pid != proc.pid and parent in parent_of:
                dead_children[parent] = dead_children.get(parent, 0) + own[pid] + reaped[pid]
        overlap = sum(min(reaped[parent], total) for parent, total in dead_children.items())
        sampled = sum(own.values()) + sum(reaped.values()) - overlap
        root = own.get(proc.pid, 0) + reaped.get(proc.pid, 0)
        exact_root = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        cpu_seconds = max(0.0, (sampled - root) / ticks) + max(exact_root, root / ticks)
    return {
        "exit_code": proc.returncode,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu_seconds, 2) if cpu_seconds is not None else None,
        "cores_used": round(cpu_seconds / wall, 2) if cpu_seconds is not None and wall else None,
        "peak_rss_mb_total": round(peak_total / 2**20, 1) if linux else None,
        "peak_rss_mb_largest_process": round(peak_one / 2**20, 1) if linux else None,
        "peak_pss_mb_total": round(peak_pss / 2**20, 1) if linux else None,
        "load_average_before_after": [load_before, _load()],
    }

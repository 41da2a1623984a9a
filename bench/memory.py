"""Peak resident memory of the current process, for the benchmark figures.

`getrusage(RUSAGE_SELF).ru_maxrss` is not enough on Linux: it survives `execve`, so a child
started by a benchmark that already peaked at 230 MB reports at least 230 MB whatever it used
itself. `VmHWM` in /proc/self/status belongs to the process's own address space, which `execve`
replaces, so it is the child's own peak. Elsewhere `ru_maxrss` is the best there is.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

__all__ = ["peak_rss_mb"]


def peak_rss_mb() -> float:
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)

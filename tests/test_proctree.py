"""`bench.proctree`: what the memory figures of a process tree count (Linux /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.proctree import _shares_parent_memory, measure_command

pytestmark = pytest.mark.skipif(not Path("/proc/self/exe").exists(), reason="needs Linux /proc")


def test_a_child_showing_its_parents_very_memory_is_a_vfork_child_not_counted_twice() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    other = subprocess.Popen(["sleep", "30"])
    try:
        me = os.getpid()
        tree = {me: (1, 0, 0, 500), child.pid: (me, 0, 0, 500), other.pid: (me, 0, 0, 500)}
        same = {me: 7, child.pid: 7, other.pid: 7}
        assert _shares_parent_memory(child.pid, tree, same)  # same program, the very same sizes
        assert not _shares_parent_memory(child.pid, tree, {**same, child.pid: 3})  # its own memory
        assert not _shares_parent_memory(other.pid, tree, same)  # another program (after exec)
        assert not _shares_parent_memory(me, tree, same)  # its parent is outside the tree
    finally:
        for proc in (child, other):
            proc.kill()
            proc.wait()


def test_a_tree_of_a_python_and_its_children_is_measured() -> None:
    code = "import subprocess; [subprocess.run(['true']) for _ in range(20)]; x = bytearray(50 << 20)"
    figures = measure_command([sys.executable, "-c", code + "; import time; time.sleep(0.5)"], interval=0.05)
    assert figures["exit_code"] == 0
    assert figures["peak_rss_mb_largest_process"] >= 50
    assert 50 <= figures["peak_pss_mb_total"] < 2 * figures["peak_rss_mb_largest_process"]

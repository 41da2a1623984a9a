"""Size and diffusion of a change: ParsedDiff -> the counting fields of `Metrics` (pure).

Counted lines exclude generated, vendored and lockfile churn (`FileKind.counts`): machine-made
lines cost no review and carry no defect signal of their own. Diffusion (directories,
subsystems, entropy) is measured over the counted files too, because it stands for how much of
the system a reviewer must hold in mind; only when *nothing* counts (a lockfile-only PR) are all
files used, so the report still shows where the PR lands.

Entropy is Kamei et al. 2013's ENTROPY (after Hassan 2009): H = -sum p_k log2 p_k over the
changed files, p_k = file k's changed lines / all changed lines, normalised by log2(n) so that
1.0 means "spread evenly over n files" and 0 means "all in one file".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from triage.config import SizeConfig
from triage.models import FileDiff, FileKind, SizeBucket

__all__ = ["directory_of", "entropy", "kind_counts", "size_bucket", "subsystem_of"]


def size_bucket(changed_lines: int, cfg: SizeConfig) -> SizeBucket:
    """Prow's `size` plugin buckets; every bound is exclusive (9 lines is XS, 10 is S)."""
    for bound, bucket in (
        (cfg.xs, SizeBucket.XS),
        (cfg.s, SizeBucket.S),
        (cfg.m, SizeBucket.M),
        (cfg.l, SizeBucket.L),
        (cfg.xl, SizeBucket.XL),
    ):
        if changed_lines < bound:
            return bucket
    return SizeBucket.XXL


def entropy(changes: Sequence[int]) -> float:
    """Normalised Shannon entropy of the distribution of changed lines over files, in [0, 1]."""
    lines = [c for c in changes if c > 0]
    total = sum(lines)
    if len(lines) <= 1 or total == 0:
        return 0.0
    h = -sum((c / total) * math.log2(c / total) for c in lines)
    return min(1.0, max(0.0, h / math.log2(len(lines))))


def subsystem_of(path: str) -> str:
    """Top-level path component ("." for a file at the repository root)."""
    head, sep, _ = path.partition("/")
    return head if sep else "."


def directory_of(path: str) -> str:
    head, sep, _ = path.rpartition("/")
    return head if sep else "."


def kind_counts(files: Sequence[FileDiff]) -> tuple[tuple[str, int], ...]:
    """(kind, files) in FileKind declaration order, kinds with no file left out."""
    counts = {kind: 0 for kind in FileKind}
    for f in files:
        counts[f.kind] += 1
    return tuple((kind.value, n) for kind, n in counts.items() if n)

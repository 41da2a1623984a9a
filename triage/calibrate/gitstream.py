"""Many commits' diffs from one `git diff-tree --stdin` process: what calibration reads.

Calibration reads a diff per commit (10,000 of them for the features, one per fix for SZZ).
A `git` process per diff costs a process start and the repository's setup each time (a few
milliseconds of CPU, and a `fork` of a large Python process) which is a good part of a small
commit's whole cost. `git diff-tree --stdin` reads `<commit> <parent>` lines and prints, for
each, a line holding the commit id and then the patch of parent -> commit: the same bytes as
`git diff-tree [options] <parent> <commit>` (a test checks it), for a batch at once.

Records are split at the header lines. A header is a line that is exactly a commit id asked
for later in the batch: no patch line can be one (every patch line starts with a marker, ` `,
`+`, `-`, `@`, `\\` or a header word, and a binary-patch line holds base-85 text whose length,
1 + 5k characters, is never that of an id). `git` skips a pair whose objects it cannot read
without a word, so a missing record is detected by the header that comes instead, and the
caller gets None for it (it then asks git for that one diff alone, which reports the error
as the one-diff path always did). A process that fails leaves None for what it did not
finish.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence

from triage.gitrepo import _GIT_ENV, GitRepo

__all__ = ["MAX_BATCH", "diff_batch"]

# Pairs per process. The requests are written before the output is read, so they must fit the
# pipe (64 KiB on Linux; a line is at most 130 bytes): 256 lines are 33 KiB at most.
MAX_BATCH = 256


def diff_batch(
    repo: GitRepo,
    pairs: Sequence[tuple[str, str]],
    options: Sequence[str],
    *,
    config: Sequence[str] = (),
) -> Iterator[bytes | None]:
    """The patch of each (parent, commit) pair, in order, as `git diff-tree <options> parent
    commit` prints it; None for a pair git did not answer. `config` are `-c key=value`
    arguments placed before the subcommand. At most `MAX_BATCH` pairs."""
    if len(pairs) > MAX_BATCH:
        raise ValueError(f"diff_batch: {len(pairs)} pairs, at most {MAX_BATCH}")
    if not pairs:
        return
    request = "".join(f"{commit} {parent}\n" for parent, commit in pairs).encode("ascii")
    try:
        proc = subprocess.Popen(
            ["git", "-C", str(repo.path), *config, "diff-tree", "--stdin", "--always", *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **_GIT_ENV},
        )
    except OSError:
        yield from (None for _ in pairs)
        return
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except OSError:  # git died before reading its input: nothing it printed can be trusted
        proc.kill()
    # Where each commit's record starts: a header names the pair at or after `expected`.
    headers: dict[bytes, list[int]] = {}
    for i, (_, commit) in enumerate(pairs):
        headers.setdefault(commit.encode("ascii") + b"\n", []).append(i)
    expected = 0  # the next pair whose record has not been yielded
    current: int | None = None  # the pair whose record is being read
    chunks: list[bytes] = []
    try:
        for line in proc.stdout:
            at = _header_at(headers, line, expected if current is None else current + 1)
            if at is None:
                if current is not None:
                    chunks.append(line)
                continue
            if current is not None:
                yield b"".join(chunks)
                expected = current + 1
            yield from (None for _ in range(expected, at))
            current, expected, chunks = at, at, []
        ok = proc.wait() == 0
        if current is not None:
            yield b"".join(chunks) if ok else None
            expected = current + 1
        yield from (None for _ in range(expected, len(pairs)))
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _header_at(headers: dict[bytes, list[int]], line: bytes, start: int) -> int | None:
    """The first pair at or after `start` whose header `line` is, or None."""
    if len(line) not in (41, 65):
        return None
    for i in headers.get(line, ()):
        if i >= start:
            return i
    return None

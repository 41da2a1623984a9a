"""Read-only access to a local git repository: the one place that runs `git`.

Used by the git-range source, by the metrics stage (file contents before/after, history) and by
the policy stage (CODEOWNERS and .gitattributes from the *base* revision). It never checks out,
builds or runs anything from the repository: it only reads objects, so it is safe on
untrusted PR branches.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from triage.errors import InputError

# Git must never consult the user's pager, editor, or credential helpers, and its output must
# not depend on the user's locale or colour settings.
_GIT_ENV = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
}
# For the long-lived processes (`cat-file --batch`, `diff-tree --stdin`): git keeps a cache of
# delta bases per process, 96 MB by default, and on a real repository each `cat-file` grew to
# most of it (three of them held more memory than the Python workers). 8 MB costs about a
# tenth more CPU on reads through deep delta chains.
_LONG_LIVED = ("-c", "core.deltaBaseCacheLimit=8m")
_BLOBS = 256  # file contents kept per repository handle ...
_BLOB_BYTES = 8 << 20  # ... and their total size
# A full object id names the same object for the whole run: what it resolves to can be cached.
_MAX_KNOWN_COMMITS = 65_536  # resolved full ids kept per handle (~10 MB at most)
_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# `diff-tree --stdin` copies a line that names no object to its output and flushes: written
# after each commit, it marks where that commit's diff ends. No line of a diff starts with `#`.
_END_OF_DIFF = b"#pr-triage: end of diff\n"


class GitRepo:
    """A git repository on disk. All methods are reads; failures raise `InputError`.

    Object reads (`show`, `has_revision`) go through one long-lived `git cat-file --batch`
    process per repository handle, started on first use: a PR reads a dozen blobs and revisions,
    and a process per read cost more than the rest of its triage. What a full object id resolves
    to is cached (every stage asks again for the same PR's base and head). The handle pickles as
    its path only, so each worker process of the static stage opens its own.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: --repo is not a directory")
        top = self._git_or_none("rev-parse", "--show-toplevel")
        if top is None and (self._git_or_none("rev-parse", "--is-bare-repository") or b"").strip() == b"true":
            top = self._git_or_none("rev-parse", "--absolute-git-dir")  # a bare clone or mirror
        if top is None:
            raise InputError(f"{self.path}: --repo is not a git repository")
        self.path = Path(top.decode().strip())
        self._open()

    def _open(self) -> None:
        # Blob contents (`show`), bounded by count and bytes: a larger cache only held file
        # contents of PRs long done (peak memory of a range grew).
        self._blobs: OrderedDict[tuple[str, str], bytes | None] = OrderedDict()
        self._blob_bytes = 0
        # Full object ids found to be commits (only hits: an id absent now may be fetched later).
        self._commits: dict[str, str] = {}
        self._batch: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.path = Path(str(state["path"]))
        self._open()

    def close(self) -> None:
        """Stop the `cat-file` process (also done when the handle is garbage-collected)."""
        proc, self._batch = self._batch, None
        if proc is not None:
            # `stop_process` never waits forever: a forked child holding a copy of the pipe would keep
            # cat-file from seeing the end of its input, and close() runs from __del__, in
            # whatever thread the garbage collector interrupts.
            stop_process(proc, timeout=2)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to clean up with
            return

    def _run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, **_GIT_ENV, **(env or {})}
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), *args],
                capture_output=True,
                env=full_env,
                input=input,
                check=False,
            )
        except FileNotFoundError as exc:
            raise InputError("git: command not found (install git to use --repo or --git)") from exc
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"{self.path}: git {' '.join(args[:3])} failed: {err[0] if err else proc.returncode}")
        return proc

    def _git_or_none(self, *args: str) -> bytes | None:
        proc = self._run(args, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def git(self, *args: str) -> bytes:
        """Run a read-only git command and return stdout; raise InputError on failure."""
        return self._run(args).stdout

    def plumb(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, bytes, bytes]:
        """(exit status, stdout, stderr) of a plumbing command whose status carries an answer
        (`merge-tree` exits 1 on conflicts, `apply --check` when a patch does not apply).
        `env` adds variables such as a scratch `GIT_INDEX_FILE` / `GIT_OBJECT_DIRECTORY`, so a
        check never touches the repository's own index or object store."""
        proc = self._run(args, check=False, input=input, env=env)
        return proc.returncode, proc.stdout, proc.stderr

    def version(self) -> tuple[int, int]:
        """git's (major, minor) version; (0, 0) when it cannot be read."""
        out = self._git_or_none("version") or b""
        parts = out.decode("ascii", "replace").split()
        numbers = parts[2].split(".") if len(parts) >= 3 else []
        try:
            return int(numbers[0]), int(numbers[1])
        except (IndexError, ValueError):
            return 0, 0

    def rev_parse(self, rev: str) -> str:
        # The batch process answers in a round trip instead of a process per call (the history
        # stage resolves every PR's base); git's own error path stays the reference.
        found = self._resolve(rev)
        if found is not None:
            return found
        out = self._git_or_none("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        if out is None:
            raise InputError(f"{self.path}: unknown revision '{rev}'")
        return out.decode().strip()

    def has_revision(self, rev: str) -> bool:
        return self._resolve(rev) is not None

    def _resolve(self, rev: str) -> str | None:
        """The commit `rev` names, or None (from the batch process; a full id found is cached)."""
        known = self._commits.get(rev)
        if known is not None:
            return known
        try:
            found = self._commit_of(rev)
        except InputError:
            return None
        if found is not None and _OBJECT_ID.fullmatch(rev) and len(self._commits) < _MAX_KNOWN_COMMITS:
            self._commits[rev] = found
        return found

    def _commit_of(self, rev: str) -> str | None:
        found = self._lookup(f"{rev}^{{commit}}")
        return found[0].decode("ascii") if found is not None and found[1] == b"commit" else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._run(["merge-base", "--is-ancestor", ancestor, descendant], check=False).returncode == 0

    def _object(self, name: str) -> tuple[bytes, bytes] | None:
        """(type, content) of an object named like `rev:path` or `rev^{commit}`, or None when
        it does not exist (or is absent from a partial clone), read from the batch process."""
        found = self._lookup(name)
        return None if found is None else found[1:]

    def _lookup(self, name: str) -> tuple[bytes, bytes, bytes] | None:
        """(object id, type, content) of `name`, as `_object`."""
        if any(c in name for c in "\n\r"):
            return None  # one request per line: a newline would desynchronise the stream
        with self._lock:
            proc = self._batch
            if proc is None or proc.poll() is not None:
                proc = self._batch = self._popen(["cat-file", "--batch"])
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
                parts = header.split()
                if len(parts) != 3 or parts[1] == b"missing":
                    if not header:
                        raise OSError("git cat-file --batch stopped")
                    return None
                size = int(parts[2])
                data = proc.stdout.read(size)
                proc.stdout.read(1)  # the newline after the content
            except (OSError, ValueError) as exc:
                self._batch = None
                proc.kill()
                raise InputError(f"{self.path}: git cat-file failed: {exc}") from exc
            return parts[0], parts[1], data

    def _show_uncached(self, rev: str, path: str) -> bytes | None:
        found = self._object(f"{rev}:{path}")
        return found[1] if found is not None and found[0] == b"blob" else None

    def show(self, rev: str, path: str) -> bytes | None:
        """The file's bytes at `rev`, or None when it does not exist there. The last files read
        are kept, bounded by count and by bytes (`_BLOBS`, `_BLOB_BYTES`): a PR rereads a few
        files (lines before, complexity, the base check), and a count alone let a run of
        lockfile updates hold tens of megabytes in every worker."""
        key = (rev, path)
        with self._lock:
            if key in self._blobs:
                self._blobs.move_to_end(key)
                return self._blobs[key]
        data = self._show_uncached(rev, path)
        size = len(data) if data is not None else 0
        if size > _BLOB_BYTES // 4:
            return data  # one file that large would push out everything else
        with self._lock:
            if key not in self._blobs:
                self._blobs[key] = data
                self._blob_bytes += size
            while len(self._blobs) > _BLOBS or self._blob_bytes > _BLOB_BYTES:
                _, old = self._blobs.popitem(last=False)
                self._blob_bytes -= len(old) if old is not None else 0
        return data

    def commit_diffs(
        self, commits: Iterable[str], args: Sequence[str], *, config: Sequence[str] = ()
    ) -> Generator[bytes | None, None, None]:
        """`git diff-tree -p ARGS COMMIT` against its parents for each commit, in order, from ONE
        `git diff-tree --stdin` process (a process per commit cost more than the diff itself on
        a range of thousands). Lazy: a commit is asked for when the consumer wants its diff, so
        one diff is in flight at a time. None for a commit the stream could not give (git stopped
        on it, e.g. an object missing from a partial clone): the caller asks git for that commit
        alone, which says why; the stream restarts for the next one. `config` are `-c key=value`
        arguments for git (calibration's SZZ diffs keep paths unquoted)."""
        proc: subprocess.Popen[bytes] | None = None
        try:
            for sha in commits:
                if not _OBJECT_ID.fullmatch(sha):
                    yield None  # only object ids travel down the stream
                    continue
                if proc is None:
                    proc = self._popen(["diff-tree", "--stdin", "--always", "--root", *args], config)
                diff = _one_diff(proc, sha)
                if diff is None:
                    stop_process(proc, kill=True)
                    proc = None
                yield diff
        finally:
            if proc is not None:
                stop_process(proc)

    def _popen(self, args: Sequence[str], config: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        env = {**os.environ, **_GIT_ENV}
        try:
            return subprocess.Popen(
                ["git", "-C", str(self.path), *_LONG_LIVED, *config, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except FileNotFoundError as exc:
            raise InputError("git: command not found (install git to use --repo or --git)") from exc

    def default_base(self) -> str:
        """The revision patches are assumed to apply to when nothing says otherwise: HEAD."""
        return self.rev_parse("HEAD")


def _one_diff(proc: subprocess.Popen[bytes], sha: str) -> bytes | None:
    """The diff `diff-tree --stdin` prints for `sha` (after its header line, up to the end
    mark), or None when it printed something else or stopped."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(sha.encode("ascii") + b"\n" + _END_OF_DIFF)
        proc.stdin.flush()
        if proc.stdout.readline() != sha.encode("ascii") + b"\n":
            return None  # not a commit git could read (it printed the mark alone), or it stopped
        lines: list[bytes] = []
        for line in iter(proc.stdout.readline, b""):
            if line == _END_OF_DIFF:
                return b"".join(lines)
            lines.append(line)
    except (OSError, ValueError):
        return None
    return None  # git stopped halfway through the diff


def stop_process(proc: subprocess.Popen[bytes], *, kill: bool = False, timeout: float = 30) -> None:
    """End a streaming process: at the end of its input it exits by itself; one that went
    wrong, or that does not exit within `timeout` seconds, is killed."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):  # a pipe to a process that died
            proc.stdin.close()
    if kill and proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class Tree(Protocol):
    """A snapshot of a repository at one revision: where CODEOWNERS, .gitattributes and the
    before/after contents of changed files are read from."""

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist in this snapshot."""
        ...


class GitTree:
    """A revision of a git repository."""

    def __init__(self, repo: GitRepo, rev: str) -> None:
        self.repo = repo
        self.rev = rev

    def read(self, path: str) -> bytes | None:
        return self.repo.show(self.rev, path)


class DirTree:
    """A plain directory standing for the base branch (`triage run --base DIR`, fixtures)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: --base is not a directory")

    def read(self, path: str) -> bytes | None:
        target = (self.root / path).resolve()
        # A diff path like ../../etc/passwd must not read outside the snapshot.
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            return None
        try:
            return target.read_bytes()
        except OSError:
            return None

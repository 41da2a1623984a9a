"""A throwaway real git repository for tests: write files, commit, get diffs and numstat.

Tests compare what the parser says with what git itself says, so they need real git output
for each tricky case (renames, binaries, symlinks, quoted paths, CRLF...). Everything runs with
a private, empty git configuration so a developer's ~/.gitconfig (gpg signing, autocrlf,
diff.noprefix, a pager) cannot change the bytes under test, and commit dates are fixed so
hashes are reproducible.

Usage::

    repo = ScratchRepo.create(tmp_path)
    repo.write("a.py", "x = 1\\n")
    base = repo.commit("base")
    repo.write("a.py", "x = 2\\n")
    head = repo.commit("change")
    diff = repo.diff(base, head)          # bytes of `git diff base head`
    counts = repo.numstat(base, head)     # {"a.py": (1, 1)}; binary files -> (None, None)
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ScratchRepo"]

_CONFIG = (
    "user.name=Test Author",
    "user.email=author@example.com",
    "commit.gpgsign=false",
    "tag.gpgsign=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.quotepath=true",
    "init.defaultBranch=main",
    "diff.renames=true",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "color.ui=false",
)


@dataclass(frozen=True)
class ScratchRepo:
    """A git work tree in a temporary directory, driven through the git command line."""

    root: Path

    @classmethod
    def create(cls, parent: Path, name: str = "repo") -> ScratchRepo:
        root = parent / name
        root.mkdir(parents=True, exist_ok=True)
        repo = cls(root)
        repo.git("init", "-q")
        return repo

    def _env(self, date: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_DATE=date or "2024-01-01T00:00:00+00:00",
            GIT_COMMITTER_DATE=date or "2024-01-01T00:00:00+00:00",
            GIT_PAGER="cat",
            LC_ALL="C",
        )
        return env

    def git(self, *args: str, input: bytes | None = None, date: str | None = None) -> bytes:
        """Run git in the repository and return stdout; raises with git's stderr on failure.
        `date` (ISO-8601) replaces the fixed author and committer date."""
        cmd = ["git"]
        for item in _CONFIG:
            cmd += ["-c", item]
        proc = subprocess.run(
            [*cmd, *args], cwd=self.root, env=self._env(date), input=input, capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    # -- work tree -------------------------------------------------------------------------

    def write(self, path: str, content: str | bytes, *, executable: bool = False) -> Path:
        """Write a file (str is written as UTF-8 with no newline translation)."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        target.chmod(0o755 if executable else 0o644)
        return target

    def symlink(self, path: str, points_to: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(points_to)

    def chmod(self, path: str, mode: int) -> None:
        (self.root / path).chmod(mode)

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def rename(self, old: str, new: str) -> None:
        dest = self.root / new
        dest.parent.mkdir(parents=True, exist_ok=True)
        (self.root / old).rename(dest)

    # -- history ---------------------------------------------------------------------------

    def commit(self, message: str = "change", *, allow_empty: bool = False, date: str | None = None) -> str:
        """Stage everything and commit; returns the full commit hash. `date` (ISO-8601) sets
        the author and committer date instead of the fixed one."""
        self.git("add", "-A")
        args = ["commit", "-q", "--no-verify", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        self.git(*args, date=date)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").decode().strip()

    # -- what git says ---------------------------------------------------------------------

    def diff(self, base: str, head: str = "HEAD", *extra: str) -> bytes:
        """`git diff [extra] base head` as raw bytes."""
        return self.git("diff", *extra, base, head)

    def format_patch(self, rev_range: str, *extra: str) -> bytes:
        """`git format-patch --stdout` for a range (an mbox, message + diff + signature)."""
        return self.git("format-patch", "--stdout", *extra, rev_range)

    def numstat(self, base: str, head: str = "HEAD", *extra: str) -> dict[str, tuple[int | None, int | None]]:
        """`git diff --numstat` as {new path: (added, deleted)}; (None, None) for binary files.

        Read with -z so paths are never quoted and renames give both names unambiguously.
        """
        raw = self.git("diff", "--numstat", "-z", *extra, base, head).decode("utf-8", "replace")
        out: dict[str, tuple[int | None, int | None]] = {}
        fields = raw.split("\0")
        i = 0
        while i < len(fields) and fields[i]:
            added, deleted, path = fields[i].split("\t", 2)
            if path == "":  # rename/copy: old and new paths follow as separate fields
                path = fields[i + 2]
                i += 3
            else:
                i += 1
            out[path] = (
                None if added == "-" else int(added),
                None if deleted == "-" else int(deleted),
            )
        return out

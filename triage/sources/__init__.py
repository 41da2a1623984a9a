"""The sources stage: input paths -> a stream of `PullRequest` records.

    load_inputs(paths) -> Iterator[PullRequest]          files, PR directories, directories
    triage.sources.git.read_range(repo, "A..B")          commits of a local git range

What a path may be (DESIGN.md §3):

* a `.diff`/`.patch`/`.mbox` file: a bare unified diff (id and title = the file stem) or a
  `git format-patch` mbox (author, subject, date, trailers, one commit per mail);
* a JSON sidecar `X.json` in GitHub's PR object shape, paired with `X.diff`/`X.patch` by stem
  or with the file its `diff_file` key names; a diff file given alone also picks up its sidecar;
* a PR directory: one holding `pr.json`, plus its diff or patch files (several patch files are
  one series, concatenated in name order);
* a directory of any of these: PR directories are not descended into, plain subdirectories
  are; entries are visited in sorted name order so a batch is deterministic; hidden entries and
  files of other types (README, package.json, sources) are ignored.

Nothing is lost: a sidecar with invalid JSON or a bad field, a missing or unreadable diff, a
bad date in a patch all still yield the PR, with one line per problem in `load_errors` naming
the file. Only a path that does not exist raises (`InputError`, a usage error), and it raises
when `load_inputs` is called, before any PR is produced. Records are yielded one at a time, so
memory stays flat on directories of thousands of patches.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from triage.errors import InputError
from triage.models import PullRequest
from triage.sources.patch import DiffFile, build_pull_request
from triage.sources.sidecar import SidecarFields, parse_sidecar

__all__ = ["DIFF_SUFFIXES", "PR_DIR_FILE", "load_inputs"]

DIFF_SUFFIXES: tuple[str, ...] = (".diff", ".patch", ".mbox")
PR_DIR_FILE = "pr.json"


def load_inputs(paths: Sequence[str | os.PathLike[str]]) -> Iterator[PullRequest]:
    """Every PR in `paths`, in the order given (directories in sorted order).

    Raises InputError at once if a path does not exist; all other problems are per-PR
    `load_errors`. A file reached twice (given explicitly and through its directory, or as a
    sidecar's partner) is read once; a PR id seen twice gets a `~2` suffix and an error.
    """
    checked: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or directory")
        checked.append(path)
    return _load_all(checked)


def _load_all(paths: Sequence[Path]) -> Iterator[PullRequest]:
    loader = _Loader()
    seen: dict[str, str] = {}
    for path in paths:
        for pr in loader.load(path):
            if pr.id in seen:
                n = 2
                while f"{pr.id}~{n}" in seen:
                    n += 1
                error = f"{pr.source}: duplicate PR id {pr.id} (also {seen[pr.id]})"
                pr = replace(pr, id=f"{pr.id}~{n}", load_errors=(*pr.load_errors, error))
            seen[pr.id] = pr.source
            yield pr


# ------------------------------------------------------------------------------------- reading


def _not_regular(mode: int) -> str | None:
    """What a non-regular file is, or None for a regular file."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def _read(path: Path) -> tuple[bytes, str | None]:
    """A regular file's bytes. A FIFO, device or socket is an error, never a read that hangs
    or never ends: stat before opening, open non-blocking, and check the opened file again
    (it may have been swapped between the two)."""
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
            with os.fdopen(fd, "rb") as fh:
                kind = _not_regular(os.fstat(fh.fileno()).st_mode)
                if kind is None:
                    return fh.read(), None
    except OSError as exc:
        return b"", f"{path}: cannot read ({exc.strerror or type(exc).__name__})"
    return b"", f"{path}: {kind}, not a regular file; give a .diff/.patch or .json file"


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink followed, stays inside directory `root`."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _is_diff_name(name: str) -> bool:
    return name.lower().endswith(DIFF_SUFFIXES)


@dataclass(frozen=True, slots=True)
class _Sidecar:
    path: Path
    fields: SidecarFields
    is_pr: bool
    read_error: str | None = None


def _load_sidecar(path: Path) -> _Sidecar:
    raw, error = _read(path)
    if error is not None:
        return _Sidecar(path, SidecarFields(), True, error)
    fields, is_pr = parse_sidecar(raw, str(path))
    return _Sidecar(path, fields, is_pr)


def _partner_diff(sidecar: _Sidecar) -> tuple[Path | None, str | None]:
    """The diff a sidecar belongs with, or None and why not."""
    if sidecar.fields.diff_file:
        named = str(sidecar.fields.diff_file)
        target = sidecar.path.parent / named
        # The sidecar may come from the PR itself: it names a file next to it, never one
        # elsewhere on the machine (absolute path, `..`, or a symlink leading out).
        if Path(named).is_absolute() or ".." in Path(named).parts or not _inside(target, sidecar.path.parent):
            return None, f"{sidecar.path}: diff_file {named!r} is outside the sidecar's directory"
        if target.exists() or target.is_symlink():
            return target, None
        return None, f"{sidecar.path}: diff_file {named!r} not found"
    for suffix in DIFF_SUFFIXES:
        target = sidecar.path.with_suffix(suffix)
        if target.is_file():
            return target, None
    return None, f"{sidecar.path}: no diff file next to it ({sidecar.path.stem}.diff or .patch)"


@dataclass(slots=True)
class _Loader:
    """Walks paths, remembering which files were already turned into a PR."""

    consumed: set[Path] = field(default_factory=set)
    visited_dirs: set[Path] = field(default_factory=set)
    # The input directory being walked: nothing reached through it may lie outside it.
    root: Path | None = None

    def _claim(self, path: Path) -> bool:
        key = path.resolve()
        if key in self.consumed:
            return False
        self.consumed.add(key)
        return True

    def load(self, path: Path) -> Iterator[PullRequest]:
        if path.is_dir():
            if (path / PR_DIR_FILE).is_file():
                if self._claim(path):
                    yield self._pr_dir(path)
            else:
                yield from self._scan(path)
        elif path.suffix.lower() == ".json":
            if self._claim(path):
                yield self._from_sidecar(_load_sidecar(path), explicit=True)
        elif self._claim(path):
            yield self._from_diff(path)

    # -- one PR ---------------------------------------------------------------------------

    def _diff_files(self, paths: Sequence[Path]) -> tuple[list[DiffFile], list[str]]:
        files: list[DiffFile] = []
        errors: list[str] = []
        for p in paths:
            data, error = _read(p)
            if error is not None:
                errors.append(error)
            else:
                files.append(DiffFile(str(p), data))
        return files, errors

    def _from_diff(self, path: Path) -> PullRequest:
        sidecar_path = path.with_suffix(".json")
        if sidecar_path.is_file() and sidecar_path.resolve() not in self.consumed:
            sidecar = _load_sidecar(sidecar_path)
            named = sidecar.fields.diff_file
            names_other = bool(named) and (path.parent / str(named)).resolve() != path.resolve()
            if sidecar.is_pr and not names_other:
                self.consumed.add(sidecar_path.resolve())
                return self._build(sidecar.path.stem, str(sidecar.path), [path], sidecar)
        return self._build(path.stem, str(path), [path], None)

    def _from_sidecar(self, sidecar: _Sidecar, *, explicit: bool) -> PullRequest:
        errors: list[str] = []
        if not sidecar.is_pr and explicit:
            errors.append(f"{sidecar.path}: not a PR object (none of number, title, user, head, base)")
        diffs: list[Path] = []
        # An unreadable or invalid sidecar still pairs with its same-stem diff, so the change
        # itself is triaged and the item shows what was wrong with the metadata.
        target, why = _partner_diff(sidecar)
        if target is None:
            errors.append(why or f"{sidecar.path}: no diff file")
        elif self._claim(target):
            diffs.append(target)
        else:
            errors.append(f"{sidecar.path}: its diff {target} was already loaded as another PR")
        return self._build(sidecar.path.stem, str(sidecar.path), diffs, sidecar, errors)

    def _pr_dir(self, path: Path) -> PullRequest:
        sidecar = _load_sidecar(path / PR_DIR_FILE)
        errors: list[str] = []
        if sidecar.fields.diff_file:
            target, why = _partner_diff(sidecar)
            diffs = [target] if target is not None else []
            if why:
                errors.append(why)
        else:
            found = sorted(p for p in path.iterdir() if _is_diff_name(p.name) and (p.is_file() or p.is_symlink()))
            outside = [p for p in found if not _inside(p, self.root or path)]
            errors += [f"{p}: symlink to outside the input directory; not read" for p in outside]
            diffs = [p for p in found if p not in outside]
            if not found:
                errors.append(f"{path}: PR directory without a .diff or .patch file")
        for d in diffs:
            self.consumed.add(d.resolve())
        return self._build(path.name, str(path), diffs, sidecar, errors)

    def _build(
        self,
        pr_id: str,
        source: str,
        diff_paths: Sequence[Path],
        sidecar: _Sidecar | None,
        errors: Sequence[str] = (),
    ) -> PullRequest:
        files, read_errors = self._diff_files(diff_paths)
        load_errors = [*errors, *read_errors]
        if sidecar is not None and sidecar.read_error:
            load_errors.insert(0, sidecar.read_error)
        return build_pull_request(
            pr_id=pr_id,
            source=source,
            files=files,
            sidecar=sidecar.fields if sidecar is not None else None,
            load_errors=load_errors,
        )

    # -- a directory ----------------------------------------------------------------------

    def _scan(self, directory: Path) -> Iterator[PullRequest]:
        real = directory.resolve()
        if real in self.visited_dirs:
            return  # a symlink loop, or the same directory given twice
        self.visited_dirs.add(real)
        top = self.root is None
        if top:
            self.root = real
        try:
            yield from self._scan_entries(directory)
        finally:
            if top:
                self.root = None

    def _outside(self, entry: os.DirEntry[str]) -> PullRequest | None:
        """An error item for a symlink that leads out of the input directory (it is not
        followed); None when the entry stays inside."""
        assert self.root is not None
        if not entry.is_symlink() or _inside(Path(entry.path), self.root):
            return None
        return build_pull_request(
            pr_id=Path(entry.name).stem,
            source=entry.path,
            load_errors=[f"{entry.path}: symlink to outside the input directory {self.root}; not followed"],
        )

    def _scan_entries(self, directory: Path) -> Iterator[PullRequest]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield build_pull_request(
                pr_id=directory.name,
                source=str(directory),
                load_errors=[f"{directory}: cannot list directory ({exc.strerror or type(exc).__name__})"],
            )
            return
        # Read every sidecar first: one may name (via diff_file) a diff that sorts before it.
        sidecars: dict[Path, _Sidecar] = {}
        claimed_by: dict[Path, Path] = {}
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.lower().endswith(".json") or not entry.is_file():
                continue
            if self._outside(entry) is not None:
                continue
            sidecar = _load_sidecar(Path(entry.path))
            sidecars[sidecar.path] = sidecar
            if sidecar.is_pr:
                target, _ = _partner_diff(sidecar)
                if target is not None:
                    claimed_by.setdefault(target.resolve(), sidecar.path)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            outside = self._outside(entry)
            if outside is not None:
                if (
                    entry.is_dir() or _is_diff_name(entry.name) or entry.name.lower().endswith(".json")
                ) and self._claim(path):
                    yield outside
            elif entry.is_dir():
                yield from self.load(path)
            elif not entry.is_file():
                # A dangling symlink, a FIFO or a device named like an input cannot be read:
                # report it as an item (never open it blocking, never skip it silently).
                named = _is_diff_name(entry.name) or entry.name.lower().endswith(".json")
                if named and self._claim(path):
                    yield self._from_diff(path)
            elif path in sidecars:
                sidecar = sidecars[path]
                if sidecar.is_pr and self._claim(path):
                    yield self._from_sidecar(sidecar, explicit=False)
            elif _is_diff_name(entry.name):
                owner = claimed_by.get(path.resolve())
                if owner is not None:
                    if self._claim(owner):
                        yield self._from_sidecar(sidecars[owner], explicit=False)
                elif self._claim(path):
                    yield self._from_diff(path)

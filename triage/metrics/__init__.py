"""The measure stage: (PullRequest, ParsedDiff) -> Metrics; `risk.assess_risk` -> Risk.

What is measured, and why (each feeds the risk model of `triage.metrics.risk` and the report):

* size: lines added/deleted in counted files (generated, vendored and lockfiles excluded), the
  Prow size bucket, and source/test/docs lines;
* diffusion: files, distinct directories, subsystems (top-level path components), entropy;
* complexity: cyclomatic and cognitive complexity of the functions the diff touches, before
  and after when whole files are known, hunk-local estimates otherwise (`touched`);
* history (when a git repository is given): AGE/NUC/NDEV per file, EXP/SEXP of the author.

`measure` reads only what it is given (snapshots, repository); everything else is pure. Limits
keep a pathological PR from stalling a batch, and each one that applies is written to
`Metrics.notes`: complexity is skipped for a PR with more than `MAX_SOURCE_FILES` source files,
for files over `MAX_FILE_BYTES`, and once `MAX_PARSE_BYTES` of text have been parsed for one PR.
"""

from __future__ import annotations

from triage.config import Config
from triage.errors import InputError
from triage.gitrepo import GitRepo, Tree
from triage.metrics.apply import apply_hunks
from triage.metrics.history import HistoryCache, base_revision, file_history
from triage.metrics.size import directory_of, entropy, kind_counts, size_bucket, subsystem_of
from triage.metrics.touched import full_file_changes, hunk_local_changes
from triage.models import (
    ChangeType,
    FileDiff,
    FileKind,
    FunctionChange,
    Metrics,
    ParsedDiff,
    PullRequest,
    SizeBucket,
)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PARSE_BYTES",
    "MAX_SOURCE_FILES",
    "HistoryCache",
    "empty_metrics",
    "measure",
]

MAX_FILE_BYTES = 1_000_000
MAX_SOURCE_FILES = 200
MAX_PARSE_BYTES = 1_000_000
_MEASURED_KINDS = (FileKind.SOURCE, FileKind.TEST)


def empty_metrics() -> Metrics:
    """Metrics of a PR that could not be parsed: all zero, so no gate or score reads noise."""
    return Metrics(
        lines_added=0,
        lines_deleted=0,
        files=0,
        directories=0,
        subsystems=(),
        entropy=0.0,
        size_bucket=SizeBucket.XS,
        excluded_lines=0,
        source_lines=0,
        test_lines=0,
        docs_lines=0,
    )


def _lines_of(kind: FileKind, files: tuple[FileDiff, ...]) -> int:
    return sum(f.changed for f in files if f.kind is kind)


def _read(tree: Tree | None, path: str | None) -> bytes | None:
    if tree is None or not path:
        return None
    return tree.read(path)


def _side_from_hunks(f: FileDiff, side: str) -> bytes | None:
    """An added file's whole content is its '+' lines (a deleted file's, its '-' lines)."""
    if len(f.hunks) != 1:
        return None
    lines = [text for kind, text in f.hunks[0].rows() if kind == side]
    if any(kind == " " for kind, _ in f.hunks[0].rows()):
        return None
    return ("\n".join(lines) + "\n").encode("utf-8", "replace") if lines else b""


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _contents(f: FileDiff, before: Tree | None, after: Tree | None) -> tuple[bytes | None, bytes | None]:
    """Both sides of a file, read from the snapshots or rebuilt from the other side + hunks."""
    old: bytes | None = None
    new: bytes | None = None
    if f.change is not ChangeType.ADDED:
        old = _read(before, f.old_path or f.path)
    if f.change is not ChangeType.DELETED:
        new = _read(after, f.path)
    if f.change is ChangeType.ADDED:
        return None, new if new is not None else _side_from_hunks(f, "+")
    if f.change is ChangeType.DELETED:
        return (old if old is not None else _side_from_hunks(f, "-")), None
    if new is None and old is not None and len(old) <= MAX_FILE_BYTES:
        rebuilt = apply_hunks(_decode(old), f.hunks)
        new = rebuilt.encode("utf-8") if rebuilt is not None else None
    elif old is None and new is not None and len(new) <= MAX_FILE_BYTES:
        rebuilt = apply_hunks(_decode(new), f.hunks, reverse=True)
        old = rebuilt.encode("utf-8") if rebuilt is not None else None
    return old, new


def _complexity(
    diff: ParsedDiff, counted: tuple[FileDiff, ...], before: Tree | None, after: Tree | None
) -> tuple[tuple[FunctionChange, ...], int | None, list[str]]:
    """Function changes, LT (lines before, when `before` is given) and notes."""
    notes: list[str] = []
    candidates = [
        f
        for f in counted
        if f.language and f.kind in _MEASURED_KINDS and f.hunks and not (f.binary or f.submodule or f.symlink)
    ]
    sources = sum(1 for f in diff.files if f.kind is FileKind.SOURCE)
    lines_before: int | None = None
    if before is not None and len(counted) <= MAX_SOURCE_FILES:
        lines_before = 0
        for f in counted:
            if f.change is ChangeType.ADDED or f.binary or f.submodule:
                continue
            data = _read(before, f.old_path or f.path)
            if data is not None:
                lines_before += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if sources > MAX_SOURCE_FILES:
        notes.append(f"complexity skipped: {sources} source files (limit {MAX_SOURCE_FILES})")
        return (), lines_before, notes
    functions: list[FunctionChange] = []
    budget = MAX_PARSE_BYTES
    skipped_big: list[str] = []
    skipped_budget = 0
    estimated_files = 0
    skipped_hunks = 0
    for f in candidates:
        if budget <= 0:
            skipped_budget += 1
            continue
        old, new = _contents(f, before, after)
        if max(len(old or b""), len(new or b"")) > MAX_FILE_BYTES:
            skipped_big.append(f.path)
            continue
        if f.change is ChangeType.ADDED:
            whole = new is not None
        elif f.change is ChangeType.DELETED:
            whole = old is not None
        else:
            whole = old is not None and new is not None
        if whole:
            budget -= len(old or b"") + len(new or b"")
            functions.extend(full_file_changes(f, old, new))
            continue
        changes, parsed, skipped = hunk_local_changes(f, min(budget, MAX_FILE_BYTES))
        budget -= parsed
        estimated_files += 1
        skipped_hunks += skipped
        functions.extend(changes)
    if skipped_big:
        shown = ", ".join(skipped_big[:3]) + (" ..." if len(skipped_big) > 3 else "")
        notes.append(f"complexity skipped for {len(skipped_big)} file(s) over {MAX_FILE_BYTES} bytes: {shown}")
    if skipped_budget:
        notes.append(f"complexity skipped for {skipped_budget} file(s): parse budget of {MAX_PARSE_BYTES} bytes spent")
    if skipped_hunks:
        notes.append(f"complexity skipped for {skipped_hunks} hunk(s) too large to parse")
    if estimated_files:
        notes.append(f"complexity estimated from hunks alone for {estimated_files} file(s)")
    return tuple(functions), lines_before, notes


def measure(
    pr: PullRequest,
    diff: ParsedDiff,
    cfg: Config,
    *,
    before: Tree | None = None,
    after: Tree | None = None,
    repo: GitRepo | None = None,
    history_cache: HistoryCache | None = None,
) -> Metrics:
    """Measure one PR. `before`/`after` are snapshots of its base and head (either may be
    missing); `repo` enables history metrics, read through `history_cache` when given (pass one
    cache for a whole batch so the log is read once)."""
    files = diff.files
    counted = tuple(f for f in files if f.kind.counts)
    spread = counted or files  # diffusion of what counts; of everything when nothing counts
    added = sum(f.added for f in counted)
    deleted = sum(f.deleted for f in counted)
    subsystems = tuple(sorted({subsystem_of(f.path) for f in spread}))
    functions, lines_before, notes = _complexity(diff, counted, before, after)
    history = None
    if repo is not None:
        cache = history_cache if history_cache is not None else HistoryCache()
        try:
            log = cache.log(repo, base_revision(pr, repo))
            history = file_history(pr, spread, subsystems, log)
        except InputError as exc:
            notes.append(f"history unavailable: {exc.format_message()}")
    return Metrics(
        lines_added=added,
        lines_deleted=deleted,
        files=len(files),
        directories=len({directory_of(f.path) for f in spread}),
        subsystems=subsystems,
        entropy=round(entropy([f.changed for f in spread]), 6),
        size_bucket=size_bucket(added + deleted, cfg.size),
        excluded_lines=sum(f.changed for f in files if not f.kind.counts),
        source_lines=_lines_of(FileKind.SOURCE, counted),
        test_lines=_lines_of(FileKind.TEST, counted),
        docs_lines=_lines_of(FileKind.DOCS, counted),
        languages=tuple(sorted({f.language for f in counted if f.language})),
        kinds=kind_counts(files),
        functions=functions,
        complexity_delta=sum(fc.cognitive_delta for fc in functions),
        max_cognitive=max((fc.cognitive_after or 0 for fc in functions), default=0),
        history=history,
        lines_before=lines_before,
        notes=tuple(notes),
    )

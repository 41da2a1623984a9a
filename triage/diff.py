"""The parse stage: raw diff bytes -> `ParsedDiff` (files, hunks, counts, classification).

Input is whatever a PR source produced: `git diff`, `git format-patch` (an mbox with a
message before the first file and a signature after the last), a plain `diff -u` / `diff -ruN`
or an hg/svn diff. Output is one `FileDiff` per changed file with lines added/deleted equal
to `git diff --numstat`, which the tests check against real git.

How it stays robust and fast:

* The bytes are split into per-file sections first (at `diff --git`/`--cc`/`--combined`, or
  for non-git diffs at `--- `/`+++ ` pairs followed by a hunk), so a malformed file never
  loses the others. Each section is decoded on its own, replacing non-UTF-8 bytes (a warning
  names the file).
* File headers (paths, modes, rename/copy, similarity, binary) are read here: git's quoting
  (`"a/caf\\303\\251.txt"`), paths with spaces and `/dev/null` need more care than unidiff
  gives them.
* Hunks are parsed by unidiff in `metadata_only` mode (header validation and counts without a
  Python object per line); the hunk *bodies* are slices of the section text located with C-level
  string searches. When unidiff rejects a file (truncated or malformed hunk) a tolerant walker
  re-reads it, keeps the counts of everything that did parse, and records an error naming the
  file.
* Nothing raises: problems that make the counts untrustworthy go to `ParsedDiff.errors`, the
  rest to `ParsedDiff.warnings`.

Documented choices:

* A file <-> symlink <-> submodule type change, which git writes as a deletion followed by an
  addition of the same path, is reported as ONE `FileDiff` with `ChangeType.TYPE_CHANGED`
  (old_mode from the deletion, new_mode from the addition, counts summed). `git diff --numstat`
  also reports one line for it.
* Combined merge diffs (`diff --cc`, `diff --combined`) are not counted: the file is listed with
  0/0 and an error "<path>: unsupported combined merge diff".
* Submodule pointers (mode 160000) are classified as vendored: their one-line "Subproject
  commit" change is a pin to code that is reviewed elsewhere.
* `\\r` before a newline is content (CRLF files); lines are split on `\\n` only.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field, replace

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from triage.classify import GitAttributes, closing_quote, language_for, unquote_c_path
from triage.classify import classify as classify_path
from triage.config import ClassifyConfig
from triage.models import ChangeType, FileDiff, FileKind, Hunk, ParsedDiff

__all__ = ["parse_diff"]

# Where a file's section starts. Git diffs: the `diff --git`/`--cc`/`--combined` line. Other
# diffs: an optional `diff ...` command line, then `---`/`+++` immediately followed by a hunk
# header (requiring the hunk keeps a deleted "-- x" line next to an added "++ y" line from
# looking like a file header), or a "Binary files ... differ" line.
_GIT_START = re.compile(rb"^diff --(?:git|cc|combined) ", re.MULTILINE)
_PLAIN_START = re.compile(
    rb"^(?:diff [^\n]*\n)?(?:--- [^\n]*\n\+\+\+ [^\n]*\n@@ |Binary files [^\n]* differ\r?$)",
    re.MULTILINE,
)
_HUNK_AT = re.compile(r"^@@", re.MULTILINE)
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)")
_BINARY_LINE = re.compile(r"^Binary files (.+) and (.+) differ$")
# Lines after a file's last hunk that look like diff content: not the `-- ` mail signature nor
# the `---` that separates a format-patch message from its diffstat.
_SUSPICIOUS_JUNK = re.compile(r"^(?:\+|-(?!-[ -]?\r?$))", re.MULTILINE)
_GIT_PREFIX = re.compile(r"^[abciow12]/")
_HEAD_LINES = 20
_DEV_NULL = "/dev/null"


@dataclass(slots=True)
class _Header:
    """What a file section's header lines say; private scratch, turned into a FileDiff."""

    git: bool = True
    combined: bool = False
    header_old: str | None = None
    header_new: str | None = None
    minus: str | None = None
    plus: str | None = None
    rename_from: str | None = None
    rename_to: str | None = None
    copy_from: str | None = None
    copy_to: str | None = None
    old_mode: str | None = None
    new_mode: str | None = None
    index_mode: str | None = None
    new_file: bool = False
    deleted_file: bool = False
    mode_line: bool = False
    similarity: int | None = None
    binary: bool = False
    binary_paths: tuple[str, str] | None = None
    hunk_start: int = -1  # offset of the first "@@" line in the section text
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Hunks:
    hunks: tuple[Hunk, ...]
    errors: tuple[str, ...]
    junk: bool  # diff-looking lines outside any hunk were ignored


def parse_diff(
    data: bytes,
    *,
    classify: ClassifyConfig = ClassifyConfig(),  # noqa: B008 - frozen, shared default is safe
    attributes: GitAttributes | None = None,
) -> ParsedDiff:
    """Parse one PR's diff. Never raises: every problem is a string in `errors`/`warnings`."""
    if isinstance(data, str):  # defensive: a caller that decoded already
        data = data.encode("utf-8", "surrogateescape")
    if not data.strip():
        return ParsedDiff(errors=("empty diff",))
    starts = _git_starts(data)
    git = bool(starts)
    if not git:
        starts = [m.start() for m in _PLAIN_START.finditer(data)]
    if not starts:
        return ParsedDiff(errors=("not a unified diff",))

    files: list[FileDiff] = []
    errors: list[str] = []
    crlf: list[str] = []
    non_utf8: list[str] = []
    junk: list[str] = []
    ends = [*starts[1:], len(data)]
    for start, end in zip(starts, ends, strict=True):
        chunk = data[start:end]
        try:
            text = chunk.decode("utf-8")
            replaced = False
        except UnicodeDecodeError:
            text = chunk.decode("utf-8", "replace")
            replaced = True
        try:
            parsed = _parse_section(text, git, classify, attributes)
        except Exception as exc:  # last-resort guard, recorded as an error: parse_diff never raises
            first = text.split("\n", 1)[0][:120]
            errors.append(f"{first}: internal parser error: {type(exc).__name__}: {exc}")
            continue
        fdiff, file_errors, had_junk = parsed
        errors.extend(file_errors)
        if fdiff is None:
            continue
        files.append(fdiff)
        if replaced:
            non_utf8.append(fdiff.path)
        if "\r\n" in text:
            crlf.append(fdiff.path)
        if had_junk:
            junk.append(fdiff.path)

    merged = _merge_type_changes(files)
    warnings: list[str] = []
    if non_utf8:
        warnings.append(_listed("non-UTF-8 bytes replaced with U+FFFD in", non_utf8))
    if crlf:
        warnings.append(_listed("CRLF line endings in", crlf))
    if junk:
        warnings.append(_listed("diff-like lines outside any hunk ignored in", junk))
    if not merged and not errors:
        errors.append("not a unified diff")
    return ParsedDiff(files=tuple(merged), errors=tuple(errors), warnings=tuple(warnings))


def _git_starts(data: bytes) -> list[int]:
    """Offsets of `diff --git|--cc|--combined` lines; a find loop is ~10x faster than a
    MULTILINE regex scan on multi-megabyte input."""
    starts: list[int] = []
    pos = 0 if data.startswith(b"diff --") else data.find(b"\ndiff --")
    while pos != -1:
        at = pos if pos == 0 and data.startswith(b"diff --") else pos + 1
        if _GIT_START.match(data, at):
            starts.append(at)
        pos = data.find(b"\ndiff --", at + 1)
    return starts


def _line_starts(text: str, prefix: str) -> list[int]:
    """Offsets of the lines of `text` that start with `prefix` (same reason as above)."""
    starts = [0] if text.startswith(prefix) else []
    needle = "\n" + prefix
    pos = text.find(needle)
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find(needle, pos + 1)
    return starts


def _listed(what: str, paths: list[str]) -> str:
    paths = list(dict.fromkeys(paths))  # a type change was two sections of one path
    shown = ", ".join(paths[:5]) + (f", ... ({len(paths) - 5} more)" if len(paths) > 5 else "")
    return f"{what} {len(paths)} file(s): {shown}"


# --------------------------------------------------------------------------------------------
# One file section


def _parse_section(
    text: str, git: bool, cfg: ClassifyConfig, attributes: GitAttributes | None
) -> tuple[FileDiff | None, list[str], bool]:
    hdr = _read_header(text, git)
    old_path, new_path = _paths(hdr)
    path = new_path if new_path is not None else old_path
    if path is None:
        first = text.split("\n", 1)[0].rstrip("\r")[:120]
        return None, [f"malformed file header: {first!r}"], False

    errors = list(hdr.errors)
    hunks: tuple[Hunk, ...] = ()
    had_junk = False
    if hdr.combined:
        errors.append(f"{path}: unsupported combined merge diff")
    elif hdr.hunk_start >= 0 and not hdr.binary:
        parsed = _parse_hunks(text[hdr.hunk_start :], path)
        hunks, had_junk = parsed.hunks, parsed.junk
        errors.extend(parsed.errors)
    elif hdr.plus is not None and not hdr.binary:
        # git writes ---/+++ only when hunks follow: the diff was cut here.
        errors.append(f"{path}: file header without hunks (truncated diff?)")

    old_mode = hdr.old_mode or (None if hdr.new_file else hdr.index_mode)
    new_mode = hdr.new_mode or (None if hdr.deleted_file else hdr.index_mode)
    change = _change_type(hdr, old_path, new_path, bool(hunks), old_mode, new_mode)
    symlink = "120000" in (old_mode, new_mode)
    submodule = "160000" in (old_mode, new_mode)
    added = sum(h.added for h in hunks)
    deleted = sum(h.deleted for h in hunks)

    if submodule:
        kind, reason = FileKind.VENDORED, "submodule (gitlink, mode 160000)"
    else:
        kind, reason = classify_path(path, head=_head(hunks), attributes=attributes, cfg=cfg)
    fdiff = FileDiff(
        path=path,
        old_path=None if change is ChangeType.ADDED else (old_path or path),
        change=change,
        kind=kind,
        kind_reason=reason,
        language=None if (symlink or submodule) else language_for(path),
        added=added,
        deleted=deleted,
        hunks=hunks,
        binary=hdr.binary,
        old_mode=old_mode,
        new_mode=new_mode,
        symlink=symlink,
        submodule=submodule,
        similarity=hdr.similarity,
    )
    return fdiff, errors, had_junk


def _read_header(text: str, git: bool) -> _Header:
    """Read the header lines of a section, up to its first hunk or binary marker."""
    hdr = _Header(git=git)
    pos, n = 0, len(text)
    first = True
    while pos < n:
        end = text.find("\n", pos)
        if end == -1:
            end = n
        line = text[pos:end].rstrip("\r")
        if first:
            first = False
            if line.startswith("diff --git "):
                hdr.header_old, hdr.header_new = _split_git_header(line[11:])
            elif line.startswith(("diff --cc ", "diff --combined ")):
                hdr.combined = True
                name = _header_path(line.split(" ", 2)[2])
                hdr.header_old = hdr.header_new = name
                return hdr
            if line.startswith("diff "):
                pos = end + 1
                continue
        if line.startswith("@@"):
            hdr.hunk_start = pos
            break
        if line == "GIT binary patch" or line.startswith("Binary files "):
            hdr.binary = True
            m = _BINARY_LINE.match(line)
            if m:
                hdr.binary_paths = (_header_path(m.group(1)), _header_path(m.group(2)))
            break
        _header_line(hdr, line)
        pos = end + 1
    return hdr


def _header_line(hdr: _Header, line: str) -> None:
    """Record one extended header line (git-diff(1) "extended header lines")."""
    if line.startswith("--- "):
        hdr.minus = _header_path(line[4:])
    elif line.startswith("+++ "):
        hdr.plus = _header_path(line[4:])
    elif line.startswith("index "):
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            hdr.index_mode = parts[2]
    elif line.startswith("new file mode "):
        hdr.new_file = True
        hdr.new_mode = line[14:].strip()
    elif line.startswith("deleted file mode "):
        hdr.deleted_file = True
        hdr.old_mode = line[18:].strip()
    elif line.startswith("old mode "):
        hdr.old_mode = line[9:].strip()
        hdr.mode_line = True
    elif line.startswith("new mode "):
        hdr.new_mode = line[9:].strip()
        hdr.mode_line = True
    elif line.startswith("rename from "):
        hdr.rename_from = unquote_c_path(line[12:])
    elif line.startswith("rename to "):
        hdr.rename_to = unquote_c_path(line[10:])
    elif line.startswith("copy from "):
        hdr.copy_from = unquote_c_path(line[10:])
    elif line.startswith("copy to "):
        hdr.copy_to = unquote_c_path(line[8:])
    elif line.startswith("similarity index "):
        value = line[17:].strip().rstrip("%")
        if value.isdigit():
            hdr.similarity = int(value)
    # Anything else (dissimilarity index, mail signature after a hunkless file) says nothing
    # about paths or counts.


def _header_path(value: str) -> str:
    """A path as written on a ---/+++/Binary line: quoted, or cut at a tab (timestamps, and
    the tab git appends to names that contain a space)."""
    if value.startswith('"'):
        end = closing_quote(value)
        if end != -1:
            return unquote_c_path(value[: end + 1])
    return value.split("\t", 1)[0].rstrip("\r")


def _split_git_header(rest: str) -> tuple[str | None, str | None]:
    """Split `A B` of a `diff --git A B` line (either side may be quoted).

    Unquoted names may contain spaces, which makes the line ambiguous; git itself resolves it
    with the ---/+++ or rename lines, which take precedence in `_paths`. Here the common cases
    are handled: identical names (cut in the middle), or a single " b/" separator.
    """
    if rest.startswith('"'):
        end = closing_quote(rest)
        if end == -1:
            return None, None
        old = unquote_c_path(rest[: end + 1])
        tail = rest[end + 1 :].strip()
        return old, _header_path(tail) if tail else None
    if rest.endswith('"'):
        cut = rest.rfind(' "')
        if cut != -1:
            return rest[:cut], unquote_c_path(rest[cut + 1 :])
    if len(rest) % 2 == 1:
        half = len(rest) // 2
        left, right = rest[:half], rest[half + 1 :]
        if rest[half] == " " and _strip_prefix(left) == _strip_prefix(right):
            return left, right
    if rest.count(" b/") == 1:
        left, _, right = rest.partition(" b/")
        return left, "b/" + right
    left, _, right = rest.partition(" ")
    return left, right or None


def _strip_prefix(path: str) -> str:
    return path[2:] if _GIT_PREFIX.match(path) else path


def _paths(hdr: _Header) -> tuple[str | None, str | None]:
    """(old, new) repository paths, None for /dev/null, from the most reliable header lines."""
    if hdr.git:
        # The `diff --git` names tell which prefixes are in use: a/ b/, mnemonic pairs (i/ w/,
        # c/ i/, ...) always differ, while --no-prefix gives the same top directory on both
        # sides; strip only a differing pair, so a top-level directory "a/" survives.
        src_pre = _prefix_of(hdr.header_old)
        dst_pre = _prefix_of(hdr.header_new)
        if not (src_pre and dst_pre) or src_pre == dst_pre:
            src_pre = dst_pre = ""
        old = hdr.rename_from or hdr.copy_from
        new = hdr.rename_to or hdr.copy_to
        if old is None:
            old = _side(hdr.minus, src_pre)
            if old is None and hdr.minus is None:
                old = _side(_binary_side(hdr, 0) or hdr.header_old, src_pre)
        if new is None:
            new = _side(hdr.plus, dst_pre)
            if new is None and hdr.plus is None:
                new = _side(_binary_side(hdr, 1) or hdr.header_new, dst_pre)
        if hdr.new_file:
            old = None
        if hdr.deleted_file:
            new = None
        return old, new
    minus, plus = hdr.minus, hdr.plus
    if minus is None and plus is None and hdr.binary_paths:
        minus, plus = hdr.binary_paths
    return _plain_paths(minus, plus)


def _binary_side(hdr: _Header, index: int) -> str | None:
    return hdr.binary_paths[index] if hdr.binary_paths else None


def _prefix_of(name: str | None) -> str:
    return name[:2] if name and _GIT_PREFIX.match(name) else ""


def _side(name: str | None, prefix: str) -> str | None:
    if name is None or name == _DEV_NULL:
        return None
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def _plain_paths(minus: str | None, plus: str | None) -> tuple[str | None, str | None]:
    """Paths of a non-git diff: strip one leading directory when both sides differ only there
    (`a/x` vs `b/x`, `old/x` vs `new/x`: what `patch -p1` would do), or a lone a/ or b/."""
    old = None if minus in (None, _DEV_NULL) else minus
    new = None if plus in (None, _DEV_NULL) else plus
    if old is not None and new is not None:
        _, o_sep, o_rest = old.partition("/")
        _, n_sep, n_rest = new.partition("/")
        if o_sep and n_sep and o_rest == n_rest and o_rest:
            return o_rest, n_rest
        return old, new
    if old is not None and old.startswith("a/"):
        old = old[2:]
    if new is not None and new.startswith("b/"):
        new = new[2:]
    return old, new


def _mode_type(mode: str | None) -> str | None:
    if mode is None:
        return None
    return {"120000": "symlink", "160000": "gitlink"}.get(mode, "file")


def _change_type(
    hdr: _Header,
    old: str | None,
    new: str | None,
    has_hunks: bool,
    old_mode: str | None,
    new_mode: str | None,
) -> ChangeType:
    if hdr.combined:
        return ChangeType.MODIFIED
    if hdr.new_file or (old is None and new is not None):
        return ChangeType.ADDED
    if hdr.deleted_file or (new is None and old is not None):
        return ChangeType.DELETED
    if hdr.copy_from is not None:
        return ChangeType.COPIED
    if hdr.rename_from is not None or (hdr.git and old is not None and new is not None and old != new):
        return ChangeType.RENAMED
    if old_mode and new_mode and _mode_type(old_mode) != _mode_type(new_mode):
        return ChangeType.TYPE_CHANGED
    if hdr.mode_line and old_mode != new_mode and not has_hunks and not hdr.binary:
        return ChangeType.MODE_CHANGED
    return ChangeType.MODIFIED


def _merge_type_changes(files: list[FileDiff]) -> list[FileDiff]:
    """Fold git's delete+add pair for a file<->symlink<->submodule change into one entry."""
    out: list[FileDiff] = []
    for f in files:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.change is ChangeType.DELETED
            and f.change is ChangeType.ADDED
            and prev.path == f.path
            and _mode_type(prev.old_mode) != _mode_type(f.new_mode)
        ):
            out[-1] = replace(
                f,
                old_path=prev.path,
                change=ChangeType.TYPE_CHANGED,
                deleted=prev.deleted,
                hunks=prev.hunks + f.hunks,
                binary=prev.binary or f.binary,
                old_mode=prev.old_mode,
                symlink=prev.symlink or f.symlink,
                submodule=prev.submodule or f.submodule,
            )
            continue
        out.append(f)
    return out


def _head(hunks: tuple[Hunk, ...]) -> str:
    """The first added lines (plus leading context when the hunk starts at the top of the
    file), for generated-file markers. Only a bounded prefix of the body is split."""
    if not hunks:
        return ""
    first = hunks[0]
    top = first.new_start <= 1
    picked: list[str] = []
    for raw in first.body[:8192].split("\n"):
        if raw.startswith("+") or (top and raw.startswith(" ")):
            picked.append(raw[1:])
            if len(picked) >= _HEAD_LINES:
                break
    return "\n".join(picked)


# --------------------------------------------------------------------------------------------
# Hunks


def _parse_hunks(region: str, path: str) -> _Hunks:
    """Hunks of one file. `region` starts at the file's first "@@" line."""
    starts = _line_starts(region, "@@")
    try:
        lines = itertools.chain(("--- a\n", "+++ b\n"), io.StringIO(region))
        patch = PatchSet(lines, metadata_only=True)
    except UnidiffParseError:
        return _walk_hunks(region, path)
    found = patch[0] if len(patch) == 1 else []
    if len(patch) != 1 or len(found) != len(starts):
        # A "@@" line unidiff did not take as a hunk header (malformed), or hunk-like text it
        # attached elsewhere: let the walker say exactly what is wrong.
        return _walk_hunks(region, path)

    hunks: list[Hunk] = []
    junk = False
    n = len(region)
    for i, (uh, at) in enumerate(zip(found, starts, strict=True)):
        header_end = region.find("\n", at)
        if header_end == -1:
            header_end = n
        body_start = min(header_end + 1, n)
        stop = starts[i + 1] if i + 1 < len(starts) else n
        expected = uh.source_length + uh.added  # context + deleted + added lines
        body_end, extra = _fit(region, body_start, stop, expected)
        if body_end < 0:
            return _walk_hunks(region, path)
        if extra:
            junk = True
        header = region[at:header_end]
        m = _HUNK_HEADER.match(header)
        section = m.group(5).strip() if m else ""
        hunks.append(
            Hunk(
                old_start=uh.source_start,
                old_length=uh.source_length,
                new_start=uh.target_start,
                new_length=uh.target_length,
                section=section,
                added=uh.added,
                deleted=uh.removed,
                body=region[body_start:body_end],
            )
        )
    return _Hunks(tuple(hunks), (), junk)


def _fit(region: str, start: int, stop: int, expected: int) -> tuple[int, bool]:
    """End offset (exclusive, before the final newline) of a hunk body holding `expected`
    non-marker lines within region[start:stop], and whether diff-looking lines were cut off.

    Counting is done with str.count; lines are walked back from the end only when something
    follows the hunk (a mail signature, trailing blank lines). -1 when too few lines.
    """
    if stop <= start:
        return (start, False) if expected == 0 else (-1, False)
    ends_nl = region[stop - 1] == "\n"
    lines = region.count("\n", start, stop) + (0 if ends_nl else 1)
    # Lines starting with "\\" ("No newline at end of file"); region[start - 1] is the hunk
    # header's newline, so a marker on the first body line is counted too.
    markers = region.count("\n\\", start - 1, stop)
    plain = lines - markers
    end = stop - 1 if ends_nl else stop
    if plain == expected:
        return end, False
    if plain < expected:
        return -1, False
    # Drop lines from the end until exactly `expected` plain lines remain; markers that
    # follow the last kept line stay with it.
    cut = stop if ends_nl else stop + 1  # offset just past the last line's newline
    while plain > expected:
        line_start = region.rfind("\n", start, cut - 1) + 1
        if line_start <= start:
            line_start = start
        if region[line_start : line_start + 1] != "\\":
            plain -= 1
        cut = line_start
    # Trailing marker lines past the last kept line belong to it; they are still in [start,cut).
    dropped = region[cut:stop]
    return max(cut - 1, start), bool(_SUSPICIOUS_JUNK.search(dropped, 0, 4096))


def _walk_hunks(region: str, path: str) -> _Hunks:
    """Tolerant, line-by-line hunk reader for files unidiff rejected.

    Keeps every line that fits its hunk's header, so the counts cover what did parse, and
    reports each hunk that is truncated, overlong or has a malformed header.
    """
    hunks: list[Hunk] = []
    errors: list[str] = []
    junk = False
    n = len(region)
    pos = 0
    while pos < n:
        m_at = _HUNK_AT.search(region, pos)
        if m_at is None:
            junk = junk or bool(_SUSPICIOUS_JUNK.search(region, pos, min(n, pos + 4096)))
            break
        if _SUSPICIOUS_JUNK.search(region, pos, m_at.start()):
            junk = True
        at = m_at.start()
        header_end = region.find("\n", at)
        if header_end == -1:
            header_end = n
        header = region[at:header_end].rstrip("\r")
        m = _HUNK_HEADER.match(header)
        if m is None:
            errors.append(f"{path}: malformed hunk header {header[:80]!r}")
            pos = header_end + 1
            continue
        old_start, new_start = int(m.group(1)), int(m.group(3))
        old_len = int(m.group(2)) if m.group(2) is not None else 1
        new_len = int(m.group(4)) if m.group(4) is not None else 1
        old_seen = new_seen = added = deleted = 0
        body_start = min(header_end + 1, n)
        p = body_start
        last_end = body_start
        complete = old_len == 0 and new_len == 0
        while p < n and not complete:
            e = region.find("\n", p)
            if e == -1:
                e = n
            c = region[p] if e > p else ""
            if c == "+" and new_seen < new_len:
                new_seen += 1
                added += 1
            elif c == "-" and old_seen < old_len:
                old_seen += 1
                deleted += 1
            elif c in (" ", "", "\r") and old_seen < old_len and new_seen < new_len:
                old_seen += 1
                new_seen += 1
            elif c != "\\":
                break
            last_end = e
            p = e + 1
            complete = old_seen == old_len and new_seen == new_len
        while complete and p < n and region.startswith("\\", p):  # "\ No newline" after the last line
            e = region.find("\n", p)
            last_end = n if e == -1 else e
            p = last_end + 1
        if not complete:
            errors.append(
                f"{path}: hunk '{header[:60]}' is truncated or does not match its header: "
                f"expected -{old_len}/+{new_len} lines, found -{old_seen}/+{new_seen}"
            )
        hunks.append(
            Hunk(
                old_start=old_start,
                old_length=old_len,
                new_start=new_start,
                new_length=new_len,
                section=m.group(5).strip(),
                added=added,
                deleted=deleted,
                body=region[body_start:last_end] if last_end > body_start else "",
            )
        )
        pos = p
    return _Hunks(tuple(hunks), tuple(errors), junk)

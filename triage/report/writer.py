"""Writing the report files: the only I/O of the report stage.

Each file is written to a temporary file in the target directory and moved into place with
`os.replace`, which is atomic on POSIX and Windows: a reader (a CI step uploading artifacts, a
browser reloading queue.html) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from triage.errors import InputError
from triage.models import Queue
from triage.report.html import render_html
from triage.report.json_report import dumps
from triage.report.markdown import render_markdown


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` via a temporary sibling and `os.replace`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(queue: Queue, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write queue.json, queue.md and queue.html into `out_dir` (created if needed).

    All three are rendered before the first is written, so a rendering bug leaves the previous
    reports in place rather than a mix of old and new.
    """
    out = Path(out_dir)
    files = {
        "queue.json": dumps(queue),
        "queue.md": render_markdown(queue),
        "queue.html": render_html(queue),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in files.items():
            path = out / name
            write_atomic(path, text)
            paths.append(path)
    except OSError as exc:
        raise InputError(f"{out}: cannot write reports ({exc.strerror or exc})") from exc
    return paths

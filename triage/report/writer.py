"""Writing the report files: the only I/O of the report stage.

Each file is written to a temporary file in the target directory and moved into place with
`os.replace`, which is atomic on POSIX and Windows: a reader (a CI step uploading artifacts, a
browser reloading queue.html) sees the old file or the new one, never half of one.

Reports get the mode any new file would (0666 minus the umask), not mkstemp's private 0600:
a CI step uploading artifacts or a web server publishing queue.html under another user must be
able to read them, and a user who wants them private sets a umask.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from triage.errors import InputError
from triage.models import Queue
from triage.report.html import iter_html
from triage.report.json_report import iter_json
from triage.report.markdown import render_markdown


def _umask() -> int:
    """The process umask (read by setting and restoring it: POSIX has no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_temp(path: Path, chunks: Iterable[str], mode: int) -> str:
    """Write `chunks` (UTF-8) to a temporary sibling of `path`; return the temporary's name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_reports(queue: Queue, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write queue.json, queue.md and queue.html into `out_dir` (created if needed).

    queue.json and queue.html are streamed item by item into temporary siblings (a batch of
    thousands of PRs never has either whole in memory; queue.md is capped at a PR comment's
    64 KB by design), and the three are moved into place only once all three rendered:
    a rendering bug leaves the previous reports in place rather than a mix of old and new.
    """
    out = Path(out_dir)
    renderers: dict[str, Callable[[], Iterable[str]]] = {
        "queue.json": lambda: iter_json(queue),
        "queue.md": lambda: (render_markdown(queue),),
        "queue.html": lambda: iter_html(queue),
    }
    temps: list[tuple[str, Path]] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        mode = 0o666 & ~_umask()
        for name, render in renderers.items():
            temps.append((_write_temp(out / name, render(), mode), out / name))
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"{out}: cannot write reports ({exc.strerror or exc})") from exc
    finally:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)  # only left over when something failed
    return [path for _, path in temps]

"""Byte-for-byte equivalence of the reports before and after a speed change (issue #13).

A performance change must not move any figure: this runs `triage run` on the fixtures and on
directories of real diffs, and records (`record`) or compares (`check`) the three report files.
The clock is pinned (`--now`), so `generated_at` is fixed and the files carry no other timing
field; anything that differs is a real change. Typical use, before each commit of a speed
change:

    git switch --detach <the commit before>   # or run `record` once before editing
    python -m bench.equivalence record REF --diffs DIR1 --diffs DIR2
    git switch -
    python -m bench.equivalence check REF --diffs DIR1 --diffs DIR2

`DIR` is a directory of patches (`bench.history_scale.export_patches` writes one from a clone:
`python -m bench.equivalence export CLONE DIR`); the item `source` fields hold the input paths,
so `check` must be given the same paths as `record`. The fixtures case (`fixtures/prs` against
`fixtures/base`, what `make triage` runs) is always included. Exit status 1 when a file differs,
naming the first differing item.
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("queue.json", "queue.md", "queue.html")
NOW = "2026-12-01T00:00:00Z"
FIXTURES_NOW = "2026-11-29T12:00:00Z"  # the Makefile's `make triage` clock


def _cases(diff_dirs: list[str]) -> list[tuple[str, list[str]]]:
    cases = [
        (
            "fixtures",
            [str(ROOT / "fixtures" / "prs"), "--base", str(ROOT / "fixtures" / "base"), "--now", FIXTURES_NOW],
        )
    ]
    for d in diff_dirs:
        path = Path(d).resolve()
        cases.append((path.name, [str(path), "--now", NOW]))
    return cases


def _run(args: list[str], out: Path) -> None:
    cmd = [sys.executable, "-m", "triage", "run", *args, "--out", str(out), "--llm", "off", "--no-progress"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
    if done.returncode not in (0, 1):  # 1: a gate configured to fail fired, reports still written
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr.decode(errors='replace')[-2000:]}")


def _first_difference(ref: Path, new: Path) -> str:
    """The first item of queue.json whose JSON differs, or a unified diff excerpt."""
    if ref.name == "queue.json":
        a, b = json.loads(ref.read_bytes()), json.loads(new.read_bytes())
        for key in a:
            if key != "items" and a.get(key) != b.get(key):
                return f"top-level {key!r} differs"
        for x, y in zip(a["items"], b["items"], strict=False):
            if x != y:
                fields = [k for k in x if x.get(k) != y.get(k)]
                return f"item {x.get('id')!r}: {', '.join(fields)} differ"
        if len(a["items"]) != len(b["items"]):
            return f"{len(a['items'])} items before, {len(b['items'])} after"
    lines = difflib.unified_diff(
        ref.read_text(errors="replace").splitlines(), new.read_text(errors="replace").splitlines(), lineterm="", n=1
    )
    return "\n".join(list(lines)[:20])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.equivalence", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("record", "check"):
        p = sub.add_parser(name)
        p.add_argument("ref", help="directory holding the reference reports")
        p.add_argument("--diffs", action="append", default=[], metavar="DIR", help="a directory of patches")
    exp = sub.add_parser("export", help="write the newest N non-merge commits of a clone as patches")
    exp.add_argument("repo")
    exp.add_argument("out")
    exp.add_argument("--count", type=int, default=1200)
    args = parser.parse_args(argv)
    if args.command == "export":
        from bench.history_scale import export_patches

        print(f"{len(export_patches(Path(args.repo), args.count, Path(args.out)))} patches in {args.out}")
        return 0
    ref = Path(args.ref)
    failed = 0
    for label, case_args in _cases(args.diffs):
        if args.command == "record":
            target = ref / label
            shutil.rmtree(target, ignore_errors=True)
            _run(case_args, target)
            print(f"{label}: recorded {', '.join(FILES)} in {target}")
            continue
        with tempfile.TemporaryDirectory(prefix="triage-equiv-") as tmp:
            out = Path(tmp)
            _run(case_args, out)
            for name in FILES:
                before, after = ref / label / name, out / name
                if before.read_bytes() == after.read_bytes():
                    print(f"{label}/{name}: identical")
                else:
                    failed += 1
                    print(f"{label}/{name}: DIFFERS\n{_first_difference(before, after)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

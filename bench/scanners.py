"""The secret and injection scanners alone, on real diffs: CPU per scanner, and a dump of every
finding for an exact before/after comparison.

Issue #13 measures the static stage against the bare unidiff floor; the scanners were about
two thirds of it on real Java commits. Timing them inside a full run mixes them with parsing
and tree-sitter, so this runs only them, over diffs parsed once beforehand.

    python -m bench.scanners time DIR...            CPU seconds of scan_diff and injection.scan
    python -m bench.scanners profile DIR...         the same under cProfile, top functions
    python -m bench.scanners dump OUT.jsonl DIR...  every finding, one JSON line per PR
    python -m bench.scanners texts TEXTS.json       the tests' sample texts, for `samples`
    python -m bench.scanners samples OUT.jsonl TEXTS.json   every finding on those texts

`dump` is the equivalence check: run it with the old code and the new (e.g. the old `triage/`
package unpacked from git into a directory, run from there with this file copied beside it)
and compare the two files with `cmp`. It records each added run's `find_secrets` and
`find_injections` results (kind, offsets, line, mask, excerpt), the flags both scanners give,
and `find_secrets` / `redact` on the whole diff text, title and body, so a change in what any
rule finds, or where, shows up as a differing line. `samples` does the same for every string
literal of the scanner tests (the edge cases they were written for) and for thousands of texts
made from the gate tests' rule words, seeded; `texts` writes them once, so that the old code
and the new read the same texts.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _parsed(paths: Sequence[str]) -> list[tuple[Any, Any]]:
    from triage.config import Config
    from triage.diff import parse_diff
    from triage.sources import load_inputs

    cfg = Config()
    out = []
    for pr in load_inputs(paths):
        out.append((pr, parse_diff(pr.diff, classify=cfg.classify)))
    return out


def _cpu() -> float:
    return time.process_time()


def time_scanners(paths: Sequence[str], repeat: int = 3) -> dict[str, Any]:
    """Best-of-`repeat` CPU seconds of each scanner over all PRs in `paths`."""
    from triage.review import injection, secrets

    items = _parsed(paths)
    best = {"secrets": float("inf"), "injection": float("inf")}
    flags = {"secrets": 0, "injection": 0}
    for _ in range(repeat):
        start = _cpu()
        flags["secrets"] = sum(len(secrets.scan_diff(diff)) for _, diff in items)
        best["secrets"] = min(best["secrets"], _cpu() - start)
        start = _cpu()
        flags["injection"] = sum(len(injection.scan(pr, diff)) for pr, diff in items)
        best["injection"] = min(best["injection"], _cpu() - start)
    return {
        "prs": len(items),
        "cpu_seconds": {k: round(v, 3) for k, v in best.items()},
        "flags": flags,
    }


def profile_scanners(paths: Sequence[str], top: int = 40) -> None:
    from triage.review import injection, secrets

    items = _parsed(paths)
    profiler = cProfile.Profile()
    profiler.enable()
    for pr, diff in items:
        secrets.scan_diff(diff)
        injection.scan(pr, diff)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def dump_findings(out: Path, paths: Sequence[str]) -> int:
    """Write every finding of both scanners on every PR of `paths`; returns the PR count."""
    from triage.review import injection, secrets

    count = 0
    with out.open("w", encoding="utf-8") as fh:
        for pr, diff in _parsed(paths):
            record: dict[str, Any] = {"pr": pr.id, "runs": []}
            for file in diff.files:
                if file.binary:
                    continue
                inside = False
                for hunk in file.hunks:
                    for texts, numbers in hunk.added_runs():
                        joined = "\n".join(texts)
                        found = secrets.find_secrets(joined, file.path, in_private_key=inside)
                        inside = secrets.ends_inside_private_key(joined, inside)
                        injections = injection.find_injections(joined)
                        if found or injections:
                            record["runs"].append(
                                {
                                    "file": file.path,
                                    "line": numbers[0],
                                    "secrets": [asdict(f) for f in found],
                                    "injections": [asdict(f) for f in injections],
                                }
                            )
            record["secret_flags"] = [_flag(f) for f in secrets.scan_diff(diff)]
            record["injection_flags"] = [_flag(f) for f in injection.scan(pr, diff)]
            record["whole_diff"] = [asdict(f) for f in secrets.find_secrets(pr.diff.decode("utf-8", "replace"))]
            record["title"] = secrets.redact(pr.title)
            record["body"] = secrets.redact(pr.body or "")
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            count += 1
    return count


def _sample_texts(count: int = 20000) -> list[str]:
    import ast
    import random

    from tests import test_scan_gates

    tests = Path(__file__).resolve().parents[1] / "tests"
    texts: list[str] = []
    for name in (
        "test_secrets",
        "test_secret_formats",
        "test_secret_rules",
        "test_injection",
        "test_scan_gates",
        "test_anchors",
    ):
        tree = ast.parse((tests / f"{name}.py").read_text(encoding="utf-8"))
        texts += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for name in ("test_security_injection", "test_security_text", "test_security_huge"):
        tree = ast.parse((tests / f"{name}.py").read_text(encoding="utf-8"))
        texts += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    rng = random.Random(13)
    words = [*test_scan_gates.WORDS, *test_scan_gates.ASSIGNMENT_WORDS]
    seps = test_scan_gates.SEPARATORS
    for _ in range(count):
        texts.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(1, 16))))
    return texts


def dump_samples(out: Path, texts_file: Path) -> int:
    from triage.review import injection, secrets

    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    with out.open("w", encoding="utf-8") as fh:
        for text in texts:
            record = {
                "secrets": [asdict(f) for f in secrets.find_secrets(text)],
                "config": [asdict(f) for f in secrets.find_secrets(text, "app.env")],
                "injections": [asdict(f) for f in injection.find_injections(text)],
            }
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    return len(texts)


def _flag(flag: Any) -> dict[str, Any]:
    return {
        "kind": str(flag.kind),
        "severity": str(flag.severity),
        "evidence": flag.evidence,
        "file": flag.file,
        "line": flag.line,
    }


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("time", "profile", "dump", "samples", "texts"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "time":
        print(json.dumps(time_scanners(argv[1:]), indent=2))
    elif argv[0] == "profile":
        profile_scanners(argv[1:])
    elif argv[0] == "texts":
        texts = _sample_texts()
        Path(argv[1]).write_text(json.dumps(texts), encoding="utf-8")
        print(f"{len(texts)} texts written to {argv[1]}")
    elif argv[0] == "samples":
        if len(argv) < 3:
            print("samples needs OUT.jsonl and TEXTS.json", file=sys.stderr)
            return 2
        print(f"{dump_samples(Path(argv[1]), Path(argv[2]))} texts written to {argv[1]}")
    else:
        if len(argv) < 3:
            print("dump needs OUT.jsonl and at least one DIR", file=sys.stderr)
            return 2
        print(f"{dump_findings(Path(argv[1]), argv[2:])} PRs written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

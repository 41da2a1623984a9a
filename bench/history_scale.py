"""Batch triage of real and generated git history: wall time, cores used, peak RSS (issue #13).

Three scenarios, each running the real command line in a child process measured with
`bench.proctree` (so the static stage's pool workers and the git processes they start count):

- `history_real`: `triage run --repo CLONE --git REV~N..REV` for N = 200, 1000, 2500 on every
  repository named by the `TRIAGE_BENCH_REPOS` environment variable (paths separated by the
  OS path separator; a bare mirror is cloned with `--shared --no-checkout` into a temporary
  directory). Not shipped: the repositories are fetched during development. Without the
  variable the scenario records a note and is skipped.
- `history_generated`: the same on a repository the bench builds itself with `git fast-import`
  (2,600 commits over a few hundred Java and Python files, 40 authors), so the scenario runs on
  a fresh machine.
- `real_diffs`: `triage run DIR` on the `git format-patch` output of the last 1,200 non-merge
  commits of the first `TRIAGE_BENCH_REPOS` repository, next to bare `unidiff.PatchSet` on the
  same files (the floor), both for the whole command and for the pipeline in-process.

"Linear" is judged on seconds per commit: the figure at the largest N over the one at 1,000
(the smallest run is dominated by start-up: imports, pool, the one `git log` of the history).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.proctree import measure_command

__all__ = ["generated_scenario", "real_diffs_scenario", "real_scenario"]

ENV = "TRIAGE_BENCH_REPOS"
SIZES = (200, 1000, 2500)
NOW = "2026-12-01T00:00:00Z"
_GIT_ENV = {"LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    env = {**os.environ, **_GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], input=input, env=env, check=True, capture_output=True).stdout


def repos_from_env() -> list[Path]:
    return [Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]


def _label(path: Path) -> str:
    """A name for a repository path: a mirror's `.../owner+name/repo` is named by its folder."""
    return path.parent.name if path.name in {"repo", ".git"} else path.name


def _work_clone(path: Path, scratch: Path) -> Path:
    """A non-bare clone for `--repo`: the path itself when it has a work tree, else a cheap
    `--shared --no-checkout` clone of the mirror (objects are borrowed, not copied)."""
    bare = _git(path, "rev-parse", "--is-bare-repository").strip() == b"true"
    if not bare:
        return path
    clone = scratch / _label(path)
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(path), str(clone)], check=True)
    return clone


def _triage(*args: str) -> list[str]:
    return [sys.executable, "-m", "triage", "run", "--llm", "off", "--no-progress", "--now", NOW, *args]


def _history_runs(clone: Path, sizes: Sequence[int], scratch: Path) -> dict[str, Any]:
    head = _git(clone, "rev-parse", "HEAD").decode().strip()
    depth = int(_git(clone, "rev-list", "--count", "--first-parent", head))
    rows = []
    for n in sizes:
        if n >= depth:
            rows.append({"commits_requested": n, "skipped": f"the first-parent history has only {depth} commits"})
            continue
        out = scratch / f"out-{clone.name}-{n}"
        figures = measure_command(_triage("--repo", str(clone), "--git", f"{head}~{n}..{head}", "--out", str(out)))
        queue = out / "queue.json"
        items = len(json.loads(queue.read_text())["items"]) if queue.is_file() else 0
        rows.append(
            {
                "commits_requested": n,
                "commits_triaged": items,
                **figures,
                "commits_per_second": round(items / figures["seconds"], 1) if figures["seconds"] else None,
                "seconds_per_1000_commits": round(1000 * figures["seconds"] / items, 1) if items else None,
                "cpu_seconds_per_1000_commits": (
                    round(1000 * figures["cpu_seconds"] / items, 1) if items and figures["cpu_seconds"] else None
                ),
            }
        )
    return {
        "repository": _label(clone),
        "head": head[:12],
        "rows": rows,
        # 1.0 = exactly linear; well above 1 = the cost per commit grows with the batch. CPU is
        # the steadier figure on a shared machine (wall time there depends on the neighbours).
        "growth_seconds_per_commit_largest_vs_1000": _growth(rows, "seconds_per_1000_commits"),
        "growth_cpu_per_commit_largest_vs_1000": _growth(rows, "cpu_seconds_per_1000_commits"),
    }


def _growth(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    per = {r["commits_requested"]: r[key] for r in rows if r.get(key)}
    if len(per) < 2:
        return None
    largest = max(per)
    reference = 1000 if 1000 in per and largest != 1000 else min(per)
    return round(per[largest] / per[reference], 2)


def real_scenario(sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    repos = repos_from_env()
    if not repos:
        return {"skipped": f"set {ENV} to one or more local clones or bare mirrors (path-separated)"}
    with tempfile.TemporaryDirectory(prefix="triage-bench-history-") as tmp:
        scratch = Path(tmp)
        return {"repositories": [_history_runs(_work_clone(p, scratch), sizes, scratch) for p in repos]}


# ------------------------------------------------------------------------- generated repository

_JAVA = "  public int {name}(int x) {{\n    if (x > {n}) {{\n      return x - {n};\n    }}\n    return x * 2;\n  }}\n"
_PY = "def {name}(x):\n    if x > {n}:\n        return x - {n}\n    return x * 2\n"


def _source(path: str, rng: random.Random, functions: int) -> list[str]:
    if path.endswith(".java"):
        cls = Path(path).stem
        body = [_JAVA.format(name=f"m{i}_{rng.randrange(999)}", n=rng.randrange(99)) for i in range(functions)]
        return [f"package gen;\n\npublic class {cls} {{\n", *body, "}\n"]
    return [_PY.format(name=f"f{i}_{rng.randrange(999)}", n=rng.randrange(99)) for i in range(functions)]


def build_repository(path: Path, commits: int, seed: int = 13) -> Path:
    """A repository of `commits` linear commits, built with one `git fast-import` stream:
    most commits edit one to four files (a function rewritten, added or removed), some add
    files, a few touch 20+ files (a refactoring), authors drawn from a skewed pool of 40."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    areas = ("core", "server", "client", "storage", "web", "tools", "auth", "build")
    files: dict[str, list[str]] = {}
    authors = [(f"Dev {i}", f"dev{i}@example.org") for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    stream: list[bytes] = []
    when = 1_600_000_000
    for c in range(commits):
        touched: dict[str, list[str] | None] = {}
        kind = rng.random()
        if not files or kind < 0.15:
            for _ in range(rng.randint(1, 3)):
                area = rng.choice(areas)
                ext = "java" if rng.random() < 0.6 else "py"
                name = f"src/{area}/m{len(files)}/File{len(files)}.{ext}"
                touched[name] = _source(name, rng, rng.randint(3, 40))
        else:
            wide = kind > 0.98
            for name in rng.sample(sorted(files), min(len(files), rng.randint(20, 40) if wide else rng.randint(1, 4))):
                body = list(files[name])
                if rng.random() < 0.03 and len(files) > 20:
                    touched[name] = None  # deleted
                    continue
                i = rng.randrange(1, len(body)) if len(body) > 1 else 0
                new = _source(name, rng, 1)[-1 if name.endswith(".py") else 1]
                if rng.random() < 0.5 and len(body) > 3:
                    body[i] = new
                else:
                    body.insert(i, new)
                touched[name] = body
        author, email = rng.choices(authors, weights)[0]
        when += rng.randint(600, 86_400)
        message = f"Change {c}: update {', '.join(sorted(touched)[:2])}\n".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"author {author} <{email}> {when} +0000\n".encode())
        stream.append(f"committer {author} <{email}> {when} +0000\n".encode())
        stream.append(b"data %d\n%s\n" % (len(message), message))
        for name, body in touched.items():
            if body is None:
                stream.append(f"D {name}\n".encode())
                files.pop(name, None)
                continue
            files[name] = body
            data = "".join(body).encode()
            stream.append(f"M 100644 inline {name}\n".encode())
            stream.append(b"data %d\n%s\n" % (len(data), data))
    _git(path, "fast-import", "--quiet", input=b"".join(stream))
    _git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    return path


def generated_scenario(sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="triage-bench-genrepo-") as tmp:
        scratch = Path(tmp)
        start = time.perf_counter()
        repo = build_repository(scratch / "generated", max(sizes) + 100)
        built = time.perf_counter() - start
        return {"build_seconds": round(built, 2), **_history_runs(repo, sizes, scratch)}


# ----------------------------------------------------------------------------- real diffs


def export_patches(repo: Path, count: int, out: Path) -> list[Path]:
    """`git format-patch` of the newest `count` non-merge commits, one file per commit."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        _git(repo, "format-patch", "-q", "--no-merges", "-o", str(out), f"--max-count={count}", "HEAD")
    except subprocess.CalledProcessError:
        # A mirror may lack some blobs: export commit by commit, leaving out those git cannot diff.
        for old in out.glob("*.patch"):
            old.unlink()
        shas = _git(repo, "rev-list", "--no-merges", f"--max-count={2 * count}", "HEAD").decode().split()
        written = 0
        for n, sha in enumerate(shas):
            if written >= count:
                break
            try:
                data = _git(repo, "format-patch", "-1", "--stdout", sha)
            except subprocess.CalledProcessError:
                continue
            (out / f"{n:05d}.patch").write_bytes(data)
            written += 1
    return sorted(out.glob("*.patch"))


def _floor_seconds(paths: Sequence[Path]) -> float:
    import unidiff

    texts = [p.read_bytes().decode("utf-8", "replace") for p in paths]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            unidiff.PatchSet(text)
        best = min(best, time.perf_counter() - start)
    return best


def _in_process_seconds(directory: Path) -> tuple[float, int]:
    """The pipeline alone (`run` on the loaded PRs, pool included), best of 3."""
    from datetime import UTC, datetime

    from triage.config import Config
    from triage.pipeline import RunContext, run
    from triage.sources import load_inputs

    prs = list(load_inputs([str(directory)]))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(iter(prs), Config(llm_mode="off"), RunContext(now=datetime(2026, 12, 1, tzinfo=UTC)))
        best = min(best, time.perf_counter() - start)
    return best, len(prs)


def real_diffs_scenario(count: int = 1200) -> dict[str, Any]:
    repos = repos_from_env()
    if not repos:
        return {"skipped": f"set {ENV} to a local clone or bare mirror to export real commit diffs from"}
    with tempfile.TemporaryDirectory(prefix="triage-bench-diffs-") as tmp:
        directory = Path(tmp) / "patches"
        paths = export_patches(repos[0], count, directory)
        total = sum(p.stat().st_size for p in paths)
        floor = _floor_seconds(paths)
        command = measure_command(_triage(str(directory), "--out", str(Path(tmp) / "out")))
        pipeline, prs = _in_process_seconds(directory)
        return {
            "repository": _label(repos[0]),
            "diffs": len(paths),
            "prs": prs,
            "megabytes": round(total / 2**20, 1),
            "command": command,
            "unidiff_floor_seconds": round(floor, 3),
            "command_ratio_to_floor": round(command["seconds"] / floor, 2),
            "pipeline_seconds": round(pipeline, 3),
            "pipeline_ratio_to_floor": round(pipeline / floor, 2),
        }


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "generated"
    fn = {"real": real_scenario, "generated": generated_scenario, "diffs": real_diffs_scenario}[which]
    print(json.dumps(fn(), indent=2))

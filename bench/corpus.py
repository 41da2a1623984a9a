"""A generated, realistic inflow of PRs for benchmarks.

Sizes are heavy-tailed like real repositories: changed lines follow a log-normal distribution
with a median of 40 and sigma 1.6, so about 1 PR in 700 is above 5,000 lines (empirical PR-size
studies find medians of a few dozen lines with a long tail). PRs mix languages, tests, docs and
lockfiles; a share is AI-authored (bot author with or without a human co-author) and many come
from repeat authors, so the policy stage has realistic work to do. Everything is generated from
a seeded RNG: the same arguments give the same corpus.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from triage.models import PullRequest, Trailer

LANGS = {
    "python": (
        "py",
        "def {name}(x):\n    if x > {n}:\n        return x - {n}\n"
        "    for i in range(x):\n        x += i\n    return x\n",
    ),
    "go": ("go", "func {name}(x int) int {{\n\tif x > {n} {{\n\t\treturn x - {n}\n\t}}\n\treturn x\n}}\n"),
    "javascript": (
        "js",
        "function {name}(x) {{\n  if (x > {n} && x < 99) {{\n    return x - {n};\n  }}\n  return x;\n}}\n",
    ),
    "typescript": (
        "ts",
        "export function {name}(x: number): number {{\n  while (x > {n}) {{ x -= 1; }}\n  return x;\n}}\n",
    ),
    "rust": ("rs", "fn {name}(x: i32) -> i32 {{\n    match x {{\n        {n} => 0,\n        _ => x,\n    }}\n}}\n"),
    "java": ("java", "  int {name}(int x) {{\n    if (x > {n}) {{ return x; }}\n    return -x;\n  }}\n"),
}
AREAS = ("api", "core", "web", "cli", "docs", "storage", "auth", "build")
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _changed_lines(rng: random.Random) -> int:
    return max(1, int(rng.lognormvariate(math.log(40), 1.6)))


def _file_diff(path: str, body_lines: list[str], deleted: int, start: int, old_lines: list[str] | None = None) -> str:
    """A unified diff of one modified file: `deleted` old lines replaced by `body_lines`.

    Context and removed lines are code of the same language when `old_lines` is given, as in
    a real diff (placeholder prose there would make tree-sitter's error recovery, not the
    pipeline, the thing measured: it parses such text about 5x slower than code).
    """
    source = old_lines or [f"line {start + i} of {path}" for i in range(deleted + 6)]
    old = [" " + line for line in source[:3]]
    minus = ["-" + line for line in source[3 : 3 + deleted]]
    trailing = [" " + line for line in source[3 + deleted : 6 + deleted]]
    plus = ["+" + line for line in body_lines]
    hunk = [*old, *minus, *plus, *trailing]
    old_count, new_count = len(old) + deleted + len(trailing), len(old) + len(plus) + len(trailing)
    header = (
        f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{old_count} +{start},{new_count} @@ def section():\n"
    )
    return header + "\n".join(hunk) + "\n"


def _code_lines(lang: str, count: int, rng: random.Random) -> list[str]:
    _, template = LANGS[lang]
    lines: list[str] = []
    i = 0
    while len(lines) < count:
        lines.extend(template.format(name=f"fn_{i}_{rng.randrange(1000)}", n=rng.randrange(100)).splitlines())
        i += 1
    return lines[:count]


def make_diff(rng: random.Random, total: int) -> tuple[bytes, str]:
    """A multi-file diff with about `total` changed lines; returns (bytes, main language)."""
    lang = rng.choice(list(LANGS))
    ext = LANGS[lang][0]
    n_files = min(60, max(1, int(rng.paretovariate(1.5))), max(1, total // 5))
    chunks: list[str] = []
    per_file = max(1, total // n_files)
    for f in range(n_files):
        area = rng.choice(AREAS)
        roll = rng.random()
        if roll < 0.15:
            path = f"{area}/tests/test_mod{f}.{ext}"
        elif roll < 0.22:
            path = f"docs/{area}_{f}.md"
        elif roll < 0.25:
            path = "package-lock.json"
        else:
            path = f"{area}/src/mod{f}.{ext}"
        deleted = per_file // 4
        chunks.append(
            _file_diff(
                path,
                _code_lines(lang, per_file - deleted, rng),
                deleted,
                1 + 10 * f,
                _code_lines(lang, deleted + 6, rng),
            )
        )
    return "".join(chunks).encode(), lang


def generate(count: int, seed: int = 7, *, huge_bytes: int = 0) -> Iterator[PullRequest]:
    """`count` PRs; with `huge_bytes` > 0, one extra PR whose diff is about that many bytes."""
    rng = random.Random(seed)
    authors = [f"dev{i}" for i in range(max(10, count // 6))]
    for i in range(count):
        diff, lang = make_diff(rng, _changed_lines(rng))
        roll = rng.random()
        trailers: tuple[Trailer, ...] = ()
        author = rng.choice(authors[: max(3, len(authors) // 4)] if rng.random() < 0.5 else authors)
        if roll < 0.08:
            trailers = (Trailer("Co-authored-by", f"{author} <{author}@example.com>"),)
            author = "coding-agent[bot]"
        elif roll < 0.10:
            author = "coding-agent[bot]"
        elif roll < 0.20:
            trailers = (Trailer("Assisted-by", "an AI model"),)
        created = NOW - timedelta(days=rng.uniform(0, 90))
        yield PullRequest(
            id=f"gen-{i:05d}",
            number=i + 1,
            title=("Fix " if rng.random() < 0.3 else "Add ") + f"{lang} change {i}",
            body="Fixes #12" if rng.random() < 0.6 else "",
            diff=diff,
            author=author,
            created_at=created,
            updated_at=created + timedelta(days=1),
            author_association=rng.choice(["MEMBER", "CONTRIBUTOR", "NONE", "FIRST_TIME_CONTRIBUTOR"]),
            trailers=trailers,
            linked_issues=("#12",) if rng.random() < 0.6 else (),
            source=f"generated:{i}",
        )
    if huge_bytes:
        chunks = list(huge_diff_chunks(huge_bytes, rng))
        yield PullRequest(
            id="huge-8mb",
            title="Vendor a very large change",
            diff="".join(chunks).encode(),
            author="dev0",
            created_at=NOW,
            source="generated:huge",
        )


def huge_diff_chunks(size: int, rng: random.Random) -> Iterator[str]:
    """File diffs adding up to at least `size` bytes: many Python files, each with one added
    and one changed hunk (the shape of a vendored or generated mass change)."""
    written = 0
    f = 0
    while written < size:
        text = _file_diff(
            f"big/src/file{f}.py", _code_lines("python", 2000, rng), 200, 1, _code_lines("python", 206, rng)
        )
        yield text
        written += len(text)
        f += 1

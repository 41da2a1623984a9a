"""How well the cluster stage finds PRs that address the same thing, and what it costs (issue #11).

    python -m bench.cluster_bench [--mirror GIT_DIR] [--key-pattern REGEX] [--count 2500]

or `make bench`, whose scenarios are `cluster_time_2500` (a generated corpus: runs everywhere)
and `cluster_pr_history` (needs `TRIAGE_BENCH_PR_MIRROR`, the git directory of a clone or bare
mirror whose `refs/pull/*/head` hold a project's pull requests, as GitHub serves them to
`git fetch origin '+refs/pull/*/head:refs/pull/*/head'`; skipped, saying so, without it).
`TRIAGE_BENCH_PR_KEY` is the tracker-key pattern (default: Jira-style `[A-Z][A-Z0-9]+-\\d+`).
Nothing here ships data: the mirror is the user's own fetch of a public repository.

**Labelled set.** Each pull ref becomes a PR as GitHub would show it: its commits are those
reachable from the head and from no branch of the mirror; the commit they start from (the
newest one when several) is the merge base, and the base branch is the branch holding it
(the default branch when it does, else the release branch with the most commits holding it).
The diff is `git diff-tree -p -M` from that merge base to the head; the title and body are the
oldest PR commit's message (what GitHub proposes as the title of a one-commit PR, and the
original change of a longer one), the author and dates those of the head commit. The label is
the first tracker key in the title; PRs without one are left out, and so are PRs whose head
is already on a branch (merged by fast-forward: nothing tells where they began), and PRs of
more than 300 files (GitHub's own diff of a PR stops there).

**Ground truth**: two PRs belong together when they name the same key *and* target the same
base branch; the same key on two branches is a backport, its own review by design, reported
separately (`cross_base_pairs`, and how many of them were clustered, which should be 0).

**Runs.** The whole pipeline (LLM off) on the set twice: with the keys (the pattern set in
`[cluster] issue_key_pattern`), and with every key removed from titles and bodies (no branch
names exist in a mirror), so only the keyless signals (patch ids, overlapping hunks, shared
lines, titles) can link PRs. Pairwise precision and recall over all pairs of the set, and the
number of clusters predicted and true.

**Cost.** The same batch with `[cluster] enabled = false` is the static run without clustering.
The headline is CPU, which a machine busy with other work disturbs much less than wall time:
whole runs without and with clustering, interleaved in alternating order, best of 4, with
the process pool off so that this process's CPU time is all of it (`added_cpu_percent`);
then the clustering work alone (every `fingerprint` plus the `cluster` stage, best of 3).
With a pool of N workers the static stage's wall time is about its CPU / N while the cluster
stage runs in the parent, so `added_wall_percent_expected_on_a_pool` is
(fingerprints + N x stage) / CPU. One pooled run of
each gives the measured wall figures (noisy on a loaded machine: the load average is
recorded). The target is 10 %. The generated corpus is `bench.corpus` with one issue per PR,
titles from a vocabulary, and 10 % of PRs copies of an earlier one (re-submitted, or a
competing PR under a similar title).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.corpus import NOW, generate
from triage import pipeline
from triage.config import ClusterConfig, Config
from triage.diff import parse_diff
from triage.models import Assessment, PullRequest
from triage.pipeline import RunContext, assess_all, run
from triage.policy.cluster import cluster, fingerprint
from triage.policy.gates import PolicyContext, decide
from triage.timeutil import from_timestamp

MIRROR_ENV = "TRIAGE_BENCH_PR_MIRROR"
KEY_ENV = "TRIAGE_BENCH_PR_KEY"
DEFAULT_KEY = r"[A-Z][A-Z0-9]+-\d+"
MAX_DIFF_BYTES = 2 * 1024 * 1024  # a PR head that drags a whole branch along is not a PR
# GitHub's diff of a PR fails above 300 files (DESIGN.md); such PRs (a tree reorganised, a
# branch merged in) are left out, and rename detection over thousands of files would cost
# minutes.
MAX_FILES = 300
_NOT_BASES = re.compile(r"(^|/)(asf-site|website|gh-pages|jenkins-tools|infrastructure-.*)$")


# ----------------------------------------------------------------------------- the labelled set


@dataclass(frozen=True, slots=True)
class Labelled:
    pr: PullRequest
    key: str  # the ground-truth label: the first tracker key of the title
    base: str  # the base branch


def _git(git_dir: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "-c", "core.quotepath=true", *args],
        input=input,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"cluster_bench: git {args[0]} in {git_dir}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


def _branches(git_dir: Path) -> dict[str, str]:
    """Candidate base branches (name -> ref), the default branch first."""
    out = _git(git_dir, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
    refs = [r for r in out.decode().split() if not r.endswith("/HEAD") and not _NOT_BASES.search(r)]
    head = _git(git_dir, "symbolic-ref", "-q", "HEAD").decode().strip()
    named: dict[str, str] = {}
    for ref in sorted(refs, key=lambda r: (r != head, r)):
        name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/origin/")
        named.setdefault(name, ref)
    return named


def _messages(git_dir: Path, shas: Iterable[str]) -> dict[str, tuple[str, str, int, str]]:
    """sha -> (author name, author email, committer time, message), in one git process."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    out = _git(
        git_dir,
        "log",
        "--no-walk=unsorted",
        "--format=%H%x00%an%x00%ae%x00%ct%x00%B%x1e",
        "--stdin",
        input="\n".join(wanted).encode(),
    )
    result: dict[str, tuple[str, str, int, str]] = {}
    for record in out.decode("utf-8", "replace").split("\x1e"):
        parts = record.lstrip("\n").split("\x00")
        if len(parts) == 5:
            sha, name, email, when, body = parts
            result[sha] = (name, email, int(when), body.strip())
    return result


def _file_counts(git_dir: Path, pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """head -> files changed since its merge base (names only: fast, no blobs read)."""
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "diff-tree", "--stdin", "-r", "--name-only", "--pretty=format:%x00PR %H"],
        input="".join(f"{head} {base}\n" for head, base in pairs).encode(),
        capture_output=True,
        check=False,
    )
    out: dict[str, int] = {}
    for record in proc.stdout.split(b"\x00PR ")[1:]:
        sha, _, body = record.partition(b"\n")
        out[sha.strip().decode()] = len(body.split(b"\n")) if body.strip() else 0
    return out


def _diffs(git_dir: Path, pairs: Sequence[tuple[str, str]], chunk: int = 200) -> dict[str, bytes]:
    """head -> `git diff-tree -p -M` from its merge base, a few git processes for all PRs. A
    mirror may miss a few objects: a chunk that fails is retried one PR at a time, and a PR
    whose objects are missing gets no diff."""
    args = ["diff-tree", "--stdin", "-p", "-M", "--no-color", "--no-ext-diff", "--no-textconv"]
    out: dict[str, bytes] = {}

    def one_run(part: Sequence[tuple[str, str]]) -> bool:
        proc = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args, "--pretty=format:%x00PR %H"],
            input="".join(f"{head} {base}\n" for head, base in part).encode(),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            return False
        for record in proc.stdout.split(b"\x00PR ")[1:]:
            sha, _, body = record.partition(b"\n")
            out[sha.strip().decode()] = body
        return True

    def bisect(part: Sequence[tuple[str, str]]) -> None:
        if not one_run(part) and len(part) > 1:
            bisect(part[: len(part) // 2])
            bisect(part[len(part) // 2 :])

    for start in range(0, len(pairs), chunk):
        bisect(pairs[start : start + chunk])
    return out


def labelled_set(mirror: Path, key_pattern: str) -> tuple[list[Labelled], dict[str, Any]]:
    """The PRs of `mirror`'s pull refs that name a tracker key (module docstring)."""
    git_dir = _git_dir(mirror)
    pattern = re.compile(key_pattern)
    pulls: dict[int, str] = {}
    for line in _git(git_dir, "for-each-ref", "--format=%(objectname) %(refname)", "refs/pull").decode().splitlines():
        sha, ref = line.split()
        m = re.fullmatch(r"refs/pull/(\d+)/head", ref)
        if m:
            pulls[int(m.group(1))] = sha
    branches = _branches(git_dir)
    # Commits only PRs have, with their parents: one rev-list for the whole mirror.
    own: dict[str, list[str]] = {}
    listing = _git(
        git_dir,
        "rev-list",
        "--parents",
        "--stdin",
        input="".join([*(f"{sha}\n" for sha in pulls.values()), *(f"^{ref}\n" for ref in branches.values())]).encode(),
    )
    for line in listing.decode().splitlines():
        sha, *parents = line.split()
        own[sha] = parents
    on_branch: dict[str, set[str]] = {
        name: set(_git(git_dir, "rev-list", ref).decode().split()) for name, ref in branches.items()
    }
    size = {name: len(commits) for name, commits in on_branch.items()}
    default = next(iter(branches))
    stats: Counter[str] = Counter(pull_refs=len(pulls))
    shapes: dict[int, tuple[str, list[str]]] = {}  # number -> (base branch, commits)
    starts: dict[int, list[str]] = {}  # number -> the base commits its commits start from
    order: dict[int, dict[str, int]] = {}  # number -> commit -> distance from the head
    for number, head in sorted(pulls.items()):
        if head not in own:
            stats["head_already_on_a_branch"] += 1
            continue
        # Breadth first from the head: a commit's depth orders commits of the same second.
        commits: list[str] = []
        depth: dict[str, int] = {head: 0}
        boundary: set[str] = set()
        queue = [head]
        for sha in queue:
            commits.append(sha)
            for p in own[sha]:
                if p not in own:
                    boundary.add(p)
                elif p not in depth:
                    depth[p] = depth[sha] + 1
                    queue.append(p)
        order[number] = depth
        if not boundary:
            stats["no_merge_base"] += 1
            continue
        holders = {b: [n for n, s in on_branch.items() if b in s] for b in boundary}
        if any(default in names for names in holders.values()):
            base = default
            candidates = [b for b, names in holders.items() if default in names]
        else:
            base = max((n for names in holders.values() for n in names), key=lambda n: (size[n], n), default="")
            candidates = [b for b, names in holders.items() if base in names]
        if not base:
            stats["base_unknown"] += 1
            continue
        shapes[number] = (base, commits)
        starts[number] = candidates
    info = _messages(git_dir, [sha for n, (_, commits) in shapes.items() for sha in (*commits, *starts[n])])
    # The merge base: the newest commit of the base the PR starts from (several when the base
    # was merged into the PR since).
    merge_base = {n: max(cands, key=lambda c: (info[c][2] if c in info else 0, c)) for n, cands in starts.items()}
    files = _file_counts(git_dir, [(pulls[n], merge_base[n]) for n in shapes])
    for n in [n for n in shapes if files.get(pulls[n], 0) > MAX_FILES]:
        del shapes[n]
        stats["over_300_files"] += 1
    diffs = _diffs(git_dir, [(pulls[n], merge_base[n]) for n in shapes])
    out: list[Labelled] = []
    for number, (base, commits) in shapes.items():
        head, base_sha = pulls[number], merge_base[number]
        dated = sorted((info[c][2], -order[number][c], c) for c in commits if c in info)
        if not dated or head not in info:
            stats["unreadable"] += 1
            continue
        first = info[dated[0][2]][3]
        title, _, body = first.partition("\n")
        m = pattern.search(title)
        if m is None:
            stats["no_key_in_title"] += 1
            continue
        diff = diffs.get(head, b"")
        if not diff.strip() or len(diff) > MAX_DIFF_BYTES:
            stats["empty_or_huge_diff"] += 1
            continue
        name, email, when, _ = info[head]
        created = from_timestamp(dated[0][0])
        pr = PullRequest(
            id=str(number),
            number=number,
            title=title.strip(),
            body=body.strip(),
            diff=diff,
            author=(email.split("@")[0] or name).lower(),
            author_association="MEMBER",
            created_at=created,
            updated_at=from_timestamp(when),
            base_ref=base,
            base_sha=base_sha,
            head_sha=head,
            commit_messages=tuple(info[c][3] for _, _, c in dated),
            source=f"pull/{number}",
        )
        out.append(Labelled(pr, m.group(0).upper(), base))
    stats["labelled"] = len(out)
    return out, dict(stats)


def without_keys(pr: PullRequest, pattern: re.Pattern[str]) -> PullRequest:
    """The PR with every tracker key gone from its title, body and commit messages (and the
    "KEY:" / "[KEY]" punctuation around it), so only the keyless signals can link it."""

    def strip(text: str) -> str:
        text = re.sub(rf"\[?(?:{pattern.pattern})\]?\s*[:.-]?\s*", "", text)
        return re.sub(r"[ \t]{2,}", " ", text).strip()

    return replace(
        pr,
        title=strip(pr.title),
        body=strip(pr.body),
        commit_messages=tuple(strip(m) for m in pr.commit_messages),
        head_ref=None,
    )


# ------------------------------------------------------------------------------------- scoring


def _pairs(groups: Iterable[Sequence[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for g in groups:
        out.update(combinations(sorted(g), 2))
    return out


def pairwise(predicted: dict[str, str | None], truth: dict[str, str]) -> dict[str, Any]:
    """Pairwise precision and recall of a clustering against labels (every item in `truth`;
    an item without a predicted cluster is a singleton)."""
    by_pred: dict[str, list[str]] = defaultdict(list)
    by_true: dict[str, list[str]] = defaultdict(list)
    for item, label in truth.items():
        by_true[label].append(item)
        cid = predicted.get(item)
        if cid is not None:
            by_pred[cid].append(item)
    got, want = _pairs(by_pred.values()), _pairs(by_true.values())
    hit = len(got & want)
    precision = hit / len(got) if got else 1.0
    recall = hit / len(want) if want else 1.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
        "pairs_predicted": len(got),
        "pairs_true": len(want),
        "pairs_right": hit,
        "clusters_predicted": sum(1 for g in by_pred.values() if len(g) > 1),
        "clusters_true": sum(1 for g in by_true.values() if len(g) > 1),
    }


def _clusters(assessments: Sequence[Assessment], cfg: Config) -> dict[str, str | None]:
    """PR id -> the cluster the stage puts it in (None: alone), from the assessed batch."""
    decisions = cluster(assessments, decide(assessments, cfg, PolicyContext(now=NOW)), cfg)
    return {a.pr.id: (d.cluster.id if d.cluster else None) for a, d in zip(assessments, decisions, strict=True)}


def quality(items: Sequence[Labelled], key_pattern: str) -> dict[str, Any]:
    """Pairwise precision and recall with and without keys, on the whole history as one batch
    and on one batch per calendar year of opening (closer to a set of PRs open at once)."""
    truth = {x.pr.id: f"{x.key}@{x.base}" for x in items}
    year = {x.pr.id: str(x.pr.created_at.year if x.pr.created_at else 0) for x in items}
    keys: dict[str, list[Labelled]] = defaultdict(list)
    for x in items:
        keys[x.key].append(x)
    cross = {
        (a.pr.id, b.pr.id) if a.pr.id < b.pr.id else (b.pr.id, a.pr.id)
        for group in keys.values()
        for a, b in combinations(group, 2)
        if a.base != b.base
    }
    pattern = re.compile(key_pattern)
    with_keys = Config(llm_mode="off", cluster=ClusterConfig(issue_key_pattern=key_pattern))
    result: dict[str, Any] = {}
    for name, prs, cfg in (
        ("with_keys", [x.pr for x in items], with_keys),
        ("without_keys", [without_keys(x.pr, pattern) for x in items], Config(llm_mode="off")),
    ):
        assessments = tuple(assess_all(iter(prs), cfg, RunContext(now=NOW)))
        predicted = _clusters(assessments, cfg)
        scores = pairwise(predicted, truth)
        scores["cross_base_pairs_clustered"] = sum(
            1 for a, b in cross if predicted.get(a) is not None and predicted.get(a) == predicted.get(b)
        )
        by_year: dict[str, list[Assessment]] = defaultdict(list)
        for a in assessments:
            by_year[year[a.pr.id]].append(a)
        per_year: dict[str, str | None] = {}
        for y, batch in by_year.items():
            for pid, cid in _clusters(batch, cfg).items():
                per_year[pid] = f"{y}/{cid}" if cid else None
        scores["one_batch_per_year"] = pairwise(per_year, {pid: f"{label}@{year[pid]}" for pid, label in truth.items()})
        result[name] = scores
    result["cross_base_pairs"] = len(cross)
    result["years"] = dict(sorted(Counter(year.values()).items()))
    return result


# ---------------------------------------------------------------------------------------- cost


_WORDS = """cache retry timeout parser config schema token session index buffer socket metrics queue
worker scheduler logger router handler client server storage snapshot replica leader quorum watcher
listener encoder decoder codec stream batch limit backoff lease lock mutex thread pool pipeline
plugin loader registry resolver template renderer widget layout theme cursor offset checksum digest
signature certificate keystore truststore proxy gateway endpoint request response header cookie
payload record column table migration transaction commit rollback"""
_VERBS = ("Fix", "Add", "Handle", "Refactor", "Speed up", "Document", "Test", "Remove", "Rename", "Validate")


def _title(rng: random.Random, area: str) -> str:
    return f"{rng.choice(_VERBS)} {' '.join(rng.sample(_WORDS.split(), 3))} in {area}"


def flood_corpus(count: int, seed: int = 11) -> list[PullRequest]:
    """`bench.corpus` with one issue per PR and titles drawn from a vocabulary (its own titles
    are one template, "Add python change 12", which the title signal rightly finds alike), and
    every tenth PR a copy of an earlier one: half re-submitted by its author (same diff, same
    issue), half a competing fix by someone else (the same diff, a similar title, no issue)."""
    rng = random.Random(seed)
    prs: list[PullRequest] = []
    for i, pr in enumerate(generate(count, seed=seed)):
        pr = replace(pr, title=_title(rng, rng.choice(("api", "core", "web", "cli", "docs", "storage"))))
        if i >= 10 and i % 10 == 0:
            src = prs[rng.randrange(len(prs))]
            if rng.random() < 0.5:
                pr = replace(
                    pr,
                    title=src.title,
                    body=src.body,
                    diff=src.diff,
                    author=src.author,
                    linked_issues=src.linked_issues,
                )
            else:
                pr = replace(pr, title=f"{src.title} (alternative)", body="", diff=src.diff, linked_issues=())
        else:
            issue = f"#{1000 + i}"
            pr = replace(pr, body=f"Fixes {issue}", linked_issues=(issue,))
        prs.append(pr)
    return prs


@contextmanager
def _serial() -> Iterator[None]:
    """The pipeline without its process pool, so that this process's CPU time is the whole
    run's: the static stage's workers are not this process's children (forkserver)."""
    saved = pipeline._workers
    pipeline._workers = lambda ctx: 1  # type: ignore[assignment]
    try:
        yield
    finally:
        pipeline._workers = saved  # type: ignore[assignment]


def cost(prs: Sequence[PullRequest], cfg: Config, repeat: int = 4) -> dict[str, Any]:
    """The added time of clustering on one batch (module docstring)."""
    off = replace(cfg, cluster=replace(cfg.cluster, enabled=False))
    cpu = {"off": float("inf"), "on": float("inf")}
    with _serial():
        for n in range(repeat):
            # Alternating order (off, on, on, off, ...): a run that always comes second (a heap
            # already grown, another job's burst) must not bias the difference.
            order = (("off", off), ("on", cfg)) if n % 2 == 0 else (("on", cfg), ("off", off))
            for name, c in order:
                start = time.process_time()
                run(iter(prs), c, RunContext(now=NOW))
                cpu[name] = min(cpu[name], time.process_time() - start)
    wall = {}
    for name, c in (("off", off), ("on", cfg)):
        start = time.perf_counter()
        run(iter(prs), c, RunContext(now=NOW))
        wall[name] = time.perf_counter() - start
    diffs = [parse_diff(pr.diff) for pr in prs]  # assessments keep no hunks: parse again
    assessments = tuple(assess_all(iter(prs), cfg, RunContext(now=NOW)))
    decisions = decide(assessments, cfg, PolicyContext(now=NOW))
    stage = fp_time = float("inf")
    out: tuple[Any, ...] = ()
    for _ in range(3):
        start = time.process_time()
        for diff in diffs:
            fingerprint(diff)
        fp_time = min(fp_time, time.process_time() - start)
        start = time.process_time()
        out = cluster(assessments, decisions, cfg)
        stage = min(stage, time.process_time() - start)
    del diffs
    workers = min(os.cpu_count() or 1, 8)
    return {
        "prs": len(prs),
        "cpu_seconds_without_clustering": round(cpu["off"], 3),
        "cpu_seconds_with_clustering": round(cpu["on"], 3),
        "added_cpu_percent": round(100 * (cpu["on"] - cpu["off"]) / cpu["off"], 1),
        "fingerprint_cpu_seconds": round(fp_time, 3),
        "cluster_stage_cpu_seconds": round(stage, 3),
        "clustering_work_percent": round(100 * (fp_time + stage) / cpu["off"], 1),
        "added_wall_percent_expected_on_a_pool": round(100 * (fp_time + stage * workers) / cpu["off"], 1),
        "wall_seconds_without_clustering": round(wall["off"], 3),
        "wall_seconds_with_clustering": round(wall["on"], 3),
        "added_wall_percent": round(100 * (wall["on"] - wall["off"]) / wall["off"], 1),
        "pool_workers": workers,
        "clusters": len({d.cluster.id for d in out if d.cluster is not None}),
        "duplicates": sum(1 for d in out if d.kind.value == "duplicate"),
        "target_percent": 10,
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


# ------------------------------------------------------------------------------------ scenarios


def time_scenario(count: int = 2500) -> dict[str, Any]:
    """`cluster_time_2500`: the cost on a generated corpus (runs everywhere)."""
    return {"corpus": "bench.corpus + 10 % copies (flood_corpus)", **cost(flood_corpus(count), Config(llm_mode="off"))}


def history_scenario(mirror: str | None = None, key_pattern: str | None = None) -> dict[str, Any]:
    """`cluster_pr_history`: precision and recall on a mirror's pull refs, and the cost there."""
    mirror = mirror or os.environ.get(MIRROR_ENV)
    key_pattern = key_pattern or os.environ.get(KEY_ENV) or DEFAULT_KEY
    if not mirror:
        return {"skipped": f"set {MIRROR_ENV} to a git mirror with refs/pull/*/head (e.g. apache/zookeeper)"}
    path = Path(mirror)
    if not path.is_dir():
        return {"skipped": f"{MIRROR_ENV}={mirror}: not a directory"}
    start = time.perf_counter()
    items, stats = labelled_set(path, key_pattern)
    built = time.perf_counter() - start
    if len(items) < 2:
        return {"skipped": f"{mirror}: fewer than 2 PRs name a key matching {key_pattern}", "set": stats}
    result: dict[str, Any] = {
        "mirror": path.name if path.name not in ("repo", ".git") else path.parent.name,
        "key_pattern": key_pattern,
        "set": {**stats, "bases": dict(Counter(x.base for x in items).most_common()), "build_seconds": round(built, 1)},
        **quality(items, key_pattern),
        "cost_with_keys": cost(
            [x.pr for x in items], Config(llm_mode="off", cluster=ClusterConfig(issue_key_pattern=key_pattern))
        ),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", help=f"git dir with refs/pull/*/head (default ${MIRROR_ENV})")
    parser.add_argument("--key-pattern", help=f"tracker keys (default ${KEY_ENV} or {DEFAULT_KEY})")
    parser.add_argument("--count", type=int, default=2500, help="PRs in the generated corpus (default 2500)")
    parser.add_argument("--only", choices=("time", "history"), help="run one part")
    args = parser.parse_args(argv)
    if args.only != "history":
        print("cluster_time:", json.dumps(time_scenario(args.count), sort_keys=True), flush=True)
    if args.only != "time":
        print("cluster_pr_history:", json.dumps(history_scenario(args.mirror, args.key_pattern), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The orchestrator: PullRequest records in, a ranked Queue out.

    sources -> parse -> measure -> review -> decide -> rank      (report is the caller's job)

The per-PR stages (parse, measure, heuristic review) run as a stream, and the LLM reviewer, when
enabled, consumes that stream with bounded look-ahead, so memory stays bounded however many PRs
come in: once a PR is reviewed its diff bytes and hunk texts are dropped and only the small
`Assessment` is kept for the batch-level stages (policy needs every open PR to count per-author
caps; rank needs them all to draw the capacity line).

A PR that breaks any stage becomes an Assessment with an error, never an exception that stops
the batch: that is the one place where a broad `except` is right, and it records what happened.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from triage.basecheck import BaseChecker
from triage.classify import GitAttributes
from triage.config import Config
from triage.diff import parse_diff
from triage.gitrepo import DirTree, GitRepo, GitTree, Tree
from triage.metrics import empty_metrics, measure
from triage.metrics.history import HistoryCache
from triage.metrics.risk import assess_risk
from triage.metrics.risk_model import RiskModel, load_model
from triage.metrics.risk_model import describe as describe_model
from triage.models import (
    Assessment,
    BaseCheck,
    Fingerprint,
    Flag,
    Metrics,
    ParsedDiff,
    PullRequest,
    Queue,
    Review,
    ReviewSource,
    Risk,
)
from triage.policy import PolicyContext, decide
from triage.policy.cluster import cluster, fingerprint
from triage.policy.codeowners import CodeOwners, find_codeowners
from triage.rank import rank
from triage.review import heuristic, injection, secrets
from triage.review.base import Reviewer, ReviewItem
from triage.review.merge import raise_risk
from triage.review.secrets import redact

Progress = Callable[[PullRequest], None]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a run knows beyond the PRs themselves. Built once by the CLI or CI adapter.

    `base` is the snapshot of the target branch: CODEOWNERS, .gitattributes and the "before"
    contents of changed files are read from it, never from the PR (a PR must not be able to
    re-route its own review). `repo` enables history metrics and per-commit trees.
    """

    now: datetime
    base: Tree | None = None
    repo: GitRepo | None = None
    llm_http_client: object | None = None
    # One git-log read per base revision for the whole batch (history metrics).
    history_cache: HistoryCache = field(default_factory=HistoryCache)
    # Only these PR ids go to the LLM (None = all). `triage ci` reviews the event's PR; the
    # other open PRs are context for the batch rules and keep their heuristic review.
    llm_ids: frozenset[str] | None = None
    # Already landed / conflicts against the base revision of `repo` (`triage.basecheck`);
    # `run` opens one for the batch when `repo` and a git `base` are given.
    base_checker: BaseChecker | None = None
    # The reviewers after the heuristic one, in order (None = from the config: the LLM
    # reviewer when `cfg.use_llm`). Benchmarks and tests inject their own here.
    reviewers: tuple[Reviewer, ...] | None = None
    # A calibrated risk model (`triage calibrate`); None = the default weights, unless the
    # config names a model file, which `with_risk_model` loads.
    risk_model: RiskModel | None = None


def configured_risk_model(cfg: Config) -> RiskModel | None:
    """The model `[risk] model` names (a relative path is read from the config file's
    directory), loaded and validated; None for the default weights. A bad file is a one-line
    ConfigError. `triage run`, `triage eval` and the CI adapters all resolve it here."""
    if not cfg.risk.model:
        return None
    path = Path(cfg.risk.model)
    if not path.is_absolute() and cfg.source_file:
        path = Path(cfg.source_file).parent / path
    return load_model(path)


def with_risk_model(ctx: RunContext, cfg: Config) -> RunContext:
    """The context with the model `[risk] model` names loaded (once per file; a bad file is a
    one-line ConfigError). A model already in the context wins."""
    if ctx.risk_model is not None or not cfg.risk.model:
        return ctx
    return replace(ctx, risk_model=configured_risk_model(cfg))


@dataclass(frozen=True, slots=True)
class _Static:
    """A PR after the stages that need no network: the input to the (optional) LLM review."""

    pr: PullRequest
    diff: ParsedDiff
    assessment_errors: tuple[str, ...]
    metrics: Metrics
    risk: Risk
    review: Review
    unscanned: str | None = None
    base_check: BaseCheck | None = None
    fingerprint: Fingerprint | None = None

    @property
    def ok(self) -> bool:
        return not self.assessment_errors


def _attributes(base: Tree | None) -> GitAttributes | None:
    if base is None:
        return None
    data = base.read(".gitattributes")
    return GitAttributes.from_text(data.decode("utf-8", "replace")) if data else None


def _trees(pr: PullRequest, ctx: RunContext) -> tuple[Tree | None, Tree | None]:
    """Before/after snapshots for one PR: its own base/head commits when the repo has them."""
    repo = ctx.repo
    if repo is None:
        return ctx.base, None
    before: Tree | None = ctx.base
    after: Tree | None = None
    if pr.base_sha and repo.has_revision(pr.base_sha):
        before = GitTree(repo, pr.base_sha)
    if pr.head_sha and repo.has_revision(pr.head_sha):
        after = GitTree(repo, pr.head_sha)
    return before, after


def assess_static(pr: PullRequest, cfg: Config, ctx: RunContext, attributes: GitAttributes | None) -> _Static:
    """Parse, measure and heuristically review one PR. Never raises for a bad PR."""
    errors = list(pr.load_errors)
    diff = ParsedDiff()
    metrics = empty_metrics()
    base_check: BaseCheck | None = None
    prints: Fingerprint | None = None
    try:
        diff = parse_diff(pr.diff, classify=cfg.classify, attributes=attributes)
        errors.extend(diff.errors)
        prints = fingerprint(diff) if cfg.cluster.enabled else None
        before, after = _trees(pr, ctx)
        metrics = measure(pr, diff, cfg, before=before, after=after, repo=ctx.repo, history_cache=ctx.history_cache)
        risk = assess_risk(pr, diff, metrics, ctx.risk_model)
        review = heuristic.HeuristicReviewer(cfg).review(pr, diff, metrics, risk)
        if ctx.base_checker is not None and not errors:
            base_check = ctx.base_checker.check(pr, diff, ctx.history_cache)
    except Exception as exc:  # one broken PR must never stop the batch; the item records why
        errors.append(f"{pr.source or pr.id}: internal error while triaging: {type(exc).__name__}: {exc}")
        metrics = empty_metrics()
        risk = assess_risk(pr, ParsedDiff(), metrics)
        flags, scan_errors = _security_flags(pr, diff)
        review = Review(source=ReviewSource.HEURISTIC, summary=redact(pr.title), flags=flags)
        errors.extend(f"{pr.source or pr.id}: {e}" for e in scan_errors)
        if scan_errors and scan_errors[0].startswith(_SECRET_SCAN_FAILED):
            return _Static(pr, diff, tuple(errors), metrics, risk, review, unscanned=scan_errors[0])
    return _Static(
        pr,
        diff,
        tuple(errors),
        metrics,
        risk,
        review,
        unscanned=_unscanned(pr, diff),
        base_check=base_check,
        fingerprint=prints,
    )


_SECRET_SCAN_FAILED = "secret scan failed"


def _security_flags(pr: PullRequest, diff: ParsedDiff) -> tuple[tuple[Flag, ...], list[str]]:
    """The secret and injection flags of what was parsed, after another stage raised: an
    internal error must not hide a finding. Each scanner runs on its own, so one that fails
    still leaves the other's flags; a failed secret scan comes first in the errors returned
    and makes the PR count as unscanned."""
    flags: list[Flag] = []
    problems: list[str] = []
    try:
        flags.extend(secrets.scan_diff(diff))
    except Exception as exc:  # recorded: the `unscanned` gate holds the PR
        problems.append(f"{_SECRET_SCAN_FAILED}: {type(exc).__name__}: {exc}")
    try:
        flags.extend(injection.scan(pr, diff))
    except Exception as exc:  # recorded; the secret flags above still stand
        problems.append(f"injection scan failed: {type(exc).__name__}: {exc}")
    return tuple(flags), problems


def _unscanned(pr: PullRequest, diff: ParsedDiff) -> str | None:
    """Why none of the PR's content reached the secret scanner, or None when it did: no file
    was parsed although there were bytes, or the input could not be read at all."""
    if diff.files:
        return None
    if pr.diff.strip():
        return "no file of the diff could be parsed"
    if pr.load_errors:
        return "the diff could not be read"
    return None


# Parallel static stage. Parsing, tree-sitter and the scanners are CPU-bound Python, so on a
# multi-core machine a process pool multiplies throughput. A pool costs about a second to start,
# so the first PRs run in-process and the pool only starts for batches larger than that.
_SERIAL_FIRST = 48
_BATCH_PRS = 32  # PRs per task ...
_BATCH_BYTES = 512 * 1024  # ... or this much diff, whichever comes first
_BATCHES_PER_WORKER = 4  # tasks in flight per worker: bounds memory; deep enough that one big PR
# at the head of the line does not leave the other workers idle (sizes are heavy-tailed)
_worker_args: tuple[Config, RunContext, GitAttributes | None] | None = None
_worker_online = False  # whether reviewers run after the static stage (they need the diff)


def _init_worker(cfg: Config, ctx: RunContext, attributes: GitAttributes | None, online: bool) -> None:
    global _worker_args, _worker_online
    _worker_args = (cfg, ctx, attributes)
    _worker_online = online


def _online(cfg: Config, ctx: RunContext) -> bool:
    """Whether any reviewer runs after the heuristic one."""
    return bool(ctx.reviewers) if ctx.reviewers is not None else cfg.use_llm


def _wants_llm(static: _Static, ctx: RunContext, online: bool) -> bool:
    """Whether this PR goes to the reviewers after the heuristic one (the LLM): there are
    some, it parsed, and it is one the run reviews. PRs that failed to parse (or are only
    context) keep their heuristic review."""
    return online and static.ok and (ctx.llm_ids is None or static.pr.id in ctx.llm_ids)


def _worker_batch(prs: tuple[PullRequest, ...]) -> list[_Static]:
    assert _worker_args is not None
    _, ctx, _ = _worker_args
    out: list[_Static] = []
    for pr in prs:
        static = assess_static(pr, *_worker_args)
        if not _wants_llm(static, ctx, _worker_online):
            # Nothing downstream reads the diff text: do not ship it back through the pipe.
            static = replace(static, pr=static.pr.without_diff(), diff=_strip(static.diff))
        out.append(static)
    return out


def _workers(ctx: RunContext) -> int:
    """Worker processes for the static stage: one per core, or none when the context cannot
    travel to another process (an API-backed tree holds live handles). A git repository
    travels as its path: each worker opens its own handle and its own history cache."""
    if not (ctx.base is None or isinstance(ctx.base, DirTree | GitTree)):
        return 1
    return min(os.cpu_count() or 1, 8)


def _static_stream(
    prs: Iterable[PullRequest], cfg: Config, ctx: RunContext, attributes: GitAttributes | None
) -> Iterator[_Static]:
    """`assess_static` over the PRs, in input order, in a process pool for large batches."""
    it = iter(prs)
    workers = _workers(ctx)
    for count, pr in enumerate(it, 1):
        yield assess_static(pr, cfg, ctx, attributes)
        if count >= _SERIAL_FIRST and workers > 1:
            break
    else:
        return
    # forkserver, not fork: the LLM reviewer's threads may be running in this process.
    # Reviewers hold live clients and threads: the workers only need to know there are some.
    light_ctx = replace(ctx, history_cache=ctx.history_cache.fresh(), llm_http_client=None, reviewers=None)
    online = _online(cfg, ctx)
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_init_worker,
        initargs=(cfg, light_ctx, attributes, online),
    ) as pool:
        # Each entry: a batch and its future, or the results this process computed itself.
        window: deque[tuple[tuple[PullRequest, ...], Future[list[_Static]] | list[_Static]]] = deque()
        in_flight = workers * _BATCHES_PER_WORKER
        limit = in_flight if online else 2 * in_flight  # batches held, done or not
        for batch in _batches(it):
            busy = sum(1 for _, job in window if isinstance(job, Future) and not job.done())
            if busy >= in_flight and len(window) < limit:
                # Every worker has work queued: rather than wait for the oldest batch, this
                # process triages the next one itself. It would otherwise sit idle while the
                # workers start (about a second of imports) and between hand-offs, which kept
                # a 2-core run near 1.4 cores busy (issue #13). Not when reviewers follow: their
                # threads share this process and should not wait for the interpreter lock.
                window.append((batch, [assess_static(pr, cfg, ctx, attributes) for pr in batch]))
            else:
                try:
                    window.append((batch, pool.submit(_worker_batch, batch)))
                except BrokenExecutor:
                    # The pool is gone (a worker was killed): finish the batch in this process.
                    while window:
                        yield from _results(*window.popleft(), cfg, ctx, attributes)
                    yield from (assess_static(pr, cfg, ctx, attributes) for pr in batch)
                    yield from (assess_static(rest, cfg, ctx, attributes) for rest in it)
                    return
            # Hand on what is ready, in input order; block only when the window is full.
            while window and (_ready(window[0][1]) or len(window) >= limit):
                yield from _results(*window.popleft(), cfg, ctx, attributes)
        while window:
            yield from _results(*window.popleft(), cfg, ctx, attributes)


def _ready(job: Future[list[_Static]] | list[_Static]) -> bool:
    return not isinstance(job, Future) or job.done()


def _batches(prs: Iterator[PullRequest]) -> Iterator[tuple[PullRequest, ...]]:
    """Consecutive PRs grouped up to `_BATCH_PRS` PRs or `_BATCH_BYTES` of diff: one task per
    PR would leave the workers waiting on the pool's hand-off (its call queue holds one task
    per worker, refilled by a thread of this busy process) more than they compute."""
    batch: list[PullRequest] = []
    size = 0
    for pr in prs:
        batch.append(pr)
        size += len(pr.diff)
        if len(batch) >= _BATCH_PRS or size >= _BATCH_BYTES:
            yield tuple(batch)
            batch, size = [], 0
    if batch:
        yield tuple(batch)


def _results(
    batch: tuple[PullRequest, ...],
    future: Future[list[_Static]] | list[_Static],
    cfg: Config,
    ctx: RunContext,
    attributes: GitAttributes | None,
) -> list[_Static]:
    if not isinstance(future, Future):
        return future  # computed in this process
    try:
        return future.result()
    except (BrokenExecutor, OSError, pickle.PicklingError):
        # A worker died or a record could not travel back: triage these PRs here instead.
        return [assess_static(pr, cfg, ctx, attributes) for pr in batch]


def _strip(diff: ParsedDiff) -> ParsedDiff:
    """Drop hunk texts once they are no longer needed: keeps batch memory bounded."""
    return replace(diff, files=tuple(replace(f, hunks=()) for f in diff.files))


def _finish(static: _Static, review: Review) -> Assessment:
    # The heuristic's flags (secrets, injection) always count, whatever the LLM said: risk is
    # raised by the heuristic review first, then by the LLM's, and neither can lower it.
    risk = raise_risk(static.risk, static.review)
    if review is not static.review:
        risk = raise_risk(risk, review)
    return Assessment(
        pr=static.pr.without_diff(),
        diff=_strip(static.diff),
        metrics=static.metrics,
        risk=risk,
        review=review,
        errors=static.assessment_errors,
        unscanned=static.unscanned,
        base_check=static.base_check,
        fingerprint=static.fingerprint,
    )


def assess_all(
    prs: Iterable[PullRequest], cfg: Config, ctx: RunContext, progress: Progress | None = None
) -> Iterator[Assessment]:
    """Stream Assessments, one per input PR, in input order: the static stages (heuristic
    review included), then each further reviewer of the chain over the PRs it is meant for."""
    ctx = with_risk_model(ctx, cfg)
    attributes = _attributes(ctx.base)
    with ExitStack() as stack:
        stream: Iterator[tuple[_Static, Review]] = ((s, s.review) for s in _static_stream(prs, cfg, ctx, attributes))
        for reviewer in _reviewers(cfg, ctx, stack):
            stream = _review_stage(reviewer, stream, lambda s: _wants_llm(s, ctx, True))
        for static, review in stream:
            if progress:
                progress(static.pr)
            yield _finish(static, review)


def _reviewers(cfg: Config, ctx: RunContext, stack: ExitStack) -> tuple[Reviewer, ...]:
    """The reviewers after the heuristic one: injected ones, else the LLM's when enabled (with
    its cache, closed when the run ends)."""
    if ctx.reviewers is not None:
        return ctx.reviewers
    if not cfg.use_llm:
        return ()
    from triage.review.cache import ReviewCache
    from triage.review.llm import LLMReviewer

    cache = ReviewCache.open(cfg) if cfg.cache.enabled else None
    if cache is not None:
        stack.callback(cache.close)
    return (LLMReviewer(cfg, cache, http_client=ctx.llm_http_client),)


def _review_stage(
    reviewer: Reviewer, stream: Iterator[tuple[_Static, Review]], wants: Callable[[_Static], bool]
) -> Iterator[tuple[_Static, Review]]:
    """`reviewer` over the PRs it is meant for, in input order; the others pass through with
    the review they had. The reviewer pulls its input lazily, so memory stays bounded."""
    pending: deque[tuple[_Static, Review]] = deque()

    def feed() -> Iterator[ReviewItem]:
        for static, review in stream:
            pending.append((static, review))
            if wants(static):
                yield (static.pr, static.diff, static.metrics, static.risk, review)

    def passed_through() -> Iterator[tuple[_Static, Review]]:
        while pending and not wants(pending[0][0]):
            yield pending.popleft()

    for review in reviewer.review_many(feed()):
        yield from passed_through()
        static, _ = pending.popleft()
        yield static, review
    yield from passed_through()


def review_source_of(assessments: Iterable[Assessment]) -> str:
    sources = {a.review.source.value for a in assessments}
    if len(sources) == 1:
        return sources.pop()
    return "mixed" if sources else "heuristic"


def run(prs: Iterable[PullRequest], cfg: Config, ctx: RunContext, progress: Progress | None = None) -> Queue:
    """The whole pipeline on a batch of PRs (the batch is the set of open PRs being triaged)."""
    ctx = with_risk_model(ctx, cfg)
    if ctx.base_checker is None and ctx.repo is not None and isinstance(ctx.base, GitTree):
        with BaseChecker(ctx.repo, ctx.base.rev) as checker:
            return run(prs, cfg, replace(ctx, base_checker=checker), progress)
    assessments = tuple(assess_all(prs, cfg, ctx, progress))
    if ctx.base_checker is not None:
        assessments = ctx.base_checker.finish(assessments)
    codeowners: CodeOwners | None = None
    codeowners_path: str | None = None
    if ctx.base is not None:
        found = find_codeowners(ctx.base)
        if found is not None:
            codeowners_path, text = found
            codeowners = CodeOwners.parse(text, codeowners_path)
    policy_ctx = PolicyContext(now=ctx.now, codeowners=codeowners, codeowners_path=codeowners_path)
    decisions = cluster(assessments, decide(assessments, cfg, policy_ctx), cfg)
    queue = rank(assessments, decisions, cfg, ctx.now, review_source_of(assessments))
    model = ctx.risk_model
    return replace(
        queue,
        config=cfg.to_report(),
        risk_model=describe_model(model),
        risk_model_sha256=model.sha256 if model is not None else None,
    )

"""The LLM reviewer: (PullRequest, ParsedDiff, Metrics, Risk, prior Review) -> Review.

An optional upgrade over the heuristic reviewer, with one rule above all: it can only ADD.
The model writes a summary, a change type and flags; the prior review's flags (the
heuristic's secrets and injection findings above all) are always kept alongside (union), and
`triage.review.merge.raise_risk` folds flags into the risk, which it can only raise. Nothing
the model says approves a PR, lowers its risk, or touches its decision or owner, which is what
makes a prompt-injected model harmless here. Two more guards keep the model from moving a PR:
a change type the diff settles (docs-only, tests-only, a dependency bump) is never replaced by
the model's, and a flag whose evidence quotes nothing of the PR counts zero toward risk
(`triage.review.evidence`), shown as unverified.

Per PR: render the budgeted, redacted, fenced prompt (`triage.review.prompt`), ask the
endpoint for structured output, validate the reply (`triage.review.output`), and cache the
result (sqlite, committed at once). The client is the openai SDK through langchain-openai's
`ChatOpenAI` with the SDK's own retries off: every fault is classified here
(`triage.review.faults`) and retried with `triage.retry.Backoff`, honouring `retry-after`
within a bound. When retries run out the PR gets `Review(source=UNAVAILABLE, error=...)`
carrying the prior review, so static triage stands; a batch never fails because the LLM did.

Slow is not dead. A timeout means the endpoint is alive but overloaded, so the requests in
flight are halved (`AdaptiveLimit`, AIMD) and nothing stops; only a few PRs in a row that
could not connect at all (or at once a rejected key or unknown model) open the breaker, and
the rest of the batch is then not sent.

Structured output modes, in order of preference (auto-detected; a 400 that names
response_format or tools moves to the next one for the rest of the run, said on stderr), or
forced with `[llm] mode`: `json_schema` (the endpoint's JSON-schema `response_format`),
`tools` (forced function calling), `plain` (JSON in the text, which any chat endpoint can do).
Each review records the mode that produced it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import SecretStr, ValidationError

from triage.config import LLM_MODES, Config
from triage.errors import ConfigError
from triage.models import (
    ChangeKind,
    Flag,
    FlagKind,
    Metrics,
    ParsedDiff,
    PullRequest,
    Review,
    ReviewSource,
    Risk,
    Severity,
)
from triage.retry import Backoff
from triage.review import heuristic
from triage.review.base import ReviewItem
from triage.review.cache import ReviewCache, review_key
from triage.review.evidence import Corpus, quotes_pr
from triage.review.faults import DEAD, FATAL, SLOW, AdaptiveLimit, LLMFault, classify
from triage.review.heuristic import certain_change_type
from triage.review.injection import verdict_claim
from triage.review.output import extract_json, parse_reply
from triage.review.prompt import PROMPT_VERSION, PromptMessages, load_prompt, render_prompt
from triage.review.schema import SCHEMA_VERSION, LLMReviewOutput, json_schema
from triage.review.secrets import redact

__all__ = [
    "BUDGET_VERSION",
    "MODES",
    "PROMPT_VERSION",
    "Backoff",
    "LLMFault",
    "LLMReviewer",
    "LLMStats",
    "PromptMessages",
    "classify",
    "extract_json",
    "load_prompt",
    "render_prompt",
]

log = logging.getLogger(__name__)

# Bump when budget.py changes what is sent for the same diff: it is part of the cache key.
BUDGET_VERSION = "2"
MODES = LLM_MODES
_AUTO_ORDER = ("json_schema", "tools", "plain")
# The LLM's default: jittered, so parallel workers do not retry in lockstep.
DEFAULT_BACKOFF = Backoff(base=1.0, cap=20.0, jitter=0.5, max_retry_after=60.0)


@dataclass(frozen=True, slots=True)
class LLMStats:
    """What the reviewer did so far. `failures` counts PRs that fell back, by fault kind
    ("skipped" = not asked because the endpoint was already known to be unusable);
    `concurrency` is the adaptive limit of requests in flight now, `lowest_concurrency` the
    lowest it went (below the configured concurrency after timeouts)."""

    requests: int = 0
    reviews: int = 0
    cache_hits: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)
    mode: str = "auto"
    concurrency: int = 1
    lowest_concurrency: int = 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class LLMReviewer:
    """Reviews PRs with an OpenAI-compatible endpoint; see the module docstring.

    `http_client` (an `httpx2.Client` for openai >= 3) is the test seam and the place for
    proxies; `sleep` is injectable so retry timing is tested without waiting. `mode` forces a
    structured-output mode ("json_schema", "tools", "plain"); by default `[llm] mode` decides,
    and "auto" detects what the endpoint supports.
    """

    def __init__(
        self,
        cfg: Config,
        cache: ReviewCache | None,
        *,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = DEFAULT_BACKOFF,
        mode: str | None = None,
        prompt_version: str = PROMPT_VERSION,
        breaker_after: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        mode = mode or cfg.llm.mode
        if mode not in MODES:
            raise ConfigError(f"LLM structured-output mode {mode!r}: expected one of {', '.join(MODES)}")
        self.cfg = cfg
        self.cache = cache
        self._sleep = sleep
        self._backoff = backoff
        self._prompt_version = prompt_version
        self._template = load_prompt(prompt_version)
        self._breaker_after = breaker_after
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._modes = _AUTO_ORDER if mode == "auto" else (mode,)
        self._mode_index = 0
        self._auto = mode == "auto"
        self._limit = AdaptiveLimit(cfg.llm.concurrency)
        self._counts: dict[str, int] = {
            "requests": 0,
            "reviews": 0,
            "cache_hits": 0,
            "retries": 0,
            "tokens_in": 0,
            "tokens_out": 0,
        }
        self._failures: dict[str, int] = {}
        self._dead_in_a_row = 0
        self._broken: str | None = None
        llm = cfg.llm
        self._secret = llm.api_key or ""
        self._model = ChatOpenAI(
            model=llm.model,
            base_url=llm.base_url,
            # Local OpenAI-compatible servers need no key, but the SDK insists on one.
            api_key=SecretStr(llm.api_key or "unused"),
            timeout=llm.timeout,
            max_retries=0,
            temperature=llm.temperature,
            # ChatOpenAI declares this field under its alias max_completion_tokens, which mypy
            # sees as the only name; the constructor accepts both (populate_by_name).
            max_tokens=llm.max_output_tokens,  # type: ignore[call-arg]
            http_client=http_client,
            stream_usage=False,
        )
        schema = json_schema()
        self._runnables: dict[str, Runnable[Any, Any]] = {
            "json_schema": self._model.with_structured_output(
                schema, method="json_schema", include_raw=True, strict=True
            ),
            "tools": self._model.with_structured_output(schema, method="function_calling", include_raw=True),
            "plain": self._model,
        }

    # -- public ---------------------------------------------------------------------------------

    @property
    def prompt_version(self) -> str:
        return self._prompt_version

    @property
    def mode(self) -> str:
        """The structured-output mode requests use now."""
        with self._lock:
            return self._modes[self._mode_index]

    @property
    def stats(self) -> LLMStats:
        with self._lock:
            return LLMStats(
                requests=self._counts["requests"],
                reviews=self._counts["reviews"],
                cache_hits=self._counts["cache_hits"],
                retries=self._counts["retries"],
                tokens_in=self._counts["tokens_in"],
                tokens_out=self._counts["tokens_out"],
                failures=dict(self._failures),
                mode=self._modes[self._mode_index],
                concurrency=self._limit.limit,
                lowest_concurrency=self._limit.lowest,
            )

    def cache_key(self, pr: PullRequest) -> str:
        return review_key(
            pr,
            prompt_version=self._prompt_version,
            schema_version=SCHEMA_VERSION,
            budget_version=BUDGET_VERSION,
            llm=self.cfg.llm,
        )

    def review(
        self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, prior: Review | None = None
    ) -> Review:
        """One PR's review. Never raises for an LLM problem: the prior review stands instead."""
        if prior is None:
            prior = heuristic.review(pr, diff, metrics, risk, self.cfg)
        try:
            return self._review(pr, diff, metrics, risk, prior)
        except LLMFault as fault:
            return self._unavailable(pr, prior, fault)
        except Exception as exc:  # a bug here must not cost the batch; the item says what happened
            log.exception("LLM review of %s failed unexpectedly", pr.id)
            return self._unavailable(pr, prior, LLMFault("internal", f"{type(exc).__name__}: {exc}"))

    def review_many(self, items: Iterable[ReviewItem]) -> Iterator[Review]:
        """Reviews in input order, at most `cfg.llm.concurrency` requests in flight (fewer
        while the endpoint is slow: see `AdaptiveLimit`).

        Items are pulled from `items` lazily, at most twice the concurrency ahead of the
        consumer, so a stream of thousands of PRs never sits in memory at once.
        """
        workers = max(1, self.cfg.llm.concurrency)
        window: deque[Future[Review]] = deque()
        source = iter(items)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="triage-llm")
        try:
            exhausted = False
            while True:
                while not exhausted and len(window) < 2 * workers:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    window.append(pool.submit(self.review, *item))
                if not window:
                    return
                yield window.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- internals ------------------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _scrub(self, text: str) -> str:
        """One line, no API key, no secret."""
        line = " ".join(text.split())
        if self._secret and len(self._secret) >= 4:
            line = line.replace(self._secret, "***")
        return redact(line)[:300]

    def _review(self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, prior: Review) -> Review:
        key = self.cache_key(pr)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    review = self._from_cache(hit, pr, diff, prior)
                except (KeyError, TypeError, ValueError, ValidationError):
                    log.warning("ignoring unreadable cached review for %s", pr.id)
                else:
                    self._count("cache_hits")
                    return review
        with self._lock:
            broken = self._broken
        if broken is not None:
            raise LLMFault("skipped", f"not asked: {broken}")
        prompt = render_prompt(self._template, pr, diff, metrics, risk, self.cfg.llm.max_input_tokens)
        answer = self._ask(pr, prompt)
        entry = {
            "output": answer.output.model_dump(mode="json"),
            "tokens_in": answer.tokens_in,
            "tokens_out": answer.tokens_out,
            "omitted": list(prompt.omitted),
            "model": self.cfg.llm.model,
            "prompt_version": self._prompt_version,
            "mode": answer.mode,
        }
        if self.cache is not None:
            self.cache.put(key, entry)
        self._count("reviews")
        return self._to_review(
            answer.output,
            pr,
            diff,
            prior,
            (answer.tokens_in, answer.tokens_out),
            prompt.omitted,
            mode=answer.mode,
            requests=answer.requests,
            cached=False,
        )

    def _ask(self, pr: PullRequest, prompt: PromptMessages) -> _Answer:
        """Send, classify, retry. Returns the validated output and what all attempts cost."""
        attempt = 0
        requests = spent_in = spent_out = 0
        while True:
            mode = self.mode
            self._count("requests")
            requests += 1
            self._limit.acquire()
            fault: LLMFault | None = None
            try:
                result = self._invoke(mode, list(prompt.messages))
                output, (tin, tout) = parse_reply(result, prompt.tokens)
            except Exception as exc:  # every failure of the call is classified, none escapes raw
                fault = classify(exc)
            finally:
                self._limit.release(success=fault is None, slow=fault is not None and fault.kind in SLOW)
            if fault is None:
                self._reached()
                self._count("tokens_in", tin)
                self._count("tokens_out", tout)
                return _Answer(output, mode, requests, spent_in + tin, spent_out + tout)
            spent_in += fault.tokens[0]
            spent_out += fault.tokens[1]
            self._count("tokens_in", fault.tokens[0])
            self._count("tokens_out", fault.tokens[1])
            if fault.kind not in DEAD:
                self._reached()  # whatever else went wrong, something answered
            if fault.kind == "unsupported-method":
                if self._next_mode(mode):
                    continue  # not a retry: a different request the endpoint may accept
                # A forced mode (or the last one) refused: every further request would be too.
                self._break(f"the endpoint refused {mode} structured output ({fault.message})")
            if fault.kind in FATAL:
                self._break(fault.message)
            if not fault.retryable or attempt >= self.cfg.llm.max_retries:
                if fault.kind in DEAD:
                    self._dead(fault)
                suffix = f" after {attempt + 1} attempts" if attempt else ""
                raise LLMFault(
                    fault.kind,
                    self._scrub(fault.message) + suffix,
                    tokens=(spent_in, spent_out),
                    requests=requests,
                )
            try:
                delay = self._delay(attempt, fault)
            except LLMFault as give_up:
                raise LLMFault(give_up.kind, str(give_up), tokens=(spent_in, spent_out), requests=requests) from None
            attempt += 1
            self._count("retries")
            log.debug("LLM request for %s failed (%s); retry %d in %.2fs", pr.id, fault.kind, attempt, delay)
            self._sleep(delay)

    def _invoke(self, mode: str, messages: list[BaseMessage]) -> Any:
        runnable = self._runnables[mode]
        try:
            from langsmith.run_helpers import tracing_context
        except ImportError:  # pragma: no cover - langsmith ships with langchain-core
            return runnable.invoke(messages)
        # PR contents go to the configured endpoint only, never to a tracing service that an
        # environment variable happens to enable.
        with tracing_context(enabled=False):
            return runnable.invoke(messages)

    def _delay(self, attempt: int, fault: LLMFault) -> float:
        b = self._backoff
        if fault.retry_after is not None:
            if fault.retry_after > b.max_retry_after:
                raise LLMFault(
                    fault.kind,
                    f"{self._scrub(fault.message)}; server asks to wait {fault.retry_after:.0f}s, "
                    f"more than the {b.max_retry_after:.0f}s limit",
                )
            return fault.retry_after
        with self._lock:
            return b.delay(attempt, self._rng.random)

    def _next_mode(self, mode: str) -> bool:
        """Move past `mode` after the endpoint refused it; False when there is nothing left."""
        with self._lock:
            current = self._modes[self._mode_index]
            if current != mode:
                return True  # another worker already moved on
            if not self._auto or self._mode_index + 1 >= len(self._modes):
                return False
            self._mode_index += 1
            # A warning, so a user sees it on stderr: later reviews say which mode made them.
            log.warning(
                "LLM endpoint refused %s structured output; using %s for the rest of the run",
                mode,
                self._modes[self._mode_index],
            )
            return True

    def _reached(self) -> None:
        with self._lock:
            self._dead_in_a_row = 0

    def _dead(self, fault: LLMFault) -> None:
        with self._lock:
            self._dead_in_a_row += 1
            if self._dead_in_a_row < self._breaker_after:
                return
            reason = f"endpoint unreachable for {self._dead_in_a_row} PRs in a row (last: {self._scrub(fault.message)})"
        self._break(reason)

    def _break(self, reason: str) -> None:
        with self._lock:
            if self._broken is not None:
                return
            self._broken = self._scrub(reason)
        # Said once, on stderr: the PRs skipped after this are logged at debug level only.
        log.warning("LLM stage stopped, the rest of the batch keeps its static review: %s", self._broken)

    def _unavailable(self, pr: PullRequest, prior: Review, fault: LLMFault) -> Review:
        with self._lock:
            self._failures[fault.kind] = self._failures.get(fault.kind, 0) + 1
        error = f"LLM review unavailable ({fault.kind}): {self._scrub(fault.message)}"
        # One warning per real failure; PRs skipped behind an open breaker would repeat it
        # thousands of times in a batch.
        log.log(logging.DEBUG if fault.kind == "skipped" else logging.WARNING, "%s: %s", pr.id, error)
        return Review(
            source=ReviewSource.UNAVAILABLE,
            summary=prior.summary,
            change_type=prior.change_type,
            description_matches=prior.description_matches,
            flags=prior.flags,
            confidence=prior.confidence,
            model=self.cfg.llm.model,
            prompt_version=self._prompt_version,
            tokens_in=fault.tokens[0],
            tokens_out=fault.tokens[1],
            omitted=prior.omitted,
            error=error[:300],
            requests=fault.requests,
            fault=fault.kind,
        )

    def _from_cache(self, entry: dict[str, Any], pr: PullRequest, diff: ParsedDiff, prior: Review) -> Review:
        output = LLMReviewOutput.model_validate(entry["output"])
        mode = entry.get("mode")
        return self._to_review(
            output,
            pr,
            diff,
            prior,
            (int(entry.get("tokens_in", 0)), int(entry.get("tokens_out", 0))),
            tuple(str(o) for o in entry.get("omitted", ())),
            mode=str(mode) if mode else None,
            requests=0,
            cached=True,
        )

    def _to_review(
        self,
        output: LLMReviewOutput,
        pr: PullRequest,
        diff: ParsedDiff,
        prior: Review,
        tokens: tuple[int, int],
        omitted: tuple[str, ...],
        *,
        mode: str | None,
        requests: int,
        cached: bool,
    ) -> Review:
        """The model's answer as a Review, with the prior review's flags (secrets, injection)
        kept, a change type the diff settles kept, and unquoted flags marked unverified."""
        paths = {f.path for f in diff.files} | {f.old_path for f in diff.files if f.old_path}
        corpus = Corpus.of(pr, diff) if output.flags else None  # only flags need their quotes checked
        flags: list[Flag] = []
        for f in output.flags:
            known = f.file in paths
            evidence = redact(f.evidence)
            flags.append(
                Flag(
                    kind=FlagKind(f.kind),
                    severity=Severity(f.severity),
                    evidence=evidence,
                    file=f.file if known else None,
                    line=f.line if known else None,
                    source="llm",
                    verified=corpus is not None and quotes_pr(f.evidence, corpus),
                )
            )
        # The files settle some change types (only docs, only tests, only a lockfile bump):
        # the model's word never replaces such a fact.
        settled = certain_change_type(diff)
        summary = redact(output.summary)
        claim = verdict_claim(summary)
        if claim is not None:
            # Never posted as the tool's word: the summary is withheld and the claim itself
            # becomes a flag (it can only raise attention, like every model output).
            summary = (
                "Model summary withheld: it claimed a verdict only a maintainer can give "
                f"(\u201c{claim}\u201d). Read the diff; the LLM never approves a PR."
            )
            flags.append(
                Flag(
                    kind=FlagKind.INJECTION_ATTEMPT,
                    severity=Severity.LOW,
                    evidence=f"the model's summary claimed \u201c{claim}\u201d: the PR text may have steered it",
                    source="llm",
                )
            )
        return Review(
            source=ReviewSource.LLM,
            summary=summary,
            change_type=settled or ChangeKind(output.change_type),
            description_matches=output.description_matches,
            # Union with every prior flag: secrets and injection attempts above all, and the
            # rule flags too, so the review as a whole can only ever raise the risk.
            flags=(*flags, *prior.flags),
            confidence=output.confidence,
            model=self.cfg.llm.model,
            prompt_version=self._prompt_version,
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            cached=cached,
            omitted=omitted,
            mode=mode,
            requests=requests,
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A validated reply and what getting it cost (every attempt for this PR)."""

    output: LLMReviewOutput
    mode: str
    requests: int
    tokens_in: int
    tokens_out: int

"""The LLM reviewer: (PullRequest, ParsedDiff, Metrics, Risk, heuristic Review) -> Review.

An optional upgrade over the heuristic reviewer, with one rule above all: it can only ADD.
The model writes a summary, a change type and flags; the heuristic's flags (secrets and
injection attempts above all) are always kept alongside (union), and
`triage.review.merge.raise_risk` folds flags into the risk, which it can only raise. Nothing
the model says approves a PR, lowers its risk, or touches its decision or owner, which is what
makes a prompt-injected model harmless here.

Per PR: build the budgeted, redacted payload (`budget.build_payload`), fence every untrusted
text (title, body, diff, file names) between markers carrying a random per-request token that
is stripped from the content, render the versioned prompt (`triage/prompts/<version>.*.txt`,
the version is part of the cache key), ask the endpoint for structured output, validate it
with the pydantic schema, and cache the result (sqlite, committed at once).

The client is the openai SDK through langchain-openai's `ChatOpenAI`, with the SDK's own
retries off (`max_retries=0`): retries happen here so that every fault can be classified
(timeout, rate limit, 5xx, refused connection, truncated or non-JSON body, empty choices,
output that is not JSON or not the schema), `retry-after` is honoured within a bound, and
backoff is exponential with jitter. When retries run out the PR gets
`Review(source=UNAVAILABLE, error=<one line>)` carrying the heuristic's summary and flags, so
static triage stands; a batch never fails because the LLM did. After a few PRs in a row find
the endpoint unreachable (or at once on a rejected key or unknown model) the reviewer stops
asking and marks the rest unavailable, so a dead endpoint costs seconds, not hours.

Structured output, in order of preference (auto-detected; a 400 that names response_format
or tools moves to the next one for the rest of the run): the endpoint's JSON-schema
`response_format`, then forced function/tool calling, then JSON in plain text (the first JSON
object in the reply), which every chat endpoint can do.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import secrets as pysecrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import ValidationError

from triage.config import Config
from triage.errors import ConfigError, LLMError
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
from triage.review.budget import Payload, build_payload, estimate_tokens, fit_text
from triage.review.cache import ReviewCache, review_key
from triage.review.schema import SCHEMA_VERSION, LLMReviewOutput, json_schema
from triage.review.secrets import redact

__all__ = [
    "BUDGET_VERSION",
    "METHODS",
    "PROMPT_VERSION",
    "Backoff",
    "LLMFault",
    "LLMReviewer",
    "LLMStats",
    "PromptMessages",
    "extract_json",
    "load_prompt",
    "render_prompt",
]

log = logging.getLogger(__name__)

PROMPT_VERSION = "review-v1"
# Bump when budget.py changes what is sent for the same diff: it is part of the cache key.
BUDGET_VERSION = "2"
METHODS = ("auto", "json_schema", "tools", "json")
_AUTO_ORDER = ("json_schema", "tools", "json")

# Kinds of fault, and which are worth another attempt.
_RETRYABLE = frozenset(
    {
        "timeout",
        "rate-limit",
        "server-error",
        "connection",
        "bad-response",
        "empty-choices",
        "non-json-output",
        "schema-invalid",
        "truncated-output",
    }
)
# Faults that say the endpoint itself is unusable for every PR: stop asking.
_FATAL = frozenset({"auth", "not-found"})
_UNREACHABLE = frozenset({"timeout", "connection"})

_TITLE_TOKENS = 100
_BODY_SHARE = 4  # the description may take up to 1/4 of the input budget
_BODY_MIN_TOKENS = 256
_OMITTED_SHOWN = 40  # names of left-out hunks shown to the model (all are in Review.omitted)
_RESERVE_TOKENS = 32  # message framing the estimate does not see


# ------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry timing: exponential from `base` seconds, capped at `cap`, each delay scaled by a
    random factor in [0.5, 1] (jitter, so parallel workers do not retry in lockstep). A server's
    `retry-after` is honoured as given when it is at most `max_retry_after`; a longer one ends
    the retries at once rather than stalling the batch."""

    base: float = 1.0
    cap: float = 20.0
    max_retry_after: float = 60.0


@dataclass(frozen=True, slots=True)
class LLMStats:
    """What the reviewer did so far. `failures` counts PRs that fell back, by fault kind
    ("skipped" = not asked because the endpoint was already known to be unusable)."""

    requests: int = 0
    reviews: int = 0
    cache_hits: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)
    method: str = "auto"

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class LLMFault(LLMError):
    """One failed attempt, classified. `kind` is a fixed vocabulary (see `_RETRYABLE`)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        tokens: tuple[int, int] = (0, 0),
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.tokens = tokens

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


@dataclass(frozen=True, slots=True)
class PromptMessages:
    """The rendered messages for one PR and what the budget left out."""

    messages: tuple[BaseMessage, ...]
    boundary: str
    omitted: tuple[str, ...]
    tokens: int  # estimated input tokens


# ------------------------------------------------------------------------------------------------
# Prompt


def load_prompt(version: str = PROMPT_VERSION) -> ChatPromptTemplate:
    """The chat template `<version>.system.txt` + `<version>.user.txt` from triage/prompts/."""
    folder = resources.files("triage") / "prompts"
    try:
        system = (folder / f"{version}.system.txt").read_text(encoding="utf-8")
        user = (folder / f"{version}.user.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"prompt version {version!r}: template files not found in triage/prompts") from exc
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])


def _strip_boundary(text: str, boundary: str) -> str:
    return re.sub(re.escape(boundary), "", text, flags=re.IGNORECASE)


def _measurements(metrics: Metrics, risk: Risk) -> str:
    """Numbers and fixed vocabulary only: anything the PR author can name (paths, areas) is
    untrusted and goes inside the fences instead."""
    top = sorted((f for f in risk.factors if f.name != "intercept"), key=lambda f: -abs(f.contribution))
    factors = ", ".join(f"{f.name} {f.contribution:+.2f}" for f in top[:6] if abs(f.contribution) > 1e-9)
    kinds = ", ".join(f"{n} {k}" for k, n in metrics.kinds) or "none"
    lines = [
        f"- size: +{metrics.lines_added} -{metrics.lines_deleted} lines in {metrics.files} file(s) "
        f"(bucket {metrics.size_bucket.value}); {metrics.excluded_lines} generated/vendored/lockfile lines",
        f"- files by kind: {kinds}; top-level areas: {len(metrics.subsystems)}",
        f"- languages: {', '.join(metrics.languages) or 'none detected'}",
        f"- tests changed: {'yes' if metrics.has_tests else 'no'}; "
        f"cognitive complexity change of touched functions: {metrics.complexity_delta:+d}",
        f"- static risk: {risk.score:.2f} ({risk.level.value}); main factors: {factors or 'none'}",
    ]
    return "\n".join(lines)


def render_prompt(
    template: ChatPromptTemplate,
    pr: PullRequest,
    diff: ParsedDiff,
    metrics: Metrics,
    risk: Risk,
    max_input_tokens: int,
    *,
    boundary: str | None = None,
) -> PromptMessages:
    """The messages for one PR within `max_input_tokens` (estimated), everything untrusted
    redacted and fenced. The diff gets what the fixed parts, title and description leave."""
    boundary = boundary or f"UNTRUSTED-{pysecrets.token_hex(8)}"
    omitted_extra: list[str] = []
    title, cut = fit_text(" ".join(redact(pr.title).split()), _TITLE_TOKENS)
    if cut:
        omitted_extra.append("PR title (truncated)")
    body_budget = max(_BODY_MIN_TOKENS, max_input_tokens // _BODY_SHARE)
    body, cut = fit_text(redact(pr.body or "").strip(), body_budget)
    if cut:
        omitted_extra.append("PR description (truncated)")
    title = _strip_boundary(title, boundary) or "(no title)"
    body = _strip_boundary(body, boundary) or "(no description)"
    fixed = {
        "measurements": _measurements(metrics, risk),
        "title": title,
        "body": body,
    }
    # Sizing uses a fixed stand-in of the boundary's shape: the random boundary's token estimate
    # varies from request to request, and what is sent (and listed as left out) must depend only
    # on the PR, so a re-run - or a restart after a crash - gives the same review record.
    sizing = "UNTRUSTED-" + "0" * len(boundary.removeprefix("UNTRUSTED-"))

    def render(payload: Payload, boundary: str = sizing) -> tuple[list[BaseMessage], tuple[str, ...]]:
        omitted = (*omitted_extra, *payload.omitted)
        shown = [_strip_boundary(o, boundary) for o in omitted[:_OMITTED_SHOWN]]
        if len(omitted) > _OMITTED_SHOWN:
            shown.append(f"... and {len(omitted) - _OMITTED_SHOWN} more")
        omitted_text = "\n".join(f"- {o}" for o in shown) or "- nothing"
        diff_text = _strip_boundary(payload.text, boundary).rstrip("\n") or "(nothing to show)"
        messages = template.format_messages(
            **fixed,
            boundary=boundary,
            omitted=f"<<<{boundary} BEGIN not-sent>>>\n{omitted_text}\n<<<{boundary} END not-sent>>>",
            diff=diff_text,
        )
        # The last line of defence: whatever was assembled is redacted once more as a whole.
        safe = [type(m)(content=redact(str(m.content))) for m in messages]
        return safe, omitted

    def total(messages: list[BaseMessage]) -> int:
        return sum(estimate_tokens(str(m.content)) for m in messages) + _RESERVE_TOKENS

    empty = Payload("", (), 0, 0)
    overhead = total(render(empty)[0])
    diff_budget = max_input_tokens - overhead
    payload = build_payload(pr, diff, metrics, risk, diff_budget)
    messages, omitted = render(payload)
    for _ in range(3):  # the list of what was left out costs tokens too: shrink until it fits
        excess = total(messages) - max_input_tokens
        if excess <= 0 or diff_budget <= 0:
            break
        diff_budget -= excess
        payload = build_payload(pr, diff, metrics, risk, diff_budget)
        messages, omitted = render(payload)
    messages, omitted = render(payload, boundary)
    return PromptMessages(tuple(messages), boundary, omitted, total(messages))


# ------------------------------------------------------------------------------------------------
# Parsing the answer

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in a free-text reply (code fences allowed), or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        pos = candidate.find("{")
        while pos != -1:
            try:
                value, _ = decoder.raw_decode(candidate, pos)
            except ValueError:
                pos = candidate.find("{", pos + 1)
                continue
            if isinstance(value, dict):
                return value
            pos = candidate.find("{", pos + 1)
    return None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "output"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err.get('msg', 'invalid')}{more}"


def _message_text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _usage(message: AIMessage | None, prompt_tokens: int) -> tuple[int, int]:
    """Tokens reported by the endpoint, else the offline estimate."""
    if message is not None and message.usage_metadata:
        used = message.usage_metadata
        return int(used.get("input_tokens") or 0), int(used.get("output_tokens") or 0)
    out = 0
    if message is not None:
        out = estimate_tokens(_message_text(message))
        out += sum(estimate_tokens(json.dumps(c.get("args", {}))) for c in message.tool_calls)
    return prompt_tokens, out


def _parse(result: Any, prompt_tokens: int) -> tuple[LLMReviewOutput, tuple[int, int]]:
    """Validate one reply. Raises LLMFault(non-json-output | schema-invalid) carrying usage."""
    if isinstance(result, dict):
        raw = result.get("raw")
        parsed = result.get("parsed")
    else:
        raw, parsed = result, None
    message = raw if isinstance(raw, AIMessage) else None
    tokens = _usage(message, prompt_tokens)
    data: Any = parsed if isinstance(parsed, dict) else None
    if data is None and message is not None:
        for call in message.tool_calls:
            if isinstance(call.get("args"), dict) and call["args"]:
                data = call["args"]
                break
        if data is None:
            data = extract_json(_message_text(message))
    if data is None:
        shown = " ".join(_message_text(message).split())[:80] if message is not None else ""
        raise LLMFault("non-json-output", f"reply has no JSON object: {redact(shown)!r}", tokens=tokens)
    try:
        return LLMReviewOutput.model_validate(data), tokens
    except ValidationError as exc:
        raise LLMFault(
            "schema-invalid", f"reply does not match the schema: {_first_error(exc)}", tokens=tokens
        ) from exc


# ------------------------------------------------------------------------------------------------
# Faults


def _retry_after(response: Any) -> float | None:
    """Seconds from `retry-after-ms` / `retry-after` (seconds or an HTTP date), if any."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())


def _cause_names(exc: BaseException) -> list[str]:
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 8:
        names.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return names


_FORMAT_WORDS = re.compile(r"response_format|json_schema|structured|tool_choice|\btools?\b|function", re.I)


def classify(exc: BaseException) -> LLMFault:
    """One failed attempt -> LLMFault with a one-line message (never the key: see `_scrub`)."""
    if isinstance(exc, LLMFault):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMFault("timeout", "request timed out")
    if isinstance(exc, openai.APIConnectionError):
        names = _cause_names(exc)
        if "ConnectError" in names:
            return LLMFault("connection", "connection failed (refused or unreachable)")
        if any(n in names for n in ("RemoteProtocolError", "ReadError")):
            return LLMFault("connection", "connection closed before the response was complete")
        return LLMFault("connection", f"connection error ({names[-1]})")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        message = " ".join(str(exc.message).split())[:160]
        after = _retry_after(exc.response)
        if code == 429:
            return LLMFault("rate-limit", f"HTTP 429 rate limited: {message}", retry_after=after)
        if code >= 500 or code in (408, 409):
            return LLMFault("server-error", f"HTTP {code}: {message}", retry_after=after)
        if code in (401, 403):
            return LLMFault("auth", f"HTTP {code}: the endpoint rejected the API key")
        if code == 404:
            return LLMFault("not-found", f"HTTP 404: unknown model or endpoint path: {message}")
        if code == 400 and _FORMAT_WORDS.search(message):
            return LLMFault("unsupported-method", f"HTTP 400: {message}")
        return LLMFault("client-error", f"HTTP {code}: {message}")
    if isinstance(exc, openai.LengthFinishReasonError):
        return LLMFault("truncated-output", "reply cut off at the output token limit")
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return LLMFault("refused", "reply withheld by the endpoint's content filter")
    if isinstance(exc, IndexError):
        return LLMFault("empty-choices", "response has no choices")
    if isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError):
        return LLMFault("bad-response", f"response body is not valid JSON ({type(exc).__name__})")
    if isinstance(exc, AttributeError | TypeError | KeyError | ValueError):
        return LLMFault("bad-response", f"response is not a chat completion ({type(exc).__name__})")
    return LLMFault("internal", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")


# ------------------------------------------------------------------------------------------------
# The reviewer


_Item = tuple[PullRequest, ParsedDiff, Metrics, Risk, Review]


class LLMReviewer:
    """Reviews PRs with an OpenAI-compatible endpoint; see the module docstring.

    `http_client` (an `httpx2.Client` for openai >= 3) is the test seam and the place for
    proxies; `sleep` is injectable so retry timing is tested without waiting. `method` forces a
    structured-output method ("json_schema", "tools", "json") instead of auto-detection.
    """

    def __init__(
        self,
        cfg: Config,
        cache: ReviewCache | None,
        *,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = Backoff(),
        method: str = "auto",
        prompt_version: str = PROMPT_VERSION,
        breaker_after: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"LLM structured-output method {method!r}: expected one of {', '.join(METHODS)}")
        self.cfg = cfg
        self.cache = cache
        self._sleep = sleep
        self._backoff = backoff
        self._prompt_version = prompt_version
        self._template = load_prompt(prompt_version)
        self._breaker_after = breaker_after
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._methods = _AUTO_ORDER if method == "auto" else (method,)
        self._method_index = 0
        self._auto = method == "auto"
        self._counts: dict[str, int] = {
            "requests": 0,
            "reviews": 0,
            "cache_hits": 0,
            "retries": 0,
            "tokens_in": 0,
            "tokens_out": 0,
        }
        self._failures: dict[str, int] = {}
        self._unreachable_in_a_row = 0
        self._broken: str | None = None
        llm = cfg.llm
        self._secret = llm.api_key or ""
        self._model = ChatOpenAI(
            model=llm.model,
            base_url=llm.base_url,
            # Local OpenAI-compatible servers need no key, but the SDK insists on one.
            api_key=llm.api_key or "unused",
            timeout=llm.timeout,
            max_retries=0,
            temperature=llm.temperature,
            max_tokens=llm.max_output_tokens,
            http_client=http_client,
            stream_usage=False,
        )
        schema = json_schema()
        self._runnables: dict[str, Runnable[Any, Any]] = {
            "json_schema": self._model.with_structured_output(
                schema, method="json_schema", include_raw=True, strict=True
            ),
            "tools": self._model.with_structured_output(schema, method="function_calling", include_raw=True),
            "json": self._model,
        }

    # -- public ---------------------------------------------------------------------------------

    @property
    def prompt_version(self) -> str:
        return self._prompt_version

    @property
    def method(self) -> str:
        with self._lock:
            return self._methods[self._method_index]

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
                method=self._methods[self._method_index],
            )

    def cache_key(self, pr: PullRequest) -> str:
        return review_key(
            pr,
            prompt_version=self._prompt_version,
            schema_version=SCHEMA_VERSION,
            budget_version=BUDGET_VERSION,
            llm=self.cfg.llm,
        )

    def review(self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, fallback: Review) -> Review:
        """One PR's review. Never raises for an LLM problem: the fallback stands instead."""
        try:
            return self._review(pr, diff, metrics, risk, fallback)
        except LLMFault as fault:
            return self._unavailable(pr, fallback, fault)
        except Exception as exc:  # a bug here must not cost the batch; the item says what happened
            log.exception("LLM review of %s failed unexpectedly", pr.id)
            return self._unavailable(pr, fallback, LLMFault("internal", f"{type(exc).__name__}: {exc}"))

    def review_many(self, items: Iterable[_Item]) -> Iterator[Review]:
        """Reviews in input order, at most `cfg.llm.concurrency` requests in flight.

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

    def _review(self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, fallback: Review) -> Review:
        key = self.cache_key(pr)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    review = self._from_cache(hit, diff, fallback)
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
        output, (tokens_in, tokens_out) = self._ask(pr, prompt)
        entry = {
            "output": output.model_dump(mode="json"),
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "omitted": list(prompt.omitted),
            "model": self.cfg.llm.model,
            "prompt_version": self._prompt_version,
        }
        if self.cache is not None:
            self.cache.put(key, entry)
        self._count("reviews")
        return self._to_review(output, diff, fallback, tokens_in, tokens_out, prompt.omitted, cached=False)

    def _ask(self, pr: PullRequest, prompt: PromptMessages) -> tuple[LLMReviewOutput, tuple[int, int]]:
        """Send, classify, retry. Returns the validated output and the tokens of all attempts."""
        attempt = 0
        spent_in = spent_out = 0
        while True:
            method = self.method
            self._count("requests")
            try:
                result = self._invoke(method, list(prompt.messages))
                output, (tin, tout) = _parse(result, prompt.tokens)
            except Exception as exc:  # every failure of the call is classified, none escapes raw
                fault = classify(exc)
            else:
                self._succeeded()
                self._count("tokens_in", tin)
                self._count("tokens_out", tout)
                return output, (spent_in + tin, spent_out + tout)
            spent_in += fault.tokens[0]
            spent_out += fault.tokens[1]
            self._count("tokens_in", fault.tokens[0])
            self._count("tokens_out", fault.tokens[1])
            if fault.kind == "unsupported-method" and self._next_method(method):
                continue  # not a retry: a different request the endpoint may accept
            if fault.kind in _FATAL:
                self._break(fault.message)
            if not fault.retryable or attempt >= self.cfg.llm.max_retries:
                if fault.kind in _UNREACHABLE:
                    self._unreachable(fault)
                suffix = f" after {attempt + 1} attempts" if attempt else ""
                raise LLMFault(fault.kind, self._scrub(fault.message) + suffix, tokens=(spent_in, spent_out))
            delay = self._delay(attempt, fault)
            attempt += 1
            self._count("retries")
            log.debug("LLM request for %s failed (%s); retry %d in %.2fs", pr.id, fault.kind, attempt, delay)
            self._sleep(delay)

    def _invoke(self, method: str, messages: list[BaseMessage]) -> Any:
        runnable = self._runnables[method]
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
            jitter = 0.5 + 0.5 * self._rng.random()
        return min(b.cap, b.base * (2**attempt)) * jitter

    def _next_method(self, method: str) -> bool:
        """Move past `method` after the endpoint refused it; False when there is nothing left."""
        with self._lock:
            current = self._methods[self._method_index]
            if current != method:
                return True  # another worker already moved on
            if not self._auto or self._method_index + 1 >= len(self._methods):
                return False
            self._method_index += 1
            log.info("endpoint refused %s structured output; using %s", method, self._methods[self._method_index])
            return True

    def _succeeded(self) -> None:
        with self._lock:
            self._unreachable_in_a_row = 0

    def _unreachable(self, fault: LLMFault) -> None:
        with self._lock:
            self._unreachable_in_a_row += 1
            if self._unreachable_in_a_row >= self._breaker_after and self._broken is None:
                self._broken = (
                    f"endpoint unreachable for {self._unreachable_in_a_row} PRs in a row "
                    f"(last: {self._scrub(fault.message)})"
                )

    def _break(self, reason: str) -> None:
        with self._lock:
            if self._broken is None:
                self._broken = self._scrub(reason)

    def _unavailable(self, pr: PullRequest, fallback: Review, fault: LLMFault) -> Review:
        with self._lock:
            self._failures[fault.kind] = self._failures.get(fault.kind, 0) + 1
        error = f"LLM review unavailable ({fault.kind}): {self._scrub(fault.message)}"
        # One warning per real failure; PRs skipped behind an open breaker would repeat it
        # thousands of times in a batch.
        log.log(logging.DEBUG if fault.kind == "skipped" else logging.WARNING, "%s: %s", pr.id, error)
        return Review(
            source=ReviewSource.UNAVAILABLE,
            summary=fallback.summary,
            change_type=fallback.change_type,
            description_matches=fallback.description_matches,
            flags=fallback.flags,
            confidence=fallback.confidence,
            model=self.cfg.llm.model,
            prompt_version=self._prompt_version,
            tokens_in=fault.tokens[0],
            tokens_out=fault.tokens[1],
            omitted=fallback.omitted,
            error=error[:300],
        )

    def _from_cache(self, entry: dict[str, Any], diff: ParsedDiff, fallback: Review) -> Review:
        output = LLMReviewOutput.model_validate(entry["output"])
        return self._to_review(
            output,
            diff,
            fallback,
            int(entry.get("tokens_in", 0)),
            int(entry.get("tokens_out", 0)),
            tuple(str(o) for o in entry.get("omitted", ())),
            cached=True,
        )

    def _to_review(
        self,
        output: LLMReviewOutput,
        diff: ParsedDiff,
        fallback: Review,
        tokens_in: int,
        tokens_out: int,
        omitted: tuple[str, ...],
        *,
        cached: bool,
    ) -> Review:
        """The model's answer as a Review, with the heuristic's flags (secrets, injection) kept."""
        paths = {f.path for f in diff.files} | {f.old_path for f in diff.files if f.old_path}
        flags: list[Flag] = []
        for f in output.flags:
            known = f.file in paths
            flags.append(
                Flag(
                    kind=FlagKind(f.kind),
                    severity=Severity(f.severity),
                    evidence=redact(f.evidence),
                    file=f.file if known else None,
                    line=f.line if known else None,
                    source="llm",
                )
            )
        # Union with every heuristic flag: secrets and injection attempts above all, and the
        # rule flags too, so the review as a whole can only ever raise the risk.
        kept = fallback.flags
        return Review(
            source=ReviewSource.LLM,
            summary=redact(output.summary),
            change_type=ChangeKind(output.change_type),
            description_matches=output.description_matches,
            flags=(*flags, *kept),
            confidence=output.confidence,
            model=self.cfg.llm.model,
            prompt_version=self._prompt_version,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cached=cached,
            omitted=omitted,
        )

"""The GitHub REST client: the one place where pr-triage talks HTTP to GitHub.

Input: an API base URL (`GITHUB_API_URL` / `--api-url`, GitHub Enterprise included) and an
optional token. Output: plain JSON values and bytes; turning them into records is `convert.py`'s
job, deciding what to write is `comment.py`'s.

Why it is written by hand over httpx instead of using an SDK: the tool must behave well against
the limits GitHub actually enforces on big repositories (thousands of open PRs), and every one of
them is handled here, in one place, with an injected clock and `sleep` so tests run instantly:

* primary rate limit: when `x-ratelimit-remaining` reaches 0, wait until `x-ratelimit-reset`;
* secondary rate limits: 403/429 with `retry-after` (or GitHub's "secondary rate limit" text);
* 5xx and connection errors: bounded retries with exponential backoff;
* conditional requests: every GET remembers its ETag and sends `If-None-Match`; a 304 reuses
  the stored body and, per GitHub's docs, does not count against the primary rate limit. The
  store can be persisted (`SqliteEtagStore`) so CI runs that keep `.triage-cache` stay cheap.

The token lives only in a private attribute and in the Authorization header of each request:
it is never part of a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from triage import jsonutil
from triage.errors import GitHubError
from triage.retry import Backoff, retry_after

DEFAULT_API_URL = "https://api.github.com"
JSON_MEDIA = "application/vnd.github+json"
DIFF_MEDIA = "application/vnd.github.diff"
SHA_MEDIA = "application/vnd.github.sha"
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PR_FILES = 3000  # GitHub's own cap on the list-files endpoint

# Headers worth keeping with a cached body: pagination needs `link` after a 304.
_KEPT_HEADERS = ("link", "content-type")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A stored 200 response, replayed when GitHub answers 304 Not Modified."""

    etag: str
    headers: tuple[tuple[str, str], ...]
    content: bytes


class EtagStore(Protocol):
    """Where ETags and bodies are kept between requests (and, optionally, between runs)."""

    def get(self, key: str) -> CachedResponse | None: ...

    def put(self, key: str, value: CachedResponse) -> None: ...


class MemoryEtagStore:
    """The default store: lives as long as the client."""

    def __init__(self) -> None:
        self._data: dict[str, CachedResponse] = {}

    def get(self, key: str) -> CachedResponse | None:
        return self._data.get(key)

    def put(self, key: str, value: CachedResponse) -> None:
        self._data[key] = value


class SqliteEtagStore:
    """A store in the tool's sqlite cache file (namespace `github-etag`), so that a CI job that
    restores `.triage-cache` asks GitHub only "has this changed?" for every open PR, and 304s
    are free. Faults are `triage.kvstore`'s to absorb: an unusable cache is only a cache miss."""

    def __init__(self, path: str | Path) -> None:
        from triage.kvstore import KVStore

        self.path = Path(path)
        self._store = KVStore(self.path, "github-etag")

    def get(self, key: str) -> CachedResponse | None:
        raw = self._store.get(key)
        if raw is None:
            return None
        head, _, body = raw.partition(b"\n")
        try:
            meta = jsonutil.loads(head)
            headers = tuple((str(k), str(v)) for k, v in meta["headers"])
            return CachedResponse(etag=str(meta["etag"]), headers=headers, content=body)
        except (ValueError, KeyError, TypeError):
            self._store.delete(key)  # unreadable: a miss, and GitHub sends the body again
            return None

    def put(self, key: str, value: CachedResponse) -> None:
        head = json.dumps({"etag": value.etag, "headers": value.headers}, ensure_ascii=True).encode()
        self._store.put(key, head + b"\n" + value.content)

    def close(self) -> None:
        self._store.close()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long the client is willing to wait. Bounded so a CI job fails with a clear message
    instead of hanging for an hour on an exhausted rate limit."""

    max_attempts: int = 5  # per request, all causes together
    max_wait: float = 900.0  # seconds, for any single rate-limit wait
    backoff: float = 1.0  # first 5xx/connection-error pause, doubled each time (`triage.retry.Backoff`)
    secondary_default: float = 60.0  # GitHub: "wait at least one minute" without retry-after
    # GitHub's REST best practices: at least one second between mutative requests (POST, PATCH,
    # PUT, DELETE), or secondary rate limits follow. Reads are not paced (they are serial).
    write_interval: float = 1.0


def _next_link(response: httpx.Response) -> str | None:
    """The URL of rel="next" in the answer's RFC 8288 Link header (GitHub pagination), as httpx
    parses it."""
    url = response.links.get("next", {}).get("url")
    return url or None


def split_repo(repo: str) -> tuple[str, str]:
    """`owner/name` -> (owner, name), with a usage-level error for anything else."""
    owner, sep, name = repo.strip().partition("/")
    if not sep or not owner or not name or "/" in name:
        raise GitHubError(f"{repo!r}: expected a repository as OWNER/NAME")
    return owner, name


class _Secret:
    """Holds the token so that no repr, `vars()` dump or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "_Secret('***')"

    __str__ = __repr__


class RateLimitExceeded(GitHubError):
    """GitHub asked us to wait longer than allowed: every further request would fail too, so
    callers that tolerate per-PR failures must let this one through."""


class GitHubClient:
    """A small, polite GitHub REST client. `http_client` is the seam for tests and proxies."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy = RetryPolicy(),
        etags: EtagStore | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.__token = _Secret(token) if token else None
        self._http = http_client or httpx.Client(timeout=timeout, follow_redirects=True)
        self._owns_http = http_client is None
        self._sleep = sleep
        self._clock = clock
        self._retry = retry
        self._etags: EtagStore = etags if etags is not None else MemoryEtagStore()
        self._blocked_until = 0.0  # primary limit exhausted: no request before this epoch time
        # When the last mutative request was sent: (clock, total slept). Both, because an
        # injected `sleep` need not move the clock; the larger elapsed time of the two counts.
        self._last_write: tuple[float, float] | None = None
        self._slept = 0.0

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, authenticated={self.__token is not None})"

    def close(self) -> None:
        """Close what the client opened: its own HTTP client and a persisted ETag store."""
        if self._owns_http:
            self._http.close()
        if isinstance(self._etags, SqliteEtagStore):
            self._etags.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- core

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.api_url}/{path_or_url.lstrip('/')}"

    def _endpoint(self, url: str) -> str:
        """The endpoint for messages: the path without host or query (never the token)."""
        path = httpx.URL(url).path
        api_path = httpx.URL(self.api_url).path.rstrip("/")
        return path[len(api_path) :] if api_path and path.startswith(api_path) else path

    def _wait(self, seconds: float, why: str, endpoint: str) -> None:
        seconds = max(0.0, seconds)
        if seconds > self._retry.max_wait:
            raise RateLimitExceeded(
                f"GitHub {endpoint}: {why}; would need to wait {int(seconds)}s, more than the "
                f"{int(self._retry.max_wait)}s allowed"
            )
        if seconds:
            self._pause(seconds)

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)
        self._slept += seconds

    def _rate_wait(self, response: httpx.Response) -> tuple[float, str] | None:
        """If this response says "slow down", how long to wait and why; None otherwise."""
        headers = response.headers
        status = response.status_code
        if status not in (403, 429):
            return None
        if headers.get("retry-after") is not None:
            wait = retry_after(headers, self._clock)
            if wait is not None:
                return wait, f"secondary rate limit (HTTP {status}, retry-after {wait:g}s)"
            return self._retry.secondary_default, f"secondary rate limit (HTTP {status})"
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            reset = _float(headers.get("x-ratelimit-reset"))
            return reset - self._clock() + 1, f"primary rate limit exhausted (HTTP {status})"
        if status == 429 or "secondary rate limit" in response.text.lower():
            return self._retry.secondary_default, f"secondary rate limit (HTTP {status})"
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        accept: str = JSON_MEDIA,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One API call with rate-limit handling, retries and ETags.

        Returns the response for 2xx and for any status listed in `ok` (a caller that treats
        404 as "absent" says so); every other outcome is a one-line `GitHubError`.
        """
        url = self._url(path)
        endpoint = f"{method} {self._endpoint(url)}"
        headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION, "User-Agent": "pr-triage"}
        if self.__token:
            headers["Authorization"] = f"Bearer {self.__token.reveal()}"
        cache_key: str | None = None
        cached: CachedResponse | None = None
        if method == "GET":
            query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
            cache_key = f"{url}?{query}|{accept}"
            cached = self._etags.get(cache_key)
            if cached is not None:
                headers["If-None-Match"] = cached.etag

        attempts = 0
        failures = 0  # 5xx and connection errors so far: the backoff exponent
        # Serial requests: no jitter, so the pauses are exactly 1, 2, 4 ... seconds.
        backoff = Backoff(base=self._retry.backoff, cap=self._retry.max_wait, jitter=0.0)
        while True:
            attempts += 1
            if self._blocked_until:
                self._wait(self._blocked_until - self._clock(), "primary rate limit exhausted", endpoint)
                self._blocked_until = 0.0
            if method != "GET":
                self._pace_write()
            try:
                response = self._http.request(method, url, params=params, json=json_body, headers=headers)
            except httpx.TransportError as exc:
                if attempts >= self._retry.max_attempts:
                    raise GitHubError(f"GitHub {endpoint}: {type(exc).__name__} after {attempts} attempts") from exc
                self._wait(backoff.delay(failures), "connection error", endpoint)
                failures += 1
                continue
            self._note_primary_limit(response)

            if response.status_code == 304 and cached is not None:
                return httpx.Response(
                    200, headers=list(cached.headers), content=cached.content, request=response.request
                )
            # A status the caller accepts (403 = "no user behind this token") is still a rate
            # limit first when GitHub says so: taking it as the answer would be wrong data.
            accepted = response.status_code in ok and self._rate_wait(response) is None
            if 200 <= response.status_code < 300 or accepted:
                etag = response.headers.get("etag")
                if cache_key is not None and etag and response.status_code == 200:
                    kept = tuple((k, response.headers[k]) for k in _KEPT_HEADERS if k in response.headers)
                    self._etags.put(cache_key, CachedResponse(etag, kept, response.content))
                return response

            slow_down = self._rate_wait(response)
            retriable = slow_down is not None or response.status_code >= 500
            if not retriable or attempts >= self._retry.max_attempts:
                message = f"GitHub {endpoint}: HTTP {response.status_code}{_detail(response)}"
                if slow_down is not None:
                    # Still rate limited after every attempt: the next request would be too.
                    raise RateLimitExceeded(f"{message}: still rate limited after {attempts} attempts")
                raise GitHubError(message + (f" after {attempts} attempts" if retriable else ""))
            if slow_down is not None:
                self._blocked_until = 0.0  # the wait below covers it
                self._wait(slow_down[0], slow_down[1], endpoint)
            else:
                self._wait(backoff.delay(failures), f"HTTP {response.status_code}", endpoint)
                failures += 1

    def _pace_write(self) -> None:
        """Keep `write_interval` between mutative requests (retries included); time spent in
        rate-limit or backoff waits since the last write counts toward it."""
        if self._last_write is not None:
            clock, slept = self._last_write
            elapsed = max(self._clock() - clock, self._slept - slept)
            if elapsed < self._retry.write_interval:
                self._pause(self._retry.write_interval - elapsed)
        self._last_write = (self._clock(), self._slept)

    def _note_primary_limit(self, response: httpx.Response) -> None:
        """A successful response that used the last request of the window blocks the next one."""
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = _float(response.headers.get("x-ratelimit-reset"))
            if reset:
                self._blocked_until = reset + 1

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request("GET", path, params=params)
        return _json(response, f"GET {self._endpoint(self._url(path))}")

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` (100 per page)."""
        url: str | None = self._url(path)
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        seen = 0
        while url:
            response = self.request("GET", url, params=query)
            page = _json(response, f"GET {self._endpoint(url)}")
            if not isinstance(page, list):
                raise GitHubError(f"GitHub GET {self._endpoint(url)}: expected a JSON list")
            for item in page:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield item
            url = _next_link(response)
            query = None  # the next link carries its own query string

    # ------------------------------------------------------------------------- read endpoints

    def repository(self, repo: str) -> dict[str, Any]:
        owner, name = split_repo(repo)
        return _object(self.get_json(f"/repos/{owner}/{name}"), f"GET /repos/{owner}/{name}")

    def resolve_sha(self, repo: str, ref: str) -> str:
        """The commit sha a branch or tag points to (for a stable base snapshot)."""
        owner, name = split_repo(repo)
        endpoint = f"/repos/{owner}/{name}/commits/{quote(ref, safe='')}"
        response = self.request("GET", endpoint, accept=SHA_MEDIA)
        sha = response.text.strip()
        if len(sha) < 7:
            raise GitHubError(f"GitHub GET /repos/{owner}/{name}/commits/{ref}: no sha in the answer")
        return sha

    def open_pulls(self, repo: str) -> Iterator[dict[str, Any]]:
        """Every open PR, oldest first, each once: pages are separate requests, so a PR closed
        meanwhile shifts the next page and could otherwise be listed twice."""
        owner, name = split_repo(repo)
        seen: set[int] = set()
        for pr in self.paginate(
            f"/repos/{owner}/{name}/pulls", {"state": "open", "sort": "created", "direction": "asc"}
        ):
            if pr.get("number") not in seen:
                seen.add(pr.get("number"))
                yield pr

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        owner, name = split_repo(repo)
        return _object(
            self.get_json(f"/repos/{owner}/{name}/pulls/{number}"), f"GET /repos/{owner}/{name}/pulls/{number}"
        )

    def pull_diff(self, repo: str, number: int) -> bytes | None:
        """The PR's unified diff, or None when GitHub refuses it as too large (406: over 300
        files or too many lines), in which case the caller rebuilds it from `pull_files`."""
        owner, name = split_repo(repo)
        response = self.request("GET", f"/repos/{owner}/{name}/pulls/{number}", accept=DIFF_MEDIA, ok=(406,))
        return None if response.status_code == 406 else response.content

    def pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = split_repo(repo)
        return list(self.paginate(f"/repos/{owner}/{name}/pulls/{number}/files", limit=MAX_PR_FILES))

    def pull_commits(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = split_repo(repo)
        return list(self.paginate(f"/repos/{owner}/{name}/pulls/{number}/commits", limit=250))

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = split_repo(repo)
        return list(self.paginate(f"/repos/{owner}/{name}/pulls/{number}/reviews"))

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = split_repo(repo)
        return list(self.paginate(f"/repos/{owner}/{name}/issues/{number}/comments"))

    def timeline(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = split_repo(repo)
        return list(self.paginate(f"/repos/{owner}/{name}/issues/{number}/timeline"))

    def file_contents(self, repo: str, path: str, ref: str) -> bytes | None:
        """A file's bytes at `ref` through the contents API; None when it does not exist there
        (404) or is not a regular file (a directory, symlink or submodule)."""
        owner, name = split_repo(repo)
        endpoint = f"/repos/{owner}/{name}/contents/{quote(path)}"
        response = self.request("GET", endpoint, params={"ref": ref}, ok=(404,))
        if response.status_code == 404:
            return None
        data = _json(response, f"GET {endpoint}")
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        if data.get("encoding") == "base64":
            import base64
            import binascii

            try:
                return base64.b64decode(data.get("content") or "")
            except (binascii.Error, ValueError) as exc:
                raise GitHubError(f"GitHub GET {endpoint}: content is not valid base64") from exc
        # Files of 1-100 MB come without content: ask for the raw media type instead.
        raw = self.request("GET", endpoint, params={"ref": ref}, accept="application/vnd.github.raw+json")
        return raw.content

    def viewer_login(self) -> str | None:
        """The login the token acts as, when GitHub tells (a PAT); None for Actions' installation
        token, whose GET /user answers 403: its comments are then recognised as a bot's."""
        if not self.__token:
            return None
        response = self.request("GET", "/user", ok=(401, 403, 404))
        if response.status_code != 200:
            return None
        login = _json(response, "GET /user").get("login")
        return str(login) if login else None

    # ------------------------------------------------------------------------ write endpoints

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        owner, name = split_repo(repo)
        response = self.request("POST", f"/repos/{owner}/{name}/issues/{number}/comments", json_body={"body": body})
        endpoint = f"POST /repos/{owner}/{name}/issues/{number}/comments"
        return _object(_json(response, endpoint), endpoint)

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        owner, name = split_repo(repo)
        endpoint = f"/repos/{owner}/{name}/issues/comments/{comment_id}"
        return _object(
            _json(self.request("PATCH", endpoint, json_body={"body": body}), f"PATCH {endpoint}"), f"PATCH {endpoint}"
        )

    def add_labels(self, repo: str, number: int, labels: tuple[str, ...]) -> None:
        owner, name = split_repo(repo)
        endpoint = f"/repos/{owner}/{name}/issues/{number}/labels"
        self.request("POST", endpoint, json_body={"labels": list(labels)})

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Remove one label; already gone (404) is fine, it is what we wanted."""
        owner, name = split_repo(repo)
        self.request("DELETE", f"/repos/{owner}/{name}/issues/{number}/labels/{quote(label, safe='')}", ok=(404,))

    def close_pull(self, repo: str, number: int) -> None:
        owner, name = split_repo(repo)
        self.request("PATCH", f"/repos/{owner}/{name}/pulls/{number}", json_body={"state": "closed"})


def _float(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def _detail(response: httpx.Response) -> str:
    """GitHub's own `message`, first line only, for the error text."""
    try:
        data = jsonutil.loads(response.content)
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return f" ({str(message).splitlines()[0][:200]})" if message else ""


def _object(value: Any, endpoint: str) -> dict[str, Any]:
    """An endpoint documented to answer one JSON object: anything else is GitHub's fault, said once here."""
    if not isinstance(value, dict):
        raise GitHubError(f"GitHub {endpoint}: expected a JSON object, got {type(value).__name__}")
    return value


def _json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return jsonutil.loads(response.content)
    except ValueError as exc:
        raise GitHubError(f"GitHub {endpoint}: the answer is not JSON") from exc

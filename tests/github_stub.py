"""A loopback GitHub REST stub: a real HTTP server on 127.0.0.1:0, in a thread.

Tests drive the real `GitHubClient` (real httpx, real sockets) against it instead of mocking
functions. It keeps just enough state to behave like GitHub for the endpoints pr-triage uses:
paginated lists with `Link` headers, the diff media type refusing PRs over 300 files (406),
ETags with 304s, labels, comments, closing, the contents API, and injectable faults (secondary
rate limits with `retry-after`, 5xx): scripted with `fail`, or a random share through
`fault_hook`. Every request is recorded, so a test can assert exactly which writes happened.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DIFF_MEDIA = "application/vnd.github.diff"
SHA_MEDIA = "application/vnd.github.sha"
BOT_USER = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    times: int


@dataclass
class StubRepo:
    full_name: str
    default_branch: str = "main"
    head_sha: str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    diffs: dict[int, bytes] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    timeline: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (ref, path) -> bytes


class GitHubStub:
    """Start with `with GitHubStub() as gh:`; `gh.url` is the API base URL."""

    def __init__(self, token: str | None = "ghs_stub_token_do_not_leak", viewer: str | None = None) -> None:
        self.token = token
        self.viewer = viewer  # None: GET /user answers 403, as it does for Actions' token
        self.repos: dict[str, StubRepo] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        # Asked about every request the `fail` list let through, with (method, path): a
        # (status, headers, body) answer replaces the real one. How a benchmark makes a random
        # share of all requests fail without scripting each one.
        self.fault_hook: Callable[[str, str], tuple[int, dict[str, str], Any] | None] | None = None
        self._lock = threading.Lock()
        self._next_comment_id = 1000
        # The creation time the stub gives comments posted through the API (GitHub's clock).
        self.posted_at = "2024-06-01T00:00:00Z"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> GitHubStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------ set-up

    def repo(self, full_name: str) -> StubRepo:
        return self.repos.setdefault(full_name, StubRepo(full_name))

    def add_pull(
        self,
        full_name: str,
        pr: dict[str, Any],
        *,
        files: list[dict[str, Any]] | None = None,
        diff: bytes | None = None,
    ) -> dict[str, Any]:
        repo = self.repo(full_name)
        pr = copy.deepcopy(pr)
        number = int(pr["number"])
        repo.pulls[number] = pr
        repo.files[number] = files or []
        if diff is not None:
            repo.diffs[number] = diff
        repo.comments.setdefault(number, [])
        repo.timeline.setdefault(number, [])
        repo.commits.setdefault(number, [])
        return pr

    def add_comment(
        self, full_name: str, number: int, body: str, user: dict[str, Any], created_at: str = "2024-01-01T00:00:00Z"
    ) -> dict[str, Any]:
        with self._lock:
            self._next_comment_id += 1
            comment = {
                "id": self._next_comment_id,
                "body": body,
                "user": user,
                "created_at": created_at,
                "updated_at": created_at,
            }
            self.repo(full_name).comments.setdefault(number, []).append(comment)
        return comment

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests matching answer `status` instead."""
        self.faults.append(
            Fault(
                method,
                re.compile(path_regex),
                status,
                headers or {},
                body or {"message": f"stub fault {status}"},
                times,
            )
        )

    @property
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    # ------------------------------------------------------------------------------ server

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                # Acknowledge at once: otherwise a client that writes headers and body separately
                # waits for the 40 ms delayed ACK on every POST (Nagle), slowing tests, not testing.
                if hasattr(socket, "TCP_QUICKACK"):
                    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                split = urlsplit(self.path)
                record = Recorded(
                    method,
                    unquote(split.path),
                    parse_qs(split.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with stub._lock:
                    stub.requests.append(record)
                status, headers, payload = stub._dispatch(
                    method, split.path, parse_qs(split.query), record.headers, body
                )
                if isinstance(payload, bytes | str):
                    data = payload.encode() if isinstance(payload, str) else payload
                    ctype = headers.pop("content-type", "text/plain; charset=utf-8")
                else:
                    data = b"" if payload is None else json.dumps(payload).encode()
                    ctype = "application/json; charset=utf-8"
                etag = None
                if method == "GET" and status == 200:
                    etag = '"' + hashlib.sha1(data + ctype.encode()).hexdigest() + '"'
                    if record.headers.get("if-none-match") == etag:
                        status, data = 304, b""
                record.status = status
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                headers.setdefault("x-ratelimit-remaining", "4999")
                headers.setdefault("x-ratelimit-reset", "1700000000")
                if etag:
                    self.send_header("etag", etag)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler

    def _page(
        self, items: list[Any], path: str, query: dict[str, list[str]], cap: int | None = None
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        if cap is not None:
            items = items[:cap]
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            rest = {k: v[0] for k, v in query.items() if k != "page"}
            qs = "&".join(f"{k}={v}" for k, v in rest.items())
            last = (len(items) + per_page - 1) // per_page
            headers["link"] = (
                f'<{self.url}{path}?{qs}&page={page + 1}>; rel="next", <{self.url}{path}?{qs}&page={last}>; rel="last"'
            )
        return 200, headers, chunk

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    return fault.status, dict(fault.headers), fault.body
            if self.fault_hook is not None and (hit := self.fault_hook(method, path)) is not None:
                return hit
        authorized = self.token is None or headers.get("authorization") == f"Bearer {self.token}"
        if not authorized:
            return 401, {}, {"message": "Bad credentials"}
        accept = headers.get("accept", "")
        if path == "/user":
            if self.viewer is None:
                return 403, {}, {"message": "Resource not accessible by integration"}
            return 200, {}, {"login": self.viewer, "type": "User"}
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not m or m.group(1) not in self.repos:
            return 404, {}, {"message": "Not Found"}
        repo = self.repos[m.group(1)]
        rest = m.group(2) or ""
        with self._lock:
            return self._repo_route(repo, method, rest, path, query, accept, body)

    def _repo_route(
        self, repo: StubRepo, method: str, rest: str, path: str, query: dict[str, list[str]], accept: str, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        not_found = (404, {}, {"message": "Not Found"})
        if rest == "" and method == "GET":
            return 200, {}, {"full_name": repo.full_name, "default_branch": repo.default_branch}
        if (m := re.fullmatch(r"/commits/(.+)", rest)) and method == "GET":
            if SHA_MEDIA in accept and unquote(m.group(1)) == repo.default_branch:
                return 200, {"content-type": SHA_MEDIA}, repo.head_sha
            return not_found
        if rest == "/pulls" and method == "GET":
            state = query.get("state", ["open"])[0]
            pulls = [p for _, p in sorted(repo.pulls.items()) if state == "all" or p["state"] == state]
            # GitHub's list endpoint leaves out the merge state; only the single-PR endpoint has it.
            listed = [{k: v for k, v in p.items() if k not in LIST_OMITS} for p in pulls]
            return self._page(listed, path, query)
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            pr = repo.pulls.get(int(m.group(1)))
            if pr is None:
                return not_found
            number = int(m.group(1))
            if method == "PATCH":
                pr.update({k: v for k, v in (body or {}).items() if k in ("state", "title", "body")})
                return 200, {}, pr
            if DIFF_MEDIA in accept:
                if len(repo.files[number]) > 300:
                    return 406, {}, {"message": "Sorry, the diff exceeded the maximum number of files (300)."}
                return 200, {"content-type": DIFF_MEDIA}, repo.diffs.get(number, b"")
            return 200, {}, pr
        if m := re.fullmatch(r"/pulls/(\d+)/files", rest):
            return self._page(repo.files.get(int(m.group(1)), []), path, query, cap=3000)
        if m := re.fullmatch(r"/pulls/(\d+)/commits", rest):
            return self._page(repo.commits.get(int(m.group(1)), []), path, query, cap=250)
        if m := re.fullmatch(r"/pulls/(\d+)/reviews", rest):
            return self._page([], path, query)
        if m := re.fullmatch(r"/issues/(\d+)/timeline", rest):
            return self._page(repo.timeline.get(int(m.group(1)), []), path, query)
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if number not in repo.pulls:
                return not_found
            if method == "POST":
                self._next_comment_id += 1
                comment = {
                    "id": self._next_comment_id,
                    "body": (body or {}).get("body", ""),
                    "user": {"login": self.viewer, "type": "User"} if self.viewer else BOT_USER,
                    "created_at": self.posted_at,
                    "updated_at": self.posted_at,
                }
                repo.comments.setdefault(number, []).append(comment)
                return 201, {}, comment
            return self._page(repo.comments.get(number, []), path, query)
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method == "PATCH":
            for comments in repo.comments.values():
                for comment in comments:
                    if comment["id"] == int(m.group(1)):
                        comment["body"] = (body or {}).get("body", "")
                        return 200, {}, comment
            return not_found
        if m := re.fullmatch(r"/issues/(\d+)/labels(?:/(.+))?", rest):
            pr = repo.pulls.get(int(m.group(1)))
            if pr is None:
                return not_found
            if method == "POST" and m.group(2) is None:
                for name in (body or {}).get("labels", []):
                    if name not in [lb["name"] for lb in pr["labels"]]:
                        pr["labels"].append({"name": name, "color": "ededed"})
                return 200, {}, pr["labels"]
            if method == "DELETE" and m.group(2):
                name = unquote(m.group(2))
                if name not in [lb["name"] for lb in pr["labels"]]:
                    return 404, {}, {"message": "Label does not exist"}
                pr["labels"] = [lb for lb in pr["labels"] if lb["name"] != name]
                return 200, {}, pr["labels"]
            return not_found
        if (m := re.fullmatch(r"/contents/(.+)", rest)) and method == "GET":
            ref = query.get("ref", [repo.default_branch])[0]
            file_path = unquote(m.group(1))
            data = repo.contents.get((ref, file_path))
            if data is None:
                return not_found
            return (
                200,
                {},
                {"type": "file", "encoding": "base64", "path": file_path, "content": base64.encodebytes(data).decode()},
            )
        return not_found


# Fields of the single-PR object that the list endpoint does not carry.
LIST_OMITS = frozenset({"mergeable", "mergeable_state", "rebaseable", "merged", "comments", "commits"})


def make_pr(
    number: int,
    *,
    repo: str = "octo/widgets",
    login: str = "alice",
    user_type: str = "User",
    title: str | None = None,
    body: str | None = "",
    draft: bool = False,
    labels: tuple[str, ...] = (),
    association: str = "CONTRIBUTOR",
    created_at: str = "2024-05-01T10:00:00Z",
    base_sha: str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    head_sha: str | None = None,
    mergeable: bool | None = None,
    mergeable_state: str = "unknown",
) -> dict[str, Any]:
    """A PR object with the fields and nesting of GitHub's REST/webhook PR object (the same
    shape as `pull_request` in the real webhook payloads under ../shared; a test checks that)."""
    owner = repo.split("/")[0]
    api = f"https://api.github.com/repos/{repo}"
    if body == "":
        # Each PR its own issue: PRs that link one issue are a cluster (triage.policy.cluster).
        body = f"Fixes #{1000 + number}"
    user = {
        "login": login,
        "id": 1000 + number,
        "type": user_type,
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
    }
    repo_obj = {
        "id": 1,
        "name": repo.split("/")[1],
        "full_name": repo,
        "private": False,
        "owner": {"login": owner, "type": "Organization"},
        "default_branch": "main",
    }
    return {
        "url": f"{api}/pulls/{number}",
        "id": 500000 + number,
        "node_id": f"PR_{number}",
        "html_url": f"https://github.com/{repo}/pull/{number}",
        "diff_url": f"https://github.com/{repo}/pull/{number}.diff",
        "issue_url": f"{api}/issues/{number}",
        "number": number,
        "state": "open",
        "locked": False,
        "title": title or f"Change number {number}",
        "user": user,
        "body": body,
        "created_at": created_at,
        "updated_at": created_at,
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [{"id": i, "name": n, "color": "ededed", "default": False} for i, n in enumerate(labels)],
        "milestone": None,
        "draft": draft,
        "commits_url": f"{api}/pulls/{number}/commits",
        "comments_url": f"{api}/issues/{number}/comments",
        "head": {
            "label": f"{login}:topic-{number}",
            "ref": f"topic-{number}",
            "sha": head_sha or f"{number:040x}",
            "user": user,
            "repo": repo_obj,
        },
        "base": {"label": f"{owner}:main", "ref": "main", "sha": base_sha, "user": repo_obj["owner"], "repo": repo_obj},
        "author_association": association,
        "mergeable": mergeable,
        "mergeable_state": mergeable_state,
        "auto_merge": None,
        "active_lock_reason": None,
    }


def text_file(
    path: str, added: int, *, status: str = "modified", deleted: int = 0, previous: str | None = None
) -> tuple[dict[str, Any], str]:
    """A files-endpoint entry and the matching git diff stanza for a simple text change."""
    minus = [f"-old line {i}" for i in range(deleted)]
    plus = [f"+new line {i}" for i in range(added)]
    old_start = 0 if deleted == 0 else 1
    new_start = 0 if added == 0 else 1
    patch = f"@@ -{old_start},{deleted} +{new_start},{added} @@\n" + "\n".join(minus + plus)
    entry: dict[str, Any] = {
        "sha": "0" * 40,
        "filename": path,
        "status": status,
        "additions": added,
        "deletions": deleted,
        "changes": added + deleted,
        "patch": patch,
    }
    if previous:
        entry["previous_filename"] = previous
    old = "/dev/null" if status == "added" else f"a/{previous or path}"
    new = "/dev/null" if status == "removed" else f"b/{path}"
    head = f"diff --git a/{previous or path} b/{path}\n"
    if status == "added":
        head += "new file mode 100644\n"
    elif status == "removed":
        head += "deleted file mode 100644\n"
    stanza = head + f"--- {old}\n+++ {new}\n{patch}\n"
    return entry, stanza


def add_simple_pull(
    stub: GitHubStub, repo: str, pr: dict[str, Any], files: list[tuple[str, int]] | None = None
) -> dict[str, Any]:
    """A PR whose diff and files agree: each (path, added lines) becomes one modified file."""
    entries, stanzas = [], []
    for path, added in files or [("src/app.py", 5)]:
        entry, stanza = text_file(path, added)
        entries.append(entry)
        stanzas.append(stanza)
    return stub.add_pull(repo, pr, files=entries, diff="".join(stanzas).encode())

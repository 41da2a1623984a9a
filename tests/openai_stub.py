"""A loopback OpenAI-compatible chat endpoint: a real HTTP server on 127.0.0.1:0, in a thread.

The LLM tests drive the REAL openai client (through langchain-openai) against it: openai >= 3
is built on httpx2, which respx does not intercept, and a fake chat model would not exercise
the client's error mapping at all. The stub answers `POST /v1/chat/completions` from a queue of
scripted replies (or a responder function), records every request body byte for byte (so a
test can prove a secret never left the process), and can misbehave on purpose: delays past the
client timeout, 429 with `retry-after`, 5xx, truncated or non-JSON bodies, schema-invalid
output, empty `choices`, dropped connections, and servers that reject `response_format` or
`tools` with a 400 like endpoints without structured output do. `slots` makes it behave like a
llama.cpp server with that many slots: requests beyond them wait their turn (and time out in
the client if they wait too long), and one whose client hung up while waiting is dropped.

Replies are rendered the way the request asked: a request carrying a forced tool choice gets a
tool call whose arguments are the reply's JSON, anything else gets it as message content.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build them with the helpers below rather than by hand."""

    kind: str = "ok"  # ok | status | raw | empty-choices | drop
    content: Any = None  # ok: a dict (sent as JSON) or a str (sent verbatim)
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""  # raw: the exact response body
    delay: float = 0.0  # seconds to wait before answering
    usage: tuple[int, int] | None = (120, 40)
    finish_reason: str = "stop"
    content_length: int | None = None  # raw: announce a different length (truncated body)


def ok(
    content: Any,
    *,
    usage: tuple[int, int] | None = (120, 40),
    finish_reason: str = "stop",
    delay: float = 0.0,
) -> Reply:
    return Reply("ok", content=content, usage=usage, finish_reason=finish_reason, delay=delay)


def status(
    code: int, message: str = "stub error", *, headers: dict[str, str] | None = None, delay: float = 0.0
) -> Reply:
    return Reply("status", status=code, content=message, headers=tuple((headers or {}).items()), delay=delay)


def raw(
    body: bytes, *, code: int = 200, content_type: str = "application/json", content_length: int | None = None
) -> Reply:
    return Reply(
        "raw",
        status=code,
        body=body,
        headers=(("Content-Type", content_type),),
        content_length=content_length,
    )


def empty_choices() -> Reply:
    return Reply("empty-choices")


def drop() -> Reply:
    """Close the connection without answering."""
    return Reply("drop")


def delayed(seconds: float, reply: Reply | None = None) -> Reply:
    base = reply or ok(VALID_REVIEW)
    return Reply(**{**base.__dict__, "delay": seconds})


VALID_REVIEW: dict[str, Any] = {
    "summary": "Adds a retry loop to the HTTP client. The change is small and covered by a test.",
    "change_type": "feature",
    "description_matches": True,
    "flags": [
        {
            "kind": "bug",
            "severity": "medium",
            "file": "src/app.py",
            "line": 3,
            "evidence": "the loop never stops when the server keeps failing",
        },
    ],
    "confidence": 0.8,
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    body: Any  # parsed JSON, or None when the body was not JSON


def closed_port_url() -> str:
    """A base URL where nothing listens: connecting to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up makes the late answer fail with a broken pipe:
        # that is the scenario under test, not an error worth printing.
        return


@dataclass
class OpenAIStub:
    """Start with `with OpenAIStub() as stub:`; point the client at `stub.base_url`."""

    default: Reply | None = field(default_factory=lambda: ok(VALID_REVIEW))
    responder: Callable[[dict[str, Any]], Reply] | None = None
    supports_json_schema: bool = True
    supports_tools: bool = True
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    max_in_flight: int = 0
    slots: int | None = None  # None: answer every request at once
    abandoned: int = 0  # requests dropped because the client had gone when a slot came free
    _in_flight: int = 0
    _slots: threading.Semaphore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> OpenAIStub:
        if self.slots is not None:
            self._slots = threading.Semaphore(self.slots)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def received(self, count: int, within: float = 10.0) -> int:
        """How many requests the stub has read, once it has read `count` or `within` seconds
        passed. A client that timed out has sent its request, but on a loaded machine the
        server thread may not have read it yet when the client gives up: counting at once
        would race with that thread (not a timing assert: it waits for an event)."""
        deadline = time.monotonic() + within
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.requests)

    @property
    def bodies(self) -> list[bytes]:
        return [r.raw for r in self.requests]

    # ----------------------------------------------------------------------------------------

    def _next(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        if self.responder is not None:
            return self.responder(request)
        if self.default is None:
            return status(500, "stub: no scripted reply left")
        return self.default

    def _unsupported(self, request: dict[str, Any]) -> str | None:
        fmt = request.get("response_format")
        if not self.supports_json_schema and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return "response_format of type 'json_schema' is not supported by this server"
        if not self.supports_tools and (request.get("tools") or request.get("tool_choice")):
            return "tools / tool_choice are not supported by this server"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def _send(
                self,
                code: int,
                payload: bytes,
                headers: tuple[tuple[str, str], ...] = (),
                content_type: str = "application/json",
                length: int | None = None,
            ) -> None:
                self.send_response(code)
                names = {k.lower() for k, _ in headers}
                if "content-type" not in names:
                    self.send_header("Content-Type", content_type)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload) if length is None else length))
                if length is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if length is not None:
                    self.close_connection = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                try:
                    request = json.loads(data)
                except ValueError:
                    request = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                with stub._lock:
                    stub.requests.append(Recorded(self.path, headers, data, request))
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    if stub._slots is None:
                        self._answer(request if isinstance(request, dict) else {})
                    else:
                        with stub._slots:
                            if self._client_gone():
                                with stub._lock:
                                    stub.abandoned += 1
                                return
                            self._answer(request if isinstance(request, dict) else {})
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _client_gone(self) -> bool:
                """Whether the client closed the connection (a read would see EOF)."""
                self.connection.setblocking(False)
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except (BlockingIOError, InterruptedError):
                    return False
                except OSError:
                    return True
                finally:
                    self.connection.setblocking(True)

            def _answer(self, request: dict[str, Any]) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
                    return
                problem = stub._unsupported(request)
                if problem is not None:
                    error = {"error": {"message": problem, "type": "invalid_request_error", "code": None}}
                    self._send(400, json.dumps(error).encode())
                    return
                reply = stub._next(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.kind == "status":
                    error = {"error": {"message": reply.content, "type": "stub_error", "code": reply.status}}
                    self._send(reply.status, json.dumps(error).encode(), reply.headers)
                    return
                if reply.kind == "raw":
                    self._send(reply.status, reply.body, reply.headers, length=reply.content_length)
                    return
                self._send(200, json.dumps(completion(request, reply)).encode())

        return Handler


def completion(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The chat.completion object for `reply`, shaped by what `request` asked for."""
    body: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request.get("model", "stub-model"),
        "choices": [],
    }
    if reply.usage is not None:
        body["usage"] = {
            "prompt_tokens": reply.usage[0],
            "completion_tokens": reply.usage[1],
            "total_tokens": sum(reply.usage),
        }
    if reply.kind == "empty-choices":
        return body
    text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish = reply.finish_reason
    choice = request.get("tool_choice")
    if request.get("tools") and choice not in (None, "none", "auto"):
        tool = choice if isinstance(choice, dict) else request["tools"][0]
        name = tool["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_stub", "type": "function", "function": {"name": name, "arguments": text}}],
        }
        finish = "tool_calls" if finish == "stop" else finish
    body["choices"] = [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
    return body

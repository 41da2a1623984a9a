"""A small persistent key -> JSON cache on sqlite3, shared by the review stage and any other.

Why sqlite and not a directory of files: a batch of thousands of PRs writes thousands of small
entries from several threads, and a run killed at any moment (CI timeout, Ctrl-C) must leave a
cache the next run can use. sqlite in WAL mode gives atomic, immediately committed writes, one
file, and safe concurrent readers; a lock serialises this process's threads on one connection,
and `busy_timeout` lets two processes share the file.

Keys are opaque strings; `review_key` builds the LLM reviewer's from everything its answer
depends on (the diff bytes, title and body, prompt version, model, budget and sampling
settings, output schema version), so a change to any of them is a miss, never a stale hit.

Location: `cfg.cache.dir`, which the config loader already fills from `TRIAGE_CACHE_DIR`, else
`[cache] dir`, else `.triage-cache/`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from triage.config import Config, LLMConfig
from triage.errors import ConfigError
from triage.models import PullRequest

__all__ = ["CACHE_FILE", "ReviewCache", "review_key"]

log = logging.getLogger(__name__)

CACHE_FILE = "triage-cache.sqlite3"
_SCHEMA_VERSION = 1


def review_key(
    pr: PullRequest, *, prompt_version: str, schema_version: str, budget_version: str, llm: LLMConfig
) -> str:
    """The cache key of one LLM review: sha256 over everything the answer depends on.

    The API key and base URL are deliberately not part of it: the same model behind another
    proxy gives the same review, and a key must never be hashed into anything stored.
    """
    content = hashlib.sha256()
    content.update(pr.diff)
    material = {
        "kind": "llm-review",
        "diff_sha256": content.hexdigest(),
        "title": pr.title,
        "body": pr.body or "",
        "prompt": prompt_version,
        "schema": schema_version,
        "budget": budget_version,
        "model": llm.model,
        "max_input_tokens": llm.max_input_tokens,
        "max_output_tokens": llm.max_output_tokens,
        "temperature": llm.temperature,
    }
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return "review:" + hashlib.sha256(blob).hexdigest()


class ReviewCache:
    """Key -> JSON object store. Thread-safe; every `put` is committed before it returns."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = self._connect()

    @classmethod
    def open(cls, cfg: Config) -> ReviewCache:
        """The cache in `cfg.cache.dir` (created if missing)."""
        directory = Path(cfg.cache.dir).expanduser()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{directory}: cannot create cache directory ({exc.strerror or exc})") from exc
        return cls(directory / CACHE_FILE)

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._setup(sqlite3.connect(self.path, check_same_thread=False, isolation_level=None))
        except sqlite3.DatabaseError as exc:
            if not self.path.exists():
                raise ConfigError(f"{self.path}: cannot open cache ({exc})") from exc
            # A cache is disposable: a damaged file is moved aside, never a reason to fail a run.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.warning("%s: not a usable cache (%s); moved to %s", self.path, exc, aside.name)
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            try:
                return self._setup(sqlite3.connect(self.path, check_same_thread=False, isolation_level=None))
            except sqlite3.DatabaseError as again:
                raise ConfigError(f"{self.path}: cannot open cache ({again})") from again

    @staticmethod
    def _setup(conn: sqlite3.Connection) -> sqlite3.Connection:
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.path}: cache is closed")
        return self._conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored object, or None when absent or unreadable (an unreadable entry is dropped)."""
        with self._lock:
            row = self._connection().execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            try:
                value = json.loads(row[0])
            except ValueError:
                value = None
            if not isinstance(value, dict):
                log.warning("%s: dropping unreadable cache entry %s", self.path, key[:24])
                self._connection().execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
            return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` (JSON-serialisable) under `key`, replacing any earlier one; committed."""
        blob = json.dumps(value, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO entries (key, value, created) VALUES (?, ?, ?)",
                (key, blob, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ReviewCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

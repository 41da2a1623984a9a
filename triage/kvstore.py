"""One persistent key -> bytes store on sqlite3, shared by every cache of the tool.

Used by the LLM review cache (`triage.review.cache`) and the GitHub ETag cache
(`triage.github.client.SqliteEtagStore`), each in its own namespace of one file in the cache
directory (`cfg.cache.dir`, `TRIAGE_CACHE_DIR`).

Why sqlite: a batch of thousands of PRs writes thousands of small entries from several
threads, and a run killed at any moment (CI timeout, Ctrl-C) must leave a file the next run
can use. WAL mode gives atomic, immediately committed writes and readers that never block.

Why it never raises once opened: a cache only saves work. Whatever goes wrong with it must
cost at most that work, never a review or a report (issue 12 item 7):

* another run holding the write lock is **waited for** (`busy_timeout`), never treated as
  damage; if it holds the lock longer than that, this one operation goes without the cache;
* a damaged file, or a file with someone else's schema, is **rebuilt** empty in place;
* a directory or file that cannot be written (read-only mount, permissions, disk full) means
  **no cache**, with one warning, and the run goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

__all__ = ["CACHE_FILE", "KVStore", "StoreClosed"]

log = logging.getLogger(__name__)

CACHE_FILE = "triage-cache.sqlite3"
SCHEMA_VERSION = 2  # 1: the review cache's own `entries` table
APPLICATION_ID = 0x54524941  # "TRIA" in the sqlite header: this file is ours
DEFAULT_BUSY_SECONDS = 30.0  # longer than any single write of another run takes

# sqlite primary result codes (https://www.sqlite.org/rescode.html).
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_DAMAGE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB

_TABLE = (
    "CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, created REAL NOT NULL,"
    " PRIMARY KEY (ns, key))"
)


class StoreClosed(RuntimeError):
    """`close()` was called: using the store afterwards is a bug in the caller."""


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc)


class KVStore:
    """`namespace`'s keys in the sqlite file at `path`. Thread-safe; every `put` is committed
    before it returns. When the file cannot be used the store is *unavailable*: `get` misses,
    `put` does nothing, and one warning said why."""

    def __init__(
        self, path: str | os.PathLike[str], namespace: str, *, busy_seconds: float = DEFAULT_BUSY_SECONDS
    ) -> None:
        self.path = Path(path)
        self.namespace = namespace
        self.busy_seconds = busy_seconds
        self._lock = threading.Lock()
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._warned: set[str] = set()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = self._open()
        except (OSError, sqlite3.Error) as exc:
            self._disable(f"cannot use the cache ({_why(exc)}); running without it")

    @property
    def available(self) -> bool:
        return self._conn is not None

    # -------------------------------------------------------------------------- opening

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_seconds, check_same_thread=False, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_seconds * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._schema_is_ours(conn):
                raise _Foreign
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _schema_is_ours(conn: sqlite3.Connection) -> bool:
        """True when the file holds our table (creating it in an empty file)."""
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and app == 0 and version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'kv'").fetchone():
                    conn.execute(_TABLE)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return True
        if app != APPLICATION_ID or version != SCHEMA_VERSION or "kv" not in tables:
            return False
        columns = [r[1] for r in conn.execute("PRAGMA table_info(kv)")]
        return columns == ["ns", "key", "value", "created"]

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except _Foreign:
            why = "written by another version or program"
        except sqlite3.DatabaseError as exc:
            if _code(exc) not in _DAMAGE_CODES:
                raise  # busy past the timeout, read-only, cannot open: not damage
            why = f"damaged ({exc})"
        return self._rebuild(why)

    def _rebuild(self, why: str) -> sqlite3.Connection:
        """A new, empty file in place of one we cannot use: a cache holds nothing that cannot
        be recomputed, and moving files aside would only pile them up."""
        log.warning("%s: cache %s; rebuilding it empty", self.path, why)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return self._connect()

    # -------------------------------------------------------------------------- faults

    def _disable(self, message: str) -> None:
        """No cache from now on; said once."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):  # closing a broken connection
                self._conn.close()
            self._conn = None
        self._warn("disabled", message)

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s: %s", self.path, message)

    def _fault(self, exc: sqlite3.Error, doing: str) -> None:
        """An error after opening: a lock held too long costs this one operation; damage found
        while reading rebuilds the file; anything else (read-only, disk full) switches the
        cache off."""
        if _code(exc) in _BUSY_CODES:
            self._warn("busy", f"cache locked by another run for over {self.busy_seconds:g}s; {doing} skipped")
            return
        if _code(exc) in _DAMAGE_CODES and self._conn is not None and "rebuilt" not in self._warned:
            self._warned.add("rebuilt")  # once per run: a file that keeps breaking is switched off
            self._conn.close()
            self._conn = None
            try:
                self._conn = self._rebuild(f"damaged ({exc})")
            except (OSError, sqlite3.Error) as again:
                self._disable(f"cannot rebuild the cache ({_why(again)}); running without it")
            return
        self._disable(f"cache failed while {doing} ({exc}); running without it")

    def _connection(self) -> sqlite3.Connection | None:
        if self._closed:
            raise StoreClosed(f"{self.path}: cache is closed")
        return self._conn

    # -------------------------------------------------------------------------- API

    def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when absent or when the cache cannot answer."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = conn.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (self.namespace, key)).fetchone()
            except sqlite3.Error as exc:
                self._fault(exc, "reading an entry")
                return None
            if row is None:
                return None
            value = row[0]
            return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)

    def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key`, replacing any earlier one; committed when it returns."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO kv (ns, key, value, created) VALUES (?, ?, ?, ?)",
                    (self.namespace, key, value, time.time()),
                )
            except sqlite3.Error as exc:
                self._fault(exc, "storing an entry")

    def delete(self, key: str) -> None:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (self.namespace, key))
            except sqlite3.Error as exc:
                self._fault(exc, "dropping an entry")

    def __len__(self) -> int:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return 0
            try:
                row = conn.execute("SELECT COUNT(*) FROM kv WHERE ns = ?", (self.namespace,)).fetchone()
            except sqlite3.Error as exc:
                self._fault(exc, "counting entries")
                return 0
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> KVStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Foreign(Exception):
    """The file is a sqlite database, but not one of ours (or of an older schema)."""

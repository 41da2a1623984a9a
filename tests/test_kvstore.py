"""The one sqlite store behind the review and ETag caches, and its faults (issue 12 item 7):
damaged or foreign files are rebuilt, a lock held by another run is waited for (never moved
aside), and a read-only cache means "no cache" with a warning while the reviews still run."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from triage.cli import main
from triage.github.client import CachedResponse, SqliteEtagStore
from triage.kvstore import CACHE_FILE, KVStore
from triage.review.cache import ReviewCache

PATCH = """diff --git a/lib/calc.py b/lib/calc.py
index 1111111..2222222 100644
--- a/lib/calc.py
+++ b/lib/calc.py
@@ -1,2 +1,3 @@
 def add(a, b):
-    return a - b
+    # fixed
+    return a + b
"""


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_review_and_etag_caches_share_one_file_in_separate_namespaces(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    with ReviewCache(path) as reviews:
        reviews.put("k", {"summary": "s"})
        etags = SqliteEtagStore(path)
        etags.put("k", CachedResponse('W/"1"', (("link", '<x>; rel="next"'),), b"\x00body\nbytes"))
        assert reviews.get("k") == {"summary": "s"}
        assert etags.get("k") == CachedResponse('W/"1"', (("link", '<x>; rel="next"'),), b"\x00body\nbytes")
        assert len(reviews) == 1
        etags.close()
    assert files_in(tmp_path) <= {CACHE_FILE, f"{CACHE_FILE}-wal", f"{CACHE_FILE}-shm"}


# ---------------------------------------------------------------------------- damage and foreign schemas


def test_a_garbage_file_is_rebuilt_in_place(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / CACHE_FILE).write_bytes(b"this is not a sqlite database at all" * 100)
    with KVStore(tmp_path / CACHE_FILE, "t") as store:
        assert store.available and store.get("k") is None
        store.put("k", b"v")
        assert store.get("k") == b"v"
    assert "damaged" in caplog.text and "rebuilding it empty" in caplog.text
    assert not any("corrupt" in name for name in files_in(tmp_path))  # rebuilt, not moved aside
    with KVStore(tmp_path / CACHE_FILE, "t") as store:
        assert store.get("k") == b"v"


def test_a_truncated_database_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    with KVStore(path, "t") as store:
        for i in range(200):
            store.put(f"k{i}", os.urandom(512))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 4000 + data[4100 : len(data) // 2])
    with KVStore(path, "t") as store:
        store.put("fresh", b"1")
        assert store.get("fresh") == b"1"


def test_damage_found_mid_run_rebuilds_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / CACHE_FILE
    with KVStore(path, "t") as store:
        for i in range(300):
            store.put(f"k{i:03d}", os.urandom(900))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    data[page * 3 :] = b"\xa5" * (len(data) - page * 3)  # schema page intact, table pages not
    path.write_bytes(bytes(data))
    with KVStore(path, "t") as store:
        assert store.available
        assert store.get("k299") is None  # a miss, and the damage is seen
        store.put("fresh", b"1")
        assert store.get("fresh") == b"1"
        assert len(store) == 1
    assert "rebuilding it empty" in caplog.text


@pytest.mark.parametrize(
    "schema",
    [
        # the review cache's own first schema (an upgrade from an older pr-triage)
        "CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL);"
        "PRAGMA user_version = 1;",
        # somebody else's database under our name
        "CREATE TABLE kv (a INTEGER, b INTEGER); PRAGMA application_id = 42;",
        # our name and table, a newer schema version
        "CREATE TABLE kv (ns TEXT, key TEXT, value BLOB, created REAL); PRAGMA application_id = 1414678849;"
        "PRAGMA user_version = 99;",
    ],
)
def test_a_foreign_schema_is_rebuilt(tmp_path: Path, schema: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / CACHE_FILE
    with sqlite3.connect(path) as conn:
        conn.executescript(schema)
    conn.close()
    cache = ReviewCache(path)
    assert cache.available
    cache.put("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    cache.close()
    assert "written by another version or program" in caplog.text


# ---------------------------------------------------------------------------- locks


def hold_write_lock(path: Path, until: threading.Event, holding: threading.Event) -> threading.Thread:
    """Another connection (as another run would) holds the write lock until `until` is set."""

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("INSERT INTO kv (ns, key, value, created) VALUES ('t', 'theirs', x'01', 0)")
        holding.set()
        until.wait(30)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    return thread


def test_a_lock_held_by_another_run_is_waited_for(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / CACHE_FILE
    KVStore(path, "t").close()
    release, holding = threading.Event(), threading.Event()
    thread = hold_write_lock(path, release, holding)
    store = KVStore(path, "t")  # opening does not need the write lock
    timer = threading.Timer(0.3, release.set)
    timer.start()
    store.put("mine", b"2")  # blocks on the lock until the other run commits, then writes
    thread.join()
    assert store.get("mine") == b"2" and store.get("theirs") == b"\x01"  # neither run lost its write
    store.close()
    assert "locked" not in caplog.text and "rebuilding" not in caplog.text
    assert files_in(tmp_path) <= {CACHE_FILE, f"{CACHE_FILE}-wal", f"{CACHE_FILE}-shm"}


def test_a_lock_held_too_long_skips_the_write_and_keeps_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CACHE_FILE
    with KVStore(path, "t") as store:
        store.put("old", b"1")
    release, holding = threading.Event(), threading.Event()
    thread = hold_write_lock(path, release, holding)
    try:
        store = KVStore(path, "t", busy_seconds=0.2)
        store.put("new", b"2")  # gives up after the timeout: a lost cache write, not an error
        assert store.get("old") == b"1"  # readers are not blocked (WAL)
        assert store.available
        store.close()
    finally:
        release.set()
        thread.join()
    assert "cache locked by another run for over 0.2s; storing an entry skipped" in caplog.text
    with KVStore(path, "t") as store:
        assert store.get("old") == b"1" and store.get("theirs") == b"\x01"  # nothing moved or wiped


def test_two_processes_write_the_same_cache(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from triage.kvstore import KVStore
        store = KVStore({str(tmp_path / CACHE_FILE)!r}, "t")
        for i in range(150):
            store.put(f"{{sys.argv[1]}}-{{i}}", b"x" * 100)
        store.close()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with KVStore(tmp_path / CACHE_FILE, "t") as store:
        assert len(store) == 450


# ---------------------------------------------------------------------------- no cache at all


def test_a_cache_dir_that_cannot_be_created_means_no_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("not a directory")
    cache = ReviewCache(tmp_path / "file" / "cache" / CACHE_FILE)
    assert not cache.available
    cache.put("k", {"v": 1})
    assert cache.get("k") is None and len(cache) == 0
    cache.close()
    assert "cannot use the cache" in caplog.text and "running without it" in caplog.text


def test_a_closed_store_refuses_use(tmp_path: Path) -> None:
    store = KVStore(tmp_path / CACHE_FILE, "t")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.put("k", b"v")


@pytest.fixture
def llm() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


def triage_env(llm: OpenAIStub, cache_dir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")},
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test-cache",
        "TRIAGE_CACHE_DIR": str(cache_dir),
    }


# Root writes through any permission bits unless it gives up these capabilities.
_DROP_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable"]


def run_triage(env: dict[str, str], workdir: Path) -> tuple[int, str]:
    """`triage run` in a child process that permission bits apply to (as root, without the
    capabilities that bypass them), so a read-only directory is really read-only to it."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: a read-only directory cannot be made")
        prefix = _DROP_CAPS
    argv = [sys.executable, "-m", "triage", "run", str(workdir / "fix.diff"), "--out", str(workdir / "out")]
    proc = subprocess.run(
        [*prefix, *argv, "--llm", "on", "--no-progress"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("with_old_cache", [False, True], ids=["empty-dir", "existing-cache"])
def test_a_read_only_cache_dir_means_no_cache_and_reports_are_written(
    llm: OpenAIStub, tmp_path: Path, with_old_cache: bool
) -> None:
    (tmp_path / "fix.diff").write_text(PATCH)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    if with_old_cache:
        with ReviewCache(cache_dir / CACHE_FILE) as cache:
            cache.put("k", {"v": 1})
        for p in cache_dir.iterdir():
            p.chmod(0o444)
    cache_dir.chmod(0o555)
    before = files_in(cache_dir)
    try:
        code, err = run_triage(triage_env(llm, cache_dir), tmp_path)
    finally:
        cache_dir.chmod(0o755)
    assert code == 0, err
    assert "Traceback" not in err
    assert "triage: warning:" in err and "running without it" in err
    assert len(llm.requests) >= 1  # the review still ran
    queue = json.loads((tmp_path / "out" / "queue.json").read_text())
    assert queue["items"][0]["review"]["source"] == "llm"
    assert files_in(cache_dir) == before


def test_a_damaged_cache_in_a_real_run_is_rebuilt_and_the_review_runs(
    llm: OpenAIStub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fix.diff").write_text(PATCH)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / CACHE_FILE).write_bytes(b"\x00garbage" * 512)
    env = triage_env(llm, cache_dir)
    argv = ["run", str(tmp_path / "fix.diff"), "--out", str(tmp_path / "out"), "--llm", "on", "--no-progress"]
    assert main(argv, environ=env) == 0
    assert len(llm.requests) == 1
    assert "rebuilding it empty" in capsys.readouterr().err
    assert main(argv, environ=env) == 0
    assert len(llm.requests) == 1  # the rebuilt cache served the second run

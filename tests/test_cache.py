"""The sqlite review cache: persistence, crash safety, threads, keys, location."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from triage.config import CacheConfig, Config, LLMConfig, load
from triage.models import PullRequest
from triage.review.cache import CACHE_FILE, ReviewCache, review_key


def cfg_for(directory: Path) -> Config:
    return Config(cache=CacheConfig(dir=str(directory)))


def test_put_get_roundtrip_and_replace(tmp_path: Path) -> None:
    with ReviewCache.open(cfg_for(tmp_path / "c")) as cache:
        assert cache.get("k") is None
        cache.put("k", {"a": 1, "nested": {"b": [1, 2]}, "text": "ünïcode"})
        assert cache.get("k") == {"a": 1, "nested": {"b": [1, 2]}, "text": "ünïcode"}
        cache.put("k", {"a": 2})
        assert cache.get("k") == {"a": 2}
        assert len(cache) == 1


def test_entries_survive_reopen_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "cache"
    with ReviewCache.open(cfg_for(directory)) as cache:
        cache.put("x", {"v": 1})
    path = directory / CACHE_FILE
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ReviewCache.open(cfg_for(directory)) as cache:
        assert cache.get("x") == {"v": 1}


def test_location_follows_triage_cache_dir(tmp_path: Path) -> None:
    cfg = load(search_dir=tmp_path, environ={"TRIAGE_CACHE_DIR": str(tmp_path / "from-env")})
    with ReviewCache.open(cfg) as cache:
        cache.put("k", {"v": 1})
    assert (tmp_path / "from-env" / CACHE_FILE).is_file()


def test_a_killed_run_leaves_a_usable_cache(tmp_path: Path) -> None:
    # A child process writes three entries and dies without closing anything (as on SIGKILL
    # or a CI timeout): every entry it wrote must be there for the next run.
    script = textwrap.dedent(
        f"""
        import os
        from triage.config import CacheConfig, Config
        from triage.review.cache import ReviewCache
        cache = ReviewCache.open(Config(cache=CacheConfig(dir={str(tmp_path)!r})))
        for i in range(3):
            cache.put(f"k{{i}}", {{"i": i}})
        os._exit(9)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == 9
    with ReviewCache.open(cfg_for(tmp_path)) as cache:
        assert [cache.get(f"k{i}") for i in range(3)] == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_safe_across_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with ReviewCache.open(cfg_for(tmp_path)) as cache:

        def work(n: int) -> None:
            try:
                for i in range(40):
                    cache.put(f"t{n}-{i}", {"n": n, "i": i})
                    assert cache.get(f"t{n}-{i}") == {"n": n, "i": i}
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(cache) == 8 * 40


def test_an_unreadable_entry_is_a_miss_and_is_dropped(tmp_path: Path) -> None:
    with ReviewCache.open(cfg_for(tmp_path)) as cache:
        cache.put("ok", {"v": 1})
    with sqlite3.connect(tmp_path / CACHE_FILE) as conn:
        conn.execute("INSERT INTO kv (ns, key, value, created) VALUES ('review', 'bad', '{not json', 0)")
        conn.execute("INSERT INTO kv (ns, key, value, created) VALUES ('review', 'list', '[1, 2]', 0)")
    with ReviewCache.open(cfg_for(tmp_path)) as cache:
        assert cache.get("bad") is None
        assert cache.get("list") is None
        assert cache.get("ok") == {"v": 1}
        assert len(cache) == 1


def test_a_closed_cache_refuses_use(tmp_path: Path) -> None:
    cache = ReviewCache.open(cfg_for(tmp_path))
    cache.close()
    cache.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        cache.get("k")


# --------------------------------------------------------------------------------------------
# Keys


BASE_PR = PullRequest(id="1", title="Add retries", body="Closes #3", diff=b"diff --git a/x b/x\n")
BASE_LLM = LLMConfig(model="m1", api_key="sk-one", base_url="http://a.example/v1")


def key(pr: PullRequest = BASE_PR, llm: LLMConfig = BASE_LLM, prompt: str = "review-v1", schema: str = "1") -> str:
    return review_key(pr, prompt_version=prompt, schema_version=schema, budget_version="1", llm=llm)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(lambda: key(pr=replace(BASE_PR, diff=b"diff --git a/y b/y\n")), id="diff"),
        pytest.param(lambda: key(pr=replace(BASE_PR, title="Add retry")), id="title"),
        pytest.param(lambda: key(pr=replace(BASE_PR, body="Closes #4")), id="body"),
        pytest.param(lambda: key(prompt="review-v2"), id="prompt-version"),
        pytest.param(lambda: key(schema="2"), id="schema-version"),
        pytest.param(lambda: key(llm=replace(BASE_LLM, model="m2")), id="model"),
        pytest.param(lambda: key(llm=replace(BASE_LLM, max_input_tokens=999)), id="max-input-tokens"),
        pytest.param(lambda: key(llm=replace(BASE_LLM, temperature=0.7)), id="temperature"),
    ],
)
def test_key_changes_with_everything_the_answer_depends_on(changed: object) -> None:
    assert callable(changed)
    assert changed() != key()


def test_key_ignores_credentials_endpoint_and_pr_identity() -> None:
    same = [
        key(llm=replace(BASE_LLM, api_key="sk-two")),
        key(llm=replace(BASE_LLM, base_url="http://b.example/v1")),
        key(pr=replace(BASE_PR, id="other", url="https://x/pull/9", labels=("bug",))),
    ]
    assert set(same) == {key()}
    assert "sk-one" not in key()

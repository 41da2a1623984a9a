"""Fixtures shared by several test modules (each module keeps the ones only it needs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import CacheConfig, Config


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """The offline configuration most adapter tests start from: LLM off, a cache of their own.

    A per-test cache directory keeps one test's cached reviews or ETags from answering another's
    requests (the default `.triage-cache` is shared by the whole checkout)."""
    return Config(cache=CacheConfig(dir=str(tmp_path / "cache")), llm_mode="off")

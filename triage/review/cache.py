"""The LLM review cache: review key -> JSON object, in the tool's one sqlite store.

Storage, crash safety, locking and fault handling are `triage.kvstore`'s (namespace
`review`): a damaged or foreign cache is rebuilt, a locked one waited for, a read-only one
means "no cache" with a warning, and in every case the reviews still run.

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
from pathlib import Path
from typing import Any

from triage import jsonutil
from triage.config import Config, LLMConfig
from triage.kvstore import CACHE_FILE, KVStore
from triage.models import PullRequest

__all__ = ["CACHE_FILE", "ReviewCache", "review_key"]

log = logging.getLogger(__name__)

NAMESPACE = "review"


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

    def __init__(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        self.path = Path(path)
        self._store = KVStore(self.path, NAMESPACE, **kwargs)

    @classmethod
    def open(cls, cfg: Config, **kwargs: Any) -> ReviewCache:
        """The cache in `cfg.cache.dir` (created if missing; unusable = no cache, warned)."""
        return cls(Path(cfg.cache.dir).expanduser() / CACHE_FILE, **kwargs)

    @property
    def available(self) -> bool:
        return self._store.available

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored object, or None when absent or unreadable (an unreadable entry is dropped)."""
        raw = self._store.get(key)
        if raw is None:
            return None
        try:
            value = jsonutil.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            log.warning("%s: dropping unreadable cache entry %s", self.path, key[:24])
            self._store.delete(key)
            return None
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` (JSON-serialisable) under `key`, replacing any earlier one; committed."""
        self._store.put(key, json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8"))

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> ReviewCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

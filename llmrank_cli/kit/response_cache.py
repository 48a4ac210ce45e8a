"""LLM answers kept in one SQLite file, so that a rerun, a resumed run or another process asking
the same question of the same model makes no call.

A key is the SHA-256 of what decides an answer: the model's identity (a fingerprint of its
weights, or a server's model name and base URL), the rendered prompt and the decoding settings.
The file is in WAL mode, so several processes (torchrun shards, two reranks) read and write it
at once; an answer is committed as soon as it is made, so a killed run keeps every finished one.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

FILE = "llm-responses.sqlite"


def default_dir() -> Path:
    """llmrank's cache root ($LLMRANK_CACHE, else ~/.cache/llmrank), as the other caches use."""
    return Path(os.environ.get("LLMRANK_CACHE", Path.home() / ".cache" / "llmrank"))


def key_of(identity: str, prompt, settings: dict) -> str:
    """The cache key of one call: model identity, prompt (text or chat messages), settings."""
    text = json.dumps([identity, prompt, settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """``get``/``put`` of JSON answers by key; ``hits`` and ``misses`` count this run's lookups.
    ``None`` as the directory makes a cache that keeps nothing (``--no-cache``)."""

    def __init__(self, directory: str | Path | None):
        self.hits = self.misses = 0
        self.path = None if directory is None else Path(directory) / FILE
        self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return self._db

    def get(self, key: str):
        if self.path is None:
            self.misses += 1
            return None
        row = self._conn().execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value) -> None:
        if self.path is not None:
            self._conn().execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)",
                                 (key, json.dumps(value, ensure_ascii=False)))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

"""Answers to repeated task reads, reused until the store's file changes.

Clients watch a DAG by polling ``GET /api/v1/task/dag/{id}`` (the web UI and obshell's SDKs
every few hundred milliseconds, often many at once); building that answer takes several
queries and a few hundred objects, while the DAG usually changed only a handful of times.

Validity comes from SQLite itself: ``PRAGMA data_version`` on a connection of its own changes
whenever any *other* connection commits to the file, in this process or any other, and never
otherwise. So an answer built after reading version ``v`` is reused exactly while the version
is still ``v``. The version is read *before* the answer's own read transaction starts: a commit
that slips in between makes the entry stale at once, never wrong.

Only SQLite files can be watched this way; for other stores (the cluster's ``ocs`` database,
shared with other agents) :func:`data_version_watch` gives None and nothing is cached.
Cached answers are shared between callers: treat them as read-only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Engine

V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 256


class DataVersionWatch:
    """``PRAGMA data_version`` of a dedicated read-only connection to one SQLite file."""

    def __init__(self, path: str):
        # Never writes, so its own commits cannot hide anyone else's.
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()

    def version(self) -> int | None:
        """The current version, or None when it cannot be read (then nothing is reused)."""
        with self._lock:
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def data_version_watch(engine: Engine) -> DataVersionWatch | None:
    """A watch on the engine's SQLite file; None for other databases and in-memory SQLite."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.database.startswith("file:"):
        return None
    try:
        return DataVersionWatch(url.database)
    except sqlite3.Error:
        return None


class ReadCache(Generic[V]):
    """A bounded map ``key -> answer`` whose entries are valid for one data version."""

    def __init__(self, watch: DataVersionWatch | None, max_entries: int = DEFAULT_MAX_ENTRIES):
        self._watch = watch
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The answer for ``key``: the cached one if nothing was committed since, else ``build()``."""
        version = self._watch.version() if self._watch is not None else None
        if version is None:
            return build()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
        value = build()  # outside the lock: builds of different keys run in parallel
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
        if self._watch is not None:
            self._watch.close()

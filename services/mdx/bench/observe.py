"""Watches a node's database for committed positions and times each from its scheduled send time.

A thread polls `positions` every few milliseconds for rows it has not seen (by their identity
column). A row is visible only once its transaction has committed, so the time just before a
poll, minus the row's `observed_at` (the scheduled send time the load generator wrote there),
bounds its publish -> committed latency from above, by at most one poll interval.

Ingest workers commit concurrently, so a lower id may become visible after a higher one: the
cursor only moves over ids with no gap below them, and a gap that stays (a rolled back insert
spends sequence values) is stepped over after `GAP_GRACE_S`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import psycopg

from mdx.core import store

POLL_S = 0.01
# Its connection's name: the CPU accounting (mdx.bench.cpu) leaves the watcher's polls out.
APPLICATION_NAME = "mdx-bench-observer"
GAP_GRACE_S = 5.0


class CommitObserver:
    def __init__(self, database_url: str, where: str = "TRUE") -> None:
        self._url = database_url
        self._where = where
        self._lock = threading.Lock()
        self._latencies: list[float] = []
        self._seen_above: set[int] = set()
        self._cursor = 0
        self._gap_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="commit-observer")
        self.committed = 0
        self.last_commit_seen = 0.0

    def start(self) -> None:
        with psycopg.connect(store.libpq_dsn(self._url), autocommit=True) as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM positions").fetchone()
        self._cursor = int(row[0]) if row else 0
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def take(self) -> np.ndarray[Any, Any]:
        """The latencies (s) observed since the last call, and forget them."""
        with self._lock:
            out = np.asarray(self._latencies, dtype=float)
            self._latencies = []
        return out

    def _run(self) -> None:
        sql = (
            "SELECT id, extract(epoch FROM observed_at)::float8 FROM positions "
            f"WHERE id > %s AND ({self._where}) ORDER BY id"
        )
        dsn = store.libpq_dsn(self._url)
        with psycopg.connect(dsn, autocommit=True, application_name=APPLICATION_NAME) as conn:
            while not self._stop.is_set():
                polled_at = time.time()
                rows = conn.execute(sql, (self._cursor,)).fetchall()
                self._record(rows, polled_at)
                time.sleep(POLL_S)

    def _record(self, rows: list[tuple[int, float]], polled_at: float) -> None:
        fresh = [(i, t) for i, t in rows if i not in self._seen_above]
        if fresh:
            with self._lock:
                self._latencies.extend(polled_at - t for _, t in fresh)
                self.committed += len(fresh)
                self.last_commit_seen = polled_at
            self._seen_above.update(i for i, _ in fresh)
        # Move the cursor over the ids seen with no gap below them.
        cursor = self._cursor
        while cursor + 1 in self._seen_above:
            cursor += 1
            self._seen_above.discard(cursor)
        if self._seen_above and cursor == self._cursor:
            if self._gap_since is None:
                self._gap_since = polled_at
            elif polled_at - self._gap_since > GAP_GRACE_S:
                cursor = min(self._seen_above) - 1  # a gap that stays: spent sequence values
        else:
            self._gap_since = None
        self._cursor = cursor

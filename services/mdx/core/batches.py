"""The loop both consumers of the node's broker (ingest, share) run: drain a queue in batches
into the database over one connection; when the database is unavailable, reconnect and retry
the same batch (nothing of it was acknowledged yet)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from mdx.core import store

log = logging.getLogger("mdx.batches")

T = TypeVar("T")


def connect(url: str, stopping: threading.Event) -> psycopg.Connection[Any]:
    """A store connection, retried every second until it works or `stopping` is set."""
    while True:
        try:
            return store.connect(url)
        except psycopg.OperationalError as e:
            log.error("cannot reach the database (%s); retrying", e)
            if stopping.wait(1.0):
                raise


def next_batch(
    inbox: queue.Queue[T] | queue.SimpleQueue[T], size: int, max_wait_s: float
) -> list[T]:
    """Up to `size` items: the first within 0.2 s, the rest within `max_wait_s` of it."""
    try:
        batch = [inbox.get(timeout=0.2)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + max_wait_s
    while len(batch) < size:
        remaining = deadline - time.monotonic()
        try:
            batch.append(inbox.get(timeout=remaining) if remaining > 0 else inbox.get_nowait())
        except queue.Empty:
            break
    return batch


def drain(
    url: str,
    inbox: queue.Queue[T],
    process: Callable[[psycopg.Connection[Any], list[T]], None],
    stopping: threading.Event,
    *,
    size: int,
    max_wait_s: float,
    on_connect: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> None:
    """Run `process` on batches from `inbox` until `stopping` is set."""
    conn = connect(url, stopping)
    try:
        if on_connect:
            on_connect(conn)
        while not stopping.is_set():
            batch = next_batch(inbox, size, max_wait_s)
            while batch and not stopping.is_set():
                try:
                    process(conn, batch)
                    batch = []
                except psycopg.OperationalError as e:
                    log.error("database unavailable (%s); retrying the batch", e)
                    conn.close()
                    conn = connect(url, stopping)
    finally:
        conn.close()

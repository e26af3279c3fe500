"""Ingest as several workers on one MQTT v5 shared subscription: each message is handled by one
of them, duplicates are stored once, and the producer's cumulative receipt is exact although
no worker alone sees its whole sequence (the receipt moves in the database)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from mdx.core import store
from mdx.core.settings import NodeSettings
from tests.conftest import mqtt_test_client
from tests.integration.harness import RawPublisher, scalar, settings_env, wait_for
from tests.integration.test_ingest import envelope_bytes, position, topic


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(store.libpq_dsn(url))


def _advance(conn: psycopg.Connection[Any], producer: str, seqs: list[int]) -> dict[str, int]:
    with conn.transaction():
        return store.advance_receipts(conn, [(producer, s) for s in seqs])


def test_receipt_moves_over_seqs_committed_by_different_workers(db: str) -> None:
    a, b = _connect(db), _connect(db)
    try:
        assert _advance(a, "p", [1, 3, 5]) == {"p": 1}  # 2 and 4 not committed by anyone yet
        assert _advance(b, "p", [4]) == {}  # still waiting for 2
        assert _advance(b, "p", [2, 2]) == {"p": 5}  # 2 closes the gap: 1..5 all committed
        assert _advance(a, "p", [3, 5]) == {}  # redelivered, already receipted: nothing moves
        assert _advance(a, "q", [2]) == {}  # another producer's sequence is its own
        assert _advance(b, "q", [1]) == {"q": 2}
        assert scalar(db, "SELECT seq FROM producer_receipts WHERE producer = 'p'") == 5
        # What a receipt covers is forgotten; only what waits above a gap is kept.
        assert _advance(a, "p", [7]) == {}
        assert scalar(db, "SELECT array_agg(seq) FROM producer_seqs") == [7]
    finally:
        a.close()
        b.close()


def test_concurrent_transactions_see_each_others_seqs_before_moving_the_receipt(db: str) -> None:
    """Worker A holds its transaction open; worker B, committing seq 2 meanwhile, waits on the
    producer's lock and then sees A's seq 1: the receipt reaches 2 exactly once, not never."""
    a, b = _connect(db), _connect(db)
    moved_b: dict[str, int] = {}
    try:
        with a.transaction():
            assert store.advance_receipts(a, [("p", 1)]) == {"p": 1}

            def worker_b() -> None:
                moved_b.update(_advance(b, "p", [2]))

            t = threading.Thread(target=worker_b)
            t.start()
            t.join(0.5)
            assert t.is_alive(), "B must wait for A's lock on the producer's receipt"
        t.join(10)
        assert moved_b == {"p": 2}
        assert scalar(db, "SELECT seq FROM producer_receipts WHERE producer = 'p'") == 2
    finally:
        a.close()
        b.close()


@pytest.fixture
def two_workers(
    node_settings: NodeSettings, tmp_path: Path
) -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    procs, logs = [], []
    for worker in (1, 2):
        log = tmp_path / f"ingest-{worker}.log"
        env = settings_env(node_settings) | {
            "MDX_INGEST__WORKERS": "2",
            "MDX_INGEST__WORKER": str(worker),
        }
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mdx.cli.main", "ingest", "run"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        logs.append(log)
    try:
        for log in logs:
            wait_for(
                lambda log=log: "subscribed to $share/ingest/" in log.read_text(), 30, str(log)
            )
        yield list(zip(procs, logs, strict=True))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=15)


def _handled(log: Path) -> int:
    found = re.findall(r"stopping: handled (\d+) messages", log.read_text())
    assert found, log.read_text()[-2000:]
    return int(found[-1])


def test_two_workers_share_the_load_store_once_and_receipt_exactly(
    node_settings: NodeSettings, two_workers: list[tuple[subprocess.Popen[bytes], Path]]
) -> None:
    n, dups = 3000, 300
    url = node_settings.database.url
    messages = [
        (topic("p2w", "position"), envelope_bytes("p2w", "position", position(i), seq=i + 1))
        for i in range(n - 1)
    ]
    bad = orjson.dumps({"seq": n, "not": "an envelope"})
    messages.append((topic("p2w", "position"), bad))
    messages += messages[:dups]  # republished: a producer that did not see its receipt in time
    receipts: list[int] = []
    watcher = mqtt_test_client("receipt-watcher")
    watcher.on_message = lambda _c, _u, m: receipts.append(orjson.loads(m.payload)["seq"])
    watcher.on_connect = lambda c, *_a: c.subscribe("mdx/v1/receipt/p2w", qos=1)
    watcher.connect(node_settings.broker.host, node_settings.broker.port)
    watcher.loop_start()
    pub = RawPublisher(node_settings.broker.host, node_settings.broker.port, "p2w-pub")
    try:
        pub.publish_all(messages)
        wait_for(lambda: n in receipts, 60, lambda: f"receipt {n}; got up to {max(receipts)}")
    finally:
        pub.close()
        watcher.loop_stop()
        watcher.disconnect()
    assert scalar(url, "SELECT count(*) FROM positions WHERE source = 'urn:mdx:jcg:p2w'") == n - 1
    assert scalar(url, "SELECT count(*) FROM dead_letters WHERE producer = 'p2w'") == 1
    assert scalar(url, "SELECT seq FROM producer_receipts WHERE producer = 'p2w'") == n
    assert scalar(url, "SELECT count(*) FROM producer_seqs") == 0
    assert max(receipts) == n
    # Both workers took part, and between them handled every message, each once.
    handled = []
    for proc, log in two_workers:
        proc.terminate()
        proc.wait(timeout=15)
        handled.append(_handled(log))
    assert all(h > 0 for h in handled), handled
    assert sum(handled) == len(messages)

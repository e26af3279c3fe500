"""Ingest throughput against the machine's raw limit, measured in the same run.

    .venv/bin/python benchmarks/ingest_throughput.py [N]   (writes var/bench/ingest.json)

1. raw: a paho publisher -> the project's Mosquitto -> a paho subscriber (QoS 1, separate
   processes not needed: the subscriber only counts), the ceiling for anything over MQTT here;
2. ingest: N position envelopes published while `mdx ingest run` stores them; the clock
   stops when the last row is committed.
The figure that matters is the ratio: the machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import Broker, mqtt_test_client  # noqa: E402
from tests.integration.harness import RawPublisher, ServiceProcess, scalar  # noqa: E402
from tests.integration.test_ingest import envelope_bytes, position, topic  # noqa: E402

from mdx.core import migrate, store  # noqa: E402
from mdx.core.settings import NodeSettings  # noqa: E402

PG = os.environ.get("MDX_BENCH_PG", "postgresql+psycopg://mdx:mdx@127.0.0.1:5432")


def raw_mqtt(broker: Broker, n: int, payload: bytes) -> float:
    got = 0
    done = threading.Event()

    def on_message(*_a: object) -> None:
        nonlocal got
        got += 1
        if got == n:
            done.set()

    sub = mqtt_test_client()
    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.subscribe("raw/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = RawPublisher(broker.host, broker.port, "raw-pub")
    start = time.perf_counter()
    pub.publish_all(("raw/x", payload) for _ in range(n))
    done.wait(120)
    elapsed = time.perf_counter() - start
    pub.close()
    sub.loop_stop()
    return n / elapsed


def ingest(broker: Broker, n: int, url: str, log_dir: Path, partners: int) -> float:
    """Positions/s stored, each with an outbox row per partner (GREEN goes to all of them)."""
    settings = NodeSettings(
        node={"id": "jcg", "demo": True},  # ingest's password is the test broker's
        broker=broker.settings.broker.model_dump(),
        database={"url": url},
        partners=[
            {
                "id": f"p{i}",
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": "unused.pub",
            }
            for i in range(partners)
        ],
    )
    proc = ServiceProcess("ingest", settings, log_dir)
    proc.start()
    time.sleep(2)
    messages = [
        (topic("ais1", "position"), envelope_bytes("ais1", "position", position(i)))
        for i in range(n)
    ]
    pub = RawPublisher(broker.host, broker.port, "bench-pub")
    start = time.perf_counter()
    pub.publish_all(messages)
    while scalar(url, "SELECT count(*) FROM positions") < n:
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    pub.close()
    proc.stop()
    return n / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    work = Path(tempfile.mkdtemp(prefix="mdx-bench-"))
    work.chmod(0o755)
    broker = Broker(work / "mosquitto")
    broker.start()
    url = f"{PG}/mdx_bench_{uuid.uuid4().hex[:8]}"
    migrate.upgrade(url)
    migrate.upgrade(url.replace("mdx_bench_", "mdx_bench2_"))
    try:
        sample = envelope_bytes("ais1", "position", position(1))
        raw = raw_mqtt(broker, n, sample)
        stored = ingest(broker, n, url, work, partners=0)
        stored_shared = ingest(
            broker, n, url.replace("mdx_bench_", "mdx_bench2_"), work, partners=2
        )
    finally:
        broker.stop()
        with psycopg.connect(store.libpq_dsn(f"{PG}/postgres"), autocommit=True) as conn:
            for db in (url, url.replace("mdx_bench_", "mdx_bench2_")):
                conn.execute(f'DROP DATABASE IF EXISTS "{db.rsplit("/", 1)[1]}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "messages": n,
        "envelope_bytes": len(sample),
        "raw_mqtt_msgs_per_s": round(raw),
        "ingest_msgs_per_s": round(stored),
        "ingest_vs_raw": round(stored / raw, 3),
        "ingest_with_2_partners_msgs_per_s": round(stored_shared),
        "ingest_with_2_partners_vs_raw": round(stored_shared / raw, 3),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "var" / "bench" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The machine's raw limits, measured in the same run as ingest and with the same messages:

- MQTT pass-through: the load generator's process publishes at QoS 1 as fast as Mosquitto
  acknowledges, a paho subscriber in this process (QoS 1) only counts; the ceiling for anything
  that takes its input over MQTT here; once with the node's batched client at both ends (what
  ingest is judged against) and once with paho as released at both ends;
- COPY: psycopg's COPY of the same positions, in batches of 1,000 each committed, straight
  into the `positions` table (its indexes included); the ceiling for storing them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as paho

from mdx.bench.load import Envelopes, Loader, LoadSpec, event_id, rfc3339, stock_client
from mdx.bench.rig import IDENTITY, Node

COPY_BATCH = 1000
_COPY_COLS = (
    "source, event_id, origin, tlp, relto, mmsi, observed_at, geom, sog, cog, heading,"
    " nav_status, source_type"
)


def mqtt_pass_through(
    node: Node, loader: Loader, count: int, tag: str, *, stock_paho: bool = False
) -> dict[str, Any]:
    """Messages/s from the first publish to the last delivery."""
    got = 0
    last = 0.0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, _m: paho.MQTTMessage) -> None:
        nonlocal got, last
        got += 1
        if got == count:
            last = time.time()
            done.set()

    sub_id = f"bench-raw-sub-{tag}"
    sub = stock_client(node.credentials(), sub_id) if stock_paho else node.client(sub_id)
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.on_connect = lambda c, *_a: c.subscribe(f"bench/raw/{tag}", qos=1)
    sub.connect("127.0.0.1", node.broker_port)
    sub.loop_start()
    subscribed.wait(10)
    creds = node.credentials()
    pub = loader.publish(
        LoadSpec(
            "127.0.0.1",
            node.broker_port,
            IDENTITY,
            creds.password or "",
            f"bench/raw/{tag}",
            node.id,
            "raw",
            tag,
            count,
            None,
            stock_paho=stock_paho,
        )
    )
    summary = pub.result()
    done.wait(120)
    sub.loop_stop()
    sub.disconnect()
    elapsed = (last or time.time()) - summary["start"]
    return {
        "messages": count,
        "delivered": got,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(got / elapsed),
    }


def copy_rows(node: Node, count: int, tag: str) -> dict[str, Any]:
    """Rows/s of COPY into `positions` (then removed again)."""
    make = Envelopes(node.id, "raw", tag)
    sample = len(make(0, time.time()))
    now = time.time()
    source = f"urn:mdx:{node.id}:raw"
    rows = [
        (
            source,
            event_id(tag, i),
            node.id,
            "GREEN",
            "{}",
            f"431{i % 5000:06d}",
            rfc3339(now + i / 10_000),
            f"SRID=4326;POINT({125.0 + (i % 50) / 10} {30.0 + (i % 100) / 10})",
            12.3,
            45.6,
            45,
            0,
            "ais-terrestrial",
        )
        for i in range(count)
    ]
    with node.connect_db(autocommit=False) as conn:
        start = time.perf_counter()
        for b in range(0, count, COPY_BATCH):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY positions ({_COPY_COLS}) FROM STDIN") as copy,
            ):
                for row in rows[b : b + COPY_BATCH]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - start
        with conn.transaction():
            conn.execute("DELETE FROM positions WHERE source = %s", (source,))
    return {
        "rows": count,
        "batch": COPY_BATCH,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(count / elapsed),
        "envelope_bytes": sample,
    }

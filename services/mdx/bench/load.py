"""The load generator: position envelopes published at QoS 1 on a schedule, in its own process.

Open loop: message i is due at `start + i / rate` whatever happened to the ones before, and it
carries that scheduled time as its `observed_at`, so latency is measured from when it should
have been sent, not from when a slowed-down publisher got round to it (no coordinated
omission). With no rate it publishes as fast as the broker acknowledges (the raw limit).

Each envelope is numbered (`seq`) and has an id derived from the run's tag and its index, so
what is stored can be counted exactly against what was sent.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.sharedctypes
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from mdx.core import mqtt as node_mqtt
from mdx.core.schemas import envelope_data_schemas

# paho looks through every unacknowledged message on each PUBACK (measured here: 1,000 in
# flight halves its rate, 10,000 divides it by ten), so few in flight and a bounded queue; a
# load further behind than this waits for acks, and the lag shows in its latencies.
IN_FLIGHT = int(os.environ.get("MDX_BENCH_INFLIGHT", "100"))
MAX_UNACKED = int(os.environ.get("MDX_BENCH_UNACKED", "2000"))
# Distinct vessels the positions are spread over (a busy national picture).
VESSELS = 5_000


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    username: str
    password: str
    topic: str
    node: str
    producer: str
    tag: str  # 8 hex digits: the run's part of every event id
    count: int
    rate: float | None  # messages/s; None: as fast as the broker acks
    # paho as released, instead of the node's batched client (mdx.core.mqtt_client): the raw
    # pass-through as the prototype measured it.
    stock_paho: bool = False


@dataclass
class Counters:
    """Shared with the parent for its progress bar and backlog samples."""

    sent: Any  # multiprocessing Value('q')
    acked: Any
    start_at: Any  # Value('d'): the schedule's time zero (epoch s), 0 until connected
    busy: Any  # Value('b'): 1 while a load runs

    @classmethod
    def make(cls) -> Counters:
        ctx = multiprocessing.get_context("spawn")
        return cls(
            ctx.Value("q", 0, lock=False),
            ctx.Value("q", 0, lock=False),
            ctx.Value("d", 0),
            ctx.Value("b", 0),
        )


def event_id(tag: str, i: int) -> str:
    return f"{tag}-0000-4000-8000-{i:012d}"


def rfc3339(t: float) -> str:
    whole = int(t)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((t - whole) * 1e6):06d}Z"
    )


class Envelopes:
    """Bytes of envelope i scheduled at time t, written directly (orjson would be no faster for
    one fixed shape and would need a dict per message)."""

    def __init__(self, node: str, producer: str, tag: str) -> None:
        schema = envelope_data_schemas()["mdx.position.v1"]
        self.head = (
            '{"specversion":"1.0","id":"%s","source":"urn:mdx:' + node + ":" + producer + '",'
            '"type":"mdx.position.v1","time":"%s","datacontenttype":"application/json",'
            '"dataschema":"' + schema + '","tlp":"GREEN","seq":%d,'
            '"data":{"mmsi":"431%06d","lat":%.5f,"lon":%.5f,"sog":12.3,"cog":45.6,"heading":45,'
            '"nav_status":0,"observed_at":"%s","source_type":"ais-terrestrial"}}'
        )
        self.tag = tag

    def __call__(self, i: int, t: float) -> bytes:
        ts = rfc3339(t)
        vessel = i % VESSELS
        lat = 30.0 + (vessel % 100) / 10 + (i % 997) / 100_000
        lon = 125.0 + (vessel // 100) / 10
        return (self.head % (event_id(self.tag, i), ts, i + 1, vessel, lat, lon, ts)).encode()


def _serve(jobs: Any, counters: Counters, results: Any) -> None:
    """Child process body: run each LoadSpec from `jobs` until None comes."""
    while (spec := jobs.get()) is not None:
        results.put(publish(spec, counters))
        counters.busy.value = 0


def stock_client(creds: node_mqtt.Credentials, client_id: str) -> paho.Client:
    """paho's own client (MQTT v5), without the node's batched socket I/O."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    c.username_pw_set(creds.username, creds.password)
    return c


def publish(spec: LoadSpec, counters: Counters) -> dict[str, Any]:
    """Connect, publish `spec.count` envelopes, wait for every PUBACK; a summary."""
    creds = node_mqtt.Credentials(spec.username, spec.password)
    client_id = f"bench-load-{spec.tag}-{spec.producer}"
    client = (
        stock_client(creds, client_id) if spec.stock_paho else node_mqtt.client(creds, client_id)
    )
    client.max_inflight_messages_set(IN_FLIGHT)
    client.max_queued_messages_set(0)
    acked = 0
    failed = 0
    lock = threading.Lock()
    connected = threading.Event()

    def on_publish(_c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        nonlocal acked, failed
        with lock:
            acked += 1
            if rc.is_failure:
                failed += 1
        counters.acked.value = acked

    client.on_publish = on_publish
    client.on_connect = lambda *_a: connected.set()
    client.connect(spec.host, spec.port)
    client.loop_start()
    connected.wait(10)
    make = Envelopes(spec.node, spec.producer, spec.tag)
    start = time.time() + 0.1
    counters.start_at.value = start
    max_lag = 0.0
    i = 0
    while time.time() < start:
        time.sleep(0.001)
    if spec.rate is None:
        while i < spec.count:
            while i - acked > MAX_UNACKED:
                time.sleep(0.0005)
            client.publish(spec.topic, make(i, time.time()), qos=1)
            i += 1
            if i % 256 == 0:
                counters.sent.value = i
    else:
        interval = 1.0 / spec.rate
        while i < spec.count:
            now = time.time()
            due = min(spec.count, int((now - start) * spec.rate) + 1)
            if due <= i:
                time.sleep(min(0.001, start + i * interval - now))
                continue
            while i < due:
                while i - acked > MAX_UNACKED:
                    time.sleep(0.0005)
                client.publish(spec.topic, make(i, start + i * interval), qos=1)
                i += 1
            max_lag = max(max_lag, time.time() - (start + (i - 1) * interval))
            counters.sent.value = i
    counters.sent.value = i
    last_sent = time.time()
    deadline = time.monotonic() + 300
    while acked < spec.count and time.monotonic() < deadline:
        time.sleep(0.005)
    all_acked = time.time()
    client.loop_stop()
    client.disconnect()
    return {
        "sent": i,
        "acked": acked,
        "refused": failed,
        "start": start,
        "last_sent": last_sent,
        "all_acked": all_acked,
        "max_lag_s": round(max_lag, 4),
    }


class Loader:
    """One child process (its own interpreter: no GIL shared with the observer) that runs the
    loads one after another; spawned once, since a spawn re-imports the CLI (seconds)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.counters = Counters.make()
        self.jobs: Any = ctx.Queue()
        self.results: Any = ctx.Queue()
        self.proc = ctx.Process(
            target=_serve, args=(self.jobs, self.counters, self.results), daemon=True
        )
        self.proc.start()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None  # started in __init__
        return self.proc.pid

    def publish(self, spec: LoadSpec) -> Publisher:
        for value in (self.counters.sent, self.counters.acked, self.counters.start_at):
            value.value = 0
        self.counters.busy.value = 1
        self.jobs.put(spec)
        return Publisher(self, spec)

    def close(self) -> None:
        self.jobs.put(None)
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()


class Publisher:
    """One load being published by a Loader."""

    def __init__(self, loader: Loader, spec: LoadSpec) -> None:
        self.loader = loader
        self.spec = spec
        self.counters = loader.counters

    @property
    def sent(self) -> int:
        return int(self.counters.sent.value)

    @property
    def start_at(self) -> float:
        return float(self.counters.start_at.value)

    def scheduled_by(self, t: float) -> int:
        """How many messages were due by time `t` (all of them without a rate)."""
        if self.spec.rate is None or not self.start_at:
            return self.sent
        return max(0, min(self.spec.count, int((t - self.start_at) * self.spec.rate) + 1))

    def done(self) -> bool:
        if not self.loader.proc.is_alive():
            raise RuntimeError("the load generator's process died")
        return not self.counters.busy.value

    def result(self, timeout: float = 400) -> dict[str, Any]:
        summary: dict[str, Any] = self.loader.results.get(timeout=timeout)
        return summary

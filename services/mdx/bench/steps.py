"""One step of offered load: publish at a fixed rate for a while, watch the commits, drain, and
count exactly what was stored against what was sent.

A step is *sustained* when nothing is lost (every envelope the broker acknowledged is a row,
none dead-lettered), the load generator kept to its schedule, and the backlog stayed bounded:
the last envelope was committed within `MAX_DRAIN_S` of its scheduled time. A pipeline that
falls behind shows it there, whatever its short-term burst speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mdx.bench import cpu
from mdx.bench.load import Loader, LoadSpec
from mdx.bench.observe import CommitObserver
from mdx.bench.report import percentiles_ms
from mdx.bench.rig import IDENTITY, Node

MAX_DRAIN_S = 1.0
MAX_PUBLISHER_LAG_S = 0.5
# A step that has committed nothing new for this long is over: what is missing is lost.
QUIET_S = 15.0

Progress = Callable[[int, int], None]  # (committed, total)


@dataclass
class Step:
    loader: Loader
    origin: Node  # where the load is published
    target: Node  # whose database is watched (the origin, or a partner across a bridge)
    observer: CommitObserver
    rate: float
    seconds: float
    producer: str
    tag: str

    def spec(self) -> LoadSpec:
        creds = self.origin.credentials()
        return LoadSpec(
            "127.0.0.1",
            self.origin.broker_port,
            IDENTITY,
            creds.password or "",
            f"mdx/v1/in/{self.producer}/position",
            self.origin.id,
            self.producer,
            self.tag,
            max(1, int(self.rate * self.seconds)),
            self.rate,
        )


def run(step: Step, progress: Progress | None = None) -> dict[str, Any]:
    spec = step.spec()
    source = f"urn:mdx:{step.origin.id}:{step.producer}"
    observer = step.observer
    observer.take()
    base = observer.committed
    nodes = {id(n): n for n in (step.origin, step.target)}.values()
    cpu_before = cpu.sample(nodes, step.loader.pid)
    pub = step.loader.publish(spec)
    backlog: list[tuple[float, int]] = []
    while not pub.done():
        now = time.time()
        committed = observer.committed - base
        if pub.start_at:
            backlog.append((now - pub.start_at, pub.scheduled_by(now) - committed))
        if progress:
            progress(committed, spec.count)
        time.sleep(0.1)
    summary = pub.result()
    last_scheduled = summary["start"] + (spec.count - 1) / step.rate
    seen = observer.committed
    quiet_since = time.monotonic()
    while observer.committed - base < spec.count and time.monotonic() - quiet_since < QUIET_S:
        time.sleep(0.05)
        if observer.committed != seen:
            seen, quiet_since = observer.committed, time.monotonic()
        if progress:
            progress(observer.committed - base, spec.count)
    time.sleep(0.05)
    cpu_after = cpu.sample(nodes, step.loader.pid)
    latencies = observer.take()
    stored = int(step.target.scalar("SELECT count(*) FROM positions WHERE source = %s", source))
    dead = int(
        step.origin.scalar("SELECT count(*) FROM dead_letters WHERE producer = %s", step.producer)
    )
    drain_s = observer.last_commit_seen - last_scheduled
    elapsed = observer.last_commit_seen - summary["start"]
    lost = summary["acked"] - stored
    sustained = (
        lost == 0
        and dead == 0
        and summary["refused"] == 0
        and stored == spec.count
        and summary["max_lag_s"] <= MAX_PUBLISHER_LAG_S
        and drain_s <= MAX_DRAIN_S
    )
    return {
        "offered_per_s": step.rate,
        "seconds": step.seconds,
        "sent": summary["sent"],
        "acked": summary["acked"],
        "stored": stored,
        "lost": lost,
        "dead_lettered": dead,
        "observed": len(latencies),
        "committed_per_s": round(stored / elapsed) if elapsed > 0 else None,
        "publisher_max_lag_s": summary["max_lag_s"],
        "backlog_max": max((b for _, b in backlog), default=0),
        "drain_s": round(drain_s, 3),
        "latency_ms": percentiles_ms(latencies),
        "cpu_us_per_msg": cpu.per_message_us(cpu_before, cpu_after, max(1, stored)),
        "sustained": sustained,
    }

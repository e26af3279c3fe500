"""What a scenario's steps do to the network: producers publish (envelopes with receipts, raw
bytes, AIS), generators pace their positions, an outage takes a node away and brings it back.

Envelopes go through mdx.core.producer.Producer (numbered, republished until receipted), one
per producer of a node for the whole run; raw bytes and AIS through a plain client at QoS 1,
acknowledged by the broker before the step counts as done.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from mdx.core import mqtt, topics
from mdx.core.producer import Producer
from mdx.scenario.model import Ais, AnyStep, Behaviour, Cut, Positions, Publish, Raw, Track
from mdx.scenario.network import NetworkError, NodeAccess
from mdx.scenario.template import Template
from mdx.sim import ais as sim_ais

AIS_LINES_PER_MESSAGE = 50
ACK_TIMEOUT_S = 60.0


class Producers:
    """The run's MQTT connections, opened when a step first needs one, closed at the end."""

    def __init__(self, network: dict[str, NodeAccess]) -> None:
        self.network = network
        self._envelopes: dict[tuple[str, str], Producer] = {}
        self._raw: dict[tuple[str, str], _RawClient] = {}
        self._lock = threading.Lock()

    def envelopes(self, node: str, producer: str) -> Producer:
        with self._lock:
            if (node, producer) not in self._envelopes:
                n = self.network[node]
                p = Producer(
                    node, producer, n.broker_host, n.broker_port, credentials=n.producer(producer)
                )
                p.start()
                self._envelopes[(node, producer)] = p
            return self._envelopes[(node, producer)]

    def raw(self, node: str, producer: str) -> _RawClient:
        with self._lock:
            if (node, producer) not in self._raw:
                self._raw[(node, producer)] = _RawClient(self.network[node], producer)
            return self._raw[(node, producer)]

    def close(self, flush_s: float) -> list[str]:
        """Wait for every envelope's receipt (up to `flush_s`); what was still not receipted."""
        deadline = time.monotonic() + flush_s
        missing = [
            f"{node}/{producer}: {p.outstanding} envelopes not receipted"
            for (node, producer), p in self._envelopes.items()
            if not p.flush(max(0.0, deadline - time.monotonic()))
        ]
        for p in self._envelopes.values():
            p.close()
        for r in self._raw.values():
            r.close()
        return missing


class _RawClient:
    def __init__(self, node: NodeAccess, producer: str) -> None:
        self.producer = producer
        self.client = mqtt.client(
            node.producer(producer), f"mdx-scenario-raw-{uuid.uuid4().hex[:8]}"
        )
        self.client.max_queued_messages_set(0)
        self._acked = 0
        self._refused: list[str] = []
        self._cond = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(node.broker_host, node.broker_port)
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        with self._cond:
            self._acked += 1
            if rc.is_failure:
                self._refused.append(str(rc))
            self._cond.notify_all()

    def publish(self, kind: str, payloads: list[bytes]) -> None:
        """Publish on the producer's topic of `kind`; returns once the broker acked them all."""
        with self._cond:
            target = self._acked + len(payloads)
        for payload in payloads:
            self.client.publish(topics.inbound(self.producer, kind), payload, qos=1)
        with self._cond:
            if not self._cond.wait_for(lambda: self._acked >= target, ACK_TIMEOUT_S):
                raise TimeoutError(f"the broker did not acknowledge {len(payloads)} messages")
            if self._refused:
                raise NetworkError(f"the broker refused publishes: {self._refused[:3]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def perform(
    step: AnyStep,
    producers: Producers,
    template: Template,
    start: float,
    stopping: threading.Event,
) -> str:
    """Do one step (at its time, counted from `start` on the monotonic clock); what it did."""
    _sleep_until(start + step.at, stopping)
    if isinstance(step, Cut):
        return _outage(step, producers.network, stopping)
    if isinstance(step, Publish):
        envelope = producers.envelopes(step.node, step.producer).publish(
            step.publish,
            template.render(step.data, datetime.now(UTC)),
            tlp=step.tlp,
            relto=template.render(step.relto) or None,
            purpose=step.purpose,
        )
        return f"published {envelope['type']} {envelope['id']}"
    if isinstance(step, Positions):
        return _positions(step, producers, template, stopping)
    if isinstance(step, Raw):
        payload = template.render(step.raw, datetime.now(UTC)).encode()
        producers.raw(step.node, step.producer).publish(step.kind, [payload])
        return f"published {len(payload)} raw bytes on {step.kind}"
    assert isinstance(step, Ais)
    lines = ais_history(step.ais, template)
    chunks = [
        "\n".join(lines[i : i + AIS_LINES_PER_MESSAGE]).encode()
        for i in range(0, len(lines), AIS_LINES_PER_MESSAGE)
    ]
    producers.raw(step.node, step.producer).publish(topics.AIS_KIND, chunks)
    return f"published {len(lines)} AIS sentences ({step.ais.kind}) in {len(chunks)} messages"


def _outage(step: Cut, network: dict[str, NodeAccess], stopping: threading.Event) -> str:
    node = network[step.outage.node]
    if node.down is None or node.up is None:
        raise NetworkError(f"{node.id}: the network gives no down/up commands for an outage")
    node.down()
    try:
        stopping.wait(step.outage.seconds)
    finally:
        node.up()
    return f"{node.id} off the network for {step.outage.seconds:g} s"


def _positions(
    step: Positions, producers: Producers, template: Template, stopping: threading.Event
) -> str:
    track: Track = step.positions
    producer = producers.envelopes(step.node, step.producer)
    mmsi = template.render(track.mmsi)
    began = time.monotonic()
    for i in range(track.count):
        _sleep_until(began + i / track.rate, stopping)
        lat, lon, heading = _along(track.route, i / max(1, track.count - 1))
        data = {
            "mmsi": mmsi,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "sog": track.sog,
            "cog": round(heading, 1),
            "observed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "source_type": "ais-terrestrial",
        }
        producer.publish("position", data, tlp=track.tlp)
    return f"published {track.count} positions of {mmsi}"


def _along(route: list[tuple[float, float]], fraction: float) -> tuple[float, float, float]:
    """(lat, lon, course) at `fraction` of the way along the route's legs (equal shares)."""
    legs = len(route) - 1
    leg = min(legs - 1, int(fraction * legs))
    f = fraction * legs - leg
    (lat1, lon1), (lat2, lon2) = route[leg], route[leg + 1]
    course = math.degrees(math.atan2(lon2 - lon1, lat2 - lat1)) % 360
    return lat1 + (lat2 - lat1) * f, lon1 + (lon2 - lon1) * f, course


def ais_history(b: Behaviour, template: Template) -> list[str]:
    """NMEA sentences of one scripted behaviour's history up to now (mdx.sim.ais)."""
    mmsi, anchor = template.render(b.mmsi), b.anchor
    behaviour: Any
    if b.kind == "encounter":
        behaviour = sim_ais.Encounter(
            mmsi, b.name, template.render(b.other_mmsi), str(b.other_name), b.zone, anchor
        )
    elif b.kind == "foreign_fishing":
        behaviour = sim_ais.ForeignFishing(mmsi, b.name, b.zone, anchor)
    else:
        behaviour = sim_ais.GoingDark(mmsi, b.name, b.zone, anchor)
    built = sim_ais.build(
        "scenario", {b.kind: behaviour}, now=int(time.time()), history_h=b.history_h
    )
    return [line for message in built.history() for line in message.lines]


def _sleep_until(at: float, stopping: threading.Event) -> None:
    wait = at - time.monotonic()
    if wait > 0 and stopping.wait(wait):
        raise InterruptedError("the run was stopped")

"""Ingest through a real Mosquitto into a real PostGIS: exactly once, bad input dead-lettered."""

from __future__ import annotations

import base64
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from mdx.core.envelope import make_envelope
from mdx.core.settings import NodeSettings
from tests.conftest import mqtt_test_client
from tests.integration.harness import RawPublisher, ServiceProcess, scalar, wait_for

NODE = "jcg"


def position(i: int, mmsi: str | None = None, **changes: Any) -> dict[str, Any]:
    data = {
        "mmsi": mmsi or f"431{i % 1_000_000:06d}",
        "lat": 33.0 + (i % 1000) / 1000,
        "lon": 129.0 + (i % 997) / 1000,
        "sog": 12.3,
        "cog": 45.0,
        "observed_at": f"2026-11-25T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "source_type": "ais-terrestrial",
    }
    return data | changes


def incident(i: int, version: int = 1, **changes: Any) -> dict[str, Any]:
    data = {
        "incident_id": str(uuid.UUID(int=i, version=4)),
        "version": version,
        "category": "iuu_fishing",
        "status": "reported",
        "title": f"Suspected unlicensed fishing #{i}",
        "location": {"type": "Point", "coordinates": [129.2 + i / 10000, 34.4]},
        "observed_at": "2026-11-25T08:00:00Z",
    }
    return data | changes


def envelope_bytes(producer: str, kind: str, data: dict[str, Any], **kw: Any) -> bytes:
    type_ = f"mdx.{kind}.v1"
    return orjson.dumps(make_envelope(NODE, producer, type_, data, **kw))


def topic(producer: str, kind: str) -> str:
    return f"mdx/v1/in/{producer}/{kind}"


@pytest.fixture
def ingest(node_settings: NodeSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    """A running ingest process, subscribed (so the broker keeps what is published for it)."""
    proc = ServiceProcess("ingest", node_settings, tmp_path)
    proc.start()
    wait_until_online(node_settings, proc)
    yield proc
    proc.stop()


def wait_until_online(settings: NodeSettings, proc: ServiceProcess) -> None:
    watcher, got = subscribe(settings, "mdx/v1/status/ingest")
    try:
        wait_for(
            lambda: (got[-1][1] if got else None) == {"service": "ingest", "status": "online"},
            20,
            lambda: f"ingest to come online; its log:\n{proc.log()}",
        )
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def subscribe(settings: NodeSettings, topic_filter: str) -> tuple[mqtt.Client, list[Any]]:
    got: list[Any] = []
    ready = threading.Event()
    client = mqtt_test_client()
    client.on_message = lambda _c, _u, m: got.append((m.topic, _json_or_text(m.payload)))
    client.on_subscribe = lambda *_a: ready.set()
    client.connect(settings.broker.host, settings.broker.port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    assert ready.wait(5)
    return client, got


def _json_or_text(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode()


# Each kind of malformed message, with the start of the reason it must be dead-lettered with.
def malformed(i: int) -> tuple[str, bytes, str]:
    p = "gps7"
    kind = i % 10
    if kind == 0:
        return topic(p, "position"), b"not json at all #%d" % i, "not JSON"
    if kind == 1:
        return topic(p, "position"), b'{"x": "\xff\xfe %d"}' % i, "not UTF-8"
    if kind == 2:
        big = envelope_bytes(p, "position", position(i, name="x" * 10), seq=None)
        return topic(p, "position"), big + b" " * (256 * 1024), "payload too large"
    if kind == 3:
        env = orjson.loads(envelope_bytes(p, "position", position(i)))
        env["type"] = "mdx.weather.v1"
        return topic(p, "position"), orjson.dumps(env), "schema: /type"
    if kind == 4:
        return (
            topic(p, "position"),
            envelope_bytes(p, "position", position(i, lat=91.0)),
            "schema: /data/lat",
        )
    if kind == 5:
        return (
            topic(p, "position"),
            envelope_bytes(p, "position", position(i, mmsi="123456789")),
            "schema: /data/mmsi",
        )
    if kind == 6:
        return (
            topic(p, "position"),
            envelope_bytes(p, "position", position(i, observed_at="2099-01-01T00:00:00Z")),
            "/data/observed_at",
        )
    if kind == 7:  # published under another producer's name
        return (
            topic(p, "position"),
            envelope_bytes("ais1", "position", position(i)),
            "source producer 'ais1' does not match topic producer 'gps7'",
        )
    if kind == 8:
        return (
            topic(p, "incident"),
            envelope_bytes(p, "position", position(i)),
            "type mdx.position.v1 does not belong on a 'incident' topic",
        )
    return topic(p, "incident"), orjson.dumps([i, "an array"]), "envelope is a JSON array"


def test_ten_thousand_mixed_messages_stored_exactly_once(
    node_settings: NodeSettings, ingest: ServiceProcess
) -> None:
    """10,000 messages: 10% malformed (10 ways), 5% duplicates, the rest valid."""
    rng = random.Random(7)
    valid: list[tuple[str, bytes]] = []
    for i in range(8_500):
        if i % 17 == 0:
            valid.append(
                (topic("patrol1", "incident"), envelope_bytes("patrol1", "incident", incident(i)))
            )
        else:
            valid.append(
                (topic("ais1", "position"), envelope_bytes("ais1", "position", position(i)))
            )
    bad = [malformed(i) for i in range(1_000)]
    duplicates = rng.sample(valid, 500)
    messages = valid + [(t, b) for t, b, _ in bad] + duplicates
    rng.shuffle(messages)
    assert len(messages) == 10_000

    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    assert publisher.publish_all(messages) == 10_000
    publisher.close()

    url = node_settings.database.url
    n_incidents = sum(1 for t, _ in valid if t.endswith("/incident"))
    n_positions = len(valid) - n_incidents

    def counts() -> tuple[int, int, int]:
        return tuple(
            scalar(url, f"SELECT count(*) FROM {t}")  # type: ignore[return-value]
            for t in ("positions", "incidents", "dead_letters")
        )

    wait_for(
        lambda: counts() == (n_positions, n_incidents, 1_000),
        timeout=90,
        what=lambda: (
            f"(positions, incidents, dead letters) {counts()} to become "
            f"{(n_positions, n_incidents, 1_000)}"
        ),
    )
    assert scalar(url, "SELECT count(DISTINCT (source, event_id)) FROM positions") == n_positions
    assert scalar(url, "SELECT count(*) FROM incident_versions") == n_incidents
    assert scalar(url, "SELECT count(DISTINCT mmsi) FROM vessel_latest") == scalar(
        url, "SELECT count(DISTINCT mmsi) FROM positions"
    )
    for t, payload, reason in bad:
        stored = scalar(
            url, "SELECT reason FROM dead_letters WHERE topic = %s AND payload = %s", t, payload
        )
        assert stored is not None and reason in stored, (reason, stored)


def test_receipts_and_dead_letters_are_published(
    node_settings: NodeSettings, ingest: ServiceProcess
) -> None:
    watcher, got = subscribe(node_settings, "mdx/v1/+/+")
    messages = [
        (topic("ais2", "position"), envelope_bytes("ais2", "position", position(i), seq=i))
        for i in range(1, 51)
    ]
    bad_payload = envelope_bytes("ais2", "position", position(51, lon=181.0), seq=51)
    messages.append((topic("ais2", "position"), bad_payload))
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    publisher.publish_all(messages)
    publisher.close()

    def last_receipt() -> int:
        seqs = [p["seq"] for t, p in got if t == "mdx/v1/receipt/ais2"]
        return max(seqs, default=0)

    wait_for(lambda: last_receipt() == 51, 20, "receipt 51")
    dead = [p for t, p in got if t == "mdx/v1/deadletter/ais2"]
    wait_for(
        lambda: len([1 for t, _ in got if t == "mdx/v1/deadletter/ais2"]) == 1,
        10,
        "one dead letter",
    )
    dead = [p for t, p in got if t == "mdx/v1/deadletter/ais2"]
    assert base64.b64decode(dead[0]["payload_base64"]) == bad_payload
    assert dead[0]["reason"].startswith("schema: /data/lon")
    assert (
        scalar(
            node_settings.database.url, "SELECT seq FROM producer_receipts WHERE producer = 'ais2'"
        )
        == 51
    )
    watcher.loop_stop()


def test_incident_versions_only_move_forward(
    node_settings: NodeSettings, ingest: ServiceProcess
) -> None:
    """Version 3 then a late version 2: the incident stays at 3, both versions are kept."""
    url = node_settings.database.url
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    for version, status in ((1, "reported"), (3, "responding"), (2, "acknowledged")):
        publisher.publish_all(
            [
                (
                    topic("ops", "incident"),
                    envelope_bytes("ops", "incident", incident(42, version=version, status=status)),
                )
            ]
        )
        wait_for(
            lambda v=version: (
                scalar(url, "SELECT count(*) FROM incident_versions WHERE version = %s", v) == 1
            ),
            10,
            f"version {version}",
        )
    publisher.close()
    assert scalar(url, "SELECT version FROM incidents") == 3
    assert scalar(url, "SELECT status FROM incidents") == "responding"
    assert scalar(url, "SELECT count(*) FROM incident_versions") == 3


def test_a_second_envelope_for_a_stored_version_is_dead_lettered(
    node_settings: NodeSettings, ingest: ServiceProcess
) -> None:
    """Same incident, same version, different content: the first wins, the second is kept
    as a dead letter that names the holder, not dropped."""
    url = node_settings.database.url
    first = envelope_bytes("ops", "incident", incident(7, title="Trawler without lights"))
    second = envelope_bytes("ops2", "incident", incident(7, title="Trawler, lights on"))
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    publisher.publish_all([(topic("ops", "incident"), first)])
    wait_for(lambda: scalar(url, "SELECT count(*) FROM incidents") == 1, 10, "the first")
    publisher.publish_all([(topic("ops2", "incident"), second)])
    wait_for(lambda: scalar(url, "SELECT count(*) FROM dead_letters") == 1, 10, "the second")
    publisher.close()
    assert scalar(url, "SELECT data->>'title' FROM incidents") == "Trawler without lights"
    assert scalar(url, "SELECT count(*) FROM incident_versions") == 1
    reason = scalar(url, "SELECT reason FROM dead_letters WHERE payload = %s", second)
    first_id = orjson.loads(first)["id"]
    assert reason == (
        f"incident {uuid.UUID(int=7, version=4)} version 1 is already stored from another "
        f"envelope (urn:mdx:jcg:ops {first_id}); raise the version"
    )

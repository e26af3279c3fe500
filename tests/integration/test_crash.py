"""Crashes in the middle of a burst: `kill -9` of ingest, then of the broker. Nothing is lost,
nothing is stored twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mdx.core.producer import Producer
from mdx.core.settings import NodeSettings
from tests.conftest import Broker, mqtt_test_credentials
from tests.integration.harness import RawPublisher, ServiceProcess, scalar, wait_for
from tests.integration.test_ingest import envelope_bytes, position, topic, wait_until_online

BURST = 20_000

pytestmark = pytest.mark.slow


def stored(url: str) -> tuple[int, int]:
    """(rows, distinct envelopes) in the position history."""
    return (
        scalar(url, "SELECT count(*) FROM positions"),
        scalar(url, "SELECT count(DISTINCT (source, event_id)) FROM positions"),
    )


def test_kill_ingest_mid_burst_loses_and_duplicates_nothing(
    node_settings: NodeSettings, tmp_path: Path
) -> None:
    url = node_settings.database.url
    ingest = ServiceProcess("ingest", node_settings, tmp_path)
    ingest.start()
    wait_until_online(node_settings, ingest)
    messages = [
        (topic("ais1", "position"), envelope_bytes("ais1", "position", position(i)))
        for i in range(BURST)
    ]
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    acked: list[int] = []
    burst = threading.Thread(target=lambda: acked.append(publisher.publish_all(messages)))
    burst.start()
    try:
        wait_for(lambda: stored(url)[0] >= 2_000, 60, "the first 2,000 rows")
        ingest.kill()
        at_kill = stored(url)[0]
        assert at_kill < BURST, "the burst finished before the kill: the test proves nothing"
        ingest.start()
        burst.join(timeout=120)
        assert acked == [BURST]
        wait_for(lambda: stored(url)[0] >= BURST, 120, lambda: f"{BURST} rows, have {stored(url)}")
        assert stored(url) == (BURST, BURST)
        assert scalar(url, "SELECT count(*) FROM vessel_latest") == BURST  # one mmsi each
        assert scalar(url, "SELECT count(*) FROM dead_letters") == 0
    finally:
        publisher.close()
        ingest.stop()


def test_kill_broker_mid_burst_producer_republishes_until_receipted(
    node_settings: NodeSettings, mqtt_broker: Broker, tmp_path: Path
) -> None:
    url = node_settings.database.url
    ingest = ServiceProcess("ingest", node_settings, tmp_path)
    ingest.start()
    wait_until_online(node_settings, ingest)
    producer = Producer(
        "jcg",
        "ais9",
        mqtt_broker.host,
        mqtt_broker.port,
        credentials=mqtt_test_credentials(),  # the observer may publish as ais9
        republish_after_s=3.0,
    )
    producer.start()
    burst = threading.Thread(
        target=lambda: [producer.publish("position", position(i)) for i in range(BURST)]
    )
    burst.start()
    try:
        wait_for(lambda: stored(url)[0] >= 3_000, 60, "the first 3,000 rows")
        mqtt_broker.kill()
        at_kill = stored(url)[0]
        assert at_kill < BURST, "the burst finished before the kill: the test proves nothing"
        mqtt_broker.start()  # same port, same persistence folder
        burst.join(timeout=120)
        assert producer.flush(timeout=180), f"{producer.outstanding} never receipted"
        assert stored(url) == (BURST, BURST)
        assert producer.receipted == BURST
        assert producer.republished > 0
        assert scalar(url, "SELECT seq FROM producer_receipts WHERE producer = 'ais9'") == BURST
    finally:
        producer.close()
        ingest.stop()

"""The node's Mosquitto with the project's configuration: what it keeps, and for how long."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import Broker, mqtt_test_client
from tests.integration.harness import RawPublisher, wait_for


class Consumer:
    """An MQTT v5 subscriber with a persistent session, like ingest."""

    def __init__(self, broker: Broker, client_id: str, topic: str) -> None:
        self.got: list[bytes] = []
        self.subscribed = threading.Event()
        self.client = mqtt_test_client(client_id)
        self.client.on_message = lambda _c, _u, m: self.got.append(m.payload)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Broker, topic: str) -> list[Any]:
    c = Consumer(broker, "reader", topic)
    try:
        wait_for(lambda: bool(c.got), 5, f"the retained message on {topic}")
        return list(c.got)
    finally:
        c.close()


def test_backlog_of_an_offline_consumer_is_not_capped_at_1000(mqtt_broker: Broker) -> None:
    """Mosquitto's default queue (1,000) drops the rest of an offline consumer's backlog."""
    consumer = Consumer(mqtt_broker, "slow-consumer", "backlog/#")
    consumer.close()
    publisher = RawPublisher(mqtt_broker.host, mqtt_broker.port)
    publisher.publish_all((f"backlog/{i % 7}", b"%d" % i) for i in range(3_000))
    publisher.close()
    consumer = Consumer(mqtt_broker, "slow-consumer", "backlog/#")
    wait_for(
        lambda: len(consumer.got) >= 3_000, 30, lambda: f"3000 messages, got {len(consumer.got)}"
    )
    consumer.close()
    assert sorted(int(p) for p in consumer.got) == list(range(3_000))


def test_retained_state_survives_a_restart(mqtt_broker: Broker) -> None:
    publisher = RawPublisher(mqtt_broker.host, mqtt_broker.port)
    publisher.client.publish("state/x", b"kept", qos=1, retain=True).wait_for_publish(5)
    publisher.close()
    mqtt_broker.stop()  # a clean stop saves the database
    store = mqtt_broker.data_dir / "data" / "mosquitto.db"
    assert store.is_file() and store.stat().st_size > 0
    mqtt_broker.start()
    assert retained(mqtt_broker, "state/x") == [b"kept"]


def test_private_folder_keeps_persistence_by_running_as_root(tmp_path: Path) -> None:
    """pytest's tmp_path is private to root: the broker's own user could not save there."""
    broker = Broker(tmp_path / "private")
    broker.start()
    try:
        conf = (tmp_path / "private" / "mosquitto.conf").read_text()
        if os.geteuid() == 0:
            assert "user root" in conf.splitlines()
        publisher = RawPublisher(broker.host, broker.port)
        publisher.client.publish("state/y", b"kept", qos=1, retain=True).wait_for_publish(5)
        publisher.close()
        broker.stop()
        assert (tmp_path / "private" / "data" / "mosquitto.db").is_file()
        broker.start()
        assert retained(broker, "state/y") == [b"kept"]
    finally:
        broker.stop()


def test_rendered_config_uses_the_shared_policy(mqtt_broker: Broker) -> None:
    conf = (mqtt_broker.data_dir / "mosquitto.conf").read_text().splitlines()
    assert f"listener {mqtt_broker.port} 127.0.0.1" in conf
    include = next(line for line in conf if line.startswith("include_dir "))
    policy = Path(include.split(" ", 1)[1]) / "mdx.conf"
    text = policy.read_text().splitlines()
    for setting in ("persistence true", "max_queued_messages 0", "autosave_interval 10"):
        assert setting in text

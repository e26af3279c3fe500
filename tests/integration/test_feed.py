"""The AIS TCP feed service against a real Mosquitto: every line arrives, in order, through
random TCP chunking, several senders, a feed that drops and comes back, and a broker restart."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from operator import xor
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mdx.core.settings import NodeSettings
from mdx.feed import service as feed_service
from mdx.feed.config import FeedConfig
from mdx.feed.service import FeedService
from tests.conftest import Broker, free_port, mqtt_test_client
from tests.integration.harness import wait_for

PRODUCER = "ais-test-1"
TOPIC = f"mdx/v1/in/{PRODUCER}/ais"
STATUS = f"mdx/v1/status/feed-{PRODUCER}"
# Payloads of real position reports; the content is not checked here, only carried.
PAYLOADS = [
    "13u?etPv2;0n:dDPwUM1U1Cb069D",
    "15M67FC000G?ufbE`FepT@3n00Sa",
    "33aEP7@P00PD2wVMdDwO4?wf0000",
    "B52K>;h00Fc>jpUlNV@ikwpUoP06",
]


def _checksum(body: str) -> str:
    return f"{reduce(xor, body.encode(), 0):02X}"


def ais_lines(n: int, tag: str, seed: int = 1) -> list[bytes]:
    """`n` distinct AIVDM lines: a third with NMEA 4.0 tag blocks, some with NAIS trailing
    fields, one with bytes that are not UTF-8."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        body = f"AIVDM,1,1,,{'AB'[i % 2]},{rng.choice(PAYLOADS)},0"
        line = f"!{body}*{_checksum(body)}"
        if i % 3 == 0:
            block = f"s:{tag},c:{1714557600 + i}"
            line = f"\\{block}*{_checksum(block)}\\{line}"
        elif i % 7 == 1:
            line += f",s22,d-98,T21.1,x{i},r{tag},{1714557600 + i}"
        else:
            line += f",{tag}-{i}"  # makes every line unique
        raw = line.encode()
        lines.append(raw + b"\xff\xfe" if i == 5 else raw)
    return lines


def send_chunked(sock: socket.socket, lines: list[bytes], rng: random.Random) -> None:
    """Send the lines (CRLF, sometimes LF) cut at random places into random-sized chunks."""
    data = b"".join(line + rng.choice([b"\r\n", b"\r\n", b"\n"]) for line in lines)
    i = 0
    while i < len(data):
        n = rng.choice([1, 3, 17, 80, 81, 200, 1500, 9000])
        sock.sendall(data[i : i + n])
        i += n


class Subscriber:
    """A paho v5 subscriber on the feed's topic that splits each message back into lines."""

    def __init__(
        self, broker: Broker, topic: str = TOPIC, client_id: str = "", persistent: bool = False
    ) -> None:
        self.lines: list[bytes] = []
        self.messages = 0
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt_test_client(client_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if persistent:
            props.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=not persistent, properties=props)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert subscribed.wait(5)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages += 1
            self.lines.extend(bytes(msg.payload).split(b"\n"))

    def got(self) -> list[bytes]:
        with self.lock:
            return list(self.lines)

    def wait_for_lines(self, n: int, timeout: float = 10) -> list[bytes]:
        wait_for(lambda: len(self.got()) >= n, timeout, lambda: f"{n} lines, got {len(self.got())}")
        return self.got()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class FeedServer:
    """What an AIS receiver or `socat` relay is to the node: a TCP port the node dials."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()
        self.sock.settimeout(10)

    def accept(self) -> socket.socket:
        conn, _ = self.sock.accept()
        return conn

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def settings(mqtt_broker: Broker) -> NodeSettings:
    """Node jcg with the feed's producer among the broker's identities (its password)."""
    mqtt_broker.feeds.append(PRODUCER)
    mqtt_broker.reload()
    return mqtt_broker.settings


@contextmanager
def running(service: FeedService) -> Iterator[FeedService]:
    errors: list[BaseException] = []

    def main() -> None:
        try:
            service.run()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(15)
        assert not thread.is_alive(), "the feed service did not stop"
    assert not errors, errors


def retained(broker: Broker, topic: str) -> dict[str, Any]:
    sub = Subscriber(broker, topic)
    try:
        wait_for(lambda: bool(sub.got()), 5, f"the retained message on {topic}")
        return dict(orjson.loads(sub.got()[-1]))
    finally:
        sub.close()


def test_connect_mode_forwards_every_line_in_order(
    mqtt_broker: Broker, settings: NodeSettings
) -> None:
    server = FeedServer()
    sub = Subscriber(mqtt_broker)
    lines = ais_lines(1000, "r003669945")
    stop = threading.Event()
    feed = FeedConfig(producer=PRODUCER, connect=f"127.0.0.1:{server.port}")
    thread = threading.Thread(target=feed_service.run, args=(settings, feed, stop), daemon=True)
    thread.start()
    try:
        conn = server.accept()
        send_chunked(conn, lines, random.Random(7))
        got = sub.wait_for_lines(1000)
        assert len(got) == 1000
        assert got == lines  # in order, byte for byte (the non-UTF-8 line too)
        assert sub.messages < 1000  # batched
        status = retained(mqtt_broker, STATUS)
        assert status["service"] == f"feed-{PRODUCER}" and status["status"] == "online"
        conn.close()
    finally:
        stop.set()
        thread.join(15)
        server.close()
        sub.close()
    assert not thread.is_alive()
    assert retained(mqtt_broker, STATUS) == {"service": f"feed-{PRODUCER}", "status": "offline"}
    assert len(sub.got()) == 1000  # and nothing more


def test_listen_mode_takes_several_senders_at_once(
    mqtt_broker: Broker, settings: NodeSettings
) -> None:
    port = free_port()
    service = FeedService(settings, FeedConfig(producer=PRODUCER, listen=f"127.0.0.1:{port}"))
    sub = Subscriber(mqtt_broker)
    sent = {"stationA": ais_lines(300, "stationA", 1), "stationB": ais_lines(300, "stationB", 2)}
    start = threading.Barrier(2)

    def sender(name: str, seed: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            start.wait(5)
            send_chunked(s, sent[name], random.Random(seed))

    with running(service):
        assert service.listening.wait(5)
        senders = [
            threading.Thread(target=sender, args=(name, seed))
            for seed, name in enumerate(sorted(sent))
        ]
        for t in senders:
            t.start()
        for t in senders:
            t.join(10)
        got = sub.wait_for_lines(600)
        assert service.counters()["connections"] == 2
    sub.close()
    assert len(got) == 600
    for name, lines in sent.items():
        assert [line for line in got if name.encode() in line] == lines, name


def test_the_service_dials_again_when_the_feed_drops(
    mqtt_broker: Broker, settings: NodeSettings
) -> None:
    server = FeedServer()
    feed = FeedConfig(producer=PRODUCER, connect=f"127.0.0.1:{server.port}", reconnect_max_s=1)
    service = FeedService(settings, feed)
    sub = Subscriber(mqtt_broker)
    before, after = ais_lines(100, "before"), ais_lines(100, "after")
    with running(service):
        conn = server.accept()
        send_chunked(conn, before, random.Random(1))
        conn.close()
        server.close()  # the receiver goes away altogether...
        wait_for(lambda: service.counters()["lines_in"] == 100, 5, "the first 100 lines")
        server = FeedServer(server.port)  # ...and comes back
        conn = server.accept()
        send_chunked(conn, after, random.Random(2))
        got = sub.wait_for_lines(200)
        counters = service.counters()
        conn.close()
        server.close()
    sub.close()
    assert got == before + after
    assert counters["reconnects"] == 1 and counters["connections"] == 2


def test_lines_that_come_while_the_broker_restarts_are_not_lost(
    mqtt_broker: Broker, settings: NodeSettings
) -> None:
    server = FeedServer()
    service = FeedService(
        settings, FeedConfig(producer=PRODUCER, connect=f"127.0.0.1:{server.port}")
    )
    # A persistent session: the broker keeps (and saves) what comes for it while it is away.
    sub = Subscriber(mqtt_broker, client_id="feed-test-consumer", persistent=True)
    first, during = ais_lines(50, "first"), ais_lines(200, "during")
    with running(service):
        conn = server.accept()
        send_chunked(conn, first, random.Random(1))
        assert sub.wait_for_lines(50) == first
        wait_for(lambda: service.counters()["in_flight"] == 0, 5, "the PUBACKs of the first 50")
        sub.close()  # cleanly, so that nothing is in flight to it either

        mqtt_broker.stop()  # a clean stop saves the sessions
        send_chunked(conn, during, random.Random(2))
        wait_for(lambda: service.counters()["lines_in"] == 250, 5, "the 200 lines to be read")
        assert service.counters()["lines_out"] == 50  # held by the service meanwhile

        mqtt_broker.start()  # same port, same persistence folder
        wait_for(
            lambda: service.counters()["lines_out"] == 250,
            15,
            lambda: f"the 200 lines to be published: {service.counters()}",
        )
        counters = service.counters()
        conn.close()
    server.close()
    sub = Subscriber(mqtt_broker, client_id="feed-test-consumer", persistent=True)
    try:
        got = sub.wait_for_lines(200)
    finally:
        sub.close()
    assert got == during  # all 200, in order, once each
    assert counters["dropped"] == 0 and counters["broker_connects"] == 2

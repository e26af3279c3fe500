"""mdx's paho client with batched socket I/O (mdx.core.mqtt_client), against a real Mosquitto:
every message arrives once, whole and in order, however the reads split the stream; acks
written together reach the broker; and the buffer itself hands out exactly what was sent."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mdx.core.mqtt_client import READ_CHUNK, BufferedSocket, Client
from tests.conftest import Broker, mqtt_test_client

TOPIC = "test/batched"


def test_the_buffer_hands_out_the_stream_exactly() -> None:
    a, b = socket.socketpair()
    with a, b:
        stream = bytes(range(256)) * 20
        a.sendall(stream)
        buffered = BufferedSocket(b)
        got = [buffered.recv(1), buffered.recv(3)]
        assert buffered.pending() == len(stream) - 4
        got.append(buffered.recv(10_000))
        assert b"".join(got) == stream
        assert buffered.pending() == 0
        assert buffered.fileno() == b.fileno()  # the rest is the socket's
        a.close()
        assert buffered.recv(1) == b""  # closed, as from the socket itself


def _payload(i: int) -> bytes:
    # Sizes around and beyond one read (64 KiB), so packets straddle reads.
    size = (1, 100, 5_000, READ_CHUNK - 3, READ_CHUNK * 2 + 7)[i % 5]
    return i.to_bytes(4, "big") * (size // 4 + 1)


def _session(client_id: str) -> tuple[Client, list[paho.MQTTMessage], threading.Event]:
    client = mqtt_test_client(client_id, manual_ack=True)
    assert isinstance(client, Client)
    got: list[paho.MQTTMessage] = []
    subscribed = threading.Event()
    client.on_message = lambda _c, _u, m: got.append(m)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(TOPIC, qos=1)
    return client, got, subscribed


def _connect(client: Client, broker: Broker) -> None:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 300
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()


def _wait(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_messages_arrive_whole_and_acks_written_together_reach_the_broker(
    mqtt_broker: Broker,
) -> None:
    count = 800  # under the broker's 1,000 in flight, which the unacknowledging client holds
    acked_id, unacked_id = "batched-acked", "batched-unacked"
    sessions = {cid: _session(cid) for cid in (acked_id, unacked_id)}
    for client, _, subscribed in sessions.values():
        _connect(client, mqtt_broker)
        assert subscribed.wait(10)

    publisher = mqtt_test_client("batched-publisher")
    publisher.max_inflight_messages_set(200)
    publisher.connect(mqtt_broker.host, mqtt_broker.port)
    publisher.loop_start()
    infos = [publisher.publish(TOPIC, _payload(i), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(30)
    assert all(info.rc == paho.MQTT_ERR_SUCCESS for info in infos)
    publisher.loop_stop()
    publisher.disconnect()

    for _, got, _ in sessions.values():
        _wait(lambda got=got: len(got) >= count)
    for _, got, _ in sessions.values():
        assert [m.payload for m in got] == [_payload(i) for i in range(count)]

    acked, acked_got, _ = sessions[acked_id]
    for start in range(0, count, 400):  # as ingest does: one write per committed batch
        acked.ack_all([m.mid for m in acked_got[start : start + 400]])
    time.sleep(1)
    for client, _, _ in sessions.values():
        client.disconnect()
        client.loop_stop()

    # Back with the same sessions: what was acknowledged is gone, the rest comes again.
    again = {cid: _session(cid) for cid in sessions}
    for client, _, subscribed in again.values():
        _connect(client, mqtt_broker)
        assert subscribed.wait(10)
    _wait(lambda: len(again[unacked_id][1]) >= count)
    time.sleep(1)
    for client, _, _ in again.values():
        client.disconnect()
        client.loop_stop()
    assert len(again[acked_id][1]) == 0
    assert [m.payload for m in again[unacked_id][1]] == [_payload(i) for i in range(count)]

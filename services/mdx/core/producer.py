"""A small MQTT producer that loses nothing: it numbers its envelopes, keeps each until the
node's cumulative receipt covers it, and republishes what is not receipted after a timeout
or a reconnect. The node deduplicates on `(source, id)`, so republishing is safe.

Partners can use it as it is; it needs paho-mqtt, orjson and its credentials (mdx.core.mqtt).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from mdx.core import topics
from mdx.core.envelope import make_envelope
from mdx.core.mqtt import Credentials, client

log = logging.getLogger("mdx.producer")

# Mosquitto sends retained messages right after the SUBACK; this is how long we wait for ours.
RETAINED_RECEIPT_WAIT_S = 0.5


@dataclass(slots=True)
class _Outstanding:
    topic: str
    payload: bytes
    sent_at: float


class Producer:
    """Publishes envelopes for one producer of one node, with end-to-end receipts."""

    def __init__(
        self,
        node: str,
        producer: str,
        host: str,
        port: int,
        *,
        credentials: Credentials,
        republish_after_s: float = 10.0,
        max_outstanding: int = 20_000,
    ) -> None:
        self.node = node
        self.producer = producer
        self.republish_after_s = republish_after_s
        self.max_outstanding = max_outstanding
        self._host, self._port = host, port
        self._lock = threading.Condition()
        self._outstanding: dict[int, _Outstanding] = {}
        self._next_seq = 1
        self.receipted = 0
        self.republished = 0
        self._receipt_seen = threading.Event()
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        # The broker knows it by `credentials`: it may publish only under its own id.
        self._client = client(credentials, f"mdx-producer-{node}-{producer}")
        # paho runs out of message ids at 65,535 in flight; we bound far below that.
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_receipt
        self._ticker = threading.Thread(target=self._republish_loop, daemon=True)

    # -- lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Connect, learn the last receipt (retained at the broker) and continue after it."""
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"no connection to the broker at {self._host}:{self._port}")
        self._receipt_seen.wait(RETAINED_RECEIPT_WAIT_S)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        self._client.loop_stop()
        self._client.disconnect()

    # -- publishing ----------------------------------------------------------------
    def publish(self, kind: str, data: dict[str, Any], **markings: Any) -> dict[str, Any]:
        """Number, keep and publish one envelope; blocks while too many are unreceipted."""
        with self._lock:
            while len(self._outstanding) >= self.max_outstanding and not self._stop.is_set():
                self._lock.wait(0.5)
            seq = self._next_seq
            self._next_seq += 1
            envelope = make_envelope(
                self.node, self.producer, topics.KIND_TO_TYPE[kind], data, seq=seq, **markings
            )
            item = _Outstanding(
                topics.inbound(self.producer, kind), orjson.dumps(envelope), time.monotonic()
            )
            self._outstanding[seq] = item
        self._client.publish(item.topic, item.payload, qos=1)
        return envelope

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._outstanding)

    def flush(self, timeout: float) -> bool:
        """Wait until every envelope is receipted; False if some still are not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._outstanding:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.5))
        return True

    # -- callbacks -----------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        client.subscribe(topics.receipt(self.producer), qos=1)
        if self._ticker.is_alive():
            # A reconnect: what the broker held may be gone, so send again all not receipted.
            self._republish(older_than=0.0)

    def _on_subscribe(self, *_a: Any) -> None:
        self._subscribed.set()

    def _on_receipt(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            seq = int(orjson.loads(msg.payload)["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed receipt on %s", msg.topic)
            return
        with self._lock:
            if not self._receipt_seen.is_set():
                self._receipt_seen.set()
                if not self._outstanding and self._next_seq <= seq:
                    # A new run of a known producer: continue after the node's last receipt.
                    self._next_seq = seq + 1
            done = [s for s in self._outstanding if s <= seq]
            for s in done:
                del self._outstanding[s]
            self.receipted += len(done)
            self._lock.notify_all()

    def _republish_loop(self) -> None:
        while not self._stop.wait(min(1.0, self.republish_after_s / 2)):
            self._republish(older_than=self.republish_after_s)

    def _republish(self, older_than: float) -> None:
        now = time.monotonic()
        with self._lock:
            due = [o for o in self._outstanding.values() if now - o.sent_at >= older_than]
            for o in due:
                o.sent_at = now
        for o in due:
            self._client.publish(o.topic, o.payload, qos=1)
        if due:
            self.republished += len(due)
            log.info("republished %d unreceipted envelopes", len(due))

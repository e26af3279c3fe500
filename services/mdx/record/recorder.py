"""`mdx record`: write what a node's broker delivers to a recording, as it arrives.

The recorder logs in as the node's `recorder` identity, which may only read what the node
receives (mdx.node.acl), and subscribes plainly (not to ingest's shared subscription), so
the broker gives it a copy of each message and ingest still gets every one. A clean session
at QoS 1: it records from when it starts and keeps no backlog at the broker when it stops.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from mdx.core import mqtt, topics
from mdx.core.mqtt_client import Client
from mdx.core.settings import NodeSettings
from mdx.record.recording import Header, Message, RecordingWriter

IDENTITY = "recorder"


class RecorderError(RuntimeError):
    pass


def default_filters(node_id: str) -> list[str]:
    """What a node receives: its producers' reports and its partners' streams to it."""
    return [topics.INBOUND_FILTER, topics.share("+", node_id)]


class Recorder:
    """Records the messages of `filters` on the node's broker into a new file `out`."""

    def __init__(self, settings: NodeSettings, out: Path, filters: list[str] | None = None) -> None:
        self.settings = settings
        self.filters = filters or default_filters(settings.node.id)
        self.out = out
        self._writer: RecordingWriter | None = None
        self._started = 0.0
        self._ready = threading.Event()
        self._refused: list[str] = []
        self._client: Client = mqtt.node_client(
            settings, IDENTITY, f"mdx-{settings.node.id}-recorder-{os.getpid()}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @property
    def count(self) -> int:
        return self._writer.count if self._writer else 0

    def start(self, timeout: float = 10.0) -> None:
        """Open the file, connect and subscribe; RecorderError if the broker refuses. (Mosquitto
        grants any subscription and filters what it delivers by the ACL: a filter beyond the
        identity's rights records nothing rather than fails.)"""
        now = datetime.now(UTC)
        self._started = time.monotonic()
        self._writer = RecordingWriter(
            self.out, Header(self.settings.node.id, now, tuple(self.filters))
        )
        broker = self.settings.broker
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.connect_async(broker.host, broker.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        if not self._ready.wait(timeout) or self._refused:
            self.stop()
            self.out.unlink()  # nothing recorded: no file that says otherwise
            why = "; ".join(self._refused) or "no answer"
            raise RecorderError(
                f"could not record at {broker.host}:{broker.port} as {IDENTITY!r}: {why}"
            )

    def flush(self) -> None:
        if self._writer:
            self._writer.flush()

    def stop(self) -> int:
        """Disconnect and close the file; how many messages it holds."""
        self._client.disconnect()
        self._client.loop_stop()
        if self._writer:
            self._writer.close()
        return self.count

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._refused.append(f"the broker refused the connection: {rc}")
            self._ready.set()
            return
        client.subscribe([(f, 1) for f in self.filters])

    def _on_subscribe(self, _c: paho.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        for topic_filter, code in zip(self.filters, codes, strict=True):
            if code.is_failure:
                self._refused.append(f"subscription to {topic_filter} refused: {code}")
        self._ready.set()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        # Stamped on paho's thread as it reads the message; written before it is acked.
        arrived = time.monotonic() - self._started
        assert self._writer is not None
        self._writer.write(Message(arrived, msg.topic, bytes(msg.payload)))

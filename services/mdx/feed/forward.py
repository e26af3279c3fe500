"""Lines -> MQTT messages on the node's broker, batched, acknowledged, never buffered unbounded.

Lines wait in a bounded queue (`LineQueue`); one thread takes them into batches (`Batcher`: a
batch goes at `batch_lines` lines, at `MAX_BATCH_BYTES`, or `batch_ms` after its first line)
and publishes each at QoS 1, at most `MAX_INFLIGHT` unacknowledged at a time. paho resends
what was in flight when the broker comes back. While the broker is away the queue fills; when
it is full the oldest lines go (a live picture prefers fresh data), counted and logged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from mdx.core import mqtt as node_mqtt
from mdx.core.envelope import utc_now_iso
from mdx.core.mqtt import Credentials

log = logging.getLogger("mdx.feed")

# Unacknowledged messages at a time (paho resends them after a reconnect).
MAX_INFLIGHT = 100
# Ingest dead-letters a payload over 256 KiB (its default max_payload_bytes) whole: a batch of
# long lines is sent before it grows anywhere near that.
MAX_BATCH_BYTES = 64 * 1024
REPORT_INTERVAL_S = 30.0
DROP_LOG_INTERVAL_S = 10.0
# On stop: how long to wait for the broker to take what is still queued or in flight.
DRAIN_TIMEOUT_S = 5.0

Clock = Callable[[], float]


class LineQueue:
    """A bounded FIFO of lines; a put into a full queue drops the oldest lines, counted."""

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self.put_total = 0  # lines ever put
        self.dropped = 0  # lines pushed out, unsent, by newer ones
        self._lines: deque[bytes] = deque(maxlen=max_lines)
        # Also the forwarder's lock: it waits on it for lines, acks, connections and stop.
        self.cond = threading.Condition()

    def put(self, lines: list[bytes]) -> None:
        with self.cond:
            before = len(self._lines)
            self._lines.extend(lines)  # deque(maxlen) drops from the left: the oldest
            self.dropped += before + len(lines) - len(self._lines)
            self.put_total += len(lines)
            self.cond.notify_all()

    def __len__(self) -> int:
        with self.cond:
            return len(self._lines)

    def take(self, n: int) -> list[bytes]:
        """Up to `n` of the oldest lines, without waiting."""
        with self.cond:
            return self.take_locked(n)

    def take_locked(self, n: int) -> list[bytes]:
        """`take` for a caller that holds `cond`."""
        lines = self._lines
        return [lines.popleft() for _ in range(min(n, len(lines)))]

    def pop_locked(self) -> bytes | None:
        """The oldest line or None, for a caller that holds `cond`."""
        return self._lines.popleft() if self._lines else None


class Batcher:
    """Lines -> batches: a batch is complete at `max_lines` lines, when one more line would take
    it over `max_bytes` (lines joined by newlines), or `max_wait_s` after its first line."""

    def __init__(
        self,
        max_lines: int,
        max_wait_s: float,
        max_bytes: int = MAX_BATCH_BYTES,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_lines = max_lines
        self.max_wait_s = max_wait_s
        self.max_bytes = max_bytes
        self.clock = clock
        self._lines: list[bytes] = []
        self._bytes = 0
        self._due_at = 0.0

    def __len__(self) -> int:
        return len(self._lines)

    def push(self, line: bytes) -> list[list[bytes]]:
        """Add a line; returns the batches it completed (usually none, at most two)."""
        done: list[list[bytes]] = []
        size = len(line) + 1
        if self._lines and self._bytes + size > self.max_bytes + 1:
            done.append(self._take())
        if not self._lines:
            self._due_at = self.clock() + self.max_wait_s
        self._lines.append(line)
        self._bytes += size
        if len(self._lines) >= self.max_lines:
            done.append(self._take())
        return done

    def poll(self) -> list[bytes] | None:
        """The batch, if its time has come."""
        if self._lines and self.clock() >= self._due_at:
            return self._take()
        return None

    def due_in(self) -> float | None:
        """Seconds until the batch is due by time (0 if it is); None if there is none."""
        if not self._lines:
            return None
        return max(0.0, self._due_at - self.clock())

    def flush(self) -> list[bytes] | None:
        """The batch so far, whatever its size or age."""
        return self._take() if self._lines else None

    def _take(self) -> list[bytes]:
        lines, self._lines, self._bytes = self._lines, [], 0
        return lines


@dataclass(slots=True)
class ForwardCounters:
    messages_out: int = 0  # batches the broker acknowledged
    lines_out: int = 0  # lines in them
    refused: int = 0  # batches the broker refused (PUBACK reason code >= 0x80): lost
    broker_connects: int = 0


class Forwarder:
    """Publishes the lines put into `queue` on `topic` of the broker at host:port."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        credentials: Credentials,
        topic: str,
        status_topic: str,
        service: str,
        queue: LineQueue,
        batcher: Batcher,
        extra_counters: Callable[[], dict[str, int]] | None = None,
        max_inflight: int = MAX_INFLIGHT,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.credentials = credentials
        self.topic = topic
        self.status_topic = status_topic
        self.service = service
        self.queue = queue
        self.batcher = batcher
        self.extra_counters = extra_counters
        self.max_inflight = max_inflight
        self.on_failure = on_failure  # called if the publishing thread dies of a bug
        self.failed: BaseException | None = None
        self.counters = ForwardCounters()
        self._cond = queue.cond  # guards everything below
        # Unacknowledged messages, at most max_inflight: mid -> lines (0: a status message).
        self._pending: dict[int, int] = {}
        self._early: dict[int, bool] = {}  # acks that beat publish() returning: mid -> refused
        self._connected = False
        self._announce = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"{service}-forward", daemon=True)
        self._client: mqtt.Client | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        client = node_mqtt.client(self.credentials, self.client_id)
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)  # we bound what we hand it ourselves
        client.will_set(self.status_topic, self._status(b"offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client
        self._thread.start()

    def close(self) -> None:
        """Send what is queued (waiting up to DRAIN_TIMEOUT_S for the broker), then disconnect."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def snapshot(self) -> dict[str, int]:
        with self._cond:
            counters = {
                "lines_in": self.queue.put_total,
                "lines_out": self.counters.lines_out,
                "messages_out": self.counters.messages_out,
                "dropped": self.queue.dropped,
                "refused": self.counters.refused,
                "queued": len(self.queue) + len(self.batcher),
                "in_flight": len(self._pending),
                "broker_connects": self.counters.broker_connects,
            }
        return counters | (self.extra_counters() if self.extra_counters else {})

    # -- paho callbacks (its network thread) -----------------------------------------
    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        with self._cond:
            self._connected = True
            self._announce = True
            self.counters.broker_connects += 1
            self._cond.notify_all()
        log.info("connected to the broker at %s:%d", self.host, self.port)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        with self._cond:
            self._connected = False
            stopping = self._stopping
        if not stopping:
            log.warning("disconnected from the broker: %s", rc)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._cond:
            lines = self._pending.pop(mid, None)
            if lines is None:
                self._early[mid] = rc.is_failure
                return
            self._acked(lines, rc.is_failure, rc)
            self._cond.notify_all()

    def _acked(self, lines: int, refused: bool, rc: Any) -> None:
        if not lines:
            return
        if refused:
            self.counters.refused += 1
            log.error("the broker refused a batch of %d lines: %s", lines, rc)
        else:
            self.counters.messages_out += 1
            self.counters.lines_out += lines

    # -- the publishing thread -------------------------------------------------------
    def _publish(self, payload: bytes, lines: int, retain: bool = False) -> None:
        assert self._client is not None
        topic = self.status_topic if lines == 0 else self.topic
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        # NO_CONN: paho keeps the message and sends it once connected again.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.error("could not publish %d lines: %s", lines, mqtt.error_string(info.rc))
            return
        with self._cond:
            if info.mid in self._early:
                self._acked(lines, self._early.pop(info.mid), "refused")
            else:
                self._pending[info.mid] = lines

    def _status(self, status: bytes, counters: dict[str, int] | None = None) -> bytes:
        body: dict[str, Any] = {"service": self.service, "status": status.decode()}
        if counters is not None:
            body |= {"time": utc_now_iso(), "counters": counters}
        return orjson.dumps(body)

    def _log_counters(self) -> dict[str, int]:
        counters = self.snapshot()
        log.info("%s: %s", self.service, ", ".join(f"{k} {v}" for k, v in counters.items()))
        return counters

    def _report(self) -> None:
        counters = self._log_counters()
        if self._connected:
            self._publish(self._status(b"online", counters), 0, retain=True)

    def _run(self) -> None:
        queue = self.queue
        ready: deque[list[bytes]] = deque()
        next_report = time.monotonic() + REPORT_INTERVAL_S
        next_drop_log = 0.0
        dropped_logged = 0
        drain_until: float | None = None
        try:
            while True:
                now = time.monotonic()
                if now >= next_report:
                    next_report = now + REPORT_INTERVAL_S
                    self._report()
                if queue.dropped != dropped_logged and now >= next_drop_log:
                    log.warning(
                        "queue full (%d lines): dropped the %d oldest lines (%d in all)",
                        queue.max_lines,
                        queue.dropped - dropped_logged,
                        queue.dropped,
                    )
                    dropped_logged = queue.dropped
                    next_drop_log = now + DROP_LOG_INTERVAL_S
                with self._cond:
                    announce, self._announce = self._announce and self._connected, False
                if announce:
                    self._publish(self._status(b"online", self.snapshot()), 0, retain=True)
                with self._cond:
                    if not ready:
                        self._fill(ready)
                    can_send = self._connected and len(self._pending) < self.max_inflight
                    if not (ready and can_send):
                        if self._stopping:
                            drain_until = drain_until or now + DRAIN_TIMEOUT_S
                            if (not ready and not self._pending) or now >= drain_until:
                                break
                        timeout = min(next_report - now, 0.5)
                        if not ready and (due := self.batcher.due_in()) is not None:
                            timeout = min(timeout, due)
                        self._cond.wait(max(timeout, 0.001))
                        continue
                    batch = ready.popleft()
                self._publish(b"\n".join(batch), len(batch))
        except BaseException as e:
            self.failed = e
            log.exception("the publishing thread failed")
            if self.on_failure is not None:
                self.on_failure()
        finally:
            self._shut_down(sum(map(len, ready)))

    def _fill(self, ready: deque[list[bytes]]) -> None:
        """Move queued lines into the batcher until a batch is ready (or the queue is empty)."""
        while not ready and (line := self.queue.pop_locked()) is not None:
            ready.extend(self.batcher.push(line))
        if not ready and (batch := self.batcher.poll() or self._stopping_flush()):
            ready.append(batch)

    def _stopping_flush(self) -> list[bytes] | None:
        return self.batcher.flush() if self._stopping else None

    def _shut_down(self, unsent_ready: int) -> None:
        client = self._client
        assert client is not None
        unsent = unsent_ready + len(self.queue) + len(self.batcher)
        with self._cond:
            in_flight = sum(self._pending.values())
            connected = self._connected
        if unsent or in_flight:
            log.warning(
                "stopping with %d lines unsent and %d unacknowledged (the broker is away)",
                unsent,
                in_flight,
            )
        self._log_counters()
        try:
            if connected and self.failed is None:
                offline = self._status(b"offline")
                info = client.publish(self.status_topic, offline, qos=1, retain=True)
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(1.0)
        finally:
            if self.failed is None:
                client.disconnect()
            else:  # ask the broker to publish our will ("offline")
                client.disconnect(
                    ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
                )
            client.loop_stop()

"""`mdx replay`: publish a recording's messages again, at its pace times `speed` or as fast
as the broker takes them, and wait until the broker has acknowledged every one.

The schedule is open-loop, as a load generator's: message i is due at
`start + (t_i - t_first) / speed`, fixed before the first is sent, so a late message does not
push the ones after it back (no drift builds up); how late the latest one went out is
reported. At QoS 1 with a bounded window of unacknowledged messages, a broker that cannot
keep up slows the replay down rather than filling memory, which the lateness shows.

By default only producers' inbound topics are replayed: a partner's share message is signed
for its recipient and refused as a replay once its validity or sequence has passed, so it
only means something to the node it was addressed to, once. The `replay` identity
(mdx.node.acl) may publish on the inbound topics and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho

from mdx.core import mqtt, topics
from mdx.core.mqtt import Credentials
from mdx.core.settings import NodeSettings
from mdx.record.recording import Message

IDENTITY = "replay"
# Unacknowledged messages at most: enough to keep a local broker busy, far below paho's
# 65,535 message ids.
WINDOW = 1000
MAX_REFUSALS_KEPT = 5


class ReplayError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class ReplayReport:
    sent: int
    skipped: int  # not inbound topics, left out (only_inbound)
    refused: int  # PUBACKs that said no (e.g. not authorised)
    speed: float | None  # None: as fast as possible
    schedule_s: float  # when the last message was due, counted from the first
    elapsed_s: float  # from the first publish to the last PUBACK
    max_late_s: float  # the most any message went out after it was due (0 without a pace)
    refusals: list[str] = dataclasses.field(default_factory=list)


def select(messages: Sequence[Message], only_inbound: bool) -> list[Message]:
    """The messages to replay: with `only_inbound`, those on producers' inbound topics."""
    if not only_inbound:
        return list(messages)
    return [m for m in messages if topics.parse_inbound(m.topic) is not None]


class Replayer:
    """A connection to a node's broker that replays recordings (as `replay` by default)."""

    def __init__(
        self,
        settings: NodeSettings,
        credentials: Credentials | None = None,
        window: int = WINDOW,
    ) -> None:
        self.settings = settings
        self.window = window
        creds = credentials or mqtt.credentials(settings, IDENTITY)
        self._client = mqtt.client(creds, f"mdx-{settings.node.id}-replay-{os.getpid()}")
        self._client.max_inflight_messages_set(window)
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._acks = threading.Condition()
        self._acked = 0
        self._refused = 0
        self._refusals: list[tuple[int, str]] = []  # (which PUBACK, its reason)
        self._connected = threading.Event()
        self._connect_error = ""

    def connect(self, timeout: float = 10.0) -> None:
        broker = self.settings.broker
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.connect_async(broker.host, broker.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        if not self._connected.wait(timeout) or self._connect_error:
            self.close()
            why = self._connect_error or "no answer"
            raise ReplayError(f"could not connect to {broker.host}:{broker.port}: {why}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Replayer:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def replay(
        self,
        messages: Sequence[Message],
        speed: float | None = 1.0,
        on_sent: Callable[[int], None] | None = None,
        ack_timeout: float = 60.0,
    ) -> ReplayReport:
        """Publish `messages` (already selected) in order on the schedule above; `speed`
        None: as fast as possible. `on_sent(n)` is told after each publish."""
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0, not {speed}")
        with self._acks:
            acked0, refused0, self._refusals = self._acked, self._refused, []
        first_t = messages[0].t if messages else 0.0
        started = time.monotonic()
        max_late = 0.0
        for sent, message in enumerate(messages):
            due = started + (message.t - first_t) / speed if speed else started
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._acks:  # the window: wait for PUBACKs before sending more
                while sent - (self._acked - acked0) >= self.window:
                    self._acks.wait(1.0)
            if speed:
                max_late = max(max_late, time.monotonic() - due)
            self._client.publish(message.topic, message.payload, qos=1)
            if on_sent:
                on_sent(sent + 1)
        deadline = time.monotonic() + ack_timeout
        with self._acks:
            while self._acked - acked0 < len(messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ReplayError(
                        f"the broker acknowledged {self._acked - acked0} of {len(messages)} "
                        f"messages within {ack_timeout} s"
                    )
                self._acks.wait(min(left, 1.0))
            refused = self._refused - refused0
            refusals = [f"{messages[n - acked0].topic}: {why}" for n, why in self._refusals]
        elapsed = time.monotonic() - started
        span = messages[-1].t - first_t if messages else 0.0
        return ReplayReport(
            sent=len(messages),
            skipped=0,
            refused=refused,
            speed=speed,
            schedule_s=span / speed if speed else 0.0,
            elapsed_s=elapsed,
            max_late_s=max_late,
            refusals=refusals,
        )

    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._connect_error = f"the broker refused the connection: {rc}"
        self._connected.set()

    def _on_publish(self, _c: paho.Client, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        with self._acks:
            if rc.is_failure:
                self._refused += 1
                if len(self._refusals) < MAX_REFUSALS_KEPT:
                    # A broker acknowledges in the order it received: the n-th PUBACK is the
                    # n-th message's (MQTT 5, 4.6).
                    self._refusals.append((self._acked, str(rc)))
            self._acked += 1
            self._acks.notify_all()


def replay(
    settings: NodeSettings,
    messages: Sequence[Message],
    *,
    speed: float | None = 1.0,
    only_inbound: bool = True,
    credentials: Credentials | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Replay `messages` (a recording's) into the node of `settings` and report how it went."""
    chosen = select(messages, only_inbound)
    with Replayer(settings, credentials) as replayer:
        report = replayer.replay(chosen, speed, on_sent)
    return dataclasses.replace(report, skipped=len(messages) - len(chosen))

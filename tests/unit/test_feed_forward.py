"""Batching lines into MQTT messages, the bounded queue, and the forwarder's flow control."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
import paho.mqtt.client as mqtt
import pytest

from mdx.core.mqtt import Credentials
from mdx.feed.forward import Batcher, Forwarder, LineQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_complete_at_its_line_count() -> None:
    batcher = Batcher(max_lines=3, max_wait_s=0.1, clock=Clock())
    assert batcher.push(b"a") == []
    assert batcher.push(b"b") == []
    assert batcher.push(b"c") == [[b"a", b"b", b"c"]]
    assert len(batcher) == 0
    assert batcher.due_in() is None
    assert batcher.poll() is None


def test_a_batch_is_due_its_wait_after_its_first_line() -> None:
    clock = Clock()
    batcher = Batcher(max_lines=100, max_wait_s=0.125, clock=clock)
    batcher.push(b"a")
    clock.now += 0.0625
    batcher.push(b"b")  # a later line does not postpone the batch
    assert batcher.poll() is None
    assert batcher.due_in() == 0.0625
    clock.now += 0.0625
    assert batcher.due_in() == 0
    assert batcher.poll() == [b"a", b"b"]
    assert batcher.poll() is None
    # The next batch's clock starts at its own first line.
    clock.now += 5
    batcher.push(b"c")
    assert batcher.poll() is None
    clock.now += 0.125
    assert batcher.poll() == [b"c"]


def test_a_batch_never_grows_past_its_byte_bound() -> None:
    batcher = Batcher(max_lines=100, max_wait_s=1, max_bytes=10, clock=Clock())
    assert batcher.push(b"1234") == []
    assert batcher.push(b"12345") == []  # "1234\n12345": 10 bytes, at the bound
    assert batcher.push(b"1") == [[b"1234", b"12345"]]
    assert batcher.push(b"x" * 50) == [[b"1"]]  # one long line goes alone
    assert batcher.flush() == [b"x" * 50]
    assert batcher.flush() is None


def test_max_lines_of_one_with_a_byte_split_gives_two_batches() -> None:
    batcher = Batcher(max_lines=2, max_wait_s=1, max_bytes=4, clock=Clock())
    assert batcher.push(b"abc") == []
    assert batcher.push(b"defg") == [[b"abc"]]
    one = Batcher(max_lines=1, max_wait_s=1, clock=Clock())
    assert one.push(b"a") == [[b"a"]]


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    queue = LineQueue(5)
    queue.put([b"%d" % i for i in range(3)])
    assert queue.dropped == 0
    queue.put([b"%d" % i for i in range(3, 9)])
    assert queue.dropped == 4
    assert queue.put_total == 9
    assert len(queue) == 5
    assert queue.take(2) == [b"4", b"5"]
    queue.put([b"9", b"10", b"11"])
    assert queue.dropped == 5
    assert queue.take(100) == [b"7", b"8", b"9", b"10", b"11"]
    assert queue.take(1) == []


def test_a_put_larger_than_the_queue_keeps_its_newest_lines() -> None:
    queue = LineQueue(3)
    queue.put([b"%d" % i for i in range(10)])
    assert queue.dropped == 7
    assert queue.take(10) == [b"7", b"8", b"9"]


# -- the forwarder against a fake paho client ------------------------------------------------


@dataclass
class Rc:
    is_failure: bool = False


@dataclass
class Info:
    mid: int
    rc: int = 0

    def wait_for_publish(self, timeout: float) -> None:
        pass


class FakeClient:
    """Records publishes; the test acknowledges them (or not) with `ack`."""

    on_connect: Any = None
    on_disconnect: Any = None
    on_publish: Any = None

    def __init__(self) -> None:
        self.published: list[tuple[int, str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.next_mid = 0

    def username_pw_set(self, *_a: Any) -> None: ...
    def max_inflight_messages_set(self, _n: int) -> None: ...
    def max_queued_messages_set(self, _n: int) -> None: ...
    def will_set(self, *_a: Any, **_k: Any) -> None: ...
    def reconnect_delay_set(self, **_k: Any) -> None: ...
    def connect_async(self, *_a: Any, **_k: Any) -> None: ...
    def loop_start(self) -> None: ...
    def loop_stop(self) -> None: ...
    def disconnect(self, *_a: Any) -> None: ...

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> Info:
        with self.lock:
            self.next_mid += 1
            self.published.append((self.next_mid, topic, payload, retain))
            return Info(self.next_mid)

    def batches(self) -> list[tuple[int, bytes]]:
        with self.lock:
            return [(mid, p) for mid, t, p, _r in self.published if t == "feed/topic"]

    def ack(self, mid: int) -> None:
        self.on_publish(self, None, mid, Rc(), None)


def wait_for(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    made: list[FakeClient] = []

    def make(*a: Any, **k: Any) -> FakeClient:
        made.append(FakeClient())
        return made[-1]

    monkeypatch.setattr("mdx.core.mqtt.Client", make)
    return made


def connected(fwd: Forwarder, client: FakeClient) -> None:
    """What paho does when the broker accepts the connection."""
    fwd._on_connect(cast(mqtt.Client, client), None, None, Rc(), None)


def _forwarder(queue: LineQueue, max_inflight: int = 3) -> Forwarder:
    return Forwarder(
        host="h",
        port=1,
        client_id="c",
        credentials=Credentials("feed-x", "not-a-secret"),
        topic="feed/topic",
        status_topic="status/feed",
        service="feed-x",
        queue=queue,
        batcher=Batcher(max_lines=2, max_wait_s=0.01),
        max_inflight=max_inflight,
    )


def test_nothing_is_published_before_the_broker_is_there(fake: list[FakeClient]) -> None:
    queue = LineQueue(100)
    fwd = _forwarder(queue)
    fwd.start()
    client = fake[0]
    queue.put([b"l%d" % i for i in range(10)])
    time.sleep(0.05)
    assert client.published == []
    connected(fwd, client)
    # The status message went first (retained, "online"); it counts as in flight too.
    wait_for(lambda: len(client.batches()) == 2)
    mid, topic, payload, retain = client.published[0]
    assert topic == "status/feed" and retain
    assert orjson.loads(payload)["status"] == "online"
    time.sleep(0.05)
    assert len(client.batches()) == 2, "more than max_inflight unacknowledged"
    client.ack(mid)
    wait_for(lambda: len(client.batches()) == 3)
    time.sleep(0.05)
    assert len(client.batches()) == 3, "more than max_inflight unacknowledged"
    for mid, _ in client.batches():
        client.ack(mid)
    wait_for(lambda: len(client.batches()) == 5)
    for mid, _ in client.batches()[3:]:
        client.ack(mid)
    payloads = [p for _, p in client.batches()]
    assert b"\n".join(payloads).split(b"\n") == [b"l%d" % i for i in range(10)]
    wait_for(lambda: fwd.snapshot()["lines_out"] == 10)
    counters = fwd.snapshot()
    assert counters["messages_out"] == 5 and counters["in_flight"] == 0
    fwd.close()
    assert orjson.loads(client.published[-1][2])["status"] == "offline"


def test_an_ack_that_beats_publish_returning_is_not_lost(fake: list[FakeClient]) -> None:
    queue = LineQueue(100)
    fwd = _forwarder(queue, max_inflight=1)
    fwd.start()
    client = fake[0]
    original = client.publish

    def publish_and_ack(topic: str, payload: bytes, qos: int, retain: bool = False) -> Info:
        info = original(topic, payload, qos, retain)
        client.ack(info.mid)  # the PUBACK arrives before publish() returns
        return info

    client.publish = publish_and_ack  # type: ignore[method-assign]
    connected(fwd, client)
    queue.put([b"l%d" % i for i in range(6)])
    wait_for(lambda: fwd.snapshot()["lines_out"] == 6)
    assert fwd.snapshot()["in_flight"] == 0
    fwd.close()


def test_stop_sends_the_partial_batch(fake: list[FakeClient]) -> None:
    queue = LineQueue(100)
    fwd = Forwarder(
        host="h",
        port=1,
        client_id="c",
        credentials=Credentials("feed-x", "not-a-secret"),
        topic="feed/topic",
        status_topic="status/feed",
        service="feed-x",
        queue=queue,
        batcher=Batcher(max_lines=100, max_wait_s=60),
    )
    fwd.start()
    client = fake[0]
    connected(fwd, client)
    wait_for(lambda: len(client.published) == 1)
    client.ack(client.published[0][0])  # the status message
    queue.put([b"a", b"b", b"c"])
    time.sleep(0.05)
    assert client.batches() == []  # waits for more lines (60 s)
    closing = threading.Thread(target=fwd.close)
    closing.start()
    wait_for(lambda: len(client.batches()) == 1)
    client.ack(client.batches()[0][0])
    closing.join(5)
    assert not closing.is_alive()
    assert client.batches()[0][1] == b"a\nb\nc"


def test_a_failing_publisher_is_reported_not_hidden(fake: list[FakeClient]) -> None:
    failed = threading.Event()
    queue = LineQueue(100)
    fwd = _forwarder(queue)
    fwd.on_failure = failed.set
    fwd.start()
    client = fake[0]

    def broken(*_a: Any, **_k: Any) -> Info:
        raise RuntimeError("a bug")

    client.publish = broken  # type: ignore[method-assign]
    connected(fwd, client)
    assert failed.wait(5)
    assert isinstance(fwd.failed, RuntimeError)
    fwd.close()

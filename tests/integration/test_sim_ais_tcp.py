"""The AIS simulator's outputs over real sockets: the TCP feed server and the node's broker."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from mdx.ais import AisFeed, LineError, PositionReport, Skipped
from mdx.core import topics
from mdx.sim.ais import Batch, batches
from mdx.sim.ais_cli import RunOptions, TcpFeedServer, run
from mdx.sim.ais_scenarios import build_scenario
from tests.conftest import Broker, mqtt_test_client, mqtt_test_credentials

NOW = 1_767_225_600


def _batches(history_h: float = 0.25, live_s: int = 60) -> list[Batch]:
    s = build_scenario("kcg", now=NOW, vessels=6, history_h=history_h)
    return list(batches(s.messages(end=NOW + live_s), slice_s=10, live_after=NOW))


def _read_lines(sock: socket.socket, n: int, timeout: float = 5.0) -> list[str]:
    sock.settimeout(timeout)
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        buf += chunk
    return buf.decode("ascii").split("\r\n")[:n]


def _decode_clean(lines: list[str]) -> list[PositionReport]:
    out = AisFeed().feed("\n".join(lines), datetime.fromtimestamp(NOW, UTC))
    assert [d for d in out if isinstance(d, LineError | Skipped)] == []
    return [d for d in out if isinstance(d, PositionReport)]


def test_tcp_feed_sends_history_then_live_and_survives_departures() -> None:
    all_batches = _batches()
    history = [b for b in all_batches if b.last_at <= NOW]
    live = [b for b in all_batches if b.last_at > NOW]
    assert history and live
    server = TcpFeedServer("127.0.0.1", 0).start()
    try:
        for b in history:
            server.send(b)
        history_lines = [line for b in history for line in b.lines]

        with socket.create_connection(server.address) as a:
            got = _read_lines(a, len(history_lines))
            assert got == history_lines
            assert _decode_clean(got)

            # A client that connects and leaves at once does not disturb the others.
            gone = socket.create_connection(server.address)
            gone.close()
            for b in live:
                server.send(b)
            live_lines = [line for b in live for line in b.lines]
            assert _read_lines(a, len(live_lines)) == live_lines

            # A late client gets the history and live so far, whole lines, CRLF-terminated.
            with socket.create_connection(server.address) as late:
                got = _read_lines(late, len(history_lines) + len(live_lines))
                assert got == history_lines + live_lines
        deadline = time.monotonic() + 5
        while server.clients and time.monotonic() < deadline:
            server.send(live[-1])  # a write notices the closed sockets
            time.sleep(0.05)
        assert server.clients == 0
        assert server.served == 3
    finally:
        server.close()


def test_run_publishes_raw_lines_to_the_broker(mqtt_broker: Broker, tmp_path: Path) -> None:
    received: list[bytes] = []
    subscribed = threading.Event()
    sub = mqtt_test_client("test-ais-sub")
    sub.on_connect = lambda c, *_: c.subscribe(topics.inbound("ais-sim", "ais"), qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_message = lambda c, u, msg: received.append(msg.payload)
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        out = tmp_path / "ais.nmea"
        stats = run(
            RunOptions(
                scenario="uscg",
                history_h=0.25,
                duration_s=1,
                vessels=6,
                max_rate=0,
                out=out,
                broker=(mqtt_broker.host, mqtt_broker.port),
                credentials=mqtt_test_credentials(),
                client_id="test-ais-sim",
            )
        )
        assert stats["mqtt_unacked"] == 0
        expected = out.read_text().splitlines()
        deadline = time.monotonic() + 5
        while len(received) < stats["mqtt_published"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) == stats["mqtt_published"]
        lines = [line for p in received for line in p.decode("ascii").split("\n")]
        assert lines == expected
        assert all(len(p.decode().split("\n")) <= 50 for p in received)
        assert _decode_clean(lines)
    finally:
        sub.loop_stop()
        sub.disconnect()

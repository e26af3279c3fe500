"""`mdx sim-ais`: simulated AIS traffic as raw NMEA, to a node's broker, a TCP feed or a file.

At start the last `--history-h` hours of the scenario are sent as fast as `--max-rate` lets
them (tag-block times in the past), then the traffic goes on live at the real pace.

Outputs (any combination):
- MQTT (unless --no-mqtt): batches of lines, "\\n"-separated raw text, to
  `mdx/v1/in/{producer}/ais` on the node's broker; MQTT v5, QoS 1, each PUBACK awaited with a
  bounded number in flight. `mdx.core.producer.Producer` is not used: it wraps JSON envelopes
  numbered for receipts, and raw AIS lines carry no envelope.
- TCP (--tcp-listen HOST:PORT): a feed server like an AIS receiver or aggregator: every
  client gets CRLF-terminated lines, first what was sent in the history window, then live.
  A client that disconnects or cannot keep up is dropped; the others are not affected.
- File (--out FILE): the lines, one per line.

Only typer and the standard library are imported at module level, so that the `mdx` command
stays quick to start; the simulator itself is imported when the command runs.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

if TYPE_CHECKING:
    from mdx.core.mqtt import Credentials
    from mdx.core.settings import NodeSettings
    from mdx.sim.ais import Batch

log = logging.getLogger("mdx.sim.ais")

MAX_LINES_PER_MESSAGE = 50
HISTORY_SLICE_S = 10  # a history batch spans at most this many seconds of simulated time
LOG_EVERY_S = 60.0


class Sink(Protocol):
    def send(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


# -- MQTT ---------------------------------------------------------------------------------------


class MqttLineSink:
    """Publishes each batch as one MQTT v5 message (lines joined by "\\n") at QoS 1.

    At most `max_inflight` messages wait for their PUBACK: `send` blocks beyond that. paho
    keeps unacknowledged messages and sends them again after a reconnect, so nothing is lost
    while this process lives (the node may see a line twice after a reconnect).
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic: str,
        *,
        client_id: str,
        credentials: Credentials,
        max_inflight: int = 100,
    ) -> None:
        from mdx.core.mqtt import client

        self.topic = topic
        self.max_inflight = max(1, max_inflight)
        self._host, self._port = host, port
        self._cond = threading.Condition()
        self._outstanding: set[int] = set()
        self._early: set[int] = set()  # PUBACKs that came before publish() returned the mid
        self._connected = threading.Event()
        self.published = 0
        self.acked = 0
        self._client = client(credentials, client_id)
        self._client.max_inflight_messages_set(self.max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish

    def start(self, timeout: float = 10.0) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.connect_async(
            self._host, self._port, keepalive=30, clean_start=False, properties=props
        )
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.loop_stop()
            raise TimeoutError(f"no connection to the broker at {self._host}:{self._port}")

    def send(self, batch: Batch) -> None:
        with self._cond:
            while len(self._outstanding) >= self.max_inflight:
                self._cond.wait(1.0)
        # Not under our lock: paho calls on_publish holding its own, which publish() takes too.
        info = self._client.publish(self.topic, "\n".join(batch.lines).encode("ascii"), qos=1)
        with self._cond:
            self.published += 1
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._outstanding.add(info.mid)

    @property
    def outstanding(self) -> int:
        with self._cond:
            return len(self._outstanding)

    def flush(self, timeout: float) -> bool:
        """Wait for every PUBACK; False if some are still missing after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
        return True

    def close(self, timeout: float = 30.0) -> None:
        if not self.flush(timeout):
            log.warning("%d MQTT messages not acknowledged at exit", self.outstanding)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        log.info("connected to the broker at %s:%s", self._host, self._port)
        self._connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            self.acked += 1
            if mid in self._outstanding:
                self._outstanding.discard(mid)
            else:
                self._early.add(mid)
            self._cond.notify_all()


# -- TCP feed -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Client:
    sock: socket.socket
    address: str
    queue: queue.Queue[bytes | None]
    closed: threading.Event = field(default_factory=threading.Event)

    def drop(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(None)


class TcpFeedServer:
    """Serves the line stream to every connected client, CRLF-terminated.

    A client that connects gets the lines sent within the last `backlog_s` seconds of
    simulated time (the history, to begin with), then each batch as it is sent. A client
    whose queue of unsent batches exceeds `max_queue` (it reads too slowly) is dropped, as is
    one whose connection fails; the others go on.
    """

    def __init__(
        self, host: str, port: int, *, backlog_s: float = 4 * 3600, max_queue: int = 100_000
    ) -> None:
        self.backlog_s = backlog_s
        self.max_queue = max_queue
        self._lock = threading.Lock()
        self._backlog: collections.deque[tuple[int, bytes]] = collections.deque()
        self._clients: set[_Client] = set()
        self._stop = threading.Event()
        self._sock = socket.create_server((host, port), reuse_port=False)
        self._sock.settimeout(0.5)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self.served = 0
        self._thread = threading.Thread(target=self._accept_loop, name="ais-tcp", daemon=True)

    def start(self) -> TcpFeedServer:
        self._thread.start()
        log.info("AIS TCP feed on %s:%s", *self.address)
        return self

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def send(self, batch: Batch) -> None:
        data = ("\r\n".join(batch.lines) + "\r\n").encode("ascii")
        with self._lock:
            self._backlog.append((batch.last_at, data))
            while self._backlog and self._backlog[0][0] < batch.last_at - self.backlog_s:
                self._backlog.popleft()
            clients = list(self._clients)
        for c in clients:
            try:
                c.queue.put_nowait(data)
            except queue.Full:
                log.warning("TCP client %s cannot keep up: dropped", c.address)
                self._forget(c)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            self._forget(c)
        self._thread.join(timeout=2)

    def _forget(self, c: _Client) -> None:
        with self._lock:
            self._clients.discard(c)
        c.drop()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            c = _Client(sock, f"{addr[0]}:{addr[1]}", queue.Queue(self.max_queue))
            with self._lock:
                # Backlog and registration together: no batch is missed or sent twice.
                backlog = [data for _, data in self._backlog]
                self._clients.add(c)
                self.served += 1
            log.info("TCP client %s connected (%d batches of history)", c.address, len(backlog))
            threading.Thread(
                target=self._serve, args=(c, backlog), name=f"ais-tcp-{c.address}", daemon=True
            ).start()

    def _serve(self, c: _Client, backlog: list[bytes]) -> None:
        try:
            for data in backlog:
                if c.closed.is_set():
                    return
                c.sock.sendall(data)
            while not c.closed.is_set():
                item = c.queue.get()
                if item is None:
                    return
                c.sock.sendall(item)
        except OSError as e:
            log.info("TCP client %s gone (%s)", c.address, e)
        finally:
            self._forget(c)


# -- file ---------------------------------------------------------------------------------------


class FileSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("w", encoding="ascii", newline="\n")

    def send(self, batch: Batch) -> None:
        self._f.write("\n".join(batch.lines) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class ListSink:
    """Keeps the batches (tests)."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def send(self, batch: Batch) -> None:
        self.batches.append(batch)

    def close(self) -> None:
        pass


# -- pacing -------------------------------------------------------------------------------------


@dataclass
class PaceStats:
    history_lines: int = 0
    live_lines: int = 0
    batches: int = 0
    history_s: float = 0.0  # wall-clock time the history took to send


def pace(
    batches: Iterable[Batch],
    sinks: Sequence[Sink],
    *,
    live_after: float,
    max_rate: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> PaceStats:
    """Send each batch to every sink: batches up to `live_after` (the history) at most
    `max_rate` lines a second, later ones when the clock reaches their time."""
    stats = PaceStats()
    started = last_log = clock()
    live = False
    for batch in batches:
        if stop is not None and stop.is_set():
            break
        if batch.last_at <= live_after:
            if max_rate > 0:
                ahead = stats.history_lines / max_rate - (clock() - started)
                if ahead > 0:
                    sleep(ahead)
        else:
            if not live:
                live = True
                stats.history_s = clock() - started
                log.info(
                    "history sent: %d lines in %.1f s; live from now on",
                    stats.history_lines,
                    stats.history_s,
                )
            while (wait := batch.last_at - clock()) > 0:
                if stop is not None and stop.wait(min(wait, 1.0)):
                    return stats
                if stop is None:
                    sleep(wait)
        for sink in sinks:
            sink.send(batch)
        stats.batches += 1
        if live:
            stats.live_lines += len(batch.lines)
            if clock() - last_log >= LOG_EVERY_S:
                last_log = clock()
                log.info("live: %d lines sent so far", stats.live_lines)
        else:
            stats.history_lines += len(batch.lines)
    if not live:
        stats.history_s = clock() - started
    return stats


# -- run ----------------------------------------------------------------------------------------


@dataclass
class RunOptions:
    scenario: str
    producer: str = "ais-sim"
    seed: int = 1
    history_h: float = 4.0
    duration_s: float = 0.0  # of the live phase; 0: until stopped
    vessels: int = 60
    report_every_s: float = 60.0
    max_rate: float = 2000.0
    tcp_listen: tuple[str, int] | None = None
    out: Path | None = None
    mqtt: bool = True
    broker: tuple[str, int] = ("127.0.0.1", 18831)
    # The producer's MQTT identity (its id) and password; required when `mqtt` is on.
    credentials: Credentials | None = None
    client_id: str = "mdx-ais-sim"
    station: str | None = None
    zones_dir: Path | None = None
    now: int | None = None  # default: the clock at start


def run(opts: RunOptions, stop: threading.Event | None = None) -> dict[str, Any]:
    """Build the scenario, open the outputs, send history then live; return what was sent."""
    from mdx.core import topics
    from mdx.sim.ais import batches, default_zones_dir, load_zones
    from mdx.sim.ais_scenarios import build_scenario

    now = opts.now if opts.now is not None else int(time.time())
    zones_dir = opts.zones_dir if opts.zones_dir and opts.zones_dir.is_dir() else None
    if opts.zones_dir and zones_dir is None:
        log.warning("no zone folder %s: using %s", opts.zones_dir, default_zones_dir())
    scenario = build_scenario(
        opts.scenario,
        now=now,
        seed=opts.seed,
        vessels=opts.vessels,
        history_h=opts.history_h,
        report_every_s=opts.report_every_s,
        zones=load_zones(zones_dir),
        station=opts.station,
    )
    log.info(
        "scenario %s: %d vessels, history from %s s ago, station %s",
        scenario.name,
        len(scenario.vessels),
        now - scenario.start,
        scenario.station,
    )
    sinks: list[Sink] = []
    tcp: TcpFeedServer | None = None
    mqtt_sink: MqttLineSink | None = None
    try:
        if opts.out is not None:
            sinks.append(FileSink(opts.out))
        if opts.tcp_listen is not None:
            tcp = TcpFeedServer(*opts.tcp_listen, backlog_s=opts.history_h * 3600).start()
            sinks.append(tcp)
        if opts.mqtt:
            topic = topics.inbound(opts.producer, "ais")
            if opts.credentials is None:
                raise ValueError("publishing to the broker needs the producer's credentials")
            mqtt_sink = MqttLineSink(
                *opts.broker, topic, client_id=opts.client_id, credentials=opts.credentials
            )
            mqtt_sink.start()
            sinks.append(mqtt_sink)
            log.info("publishing to %s on %s:%s", topic, *opts.broker)
        end = None if opts.duration_s <= 0 else now + opts.duration_s
        stream = batches(
            scenario.messages(end=end),
            max_lines=MAX_LINES_PER_MESSAGE,
            slice_s=HISTORY_SLICE_S,
            live_after=now,
        )
        stats = pace(stream, sinks, live_after=now, max_rate=opts.max_rate, stop=stop)
    except KeyboardInterrupt:
        stats = None
    finally:
        for sink in sinks:
            sink.close()
    result: dict[str, Any] = {"scenario": scenario.name, "vessels": len(scenario.vessels)}
    if stats is not None:
        result |= {
            "history_lines": stats.history_lines,
            "live_lines": stats.live_lines,
            "batches": stats.batches,
            "history_s": round(stats.history_s, 2),
        }
    if mqtt_sink is not None:
        result |= {"mqtt_published": mqtt_sink.published, "mqtt_unacked": mqtt_sink.outstanding}
    if tcp is not None:
        result["tcp_clients_served"] = tcp.served
    return result


def _credentials(settings: NodeSettings, producer: str) -> Credentials:
    """The producer's own identity at the node's broker (it may publish only as itself)."""
    from mdx.core.mqtt import CredentialsError, credentials

    try:
        return credentials(settings, producer)
    except CredentialsError as e:
        raise typer.BadParameter(str(e), param_hint="--producer") from None


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT (or :PORT, all interfaces) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint="--tcp-listen")
    return (host.strip("[]") or "0.0.0.0", int(port))


# -- command ------------------------------------------------------------------------------------

app = typer.Typer(
    help="Simulated AIS traffic (real NMEA, tag blocks) for a node: the last hours at once, "
    "then live; to the node's broker, a TCP feed and/or a file.",
)


@app.callback(invoke_without_command=True)
def sim_ais(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            exists=True,
            dir_okay=False,
            help="Node config file (broker, node id, zones dir).",
        ),
    ] = None,
    producer: Annotated[
        str, typer.Option(help="Producer id: topic mdx/v1/in/{producer}/ais.")
    ] = "ais-sim",
    scenario: Annotated[
        str | None, typer.Option(help="jcg, kcg or uscg; default: the config's node id.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 1,
    history_h: Annotated[float, typer.Option(help="Hours of past traffic sent at start.")] = 4.0,
    duration: Annotated[
        float, typer.Option(help="Seconds of live traffic after the history; 0 = until stopped.")
    ] = 0.0,
    vessels: Annotated[int, typer.Option(help="Number of background vessels.")] = 60,
    report_every_s: Annotated[
        float, typer.Option(help="Seconds between position reports of a vessel.")
    ] = 60.0,
    max_rate: Annotated[
        float, typer.Option(help="Lines per second at most while sending the history.")
    ] = 2000.0,
    tcp_listen: Annotated[
        str | None, typer.Option(help="Serve the lines as a TCP feed on HOST:PORT.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the lines to this file.")] = None,
    mqtt: Annotated[bool, typer.Option("--mqtt/--no-mqtt", help="Publish to the broker.")] = True,
    station: Annotated[
        str | None, typer.Option(help="Tag-block station (s:); default {scenario}-sim.")
    ] = None,
) -> None:
    """Publish a node's simulated AIS traffic as raw NMEA lines."""
    from pydantic import ValidationError
    from rich.console import Console

    from mdx.core.settings import NodeSettings, load_settings
    from mdx.sim.ais_scenarios import SCENARIOS

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if config is not None:
        settings = load_settings(config)
    else:
        # Like the other commands: without a file, MDX_* environment variables (the broker's
        # MDX_BROKER__HOST/PORT, ...); the node id is then the scenario's unless one is set.
        try:
            settings = NodeSettings() if scenario is None else NodeSettings(node={"id": scenario})
        except ValidationError:
            raise typer.BadParameter(
                "give --scenario or a --config", param_hint="--scenario"
            ) from None
    name = scenario or settings.node.id
    if name not in SCENARIOS:
        raise typer.BadParameter(
            f"no scenario {name!r}; known: {', '.join(SCENARIOS)}", param_hint="--scenario"
        )
    if not (mqtt or tcp_listen or out):
        raise typer.BadParameter("nothing to do: no MQTT, no --tcp-listen, no --out")
    opts = RunOptions(
        scenario=name,
        producer=producer,
        seed=seed,
        history_h=history_h,
        duration_s=duration,
        vessels=vessels,
        report_every_s=report_every_s,
        max_rate=max_rate,
        tcp_listen=parse_listen(tcp_listen) if tcp_listen else None,
        out=out,
        mqtt=mqtt,
        broker=(settings.broker.host, settings.broker.port),
        credentials=_credentials(settings, producer) if mqtt else None,
        client_id=f"mdx-ais-sim-{settings.node.id}-{producer}",
        station=station,
        zones_dir=settings.zones.dir,
    )

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        Console(stderr=True).print(run(opts))
    finally:
        signal.signal(signal.SIGTERM, previous)

"""Lines from TCP: split a byte stream into lines, for a feed we dial or for senders that dial us.

Lines end at LF, CRLF or a lone CR. Bytes are kept as they came (invalid UTF-8 included);
only the terminators go, and blank lines are dropped. A line longer than `MAX_LINE_BYTES` is
cut there and the rest of it, up to its terminator, discarded: forwarded cut, ingest
dead-letters it with its reason, and a feed that never sends a newline cannot make us buffer
without bound.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("mdx.feed")

MAX_LINE_BYTES = 4096
READ_BYTES = 64 * 1024
# The first wait before dialling a feed again; it doubles up to the feed's reconnect_max_s.
RECONNECT_MIN_S = 0.5
CONNECT_TIMEOUT_S = 10.0
# Listen mode: senders beyond this many at once are turned away.
MAX_SENDERS = 32
# At most one "line cut" warning per connection this often (the counters have the total).
CUT_LOG_INTERVAL_S = 10.0

Sink = Callable[[list[bytes]], None]


class LineSplitter:
    """Bytes in arbitrary chunks -> complete, non-blank lines (without terminators)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.cut = 0  # lines longer than max_line, forwarded cut
        self._partial = bytearray()
        self._discarding = False  # inside an overlong line whose head was already emitted

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that `data` completes, in order."""
        out: list[bytes] = []
        *complete, rest = data.replace(b"\r", b"\n").split(b"\n")
        if complete:
            head = complete[0]
            if self._discarding:
                self._discarding = False  # the overlong line ends here; its head is out
            else:
                self._emit(bytes(self._partial) + head if self._partial else head, out)
            self._partial.clear()
            for line in complete[1:]:
                self._emit(line, out)
        if rest and not self._discarding:
            self._partial += rest
            if len(self._partial) > self.max_line:
                self._emit(bytes(self._partial), out)
                self._partial.clear()
                self._discarding = True
        return out

    def flush(self) -> list[bytes]:
        """At the end of the stream: the last line if it had no terminator."""
        out: list[bytes] = []
        if not self._discarding:
            self._emit(bytes(self._partial), out)
        self._partial.clear()
        self._discarding = False
        return out

    def _emit(self, line: bytes, out: list[bytes]) -> None:
        if len(line) > self.max_line:
            line = line[: self.max_line]
            self.cut += 1
        if line.strip():
            out.append(line)


@dataclass(slots=True)
class TcpCounters:
    connections: int = 0  # connections made (connect mode) or accepted (listen mode)
    reconnects: int = 0  # connect mode: connections after the first
    refused: int = 0  # listen mode: senders turned away (too many at once)
    cut: int = 0  # lines cut at MAX_LINE_BYTES


def _keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


async def pump(
    reader: asyncio.StreamReader,
    sink: Sink,
    counters: TcpCounters,
    peer: str,
    idle_timeout_s: float,
) -> int:
    """Read `reader` to its end (or an error, or `idle_timeout_s` of silence), passing every
    complete line to `sink`. Returns how many bytes came."""
    splitter = LineSplitter()
    received = 0
    next_cut_log = 0.0
    try:
        while True:
            try:
                async with asyncio.timeout(idle_timeout_s):
                    chunk = await reader.read(READ_BYTES)
            except TimeoutError:
                log.warning("%s sent nothing for %.0f s: closing", peer, idle_timeout_s)
                break
            except OSError as e:
                log.warning("%s: %s", peer, e)
                break
            if not chunk:
                break
            received += len(chunk)
            cut_before = splitter.cut
            lines = splitter.feed(chunk)
            if splitter.cut != cut_before:
                counters.cut += splitter.cut - cut_before
                if time.monotonic() >= next_cut_log:
                    next_cut_log = time.monotonic() + CUT_LOG_INTERVAL_S
                    log.warning(
                        "%s: a line longer than %d bytes, cut there (%d so far)",
                        peer,
                        MAX_LINE_BYTES,
                        splitter.cut,
                    )
            if lines:
                sink(lines)
    finally:
        # The last line of a stream may lack its terminator; forward it as it is.
        if tail := splitter.flush():
            sink(tail)
    return received


async def connect_forever(
    host: str,
    port: int,
    sink: Sink,
    counters: TcpCounters,
    stop: asyncio.Event,
    *,
    reconnect_max_s: float,
    idle_timeout_s: float,
) -> None:
    """Dial host:port and read it; when it drops, dial again with a growing back-off."""
    peer = f"{host}:{port}"
    delay = RECONNECT_MIN_S
    failures = 0
    while not stop.is_set():
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, port, limit=READ_BYTES)
        except (OSError, TimeoutError) as e:
            failures += 1
            # Every attempt while it is fresh, then now and then: a feed may be away for hours.
            if failures <= 3 or failures % 20 == 0:
                log.warning("feed %s unreachable (%d attempts): %s", peer, failures, e)
        else:
            failures = 0
            counters.connections += 1
            if counters.connections > 1:
                counters.reconnects += 1
            log.info("connected to feed %s", peer)
            _keepalive(writer)
            closing = asyncio.ensure_future(stop.wait())
            reading = asyncio.ensure_future(pump(reader, sink, counters, peer, idle_timeout_s))
            await asyncio.wait((closing, reading), return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            writer.close()
            received = await reading  # on stop, the close ends the read (and flushes)
            if stop.is_set():
                break
            log.warning("feed %s closed the connection", peer)
            if received:
                delay = RECONNECT_MIN_S  # it worked: come back soon
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            pass
        delay = min(delay * 2, reconnect_max_s)


async def listen_until_stopped(
    host: str,
    port: int,
    sink: Sink,
    counters: TcpCounters,
    stop: asyncio.Event,
    *,
    idle_timeout_s: float,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Accept senders on host:port, each read on its own, until `stop`."""
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        if len(writers) >= MAX_SENDERS:
            counters.refused += 1
            log.warning("turning %s away: already %d senders", peer, len(writers))
            writer.close()
            return
        writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        counters.connections += 1
        log.info("sender %s connected", peer)
        _keepalive(writer)
        try:
            await pump(reader, sink, counters, peer, idle_timeout_s)
        finally:
            writers.discard(writer)
            if task is not None:
                tasks.discard(task)
            writer.close()
        log.info("sender %s disconnected", peer)

    server = await asyncio.start_server(serve, host, port, limit=READ_BYTES)
    log.info("listening for feeds on %s:%d", host, port)
    if on_listening is not None:
        on_listening()
    try:
        await stop.wait()
    finally:
        server.close()
        for writer in list(writers):
            writer.close()  # ends each sender's read: what it sent so far is forwarded
        if tasks:
            await asyncio.wait(list(tasks), timeout=2.0)
        await server.wait_closed()

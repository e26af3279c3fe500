"""The feed service: one AIS TCP feed -> `mdx/v1/in/{producer}/ais` on the node's broker.

The TCP side runs in an asyncio loop in the service's thread; publishing runs in the
forwarder's thread (and paho's). They meet in a bounded line queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading

from mdx.core import mqtt as node_mqtt
from mdx.core import topics
from mdx.core.lifecycle import run_until_signalled
from mdx.core.settings import NodeSettings
from mdx.feed import tcp
from mdx.feed.config import FeedConfig
from mdx.feed.forward import Batcher, Forwarder, LineQueue

log = logging.getLogger("mdx.feed")

KIND = "ais"
# On stop: how long a read in progress may take to finish before it is cancelled.
STOP_GRACE_S = 2.0


class FeedService:
    def __init__(self, settings: NodeSettings, feed: FeedConfig) -> None:
        self.feed = feed
        self.service = f"feed-{feed.producer}"
        self.tcp = tcp.TcpCounters()
        self.queue = LineQueue(feed.queue_lines)
        self.forwarder = Forwarder(
            host=settings.broker.host,
            port=settings.broker.port,
            client_id=f"mdx-{settings.node.id}-feed-{feed.producer}",
            # A feed publishes as its producer: only under mdx/v1/in/{producer}/.
            credentials=node_mqtt.credentials(settings, feed.producer),
            topic=topics.inbound(feed.producer, KIND),
            status_topic=topics.status(self.service),
            service=self.service,
            queue=self.queue,
            batcher=Batcher(feed.batch_lines, feed.batch_ms / 1000),
            extra_counters=lambda: dataclasses.asdict(self.tcp),
            on_failure=self.stop,
        )
        self.listening = threading.Event()  # listen mode: the port is open
        self._stop_requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def counters(self) -> dict[str, int]:
        """lines_in, lines_out, messages_out, dropped, cut, reconnects, ... (a snapshot)."""
        return self.forwarder.snapshot()

    def run(self) -> None:
        """Serve until `stop()`; raises if the listen port cannot be opened or publishing
        failed."""
        host, port = self.feed.address
        log.info(
            "feed %s: %s %s:%d -> %s",
            self.feed.producer,
            self.feed.mode,
            host,
            port,
            self.forwarder.topic,
        )
        self.forwarder.start()
        try:
            asyncio.run(self._main(host, port))
        finally:
            self.forwarder.close()
        if self.forwarder.failed is not None:
            # Exit non-zero so that the supervisor starts the feed again.
            raise RuntimeError("the feed's publishing thread failed") from self.forwarder.failed

    def stop(self) -> None:
        """Ask `run` to finish (from any thread, or a signal handler)."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stop.set)

    async def _main(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        self._stop, self._loop = stop, asyncio.get_running_loop()
        if self._stop_requested.is_set():
            stop.set()
        feed = self.feed
        if feed.connect is not None:
            work = tcp.connect_forever(
                host,
                port,
                self.queue.put,
                self.tcp,
                stop,
                reconnect_max_s=feed.reconnect_max_s,
                idle_timeout_s=feed.idle_timeout_s,
            )
        else:
            work = tcp.listen_until_stopped(
                host,
                port,
                self.queue.put,
                self.tcp,
                stop,
                idle_timeout_s=feed.idle_timeout_s,
                on_listening=self.listening.set,
            )
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            stopped.cancel()
            task.result()  # raises what ended it (e.g. the port is taken)
            return
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await task
        except TimeoutError:
            pass  # cancelled: every reader flushes what it holds as it unwinds


def run(settings: NodeSettings, feed: FeedConfig, stop: threading.Event | None = None) -> None:
    """Run one feed in the foreground: until SIGTERM/SIGINT, or until `stop` is set if given
    (then no signal handlers are installed, so it may run in any thread)."""
    service = FeedService(settings, feed)
    if stop is None:
        run_until_signalled(service)
        return
    done = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            if done.is_set():
                return
        service.stop()

    threading.Thread(target=watch, name=f"{service.service}-stop", daemon=True).start()
    try:
        service.run()
    finally:
        done.set()

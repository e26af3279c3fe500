"""Runs a whole node: its broker, database migrations, ingest and api, each in its own process.

Services run as separate processes (`mdx ingest run`, `mdx api run`) so they share nothing but
the database and the broker; a service that dies is restarted.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

from mdx.core import migrate, zones
from mdx.core.settings import NodeSettings
from mdx.node import bridges, broker

log = logging.getLogger("mdx.node")

SERVICES = ("ingest", "share", "api", "detect")


def _argv(service: str, config: Path) -> list[str]:
    """`mdx <service> run`; an AIS feed runs as `feed:<producer>`."""
    cli = [sys.executable, "-m", "mdx.cli.main"]
    if service.startswith("feed:"):
        producer = service.removeprefix("feed:")
        return [*cli, "feed", "run", "--config", str(config), "--producer", producer]
    return [*cli, service, "run", "--config", str(config)]


def _spawn(service: str, config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_argv(service, config))


def _start_broker(settings: NodeSettings) -> subprocess.Popen[bytes]:
    """The node's Mosquitto, bridged to every partner's."""
    return broker.start(
        settings.broker.port,
        settings.broker.data_dir,
        settings.broker.host,
        extra=bridges.render(settings),
    )


def run(settings: NodeSettings, config: Path, own_broker: bool = True) -> None:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    if own_broker:
        procs["broker"] = _start_broker(settings)
        log.info("broker on %s:%d", settings.broker.host, settings.broker.port)
    try:
        migrate.upgrade(settings.database.url)
        # A bad zone file stops the node here: it would watch the wrong geography otherwise.
        zones.load_configured(settings)
    except BaseException:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
        raise
    for service in (*SERVICES, *(f"feed:{feed.producer}" for feed in settings.feeds)):
        procs[service] = _spawn(service, config)
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping:
            time.sleep(0.5)
            for name, proc in list(procs.items()):
                if proc.poll() is not None and not stopping:
                    log.error("%s exited with %s; restarting it", name, proc.returncode)
                    restart = _start_broker if name == "broker" else None
                    procs[name] = restart(settings) if restart else _spawn(name, config)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

"""Runs a whole node: its broker, database migrations, ingest and api, each in its own process.

Services run as separate processes (`mdx ingest run`, `mdx api run`) so they share nothing but
the database and the broker; a service that dies is restarted.

The broker starts with the node's passwords, ACL and TLS files (mdx.node.security), and follows
the node's CA: a new CRL (`mdx pki revoke`) restarts it, which also cuts the revoked holder's
connection; a newly issued certificate (`mdx pki issue`) reloads its ACL with SIGHUP.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mdx.core import migrate, zones
from mdx.core.settings import NodeSettings
from mdx.node import bridges, broker, pki, security

log = logging.getLogger("mdx.node")

SERVICES = ("ingest", "share", "api", "detect")


def _argv(service: str, config: Path) -> list[str]:
    """`mdx <service> run`; an AIS feed runs as `feed:<producer>`, ingest worker K as
    `ingest-K`."""
    cli = [sys.executable, "-m", "mdx.cli.main"]
    if service.startswith("feed:"):
        producer = service.removeprefix("feed:")
        return [*cli, "feed", "run", "--config", str(config), "--producer", producer]
    return [*cli, service.split("-")[0], "run", "--config", str(config)]


def ingest_workers(settings: NodeSettings) -> list[str]:
    """The ingest processes: `ingest`, then `ingest-2` ... `ingest-N` (`[ingest] workers`)."""
    return ["ingest", *(f"ingest-{k}" for k in range(2, settings.ingest.workers + 1))]


def _spawn(service: str, config: Path) -> subprocess.Popen[bytes]:
    env = None
    if service.startswith("ingest-"):  # which worker it is, on the shared subscription
        env = {**os.environ, "MDX_INGEST__WORKER": service.removeprefix("ingest-")}
    return subprocess.Popen(_argv(service, config), env=env)


def _start_broker(settings: NodeSettings) -> subprocess.Popen[bytes]:
    """The node's Mosquitto, bridged to every partner's, with its passwords, ACL and PKI."""
    auth = security.prepare(settings)
    ca = pki.Pki.of(settings.broker.security_dir)
    for p in settings.partners:
        if not all(f.exists() for f in ca.partner_files(p.id)):
            log.warning(
                "no certificate from %s's CA for our bridge: the link stays down until "
                "`mdx pki csr`, `sign` and `accept` are done",
                p.id,
            )
    return broker.start(
        settings.broker.port,
        settings.broker.data_dir,
        auth,
        settings.broker.host,
        extra=bridges.render(settings, auth.bridges),
    )


def _pki_stamps(settings: NodeSettings) -> tuple[int, int]:
    """When the CRL and the index of issued certificates last changed (`mdx pki ...`)."""
    ca = pki.Pki.of(settings.broker.security_dir)

    def stamp(path: Path) -> int:
        return path.stat().st_mtime_ns if path.exists() else 0

    return stamp(ca.crl), stamp(ca.index)


def run(settings: NodeSettings, config: Path, own_broker: bool = True) -> None:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stamps = (0, 0)
    if own_broker:
        procs["broker"] = _start_broker(settings)
        stamps = _pki_stamps(settings)
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
    cot = ("cot",) if settings.cot.enabled else ()
    services = [*ingest_workers(settings), *(s for s in SERVICES if s != "ingest")]
    for service in (*services, *cot, *(f"feed:{feed.producer}" for feed in settings.feeds)):
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
            if own_broker and _pki_stamps(settings) != stamps:
                if _pki_stamps(settings)[0] != stamps[0]:
                    # `mdx pki revoke`: a restart (not a SIGHUP) also cuts the revoked
                    # holder's open connection; sessions persist and every client reconnects.
                    log.info("the CRL changed: restarting the broker")
                    procs["broker"].terminate()
                    procs["broker"].wait(timeout=10)
                    procs["broker"] = _start_broker(settings)
                else:
                    # `mdx pki issue`: the new holder's ACL rules; SIGHUP re-reads the files.
                    log.info("a certificate was issued: reloading the broker's ACL")
                    security.prepare(settings)
                    broker.reload(procs["broker"])
                stamps = _pki_stamps(settings)
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

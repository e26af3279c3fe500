"""The real node pieces a benchmark runs against, started and torn down by the benchmark itself:
a Mosquitto with the project's configuration and authentication on free ports, a fresh PostGIS
database, and node services (`mdx ingest run`, `mdx share run`) as processes.

Nothing here is a stand-in: the broker config, ACL, passwords and services are the ones
`mdx node run` uses. The benchmark logs in as its own identity `bench` (a console whose extra
ACL line lets it publish as any producer and read any topic, like the tests' observer).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
from sqlalchemy import make_url

from mdx.core import migrate, store
from mdx.core import mqtt as node_mqtt
from mdx.core.settings import NodeSettings, load_settings
from mdx.node import bridges, broker, processes, security

PG_ADMIN = os.environ.get("MDX_BENCH_PG", "postgresql+psycopg://mdx:mdx@127.0.0.1:5432/postgres")
IDENTITY = "bench"
BENCH_ACL = f"\n# the benchmark's load generator and observer\nuser {IDENTITY}\ntopic readwrite #\n"
# Below Linux's ephemeral range (32768-60999): a port the OS hands out for binding is also one
# it may give a moment later to an outgoing connection (to PostgreSQL, a broker) as its source
# port, and the service meant to listen on it then fails with "address already in use".
_PORTS = range(20000, 32000)


def free_port() -> int:
    for _ in range(200):
        port = random.choice(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def work_dir(prefix: str = "mdx-bench-") -> Path:
    """A folder the broker's own user can reach (it drops root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def fresh_database(tag: str) -> str:
    """A new, migrated database named after `tag`; its SQLAlchemy URL."""
    return fresh_databases(tag)[0]


def fresh_databases(*tags: str) -> list[str]:
    """New, migrated databases, one per tag; their SQLAlchemy URLs. The first is migrated, the
    others copied from it (CREATE DATABASE ... TEMPLATE: a fraction of a second each)."""
    run = uuid.uuid4().hex[:6]
    urls = [
        make_url(PG_ADMIN).set(database=f"mdx_bench_{run}_{t}").render_as_string(False)
        for t in tags
    ]
    migrate.upgrade(urls[0])
    template = make_url(urls[0]).database
    with psycopg.connect(store.libpq_dsn(PG_ADMIN), autocommit=True) as conn:
        # A template must have no session: the migration's pool may still hold one.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (template,),
        )
        for url in urls[1:]:
            conn.execute(f'CREATE DATABASE "{make_url(url).database}" TEMPLATE "{template}"')
    return urls


def drop_databases(urls: list[str]) -> None:
    with psycopg.connect(store.libpq_dsn(PG_ADMIN), autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Node:
    """One node's broker, database and service processes, configured by a TOML file."""

    id: str
    dir: Path
    db: str
    broker_port: int = field(default_factory=free_port)
    tls_port: int = 0
    workers: int = 1
    partners_toml: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.dir / f"{self.id}.toml"

    @property
    def settings(self) -> NodeSettings:
        return load_settings(self.config)

    def write_config(self) -> None:
        self.config.write_text(
            f"""[node]
id = "{self.id}"
default_tlp = "GREEN"
signing_key = "{self.dir / "keys" / (self.id + ".key")}"
demo = true
[broker]
port = {self.broker_port}
tls_port = {self.tls_port}
data_dir = "{self.dir / "mosquitto"}"
security_dir = "{self.dir / "security"}"
[database]
url = "{self.db}"
[ingest]
workers = {self.workers}
[sharing]
republish_after_s = 3
[[producers]]
id = "{IDENTITY}"
role = "console"
{self.partners_toml}"""
        )

    def start_broker(self) -> None:
        settings = self.settings
        auth = security.prepare(settings, extra_acl=BENCH_ACL)
        extra = bridges.render(settings, auth.bridges) if settings.partners else ""
        self.procs["broker"] = broker.start(
            self.broker_port, self.dir / "mosquitto", auth, extra=extra
        )

    def start(self, service: str, worker: int = 1) -> None:
        """`mdx <service> run` (ingest: worker `worker` of `self.workers`)."""
        name = service if worker == 1 else f"{service}-{worker}"
        env = {**os.environ, "MDX_INGEST__WORKER": str(worker)}
        log = (self.dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", service, "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def start_ingest(self) -> None:
        for worker in range(1, self.workers + 1):
            self.start("ingest", worker)
        wait_for(self.ingest_online, 60, f"{self.id}'s ingest online")

    def ingest_online(self) -> bool:
        """Whether ingest said it is subscribed (its retained status)."""
        return self.retained("mdx/v1/status/ingest", lambda payload: b'"online"' in payload)

    def retained(self, topic: str, says: Callable[[bytes], bool]) -> bool:
        """Whether a message on `topic` (its retained one, within 1 s) `says` so."""
        got = threading.Event()
        c = self.client(f"bench-watch-{uuid.uuid4().hex[:6]}")

        def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
            if says(bytes(msg.payload)):
                got.set()

        c.on_message = on_message
        c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
        c.connect("127.0.0.1", self.broker_port)
        c.loop_start()
        try:
            return got.wait(1.0)
        finally:
            c.loop_stop()
            c.disconnect()

    def stop(self, name: str) -> None:
        processes.stop(self.procs.pop(name, None))

    def stop_services(self) -> None:
        for name in [n for n in self.procs if n != "broker"]:
            self.stop(name)

    def stop_all(self) -> None:
        self.stop_services()
        self.stop("broker")

    def client(self, client_id: str) -> paho.Client:
        """A paho client (MQTT v5) of this node's broker as the benchmark's identity."""
        return node_mqtt.node_client(self.settings, IDENTITY, client_id)

    def credentials(self) -> node_mqtt.Credentials:
        return node_mqtt.credentials(self.settings, IDENTITY)

    def connect_db(self, autocommit: bool = True) -> psycopg.Connection[Any]:
        return psycopg.connect(store.libpq_dsn(self.db), autocommit=autocommit)

    def scalar(self, sql: str, *params: object) -> Any:
        with self.connect_db() as conn:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

    def reset(self) -> None:
        """Empty what ingest writes (between runs of different worker counts)."""
        with self.connect_db() as conn:
            conn.execute(
                "TRUNCATE positions, vessel_latest, vessel_marked_latest, vessels, dead_letters,"
                " producer_receipts, producer_seqs, outbox, share_streams RESTART IDENTITY"
            )

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

"""Shared fixtures: a real PostGIS database and a real Mosquitto, started for the test run.

PostgreSQL must be reachable (MDX_TEST_PG, default the local server over TCP with trust auth);
`make test` and `.ci/run` make sure it is. Each test session gets its own database.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from mdx.core import migrate, store
from mdx.core.settings import NodeSettings
from mdx.node import broker

PG_ADMIN = os.environ.get("MDX_TEST_PG", "postgresql+psycopg://mdx:mdx@127.0.0.1:5432/postgres")


# Below Linux's ephemeral range (32768-60999): a port the OS hands out for binding is also one
# it may give a moment later to an outgoing connection (to PostgreSQL, a broker) as its source
# port, and the service meant to listen on it then fails with "address already in use".
_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing listens on, outside the range outgoing connections take theirs from."""
    for _ in range(200):
        port = random.choice(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly migrated database for this test session, dropped at the end."""
    name = f"mdx_test_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    migrate.drop_database(url)


TABLES = (
    "positions",
    "vessel_latest",
    "vessels",
    "vessel_reports",
    "ais_safety_messages",
    "incident_versions",
    "incidents",
    "dead_letters",
    "producer_receipts",
    "outbox",
    "share_streams",
    "audit_log",
    "incident_events",
    "zones",
)


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """The session database, emptied before the test."""
    with psycopg.connect(store.libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    yield database_url


class Broker:
    """A Mosquitto of our own, on a free port, with the project's configuration."""

    def __init__(self, data_dir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = broker.start(self.port, self.data_dir, self.host)

    def kill(self) -> None:
        """kill -9: whatever the broker held in memory only is gone."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A folder the broker's own user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mdx-broker-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mqtt_broker(broker_dir: Path) -> Iterator[Broker]:
    b = Broker(broker_dir)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def node_settings(db: str, mqtt_broker: Broker, tmp_path: Path) -> NodeSettings:
    """Settings of a test node `jcg` wired to this test's database and broker."""
    return NodeSettings(
        node={
            "id": "jcg",
            "name": "Japan Coast Guard (test)",
            "default_tlp": "GREEN",
            "demo": True,
        },
        broker={
            "host": mqtt_broker.host,
            "port": mqtt_broker.port,
            "data_dir": mqtt_broker.data_dir,
        },
        database={"url": db},
        api={"host": "127.0.0.1", "port": free_port()},
    )

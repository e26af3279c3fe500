"""Shared fixtures: a real PostGIS database and a real Mosquitto, started for the test run.

PostgreSQL must be reachable (MDX_TEST_PG, default the local server over TCP with trust auth);
`make test` and `.ci/run` make sure it is. Each test session gets its own database.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import psycopg
import pytest
from sqlalchemy import create_engine, make_url

from mdx.api import accounts
from mdx.bench.rig import free_port  # one definition: the benchmark's rig
from mdx.core import migrate, mqtt, store
from mdx.core.mqtt import Credentials
from mdx.core.settings import NodeSettings
from mdx.node import broker, security
from mdx.node.security import BrokerAuth

PG_ADMIN = os.environ.get("MDX_TEST_PG", "postgresql+psycopg://mdx:mdx@127.0.0.1:5432/postgres")


# The tests' own access-token key (a real node takes its key from the environment).
TOKEN_SECRET = "mdx-tests-only-token-secret-0123456789abcdef"
TEST_PASSWORD = "test-password-not-secret"


def login(api: httpx.Client | str, database_url: str, role: str = "operator") -> dict[str, str]:
    """Log in to a node's API as its account `test-{role}` (created, or reset, in the node's
    database `database_url`) and return the Authorization header to send. Given a client
    (TestClient or httpx.Client with a base_url), the client sends it from now on too."""
    name = f"test-{role}"
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            accounts.add(conn, name, role, TEST_PASSWORD, replace=True)
    finally:
        engine.dispose()
    form = {"username": name, "password": TEST_PASSWORD}
    if isinstance(api, str):
        r = httpx.post(f"{api}/auth/token", data=form, timeout=10)
    else:
        r = api.post("/auth/token", data=form)
    assert r.status_code == 200, r.text
    header = {"Authorization": f"Bearer {r.json()['access_token']}"}
    if not isinstance(api, str):
        api.headers.update(header)
        api.cookies.clear()  # the header alone speaks for it: tests see what a script sees
    return header


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
    "vessel_marked_latest",
    "vessels",
    "vessel_reports",
    "ais_safety_messages",
    "incident_versions",
    "incidents",
    "dead_letters",
    "producer_receipts",
    "producer_seqs",
    "outbox",
    "share_streams",
    "audit_log",
    "incident_events",
    "zones",
    "users",
)


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """The session database, emptied before the test."""
    with psycopg.connect(store.libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    yield database_url


# The tests' own MQTT identity on every test broker: a console whose extra ACL lines let it
# publish and read any topic, so that a test can play any producer and watch anything. The
# security tests (test_mqtt_security.py) use the node's real identities instead.
MQTT_TEST_IDENTITY = "test"
MQTT_TEST_PASSWORD = secrets.token_urlsafe(24)
MQTT_TEST_ACL = f"\n# the tests' observer\nuser {MQTT_TEST_IDENTITY}\ntopic readwrite #\n"


def mqtt_test_credentials() -> Credentials:
    return Credentials(MQTT_TEST_IDENTITY, MQTT_TEST_PASSWORD)


def mqtt_test_client(client_id: str = "", manual_ack: bool = False) -> paho.Client:
    """A paho client (MQTT v5) that logs in as the tests' observer."""
    return mqtt.client(mqtt_test_credentials(), client_id, manual_ack=manual_ack)


def prepare_test_broker(settings: NodeSettings) -> BrokerAuth:
    """The broker's passwords, ACL and PKI as `mdx node run` writes them, plus the observer
    (which the settings must list among their producers)."""
    secret = mqtt.secret_path(settings.broker.security_dir, MQTT_TEST_IDENTITY)
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(MQTT_TEST_PASSWORD)
    return security.prepare(settings, extra_acl=MQTT_TEST_ACL)


class Broker:
    """A Mosquitto of our own, on free ports (password and TLS listeners), with the project's
    configuration and authentication: node `jcg`'s identities and the tests' observer."""

    def __init__(self, data_dir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port()
        self.data_dir = data_dir
        self.security_dir = data_dir / "security"
        # AIS feeds' producers besides the observer (a test adds its own, then `reload`s).
        self.feeds: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> NodeSettings:
        """Node `jcg` on this broker (what its passwords and ACL are generated from)."""
        return NodeSettings(
            node={"id": "jcg", "demo": True},
            broker={
                "host": self.host,
                "port": self.port,
                "tls_port": self.tls_port,
                "data_dir": self.data_dir,
                "security_dir": self.security_dir,
            },
            producers=[{"id": MQTT_TEST_IDENTITY, "role": "console"}],
            feeds=[{"producer": p, "connect": "127.0.0.1:1"} for p in self.feeds],
        )

    def start(self) -> None:
        auth = prepare_test_broker(self.settings)
        self.proc = broker.start(self.port, self.data_dir, auth, self.host)

    def reload(self) -> None:
        """Regenerate the passwords, ACL and CRL, and SIGHUP the broker."""
        assert self.proc is not None
        prepare_test_broker(self.settings)
        broker.reload(self.proc)

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
        auth={"token_secret": TOKEN_SECRET},
        broker={
            "host": mqtt_broker.host,
            "port": mqtt_broker.port,
            "tls_port": mqtt_broker.tls_port,
            "data_dir": mqtt_broker.data_dir,
            "security_dir": mqtt_broker.security_dir,
        },
        producers=[{"id": MQTT_TEST_IDENTITY, "role": "console"}],
        database={"url": db},
        api={"host": "127.0.0.1", "port": free_port()},
    )

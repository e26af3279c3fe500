"""Test helpers that drive real processes: the ingest service, a raw MQTT publisher, counters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from mdx.core import mqtt as node_mqtt
from mdx.core import store
from mdx.core.mqtt import Credentials
from mdx.core.settings import NodeSettings
from mdx.node import processes
from tests.conftest import TOKEN_SECRET, free_port, mqtt_test_credentials


def settings_env(settings: NodeSettings) -> dict[str, str]:
    """The MDX_* environment that makes a service process use these settings."""
    return {
        **os.environ,
        "MDX_NODE__ID": settings.node.id,
        "MDX_NODE__DEFAULT_TLP": settings.node.default_tlp,
        "MDX_BROKER__HOST": settings.broker.host,
        "MDX_BROKER__PORT": str(settings.broker.port),
        "MDX_BROKER__DATA_DIR": str(settings.broker.data_dir),
        # MQTT identities: each service reads its generated password from the security folder.
        "MDX_NODE__DEMO": "true" if settings.node.demo else "false",
        "MDX_BROKER__TLS_PORT": str(settings.broker.tls_port),
        "MDX_BROKER__SECURITY_DIR": str(settings.broker.security_dir),
        "MDX_PRODUCERS": json.dumps([p.model_dump(mode="json") for p in settings.producers]),
        "MDX_DATABASE__URL": settings.database.url,
        "MDX_API__HOST": settings.api.host,
        "MDX_API__PORT": str(settings.api.port),
        "MDX_API__STREAM_MAX_S": str(settings.api.stream_max_s),
        "MDX_AUTH__WRITE_BURST": str(settings.auth.write_burst),
        "MDX_AUTH__WRITES_PER_MINUTE": str(settings.auth.writes_per_minute),
        # pydantic-settings reads a list of partners from the environment as JSON.
        "MDX_PARTNERS": json.dumps([p.model_dump(mode="json") for p in settings.partners]),
    }


class ServiceProcess:
    """`mdx <service> run` in a child process, configured by environment."""

    def __init__(self, service: str, settings: NodeSettings, log_dir: Path) -> None:
        self.service = service
        self.settings = settings
        self.log_path = log_dir / f"{service}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", self.service, "run"],
            env=settings_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        processes.stop(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(condition: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Poll `condition` until true; on time-out fail with `what` (a callable is asked then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what() if callable(what) else what}"
    )


def scalar(database_url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(store.libpq_dsn(database_url)) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


class RawPublisher:
    """Publishes raw bytes at QoS 1 (MQTT v5) and waits until the broker acked every one."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "test-publisher",
        credentials: Credentials | None = None,
    ) -> None:
        # By default the tests' observer, which may publish as any producer.
        self.client = node_mqtt.client(credentials or mqtt_test_credentials(), client_id)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self._acked = 0
        self._failed: list[Any] = []
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self._acked += 1
            if rc.is_failure:
                self._failed.append(rc)

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout: float = 120) -> int:
        """Publish every (topic, payload); returns how many the broker acknowledged."""
        sent = 0
        for topic, payload in messages:
            while sent - self._acked > 20_000:  # stay clear of paho's 65,535 message ids
                time.sleep(0.01)
            self.client.publish(topic, payload, qos=1)
            sent += 1
        wait_for(lambda: self._acked >= sent, timeout, f"PUBACKs for {sent} messages")
        assert not self._failed, f"broker refused publishes: {self._failed[:3]}"
        return self._acked

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass(frozen=True)
class RunningNode:
    base: str  # the API's base URL
    broker_port: int
    node_id: str = "jcg"
    # Its MQTT secrets (demo): the producers ops1 and ais1 publish with their passwords here.
    security_dir: Path = Path()


@contextmanager
def running_node(
    database_url: str,
    broker_dir: Path,
    work: Path,
    default_tlp: str = "GREEN",
    timeout: float = 30,
) -> Iterator[RunningNode]:
    """A whole node (`mdx node run`: its own broker, ingest, share, api) from a config written
    to `work`, until the block ends; its log is `work/node.log`."""
    api_port, broker_port = free_port(), free_port()
    config = work / "jcg.toml"
    config.write_text(
        f"""
[node]
id = "jcg"
default_tlp = "{default_tlp}"
demo = true
[broker]
port = {broker_port}
data_dir = "{broker_dir}"
security_dir = "{work / "security"}"
[database]
url = "{database_url}"
[api]
port = {api_port}
[auth]
token_secret = "{TOKEN_SECRET}"
[[producers]]
id = "ops1"
[[producers]]
id = "ais1"
"""
    )
    log_path = work / "node.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", "node", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{api_port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout, lambda: "the node's /healthz: " + log_path.read_text())
        yield RunningNode(base, broker_port, security_dir=work / "security")
    finally:
        proc.terminate()
        proc.wait(timeout=20)

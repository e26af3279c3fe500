"""The nodes a scenario runs against, and how to reach each: its broker (as which producers),
its API (as which account), and how to take it off the network for an outage.

A network file (YAML) names them, for the demo network or any other:

    nodes:
      jcg:
        config: infra/nodes/jcg.toml      # broker address, API port and producers' passwords
        operator: {username: operator, password_file: var/jcg/operator.password}
        down: ["kill", "-STOP", "12345"]   # optional: what an outage step runs, and after it
        up: ["kill", "-CONT", "12345"]
      nodeb:                               # a node whose files are not here
        broker: mqtt://broker.example:1883
        api: https://nodeb.example
        operator: {username: scenario, password_env: NODEB_PASSWORD}
        producers: {ops1: {password_env: NODEB_OPS1_PASSWORD}}

Without a file, the demo network of `make demo` (infra/nodes/*.toml, var/<node>/...), whose
outages freeze the node's broker.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from mdx.core import mqtt
from mdx.core.settings import load_settings

DEMO_NODES = ("jcg", "kcg", "uscg")


class NetworkError(ValueError):
    """A network file or node that cannot be used, with the reason."""


class _Secret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = None
    password_file: Path | None = None
    password_env: str | None = None

    def value(self, base: Path) -> str:
        if self.password is not None:
            return self.password
        if self.password_file is not None:
            path = (
                self.password_file
                if self.password_file.is_absolute()
                else base / self.password_file
            )
            try:
                return path.read_text().strip()
            except OSError as e:
                raise NetworkError(f"password file {path}: {e.strerror}") from None
        if self.password_env is not None:
            if self.password_env not in os.environ:
                raise NetworkError(f"environment variable {self.password_env} is not set")
            return os.environ[self.password_env]
        raise NetworkError("a secret needs password, password_file or password_env")


class _Account(_Secret):
    username: str


class _NodeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: Path | None = None
    broker: str | None = None
    api: str | None = None
    operator: _Account
    producers: dict[str, _Secret] = {}
    down: list[str] | None = None
    up: list[str] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> _NodeEntry:
        if self.config is None and (self.broker is None or self.api is None):
            raise ValueError("a node needs its config file, or both broker and api")
        if (self.down is None) != (self.up is None):
            raise ValueError("down and up go together")
        return self


class _NetworkFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nodes: dict[str, _NodeEntry]


@dataclass
class NodeAccess:
    """How the runner reaches one node. `producer(id)` gives a producer's MQTT credentials."""

    id: str
    broker_host: str
    broker_port: int
    api: str
    username: str
    password: str
    producer: Callable[[str], mqtt.Credentials]
    down: Callable[[], None] | None = None
    up: Callable[[], None] | None = None
    _token: str | None = field(default=None, repr=False)

    def token(self) -> str:
        """A bearer token for the node's API (logged in once, then kept)."""
        if self._token is None:
            form = {"username": self.username, "password": self.password}
            r = httpx.post(f"{self.api}/auth/token", data=form, timeout=10)
            if r.status_code != 200:
                raise NetworkError(f"{self.id}: logging in as {self.username} failed: {r.text}")
            self._token = str(r.json()["access_token"])
        return self._token


def load(path: Path) -> dict[str, NodeAccess]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _NetworkFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as e:
        raise NetworkError(f"{path}: {e}") from None
    except ValidationError as e:
        first = e.errors()[0]
        raise NetworkError(
            f"{path}: {'/'.join(str(p) for p in first['loc'])}: {first['msg']}"
        ) from None
    return {nid: _access(nid, entry, path.parent) for nid, entry in parsed.nodes.items()}


def demo(root: Path = Path(".")) -> dict[str, NodeAccess]:
    """The demo network of `make demo`, from its node files and the secrets it generated."""
    entries = {
        nid: _NodeEntry(
            config=root / "infra" / "nodes" / f"{nid}.toml",
            # An outage: the node's broker frozen (a hung host; `mdx node run` would restart a
            # stopped one at once), its partners' bridges queueing until it thaws.
            down=["pkill", "-STOP", "-f", f"mosquitto -c .*var/{nid}/mosquitto/"],
            up=["pkill", "-CONT", "-f", f"mosquitto -c .*var/{nid}/mosquitto/"],
            operator=_Account(
                username="operator", password_file=root / "var" / nid / "operator.password"
            ),
        )
        for nid in DEMO_NODES
    }
    try:
        return {nid: _access(nid, entry, root) for nid, entry in entries.items()}
    except NetworkError as e:
        raise NetworkError(
            f"the demo network: {e} (is `make demo` running, and is this its folder?)"
        ) from None


def _access(nid: str, entry: _NodeEntry, base: Path) -> NodeAccess:
    producers = dict(entry.producers)
    if entry.config is not None:
        path = entry.config if entry.config.is_absolute() else base / entry.config
        try:
            settings = load_settings(path)
        except (OSError, ValueError) as e:  # missing, unreadable, or not a node's config
            raise NetworkError(f"{nid}: node config {path}: {e}") from None
        host, port = settings.broker.host, settings.broker.port
        api = entry.api or f"http://{settings.api.host}:{settings.api.port}"

        def producer(pid: str) -> mqtt.Credentials:
            if pid in producers:
                return mqtt.Credentials(pid, producers[pid].value(base))
            try:
                return mqtt.credentials(settings, pid)  # the node's own passwords
            except mqtt.CredentialsError as e:
                raise NetworkError(f"{nid}: {e}") from None

    else:
        assert entry.broker is not None and entry.api is not None  # checked by _reachable
        url = urlsplit(entry.broker)
        if url.scheme != "mqtt" or not url.hostname:
            raise NetworkError(f"{nid}: broker {entry.broker!r} is not mqtt://host:port")
        host, port, api = url.hostname, url.port or 1883, entry.api

        def producer(pid: str) -> mqtt.Credentials:
            if pid not in producers:
                raise NetworkError(f"{nid}: no password for producer {pid!r} in the network file")
            return mqtt.Credentials(pid, producers[pid].value(base))

    down, up = entry.down, entry.up
    return NodeAccess(
        id=nid,
        broker_host=host,
        broker_port=port,
        api=api.rstrip("/"),
        username=entry.operator.username,
        password=entry.operator.value(base),
        producer=producer,
        down=(lambda: _run(down)) if down else None,
        up=(lambda: _run(up)) if up else None,
    )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise NetworkError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")

"""A network of real nodes for federation tests: each with its own PostGIS database, its own
Mosquitto (bridged to its partners'), its own signing key, and its services as processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

from mdx.core import keys, migrate, store
from mdx.core.envelope import make_envelope
from mdx.core.settings import NodeSettings, load_settings
from mdx.node import bridges, broker, pki, processes, security
from tests.conftest import (
    MQTT_TEST_IDENTITY,
    PG_ADMIN,
    TABLES,
    TOKEN_SECRET,
    free_port,
    prepare_test_broker,
)
from tests.integration.harness import wait_for

# What each demo node registers each partner for (as in infra/nodes/*.toml).
DEMO = ("jcg", "kcg", "uscg")
DEMO_PRODUCERS = (("sim", "producer"), ("ais-sim", "producer"), ("ops1", "console"))


@dataclass
class Node:
    id: str
    dir: Path
    db: str
    broker_port: int
    api_port: int
    config: Path = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The TLS listener the partners' bridges dial, and the node's CA and generated passwords.
    tls_port: int = field(default_factory=free_port)

    @property
    def security_dir(self) -> Path:
        return self.dir / "security"

    @property
    def settings(self) -> NodeSettings:
        return load_settings(self.config)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_broker(self) -> None:
        settings = self.settings
        auth = prepare_test_broker(settings)
        self.procs["broker"] = broker.start(
            self.broker_port,
            self.dir / "mosquitto",
            auth,
            extra=bridges.render(settings, auth.bridges),
        )

    def start(self, service: str) -> None:
        log = (self.dir / f"{service}.log").open("ab")
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", service, "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, service: str) -> None:
        proc = self.procs.pop(service)
        proc.kill()
        proc.wait()

    def stop(self, service: str) -> None:
        processes.stop(self.procs.pop(service, None))

    def stop_all(self) -> None:
        for service in [s for s in self.procs if s != "broker"]:
            self.stop(service)
        self.stop("broker")

    def log(self, service: str) -> str:
        path = self.dir / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def scalar(self, sql: str, *params: object) -> object:
        with psycopg.connect(store.libpq_dsn(self.db)) as conn:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None


def _toml(
    node: Node,
    nodes: dict[str, Node],
    registrations: dict[tuple[str, str], tuple[list[str], bool]],
    links: set[frozenset[str]] | None = None,
    reshare: bool = False,
    default_tlp: str = "GREEN",
) -> str:
    """A node's config: partners where `links` (default: every pair) joins it to another node;
    every other node's key as merely trusted (its items can reach us only through a partner)."""
    lines = [
        "[node]",
        f'id = "{node.id}"',
        f'default_tlp = "{default_tlp}"',
        f'signing_key = "{node.dir / "keys" / (node.id + ".key")}"',
        "demo = true",
        "[broker]",
        f"port = {node.broker_port}",
        f"tls_port = {node.tls_port}",
        f'data_dir = "{node.dir / "mosquitto"}"',
        f'security_dir = "{node.security_dir}"',
        "[database]",
        f'url = "{node.db}"',
        "[api]",
        f"port = {node.api_port}",
        "[auth]",
        f'token_secret = "{TOKEN_SECRET}"',
        "[sharing]",
        "republish_after_s = 3",
        "message_validity_s = 600",
        f"reshare = {'true' if reshare else 'false'}",
    ]
    for other in nodes.values():
        if other.id == node.id:
            continue
        if links is not None and frozenset((node.id, other.id)) not in links:
            pub = other.dir / "keys" / (other.id + ".pub")
            lines += ["[[trusted]]", f'id = "{other.id}"', f'public_key = "{pub}"']
            continue
        purposes, personal = registrations[(node.id, other.id)]
        lines += [
            "[[partners]]",
            f'id = "{other.id}"',
            f"broker_port = {other.broker_port}",
            f"broker_tls_port = {other.tls_port}",
            f'api_url = "{other.api}"',
            f'public_key = "{other.dir / "keys" / (other.id + ".pub")}"',
            "purposes = [" + ", ".join(f'"{p}"' for p in purposes) + "]",
            f"personal_data = {'true' if personal else 'false'}",
        ]
    lines += ["[[producers]]", f'id = "{MQTT_TEST_IDENTITY}"', 'role = "console"']
    # The demo nodes' simulators and operator console (infra/nodes/*.toml), for the scenarios.
    for producer, role in DEMO_PRODUCERS:
        lines += ["[[producers]]", f'id = "{producer}"', f'role = "{role}"']
    return "\n".join(lines) + "\n"


def exchange_certificates(nodes: dict[str, Node]) -> None:
    """What partners do out of band, for every link: A sends B a CSR for its bridge, B's CA
    signs it as `bridge-A`, A keeps the certificate and B's CA certificate."""
    for n in nodes.values():
        pki.init(pki.Pki.of(n.security_dir), n.id, security.server_names(n.settings))
    for a in nodes.values():
        for p in a.settings.partners:
            b = nodes[p.id]
            own, theirs = pki.Pki.of(a.security_dir), pki.Pki.of(b.security_dir)
            csr = pki.make_csr(own, a.id, b.id)
            cert = pki.sign_partner(theirs, csr.read_bytes(), a.id)
            pki.accept(own, b.id, cert, theirs.ca_cert.read_bytes())


def demo_registrations() -> dict[tuple[str, str], tuple[list[str], bool]]:
    """The registrations of the demo configs, read from infra/nodes/*.toml."""
    root = Path(__file__).resolve().parents[2] / "infra" / "nodes"
    out = {}
    for node in DEMO:
        for p in load_settings(root / f"{node}.toml").partners:
            out[(node, p.id)] = (p.purposes, p.personal_data)
    return out


def demo_default_tlp(node: str) -> str:
    root = Path(__file__).resolve().parents[2] / "infra" / "nodes"
    return load_settings(root / f"{node}.toml").node.default_tlp


@dataclass
class Network:
    nodes: dict[str, Node]
    root: Path

    def __getitem__(self, node: str) -> Node:
        return self.nodes[node]

    def start(self, services: tuple[str, ...] = ("ingest", "share", "api")) -> None:
        """Start every node and wait until each API answers /healthz."""
        for n in self.nodes.values():
            n.start_broker()
        for n in self.nodes.values():
            for s in services:
                n.start(s)
        for n in self.nodes.values():
            # Generous: on the shared 2-core machine a loaded start of three nodes' processes
            # has taken over 60 s.
            wait_for(n.healthy, 90, lambda n=n: f"{n.id} healthy; api log: {n.log('api')[-3000:]}")

    def stop(self) -> None:
        for n in self.nodes.values():
            n.stop_all()

    def reset(self) -> None:
        """Empty every node's tables (the schema stays)."""
        for n in self.nodes.values():
            with psycopg.connect(store.libpq_dsn(n.db), autocommit=True) as conn:
                conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


def build_network(
    ids: tuple[str, ...] = DEMO,
    links: set[frozenset[str]] | None = None,
    reshare: bool = False,
    demo_markings: bool = False,
) -> Iterator[Network]:
    """`demo_markings`: each node marks unmarked items with its demo config's default TLP
    (infra/nodes/*.toml: USCG's is AMBER) instead of GREEN."""
    root = Path(tempfile.mkdtemp(prefix="mdx-net-"))
    root.chmod(0o755)  # the brokers' own user must reach their folders
    tag = uuid.uuid4().hex[:6]
    nodes: dict[str, Node] = {}
    for nid in ids:
        d = root / nid
        d.mkdir()
        d.chmod(0o755)
        url = make_url(PG_ADMIN).set(database=f"mdx_test_{tag}_{nid}")
        nodes[nid] = Node(
            nid, d, url.render_as_string(hide_password=False), free_port(), free_port()
        )
        keys.generate(d / "keys" / f"{nid}.key")
    registrations = demo_registrations()
    for n in nodes.values():
        n.config = n.dir / f"{n.id}.toml"
        tlp = demo_default_tlp(n.id) if demo_markings else "GREEN"
        n.config.write_text(_toml(n, nodes, registrations, links, reshare, tlp))
        migrate.upgrade(n.db)
    exchange_certificates(nodes)
    net = Network(nodes, root)
    try:
        yield net
    finally:
        net.stop()
        for n in nodes.values():
            migrate.drop_database(n.db)
        shutil.rmtree(root, ignore_errors=True)


def positions_for(producer: str, n: int, tlp: str = "GREEN") -> list[dict[str, Any]]:
    return [
        make_envelope(
            "jcg",
            producer,
            "mdx.position.v1",
            {
                "mmsi": f"431{i:06d}",
                "lat": 33.0 + i / 100_000,
                "lon": 129.5,
                "observed_at": "2026-11-25T08:00:00Z",
                "source_type": "ais-terrestrial",
            },
            tlp=tlp,
        )
        for i in range(n)
    ]

"""A real network partition: JCG, KCG and USCG each on a host of their own (a Linux network
namespace with its own address), KCG's link cut with `ip link set ... down` for 15 s while JCG
takes in a steady stream, then restored. Afterwards KCG has every position exactly once.

Needs root and iproute2 (as in CI); skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import make_url

from mdx.core import keys, migrate
from mdx.node import bridges, broker
from tests.conftest import PG_ADMIN, login, prepare_test_broker
from tests.integration import netns
from tests.integration.federation import (
    DEMO,
    Network,
    Node,
    _toml,
    demo_registrations,
    exchange_certificates,
    positions_for,
)
from tests.integration.harness import RawPublisher, wait_for

pytestmark = pytest.mark.slow

# Every node is a host of its own, so every node uses the standard ports.
BROKER_PORT = 1883
API_PORT = 8000

RATE = 200  # positions/s into JCG
SECONDS = 40
CUT_AT = 15.0  # s into the stream
RESTORE_AT = 30.0
SETTLE = 5.0  # s after the cut before KCG must stand still (what it had in hand is stored)


@dataclass
class NsNode(Node):
    """A node whose broker and services run inside its own network namespace."""

    netns: str = ""
    address: str = ""

    @property
    def api(self) -> str:
        return f"http://{self.address}:{self.api_port}"

    def start_broker(self) -> None:
        settings = self.settings
        auth = prepare_test_broker(settings)
        extra = bridges.render(settings, auth.bridges)
        conf = broker.render_config(
            self.broker_port, self.dir / "mosquitto", auth, self.address, extra
        )
        proc = subprocess.Popen(
            netns.exec_in(self.netns, broker.mosquitto_binary(), "-c", str(conf))
        )
        self.procs["broker"] = proc
        broker.wait_for_port(self.address, self.broker_port, proc)
        broker.wait_for_port(self.address, self.tls_port, proc)

    def start(self, service: str) -> None:
        with (self.dir / f"{service}.log").open("ab") as log:
            self.procs[service] = subprocess.Popen(
                netns.exec_in(
                    self.netns,
                    sys.executable,
                    *("-m", "mdx.cli.main", service, "run", "--config", str(self.config)),
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def _ns_toml(node: NsNode, nodes: dict[str, NsNode], db_in_ns: str) -> str:
    """The harness's config, with every address a namespace address: the node's own broker and
    API listen on its address, partners are reached at theirs, the database through the relay."""
    out: list[str] = []
    section = ""
    everyone: dict[str, Node] = dict(nodes)
    for line in _toml(node, everyone, demo_registrations()).splitlines():
        if line.startswith("["):
            section = line
        if line == f'url = "{node.db}"':
            line = f'url = "{db_in_ns}"'
        out.append(line)
        if line in ("[broker]", "[api]"):
            out.append(f'host = "{node.address}"')
        elif section == "[[partners]]" and line.startswith("id = "):
            out.append(f'broker_host = "{nodes[tomllib.loads(line)["id"]].address}"')
    return "\n".join(out) + "\n"


@dataclass
class NsNetwork(Network):
    lan: netns.Lan | None = None

    def __getitem__(self, node: str) -> NsNode:
        found = self.nodes[node]
        assert isinstance(found, NsNode)
        return found


def build_netns_network(ids: tuple[str, ...] = DEMO) -> Generator[NsNetwork]:
    """Like federation.build_network, but each node on a namespace host of `netns.Lan`."""
    pg = make_url(PG_ADMIN)
    if not pg.host or pg.host.startswith("/"):
        pytest.skip(f"the namespaces reach PostgreSQL over TCP; MDX_TEST_PG has no TCP host: {pg}")
    pg_port = pg.port or 5432
    nodes: dict[str, NsNode] = {}
    # Undone in reverse order, every step even when an earlier one fails.
    with contextlib.ExitStack() as undo:
        root = Path(tempfile.mkdtemp(prefix="mdx-netns-"))
        root.chmod(0o755)  # the brokers' own user must reach their folders
        undo.callback(shutil.rmtree, root, ignore_errors=True)
        undo.callback(_drop_databases, nodes)
        lan = netns.Lan()
        undo.callback(lan.destroy)
        lan.create()
        relay = netns.LoopbackRelay((pg.host, pg_port))
        undo.callback(relay.close)
        net = NsNetwork(nodes, root, lan)  # type: ignore[arg-type]  # dict[str, NsNode] is one
        undo.callback(net.stop)
        for nid in ids:
            host = lan.add_host(nid)
            relay.serve_in(host.netns, pg_port)
            d = root / nid
            d.mkdir()
            d.chmod(0o755)
            db = pg.set(database=f"mdx_test_{lan.tag}_{nid}").render_as_string(hide_password=False)
            nodes[nid] = NsNode(
                nid, d, db, BROKER_PORT, API_PORT, netns=host.netns, address=host.address
            )
            keys.generate(d / "keys" / f"{nid}.key")
        for n in nodes.values():
            db_in_ns = make_url(n.db).set(host="127.0.0.1", port=pg_port)
            n.config = n.dir / f"{n.id}.toml"
            n.config.write_text(_ns_toml(n, nodes, db_in_ns.render_as_string(hide_password=False)))
            s = n.settings  # the config says what the namespaces need, or the test is void
            assert s.broker.host == s.api.host == n.address, n.config.read_text()
            assert all(p.broker_host == nodes[p.id].address for p in s.partners)
            assert all(p.api_url == nodes[p.id].api for p in s.partners)
            migrate.upgrade(n.db)
        exchange_certificates(nodes)  # type: ignore[arg-type]  # dict[str, NsNode] is one
        yield net


def _drop_databases(nodes: dict[str, NsNode]) -> None:
    for n in nodes.values():
        migrate.drop_database(n.db)


@pytest.fixture
def net() -> Iterator[NsNetwork]:
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    built = build_netns_network()
    network = next(built)
    try:
        network.start()  # waits for every node's /healthz
        yield network
    finally:
        built.close()  # stops the nodes and removes the namespaces, even when start-up failed


def _count(node: Node, source: str, distinct: bool = False) -> int:
    what = "count(DISTINCT event_id)" if distinct else "count(*)"
    value = node.scalar(f"SELECT {what} FROM positions WHERE source = %s", source)
    assert isinstance(value, int)
    return value


def _link(node: NsNode, partner: str) -> dict[str, Any]:
    viewer = login(node.api, node.db, "viewer")
    body = httpx.get(f"{node.api}/api/v1/partners", headers=viewer, timeout=5).json()
    return next(p for p in body["partners"] if p["id"] == partner)


def _link_healthy(link: dict[str, Any]) -> bool:
    return link["link"]["connected"] is True and link["outbound"]["backlog"] == 0


def test_kcg_cut_off_for_15_s_then_has_every_position_once(net: NsNetwork) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    assert net.lan is not None
    producer = f"part{uuid.uuid4().hex[:4]}"
    source = f"urn:mdx:jcg:{producer}"
    envelopes = positions_for(producer, RATE * SECONDS)
    n = len(envelopes)
    step = RATE // 10  # 20 every 100 ms
    # Published from the root namespace to JCG's broker at JCG's address, over the LAN.
    pub = RawPublisher(jcg.address, jcg.broker_port, f"stream-{producer}")
    # (s into the stream, at JCG, at KCG, JCG's bridge to KCG connected)
    samples: list[tuple[float, int, int, object]] = []
    cut_at = restored_at = None
    start = time.monotonic()
    try:
        for i in range(0, n, step):
            now = time.monotonic() - start
            if cut_at is None and now >= CUT_AT:
                net.lan.cut("kcg")
                cut_at = now
            if cut_at is not None and restored_at is None and now >= RESTORE_AT:
                net.lan.restore("kcg")
                restored_at = now
            pub.publish_all(
                (f"mdx/v1/in/{producer}/position", orjson.dumps(e)) for e in envelopes[i : i + step]
            )
            if i % (RATE // 2) == 0:
                samples.append(
                    (
                        time.monotonic() - start,
                        _count(jcg, source),
                        _count(kcg, source),
                        jcg.scalar(
                            "SELECT connected FROM share_streams "
                            "WHERE peer = 'kcg' AND direction = 'out'"
                        ),
                    )
                )
            time.sleep(max(0.0, start + (i + step) / RATE - time.monotonic()))
    finally:
        pub.close()
        if cut_at is not None and restored_at is None:
            net.lan.restore("kcg")
    assert cut_at is not None and restored_at is not None
    stream_s = time.monotonic() - start

    # During the cut KCG really was cut off: once what it had in hand was stored, its count
    # stood still while JCG's went on rising (else this test proves nothing).
    during = [s for s in samples if cut_at + SETTLE <= s[0] <= restored_at]
    assert len(during) >= 10, samples
    assert len({s[2] for s in during}) == 1, f"KCG moved while cut off: {during}"
    assert during[-1][1] - during[0][1] >= RATE * 5, f"JCG did not move: {during}"
    assert during[-1][2] < during[-1][1], during

    wait_for(
        lambda: _count(kcg, source) >= n,
        90,
        lambda: (
            f"{n} at KCG, have {_count(kcg, source)}; JCG's link to KCG: {_link(jcg, 'kcg')}; "
            f"KCG share log: {kcg.log('share')[-2000:]}"
        ),
    )
    healed_s = time.monotonic() - start
    assert _count(jcg, source) == n
    assert _count(kcg, source) == n and _count(kcg, source, distinct=True) == n
    # USCG's link never went down: it has everything too, once.
    wait_for(lambda: _count(uscg, source) >= n, 60, lambda: f"USCG has {_count(uscg, source)}")
    assert _count(uscg, source) == n and _count(uscg, source, distinct=True) == n
    wait_for(
        lambda: (
            jcg.scalar(
                "SELECT count(*) FROM outbox WHERE recipient = 'kcg' AND source = %s "
                "AND delivered_at IS NULL",
                source,
            )
            == 0
        ),
        60,
        "JCG's outbox to KCG receipted",
    )
    wait_for(
        lambda: _link_healthy(_link(jcg, "kcg")),
        60,
        lambda: f"JCG's link to KCG up with no backlog: {_link(jcg, 'kcg')}",
    )
    print(
        f"LAN {net.lan.tag} ({net.lan.subnet}.0/24): stream {stream_s:.1f} s, "
        f"cut {cut_at:.1f}-{restored_at:.1f} s, "
        f"KCG complete at {healed_s:.1f} s, KCG during the cut: {during[0][2]} of {n}, "
        f"JCG saw its bridge to KCG down: {any(s[3] is False for s in samples)}"
    )

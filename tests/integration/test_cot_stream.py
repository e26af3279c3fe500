"""`mdx cot serve` as a real process on a real PostGIS: TAK-style streams read by an independent
parser (takproto's XML reader, on the standard library's ElementTree).

A client of the node's own network (plain TCP) gets the whole current picture; a partner's
TLS client (certificate from the node's CA) gets exactly what the policy releases to that
partner; certificates of machines or revoked ones get nothing; a change stored while a client
is connected reaches it within seconds, a withheld one never does.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from takproto.functions import xml2message

from mdx.core import zones
from mdx.core.policy import Marked
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from mdx.node import pki
from tests.conftest import free_port
from tests.integration.harness import scalar, settings_env, wait_for
from tests.integration.test_api_policy import accepted, save

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
GREEN_SAR = Marked("jcg", "GREEN", (), "SAR", False)
OPEN = Marked("jcg", "GREEN", (), None, False)
FOR_KCG = Marked("jcg", "AMBER", ("kcg",), "FisheriesMonitoring", False)
FOR_USCG = Marked("jcg", "AMBER", ("uscg",), "SAR", False)
RED = Marked("jcg", "RED", (), None, False)
PARTNERS = {  # as in infra/nodes/jcg.toml, but kcg without EnvironmentResponse
    "kcg": ["SAR", "Safety", "FisheriesMonitoring", "LawEnforcementMonitoring"],
    "uscg": ["SAR", "Safety", "LawEnforcementMonitoring", "Security", "EnvironmentResponse"],
}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@dataclass
class Node:
    settings: NodeSettings
    ca: pki.Pki
    tcp: int
    tls: int
    log: Path


@pytest.fixture
def settings(db: str, tmp_path: Path) -> NodeSettings:
    return NodeSettings(
        node={"id": "jcg"},
        database={"url": db},
        broker={"host": "127.0.0.1", "port": 1, "security_dir": tmp_path / "security"},
        partners=[
            {
                "id": node,
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": tmp_path / f"{node}.pub",
                "purposes": purposes,
            }
            for node, purposes in PARTNERS.items()
        ],
    )


@pytest.fixture
def node(settings: NodeSettings, tmp_path: Path, schemas: SchemaSet) -> Iterator[Node]:
    """The node's CA and zones (the network's states: JP, KR, US), and `mdx cot serve`."""
    ca = pki.Pki.of(settings.broker.security_dir)
    pki.init(ca, "jcg", [])
    engine = create_engine(settings.database.url)
    try:
        zones.load(engine, ROOT / "infra/zones", schemas)
    finally:
        engine.dispose()
    tcp, tls = free_port(), free_port()
    env = {
        **settings_env(settings),
        "MDX_COT__ENABLED": "true",
        "MDX_COT__TCP_PORT": str(tcp),
        "MDX_COT__TLS_PORT": str(tls),
        "MDX_COT__POLL_S": "0.2",
    }
    log = tmp_path / "cot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", "cot", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: _listening(tcp) and _listening(tls), 20, lambda: log.read_text())
        yield Node(settings, ca, tcp, tls, log)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0, log.read_text()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


# -- the node's data ---------------------------------------------------------------------------


def position(mmsi: str, lon: float, lat: float, ago: timedelta, **fields: Any) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "observed_at": iso(NOW - ago),
        "source_type": "ais-terrestrial",
        **fields,
    }


def static(mmsi: str, name: str, ship_type: int) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "name": name,
        "ship_type": ship_type,
        "observed_at": iso(NOW - timedelta(hours=1)),
        "source_type": "ais-terrestrial",
    }


def incident(category: str, title: str, location: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "incident_id": str(uuid.uuid4()),
        "version": 1,
        "category": category,
        "status": "reported",
        "title": title,
        "location": location,
        "observed_at": iso(NOW - timedelta(minutes=30)),
        **fields,
    }


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


MINUTE = timedelta(minutes=1)
SHIKINE, TRAWLER, TANKER, GONE, SECRET = (
    "431000001",
    "412000002",
    "636000003",
    "440000004",
    "338000005",
)


@dataclass
class Stored:
    incidents: dict[str, str]  # name -> incident id


def store_picture(db: str, schemas: SchemaSet) -> Stored:
    sar = incident("sar", "Crew in the water", point(129.5, 34.0), persons_at_risk=4)
    iuu = incident("iuu_fishing", "Unlit trawler <in zone> & 'dark'", point(129.21, 34.47))
    ring = [[130.0, 33.0], [130.2, 33.0], [130.2, 33.1], [130.0, 33.1], [130.0, 33.0]]
    spill = incident("pollution", "Oil sheen", {"type": "Polygon", "coordinates": [ring]})
    closed = incident(
        "sar",
        "Old case",
        point(131.0, 35.0),
        status="closed",
        observed_at=iso(NOW - 3 * 24 * 60 * MINUTE),
    )
    red = incident("piracy_robbery", "Boarding", point(132.0, 33.0))
    env = Marked("jcg", "GREEN", (), "EnvironmentResponse", False)
    incidents = [(sar, GREEN_SAR), (iuu, FOR_KCG), (spill, env), (closed, GREEN_SAR), (red, RED)]
    registry = [
        (static(SHIKINE, "PATROL SHIKINE", 55), OPEN),
        (static(TRAWLER, "LU YU 1", 30), FOR_KCG),
        (static(TANKER, "OCEAN TANKER", 80), OPEN),
    ]
    positions = [
        (position(SHIKINE, 129.9, 34.2, MINUTE, sog=18.0, cog=90.0), OPEN),
        (position(TRAWLER, 129.3, 34.5, 2 * MINUTE, sog=3.0, cog=10.0), FOR_KCG),
        (position(TANKER, 130.5, 33.5, MINUTE, source_type="ais-satellite"), OPEN),
        # Last heard two hours ago: stale, not part of the current picture.
        (position(GONE, 128.0, 35.0, 120 * MINUTE), OPEN),
        (position(SECRET, 131.0, 34.0, MINUTE), RED),
    ]
    items = [
        accepted(schemas, kind, data, "jcg", marked)
        for kind, group in (("incident", incidents), ("vessel", registry), ("position", positions))
        for data, marked in group
    ]
    save(db, items)
    ids = {"sar": sar, "iuu": iuu, "spill": spill, "closed": closed, "red": red}
    return Stored({name: d["incident_id"] for name, d in ids.items()})


# -- a TAK client ------------------------------------------------------------------------------


class Client:
    """Reads a TAK stream: concatenated <event> documents, parsed by takproto."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.2)
        self.buffer = b""
        self.closed = False

    def read(self, count: int, timeout: float) -> list[Any]:
        """Up to `count` events, waiting at most `timeout` s."""
        events: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            head, sep, rest = self.buffer.partition(b"</event>")
            if sep:
                self.buffer = rest
                events.append(xml2message(head + sep).cotEvent)
                continue
            if self.closed:
                break
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = True
            self.buffer += chunk
        return events

    def picture(self, expected: int) -> dict[str, Any]:
        """Exactly `expected` events, and nothing more in the next second; by uid."""
        events = self.read(expected, 15)
        events += self.read(1, 1.0)
        uids = [e.uid for e in events]
        assert len(uids) == len(set(uids)) == expected, uids
        return {e.uid: e for e in events}

    def close(self) -> None:
        self.sock.close()


def tcp_client(node: Node) -> Client:
    return Client(socket.create_connection(("127.0.0.1", node.tcp), timeout=5))


def tls_client(node: Node, name: str | None, role: pki.Role = "service") -> Client:
    context = ssl.create_default_context(cafile=str(node.ca.ca_cert))
    if name is not None:
        cert, key = node.ca.issued(name)
        if not cert.exists():
            cert, key = pki.issue(node.ca, name, role)
        context.load_cert_chain(str(cert), str(key))
    raw = socket.create_connection(("127.0.0.1", node.tls), timeout=5)
    return Client(context.wrap_socket(raw, server_hostname="127.0.0.1"))


def uid(kind: str, key: str) -> str:
    return f"mdx-{kind}-{key}"


# -- tests -------------------------------------------------------------------------------------


def test_a_local_client_gets_the_whole_current_picture(
    node: Node, db: str, schemas: SchemaSet
) -> None:
    stored = store_picture(db, schemas)
    client = tcp_client(node)
    try:
        events = client.picture(8)
    finally:
        client.close()
    i = stored.incidents
    assert {u: e.type for u, e in events.items()} == {
        uid("incident", i["sar"]): "a-u-X-i-r",
        uid("incident", i["iuu"]): "a-u-X-i-l-l",
        uid("incident", i["spill"]): "a-u-X-i-e",
        uid("incident", i["red"]): "a-u-X-i-t-m-h",
        uid("vessel", SHIKINE): "a-f-S-X-L",  # a Japanese law-enforcement vessel: JCG's own
        uid("vessel", TRAWLER): "a-u-S-X-F",
        uid("vessel", TANKER): "a-u-S-X-M-O",
        uid("vessel", SECRET): "a-u-S",  # no static report: kind unknown
    }
    shikine = events[uid("vessel", SHIKINE)]
    assert (shikine.lat, shikine.lon, shikine.how) == (34.2, 129.9, "m-g")
    assert shikine.detail.contact.callsign == "PATROL SHIKINE"
    assert shikine.detail.track.course == 90.0
    assert shikine.detail.track.speed == pytest.approx(18.0 * 1852 / 3600)
    observed = int((NOW - MINUTE).timestamp() * 1000)
    assert shikine.sendTime == shikine.startTime == observed
    assert shikine.staleTime == observed + 10 * 60 * 1000
    sar = events[uid("incident", i["sar"])]
    assert (sar.lat, sar.lon, sar.how, sar.ce) == (34.0, 129.5, "h-e", 9999999.0)
    assert "persons at risk 4" in sar.detail.xmlDetail
    assert sar.staleTime > int((datetime.now(UTC) + timedelta(hours=23)).timestamp() * 1000)
    iuu = events[uid("incident", i["iuu"])]
    assert iuu.detail.contact.callsign == "Unlit trawler <in zone> & 'dark'"
    assert "TLP:AMBER, releasable to kcg; purpose FisheriesMonitoring; origin jcg" in (
        iuu.detail.xmlDetail
    )
    spill = events[uid("incident", i["spill"])]
    assert 130.0 < spill.lon < 130.2 and 33.0 < spill.lat < 33.1  # inside its polygon
    assert 5_000 < spill.ce < 20_000  # metres to the polygon's farthest corner


@pytest.mark.parametrize(
    ("partner", "incidents", "vessels"),
    [
        ("kcg", {"sar", "iuu"}, {SHIKINE, TRAWLER, TANKER}),
        # The AMBER trawler and its incident are for kcg only; the spill's purpose is not kcg's.
        ("uscg", {"sar", "spill"}, {SHIKINE, TANKER}),
    ],
)
def test_a_partner_gets_exactly_what_is_released_to_it(
    node: Node,
    db: str,
    schemas: SchemaSet,
    partner: str,
    incidents: set[str],
    vessels: set[str],
) -> None:
    stored = store_picture(db, schemas)
    client = tls_client(node, partner)
    try:
        events = client.picture(len(incidents) + len(vessels))
    finally:
        client.close()
    expected = {uid("incident", stored.incidents[n]) for n in incidents}
    assert set(events) == expected | {uid("vessel", m) for m in vessels}
    assert events[uid("vessel", SHIKINE)].type == "a-f-S-X-L"  # a partner sees JCG's as friendly


def test_a_change_arrives_within_seconds_and_a_withheld_one_never(
    node: Node, db: str, schemas: SchemaSet
) -> None:
    store_picture(db, schemas)
    kcg, local = tls_client(node, "kcg"), tcp_client(node)
    try:
        assert len(kcg.picture(5)) == 5
        assert len(local.picture(8)) == 8
        withheld = incident("sar", "For USCG only", point(140.0, 30.0))
        released = incident("maritime_safety", "Adrift", point(129.8, 34.1))
        # The withheld one first: were it sent to kcg, it would arrive before the released one.
        save(db, [accepted(schemas, "incident", withheld, "jcg", FOR_USCG)])
        save(db, [accepted(schemas, "incident", released, "jcg", GREEN_SAR)])
        moved = position(TRAWLER, 129.4, 34.6, timedelta(0), sog=4.0, cog=20.0)
        save(db, [accepted(schemas, "position", moved, "jcg", FOR_KCG)])
        started = time.monotonic()
        news = {e.uid: e for e in kcg.read(2, 5)}
        assert time.monotonic() - started < 5
        assert set(news) == {uid("incident", released["incident_id"]), uid("vessel", TRAWLER)}
        assert news[uid("incident", released["incident_id"])].type == "a-u-X-i-t-m"
        assert (news[uid("vessel", TRAWLER)].lat, news[uid("vessel", TRAWLER)].lon) == (34.6, 129.4)
        assert kcg.read(1, 1.5) == []  # nothing else: not the withheld incident
        local_news = {e.uid for e in local.read(3, 5)}
        assert uid("incident", withheld["incident_id"]) in local_news  # the node's own see it
        assert len(local_news) == 3
    finally:
        kcg.close()
        local.close()
    # What kcg was sent of TLP AMBER and above is in the audit trail, as for API reads.
    actors = scalar(
        db,
        "SELECT count(*) FROM audit_log WHERE event = 'read.restricted' AND actor = 'node:kcg'"
        " AND detail->>'channel' = 'cot'",
    )
    assert actors >= 2  # the picture's AMBER items, then the trawler's new position


@pytest.mark.parametrize(
    ("name", "role"),
    [("ais-receiver", "producer"), ("kcg-bridge-not-a-partner", "bridge"), ("sim", "service")],
)
def test_machines_certificates_get_no_picture(
    node: Node, db: str, schemas: SchemaSet, name: str, role: pki.Role
) -> None:
    store_picture(db, schemas)
    client = tls_client(node, name, role)
    try:
        assert client.read(1, 3) == []
        assert client.closed
    finally:
        client.close()
    assert f"{name!r} ({role}) is neither a partner node nor a console" in node.log.read_text()


def test_a_console_certificate_is_a_local_viewer_until_revoked(
    node: Node, db: str, schemas: SchemaSet
) -> None:
    store_picture(db, schemas)
    tablet = tls_client(node, "deck-tablet", "console")
    try:
        assert len(tablet.picture(8)) == 8
    finally:
        tablet.close()
    assert pki.revoke(node.ca, "deck-tablet") == 1
    revoked = tls_client(node, "deck-tablet", "console")
    try:
        assert revoked.read(1, 3) == []
        assert revoked.closed
    finally:
        revoked.close()
    assert "is revoked" in node.log.read_text()


def test_no_client_certificate_no_picture(node: Node, db: str, schemas: SchemaSet) -> None:
    store_picture(db, schemas)
    try:
        client = tls_client(node, None)
    except (ssl.SSLError, ConnectionError):
        return  # refused during the handshake (TLS 1.2)
    try:
        assert client.read(1, 3) == []  # TLS 1.3: refused right after it
        assert client.closed
    finally:
        client.close()

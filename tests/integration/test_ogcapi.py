"""OGC API - Features at /ogcapi/ on a real uvicorn over a real PostGIS, called over HTTP by
httpx, GDAL's `ogrinfo` (OAPIF driver, a subprocess) and OWSLib.

Node jcg holds 23 incidents (22 GREEN, one AMBER released to kcg only), 3 vessels with 4
positions each, and the demo's zones. Its own viewer sees everything; partner uscg (requests
signed MDX-Ed25519) must never see the AMBER incident: not in items, counts, filters or by id.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from owslib.ogcapi.features import Features
from sqlalchemy import create_engine

from mdx.api.app import create_app
from mdx.core import keys
from mdx.core import zones as zone_files
from mdx.core.fedauth import sign_request
from mdx.core.policy import Marked
from mdx.core.schemas import SchemaSet
from tests.conftest import free_port, login
from tests.integration.test_api_policy import PARTNERS, T0, accepted, iso, save, settings_for

ROOT = Path(__file__).resolve().parents[2]
ZONE_DIR = ROOT / "infra" / "zones"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
CATEGORIES = ("sar", "pollution", "iuu_fishing", "maritime_safety")
GREEN = Marked("jcg", "GREEN", (), None, False)
AMBER_KCG = Marked("jcg", "AMBER", ("kcg",), "FisheriesMonitoring", False)
INCIDENTS = 23
VESSELS = ("431000001", "431000002", "440000003")
POSITIONS_EACH = 4
CONFORMANCE = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
}
OGRINFO = shutil.which("ogrinfo")


@dataclass
class Node:
    base: str  # http://127.0.0.1:port
    viewer: dict[str, str]  # the node's own viewer's Authorization header
    keys: dict[str, Ed25519PrivateKey]  # partners' signing keys
    amber_id: str  # the incident released to kcg only
    zones: int  # how many zones the node holds

    @property
    def root(self) -> str:
        return f"{self.base}/ogcapi"

    def get(self, url: str, caller: str | None = None, **query: Any) -> httpx.Response:
        """GET as the viewer (caller None) or as a partner signing the exact path and query."""
        request = httpx.Request("GET", url, params=query or None)
        if caller is None:
            request.headers.update(self.viewer)
        else:
            path_qs = request.url.raw_path.decode()
            request.headers["Authorization"] = sign_request(
                "GET", path_qs, caller, "jcg", self.keys[caller], time.time()
            )
        with httpx.Client(timeout=30) as client:
            return client.send(request)

    def items(self, collection: str, caller: str | None = None, **query: Any) -> dict[str, Any]:
        r = self.get(f"{self.root}/collections/{collection}/items", caller, **query)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == GEOJSON
        body: dict[str, Any] = r.json()
        return body

    def all_ids(self, collection: str, caller: str | None = None, **query: Any) -> list[str]:
        """Every feature id, following `next` links; asserts each page's count and links."""
        body = self.items(collection, caller, **query)
        found: list[str] = []
        while True:
            assert body["numberReturned"] == len(body["features"])
            found += [str(f["id"]) for f in body["features"]]
            nxt = [link for link in body["links"] if link["rel"] == "next"]
            if not nxt:
                return found
            assert nxt[0]["type"] == GEOJSON
            r = self.get(nxt[0]["href"], caller)
            assert r.status_code == 200, r.text
            body = r.json()


def incident(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "incident_id": str(uuid.uuid4()),
        "version": 1,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "status": "reported" if i % 3 else "responding",
        "title": f"case {i:02d}",
        "location": {"type": "Point", "coordinates": [130.0 + i / 10, 34.0]},
        "observed_at": iso(T0 + timedelta(hours=i)),
        **extra,
    }


def position(mmsi: str, minute: int, lon: float) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": 35.0,
        "lon": lon,
        "sog": 10.0 + minute,
        "cog": 90.0,
        "observed_at": iso(T0 + timedelta(minutes=minute)),
        "source_type": "ais-terrestrial",
    }


@pytest.fixture
def node(db: str, tmp_path: Path) -> Iterator[Node]:
    schemas = SchemaSet()
    partner_keys = {name: keys.generate(tmp_path / f"{name}.key") for name in PARTNERS}
    settings = settings_for(db, tmp_path)
    # Incidents 0..21 GREEN (every fifth Severe), 22 AMBER for kcg; an hour apart.
    batch = [
        accepted(schemas, "incident", incident(i, **({"severity": "Severe"} if i % 5 == 0 else {})),
                 "jcg", GREEN)
        for i in range(INCIDENTS - 1)
    ]  # fmt: skip
    amber = incident(INCIDENTS - 1, category="iuu_fishing", severity="Severe")
    batch.append(accepted(schemas, "incident", amber, "jcg", AMBER_KCG))
    for n, mmsi in enumerate(VESSELS):
        for minute in range(POSITIONS_EACH):
            data = position(mmsi, minute, 131.0 + n)
            batch.append(accepted(schemas, "position", data, "jcg", GREEN))
    save(db, batch)
    engine = create_engine(db)
    try:
        loaded = zone_files.load(engine, ZONE_DIR, schemas).loaded
    finally:
        engine.dispose()
    assert loaded > 0

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, schemas),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    yield Node(base, login(base, db, "viewer"), partner_keys, amber["incident_id"], loaded)
    server.should_exit = True
    thread.join(timeout=10)


# -- the documents ----------------------------------------------------------------------------


def test_landing_conformance_and_collections(node: Node) -> None:
    for url in (node.root, node.root + "/"):
        r = node.get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        links = {link["rel"]: link for link in r.json()["links"]}
        assert {"self", "service-desc", "conformance", "data"} <= links.keys()
        assert links["service-desc"]["href"] == f"{node.base}/openapi.json"
        assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
        assert links["conformance"]["href"] == f"{node.root}/conformance"
        assert links["data"]["href"] == f"{node.root}/collections"
    assert httpx.get(f"{node.base}/openapi.json").json()["paths"]["/ogcapi/conformance"]

    conforms = set(node.get(f"{node.root}/conformance").json()["conformsTo"])
    assert conforms >= CONFORMANCE

    body = node.get(f"{node.root}/collections").json()
    assert [c["id"] for c in body["collections"]] == ["incidents", "vessels", "positions", "zones"]
    for c in body["collections"]:
        assert c["itemType"] == "feature"
        rels = {link["rel"]: link for link in c["links"]}
        assert rels["items"]["href"] == f"{node.root}/collections/{c['id']}/items"
        assert rels["items"]["type"] == GEOJSON
        one = node.get(f"{node.root}/collections/{c['id']}").json()
        assert one["id"] == c["id"]

    q = node.get(f"{node.root}/collections/incidents/queryables")
    assert q.status_code == 200
    assert q.headers["content-type"] == "application/schema+json"
    props = q.json()["properties"]
    assert {"category", "status", "severity", "origin", "geometry"} <= props.keys()
    assert "Severe" in props["severity"]["enum"]
    vessel_q = node.get(f"{node.root}/collections/vessels/queryables").json()["properties"]
    assert {"mmsi", "flag", "category"} <= vessel_q.keys()


def test_every_call_needs_credentials(node: Node) -> None:
    for path in ("", "/conformance", "/collections", "/collections/incidents/items"):
        r = httpx.get(node.root + path)
        assert r.status_code == 401, (path, r.text)


# -- items ------------------------------------------------------------------------------------


def test_paging_with_limit_5_returns_every_incident_once(node: Node) -> None:
    first = node.items("incidents", limit=5)
    assert first["numberMatched"] == INCIDENTS
    assert first["numberReturned"] == 5
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", first["timeStamp"])
    rels = [link["rel"] for link in first["links"]]
    assert rels.count("self") == 1 and rels.count("next") == 1
    ids = node.all_ids("incidents", limit=5)
    assert len(ids) == INCIDENTS and len(set(ids)) == INCIDENTS
    # Newest observation first: the AMBER one (hour 22) leads for the node's own viewer.
    assert ids[0] == node.amber_id
    assert len(node.all_ids("incidents")) == INCIDENTS  # default page of 10: three pages


def test_limit_default_and_clamp(node: Node) -> None:
    assert node.items("incidents")["numberReturned"] == 10
    big = node.items("incidents", limit=50_000)  # above the maximum: the maximum
    assert big["numberReturned"] == INCIDENTS
    assert not [link for link in big["links"] if link["rel"] == "next"]


def count(node: Node, collection: str = "incidents", caller: str | None = None, **q: Any) -> int:
    body = node.items(collection, caller, limit=1000, **q)
    assert "next" not in [link["rel"] for link in body["links"]]
    if "numberMatched" in body:
        assert body["numberMatched"] == body["numberReturned"]
    return int(body["numberReturned"])


def test_cql2_filters_select_exactly(node: Node) -> None:
    # Incident i: category CATEGORIES[i % 4], responding when i % 3 == 0, Severe when i % 5 == 0
    # (and the AMBER one, 22), at longitude 130 + i / 10, T0 + i hours.
    assert count(node, filter="category = 'sar'") == 6  # 0, 4, 8, 12, 16, 20
    assert count(node, filter="category IN ('sar', 'pollution')") == 12
    assert count(node, filter="category <> 'sar'") == INCIDENTS - 6
    assert count(node, filter="NOT (category = 'sar')") == INCIDENTS - 6
    assert count(node, filter="severity = 'Severe'") == 6  # 0, 5, 10, 15, 20, 22
    assert count(node, filter="severity IS NULL") == INCIDENTS - 6
    assert count(node, filter="severity IS NOT NULL AND category = 'sar'") == 2  # 0, 20
    # AND binds tighter than OR: sar (6) or (pollution and responding: 9, 21).
    either = "category = 'sar' OR category = 'pollution'"
    assert count(node, filter=f"{either} AND status = 'responding'") == 8
    assert count(node, filter=f"({either}) AND status = 'responding'") == 4
    assert count(node, filter="origin = 'jcg'") == INCIDENTS
    assert count(node, filter="title LIKE 'case 1%'") == 10
    assert count(node, filter="version >= 1 AND version < 2") == INCIDENTS
    # Incidents 0..4 lie west of 130.45.
    assert count(node, filter="S_INTERSECTS(geometry, BBOX(129, 33, 130.45, 35))") == 5
    assert count(node, filter="S_INTERSECTS(geometry, POINT(130 34))") == 1
    assert count(node, filter=f"observed_at >= TIMESTAMP('{iso(T0 + timedelta(hours=20))}')") == 3
    assert count(node, **{"filter": "category = 'sar'", "filter-lang": "cql2-text"}) == 6


def test_bbox_and_datetime(node: Node) -> None:
    assert count(node, bbox="129,33,130.45,35") == 5
    assert count(node, bbox="129,33,0,130.45,35,100") == 5  # heights ignored
    assert count(node, bbox="170,-10,-170,10") == 0  # across the antimeridian
    at = T0 + timedelta(hours=3)
    assert count(node, datetime=iso(at)) == 1
    assert count(node, datetime=f"{iso(at)}/{iso(at + timedelta(hours=2))}") == 3  # closed
    assert count(node, datetime=f"{iso(at)}/..") == INCIDENTS - 3
    assert count(node, datetime=f"../{iso(at)}") == 4
    assert count(node, datetime=f"/{iso(at)}") == 4
    assert count(node, datetime=T0.date().isoformat()) == INCIDENTS  # hours 0..22 of that day
    assert count(node, "positions", datetime=f"../{iso(T0 + timedelta(minutes=1))}") == 6
    assert count(node, "vessels", bbox="130.5,34,131.5,36") == 1
    assert count(node, "zones", datetime=iso(at)) == 0  # zones have no time


def test_other_collections_and_single_items(node: Node) -> None:
    vessels = node.all_ids("vessels", limit=2)
    assert vessels == sorted(VESSELS)
    assert node.items("vessels")["numberMatched"] == len(VESSELS)
    assert count(node, "vessels", filter="mmsi LIKE '431%'") == 2
    positions = node.all_ids("positions", limit=5)
    assert len(set(positions)) == len(VESSELS) * POSITIONS_EACH == len(positions)
    assert "numberMatched" not in node.items("positions")
    assert count(node, "positions", filter="mmsi = '440000003' AND sog > 11.5") == 2
    zones = node.all_ids("zones", limit=3)
    assert len(set(zones)) == node.zones == len(zones)

    for collection, feature_id in (
        ("incidents", node.amber_id),
        ("vessels", VESSELS[0]),
        ("positions", positions[0]),
        ("zones", zones[0]),
    ):
        r = node.get(f"{node.root}/collections/{collection}/items/{feature_id}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == GEOJSON
        body = r.json()
        assert body["type"] == "Feature" and str(body["id"]) == feature_id
        assert {link["rel"] for link in body["links"]} == {"self", "collection"}
    for collection, missing in (
        ("incidents", str(uuid.uuid4())),
        ("incidents", "not-a-uuid"),
        ("vessels", "999999999"),
        ("positions", "999999"),
        ("zones", "nowhere"),
    ):
        r = node.get(f"{node.root}/collections/{collection}/items/{missing}")
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"properties": "title"}, "properties"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "0,50,10,40"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2024-05-02T00:00:00Z/2024-05-01T00:00:00Z"}, "datetime"),
        ({"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, "bbox-crs"),
        ({"filter": "category = 'sar'", "filter-lang": "cql2-json"}, "filter-lang"),
        ({"filter": "colour = 'red'"}, "colour"),
        ({"filter": "category = 'not-a-category'"}, "not-a-category"),
        ({"filter": "T_AFTER(observed_at, TIMESTAMP('2024-05-01T00:00:00Z'))"}, "T_AFTER"),
        ({"filter": "S_WITHIN(geometry, POINT(1 2))"}, "S_WITHIN"),
        ({"filter": "CASEI(category) = 'sar'"}, "CASEI"),
        ({"filter": "category ="}, "CQL2"),
        ({"filter": "version = 'one'"}, "version"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"f": "html"}, "f"),
    ],
)
def test_bad_requests_are_400_problems_naming_what(
    node: Node, query: dict[str, str], named: str
) -> None:
    r = node.get(f"{node.root}/collections/incidents/items", **query)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert named in r.json()["detail"]


def test_unknown_collection_is_404(node: Node) -> None:
    for path in ("/collections/ships", "/collections/ships/items", "/collections/ships/items/1"):
        r = node.get(node.root + path)
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == PROBLEM


# -- the releasability policy -----------------------------------------------------------------


def test_a_partner_never_sees_an_amber_item_not_released_to_it(node: Node) -> None:
    ids = node.all_ids("incidents", "uscg", limit=5)
    assert len(ids) == len(set(ids)) == INCIDENTS - 1
    assert node.amber_id not in ids
    assert node.items("incidents", "uscg")["numberMatched"] == INCIDENTS - 1
    assert count(node, caller="uscg", filter="tlp = 'AMBER'") == 0
    assert count(node, caller="uscg", filter="severity = 'Severe'") == 5
    assert count(node, caller="uscg", filter="category = 'iuu_fishing'") == 5

    hidden = node.get(f"{node.root}/collections/incidents/items/{node.amber_id}", "uscg")
    missing = node.get(f"{node.root}/collections/incidents/items/{uuid.uuid4()}", "uscg")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json().keys() == missing.json().keys()

    # kcg may have it: the item is there, and withheld from uscg alone.
    assert node.amber_id in node.all_ids("incidents", "kcg", limit=5)
    r = node.get(f"{node.root}/collections/incidents/items/{node.amber_id}", "kcg")
    assert r.status_code == 200 and r.json()["properties"]["tlp"] == "AMBER"


# -- real clients -----------------------------------------------------------------------------


def ogrinfo(node: Node, *args: str) -> str:
    assert OGRINFO is not None, "GDAL's ogrinfo is not installed (Debian: gdal-bin)"
    token = node.viewer["Authorization"]
    run = subprocess.run(
        [OGRINFO, "-ro", "--config", "GDAL_HTTP_HEADERS", f"Authorization: {token}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_gdal_lists_the_collections_and_counts_their_features(node: Node) -> None:
    listing = ogrinfo(node, "-so", f"OAPIF:{node.root}")
    layers = re.findall(r"^\d+: (\w+)", listing, re.MULTILINE)
    assert layers == ["incidents", "vessels", "positions", "zones"]
    expected = {
        "incidents": INCIDENTS,
        "vessels": len(VESSELS),
        "positions": len(VESSELS) * POSITIONS_EACH,  # no numberMatched: GDAL pages to count
        "zones": node.zones,
    }
    for layer, n in expected.items():
        summary = ogrinfo(node, "-so", "-al", f"OAPIF:{node.root}", layer)
        assert re.findall(r"^Feature Count: (\d+)$", summary, re.MULTILINE) == [str(n)], summary


def test_gdal_reads_every_feature_through_next_links(node: Node) -> None:
    out = ogrinfo(node, "-al", "-oo", "PAGE_SIZE=5", f"OAPIF:{node.root}", "incidents")
    assert len(re.findall(r"^OGRFeature\(incidents\):", out, re.MULTILINE)) == INCIDENTS
    titles = re.findall(r"^\s+title \(String\) = (case \d+)$", out, re.MULTILINE)
    assert sorted(titles) == [f"case {i:02d}" for i in range(INCIDENTS)]
    positions = ogrinfo(node, "-al", "-oo", "PAGE_SIZE=5", f"OAPIF:{node.root}", "positions")
    assert len(re.findall(r"^OGRFeature\(positions\):", positions, re.MULTILINE)) == 12
    # GDAL 3.6 evaluates a -where itself over the pages it reads; the count is the same.
    sar = ogrinfo(
        node, "-so", "-al", "-where", "category = 'sar'", f"OAPIF:{node.root}", "incidents"
    )
    assert re.findall(r"^Feature Count: (\d+)$", sar, re.MULTILINE) == ["6"], sar


def test_owslib_lists_collections_and_pages_through_incidents(node: Node) -> None:
    api = Features(node.root, headers=dict(node.viewer))
    assert api.feature_collections() == ["incidents", "vessels", "positions", "zones"]
    assert set(api.conformance()["conformsTo"]) >= CONFORMANCE
    assert api.collection_queryables("incidents")["properties"]["status"]["type"] == "string"
    seen: list[str] = []
    page = api.collection_items("incidents", limit=5)
    pages = 1
    while True:
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        query = {k: v[0] for k, v in parse_qs(urlsplit(nxt[0]).query).items()}
        page = api.collection_items("incidents", **query)
        pages += 1
    assert pages == 5
    assert len(seen) == len(set(seen)) == INCIDENTS
    filtered = api.collection_items("incidents", filter="category = 'sar'", limit=100)
    assert filtered["numberMatched"] == filtered["numberReturned"] == 6

"""/api/v1/exports against a real PostGIS: the files open in real readers (GDAL's KML and LIBKML
drivers, the csv module, orjson), hold exactly the filtered selection, and hold only what the
caller may see.

Node jcg holds incidents of several categories, places and markings, and vessels' positions;
partner kcg calls with a real MDX-Ed25519 signature, jcg's operator with an access token.
"""

from __future__ import annotations

import csv
import io
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import shapely.geometry
import shapely.wkt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from mdx.api.app import create_app
from mdx.core import keys, store
from mdx.core.fedauth import sign_request
from mdx.core.policy import Marked
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import login
from tests.integration.test_api_policy import PARTNERS, accepted, save, settings_for

EXPORTS = "/api/v1/exports"
INCIDENTS = "/api/v1/incidents"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
KML_TYPE = "application/vnd.google-earth.kml+xml"
CATEGORIES = ("sar", "pollution", "iuu_fishing")
# Inside the box: the first 6 incidents (longitude 139.0 ... 139.5); outside: the rest.
BOX = "138.9,34.9,139.55,35.5"
IN_BOX = 6
COUNT = 12
EVIL = '=HYPERLINK("http://evil.example/","click")'


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


@pytest.fixture
def settings(db: str, tmp_path: Path, partner_keys: dict[str, Ed25519PrivateKey]) -> NodeSettings:
    return settings_for(db, tmp_path)


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def client(settings: NodeSettings, schemas: SchemaSet) -> Iterator[TestClient]:
    with TestClient(create_app(settings, schemas)) as c:
        login(c, settings.database.url, "operator")
        yield c


def incident_data(i: int, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "incident_id": str(uuid.uuid4()),
        "version": 1,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "status": "reported",
        "title": f"case {i}: ünïcode 海上 해상",
        "description": f"<b>case</b> {i} & more",
        "location": {"type": "Point", "coordinates": [139.0 + i / 10, 35.0]},
        "observed_at": iso(T0 + timedelta(minutes=i)),
        "vessels": [{"mmsi": "431000001", "role": "suspect"}],
    }
    data.update(fields)
    return data


GREEN = Marked("jcg", "GREEN", (), "SAR", False)
WITHHELD_FROM_KCG = Marked("jcg", "AMBER", ("uscg",), None, False)  # AMBER, not for kcg


@pytest.fixture
def incidents(db: str, schemas: SchemaSet) -> dict[str, dict[str, Any]]:
    """COUNT GREEN incidents, one of them a polygon and one titled like a formula, plus one
    AMBER incident released to uscg only. Returns id -> data of the GREEN ones."""
    items = {}
    batch = []
    for i in range(COUNT):
        data = incident_data(i)
        if i == COUNT - 1:  # outside the box, a polygon
            data["location"] = {
                "type": "Polygon",
                "coordinates": [[[150, 30], [151, 30], [151, 31], [150, 30]]],
            }
        if i == 2:
            data["title"] = EVIL
            data["description"] = "-1+1"
        items[data["incident_id"]] = data
        batch.append(accepted(schemas, "incident", data, "jcg", GREEN))
    amber = incident_data(0, title="AMBER for uscg only")
    batch.append(accepted(schemas, "incident", amber, "jcg", WITHHELD_FROM_KCG))
    save(db, batch)
    return items


@pytest.fixture
def amber_id(incidents: dict[str, Any], db: str) -> str:
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        row = conn.execute("SELECT incident_id FROM incidents WHERE tlp = 'AMBER'").fetchone()
    assert row is not None
    return str(row[0])


def position(mmsi: str, lon: float, minute: int) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": 35.0,
        "lon": lon,
        "sog": 10.0,
        "cog": 90.0,
        "observed_at": iso(T0 + timedelta(minutes=minute)),
        "source_type": "ais-terrestrial",
    }


VESSELS = {"431000001": 139.1, "431000002": 139.2, "440000003": 129.5}
HIDDEN_VESSEL = "431000009"


@pytest.fixture
def vessels(db: str, schemas: SchemaSet) -> None:
    batch = [
        accepted(schemas, "position", position(mmsi, lon, m), "jcg", GREEN)
        for mmsi, lon in VESSELS.items()
        for m in (0, 1)
    ]
    batch.append(
        accepted(schemas, "position", position(HIDDEN_VESSEL, 139.3, 0), "jcg", WITHHELD_FROM_KCG)
    )
    save(db, batch)


def get(client: TestClient, path_qs: str, caller: str | None = None, **kw: Any) -> httpx.Response:
    headers = {}
    if caller is not None:
        key = kw.pop("keys")[caller]
        headers["Authorization"] = sign_request("GET", path_qs, caller, "jcg", key, time.time())
    r: httpx.Response = client.get(path_qs, headers=headers)
    assert r.status_code == 200, r.text
    return r


def ogrinfo(path: Path, *, libkml: bool) -> str:
    """`ogrinfo -ro -al` of a file with GDAL's KML driver (expat) or its LIBKML driver."""
    config = [] if libkml else ["--config", "GDAL_SKIP", "LIBKML"]
    run = subprocess.run(
        ["ogrinfo", *config, "-ro", "-al", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    driver = "LIBKML" if libkml else "KML"
    assert f"using driver `{driver}' successful" in run.stdout, run.stdout[:500]
    return run.stdout


def feature_count(ogr_output: str) -> int:
    counts = [line for line in ogr_output.splitlines() if line.startswith("Feature Count:")]
    assert len(counts) == 1, counts
    return int(counts[0].split(":")[1])


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


# --- GeoJSON -----------------------------------------------------------------------------------


def test_geojson_round_trips_the_api_features(
    client: TestClient, incidents: dict[str, Any], amber_id: str
) -> None:
    r = get(client, f"{EXPORTS}/incidents.geojson")
    assert r.headers["content-type"] == "application/geo+json"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="mdx-jcg-incidents-')
    assert disposition.endswith('Z.geojson"')
    stamp = disposition.split("incidents-")[1].removesuffix('.geojson"')
    assert abs(datetime.strptime(stamp, "%Y%m%dT%H%M%S%z") - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    assert (r.headers["mdx-export-count"], r.headers["mdx-export-truncated"]) == ("13", "false")
    doc = orjson.loads(r.content)
    assert doc["type"] == "FeatureCollection"
    assert (doc["numberReturned"], doc["truncated"]) == (COUNT + 1, False)
    # The same features, in the same order, as the incident list serves the operator.
    listed = client.get(f"{INCIDENTS}?limit=100").json()["features"]
    assert doc["features"] == listed
    assert {f["id"] for f in doc["features"]} == {*incidents, amber_id}


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_parses_back_to_the_same_features(
    client: TestClient, incidents: dict[str, Any], amber_id: str
) -> None:
    r = get(client, f"{EXPORTS}/incidents.csv")
    assert r.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert r.headers["content-disposition"].endswith('Z.csv"')
    assert not r.content.startswith(b"\xef\xbb\xbf")
    assert r.content.count(b"\r\n") == COUNT + 2  # header, rows, each ending CRLF
    rows = csv_rows(r.content)
    listed = {f["id"]: f for f in client.get(f"{INCIDENTS}?limit=100").json()["features"]}
    assert [row["id"] for row in rows] == list(listed)
    header = list(rows[0])
    assert header[:8] == ["id", "lon", "lat", "wkt", "incident_id", "version", "category", "status"]
    assert header[-6:] == ["origin", "tlp", "relto", "purpose", "received_at", "provenance"]
    for row in rows:
        feature = listed[row["id"]]
        props = feature["properties"]
        geometry = feature["geometry"]
        if geometry["type"] == "Point":
            assert [float(row["lon"]), float(row["lat"])] == geometry["coordinates"]
            assert row["wkt"] == ""
        else:
            assert (row["lon"], row["lat"]) == ("", "")
            assert shapely.wkt.loads(row["wkt"]).equals(shapely.geometry.shape(geometry))
        # Every property comes back: text as text, nested values as JSON text.
        for name, value in props.items():
            cell = row[name]
            if isinstance(value, (list, dict)):
                assert orjson.loads(cell) == value, name
            elif isinstance(value, int):
                assert int(cell) == value, name
            elif value is None:
                assert cell == "", name
            elif value == EVIL or value == "-1+1":
                assert cell == "'" + value, name
            else:
                assert cell == value, name
        # Columns of properties this incident lacks are empty.
        lacking = set(row) - set(props) - {"id", "lon", "lat", "wkt"}
        assert lacking and all(row[name] == "" for name in lacking), lacking


def test_csv_defuses_formulas_and_can_carry_a_bom(
    client: TestClient, incidents: dict[str, Any]
) -> None:
    r = get(client, f"{EXPORTS}/incidents.csv?bom=true&category=iuu_fishing")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    evil = [row for row in rows if row["title"].endswith(EVIL)]
    assert len(evil) == 1
    assert evil[0]["title"] == "'" + EVIL
    assert evil[0]["description"] == "'-1+1"
    # Numbers stay numbers: a negative longitude is not text, so it is not quoted.
    assert all(not row["lon"].startswith("'") for row in rows)


# --- KML ---------------------------------------------------------------------------------------


def test_kml_opens_in_gdal_with_every_feature(
    client: TestClient, incidents: dict[str, Any], tmp_path: Path
) -> None:
    r = get(client, f"{EXPORTS}/incidents.kml")
    assert r.headers["content-type"] == KML_TYPE
    assert r.headers["content-disposition"].endswith('Z.kml"')
    path = tmp_path / "incidents.kml"
    path.write_bytes(r.content)

    plain = ogrinfo(path, libkml=False)
    assert feature_count(plain) == COUNT + 1
    for data in incidents.values():
        assert f"  Name (String) = {data['title']}\n" in plain
        # The description is shown as HTML by KML clients: its markup arrives as text.
        html_escaped = data["description"].replace("&", "&amp;").replace("<", "&lt;")
        assert f"  Description (String) = {html_escaped.replace('>', '&gt;')}\n" in plain
    assert plain.count("MULTIPOLYGON") + plain.count("POLYGON ((150 30") >= 1

    rich = ogrinfo(path, libkml=True)
    assert feature_count(rich) == COUNT + 1
    assert rich.count("  timestamp (DateTime) = 2024/05/01 09:") == COUNT + 1
    assert rich.count("  category (String) = ") == COUNT + 1
    assert rich.count("  category (String) = pollution\n") == 4
    assert rich.count("  tlp (String) = GREEN\n") == COUNT
    assert rich.count("  Style = @incident-sar-GREEN\n") == 4
    assert rich.count("  Style = @incident-pollution-AMBER\n") == 0


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "csv", "kml"])
def test_filters_select_exactly_what_the_incident_list_selects(
    client: TestClient, incidents: dict[str, Any], fmt: str, tmp_path: Path
) -> None:
    for query, expected in [
        (f"bbox={BOX}", IN_BOX + 1),  # and the AMBER one at 139.0
        ("category=pollution", 4),
        (f"category=sar,iuu_fishing&bbox={BOX}", 4 + 1),
        (f"since={iso(T0 + timedelta(minutes=3))}&until={iso(T0 + timedelta(minutes=7))}", 4),
    ]:
        listed = [f["id"] for f in client.get(f"{INCIDENTS}?limit=100&{query}").json()["features"]]
        assert len(listed) == expected, query
        r = get(client, f"{EXPORTS}/incidents.{fmt}?{query}")
        assert r.headers["mdx-export-count"] == str(expected)
        if fmt == "geojson":
            assert [f["id"] for f in orjson.loads(r.content)["features"]] == listed
        elif fmt == "csv":
            assert [row["id"] for row in csv_rows(r.content)] == listed
        else:
            path = tmp_path / "selection.kml"
            path.write_bytes(r.content)
            assert feature_count(ogrinfo(path, libkml=False)) == expected, query


def test_limit_cuts_the_export_and_says_so(client: TestClient, incidents: dict[str, Any]) -> None:
    r = get(client, f"{EXPORTS}/incidents.geojson?limit=5")
    assert (r.headers["mdx-export-count"], r.headers["mdx-export-truncated"]) == ("5", "true")
    doc = orjson.loads(r.content)
    assert (len(doc["features"]), doc["numberReturned"], doc["truncated"]) == (5, 5, True)
    listed = client.get(f"{INCIDENTS}?limit=5").json()["features"]
    assert doc["features"] == listed
    exact = get(client, f"{EXPORTS}/incidents.csv?limit={COUNT + 1}")
    assert (exact.headers["mdx-export-count"], exact.headers["mdx-export-truncated"]) == (
        str(COUNT + 1),
        "false",
    )


def test_bad_filters_are_problems_naming_the_parameter(client: TestClient) -> None:
    for query, parameter in [
        ("bbox=1,2,3", "bbox"),
        ("category=whaling", "category"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=100001", "limit"),
    ]:
        r = client.get(f"{EXPORTS}/incidents.csv?{query}")
        assert r.status_code == 400, query
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["parameter"] for e in r.json()["errors"]] == [parameter], query


# --- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "csv", "kml"])
def test_a_partner_gets_only_what_is_released_to_it(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    incidents: dict[str, Any],
    amber_id: str,
    vessels: None,
    fmt: str,
    tmp_path: Path,
) -> None:
    r = get(client, f"{EXPORTS}/incidents.{fmt}", "kcg", keys=partner_keys)
    assert r.headers["mdx-export-count"] == str(COUNT)
    assert amber_id.encode() not in r.content
    assert b"AMBER for uscg only" not in r.content
    v = get(client, f"{EXPORTS}/vessels.{fmt}", "kcg", keys=partner_keys)
    assert v.headers["mdx-export-count"] == str(len(VESSELS))
    assert HIDDEN_VESSEL.encode() not in v.content
    if fmt == "kml":
        path = tmp_path / "partner.kml"
        path.write_bytes(r.content)
        assert feature_count(ogrinfo(path, libkml=False)) == COUNT
    # uscg may have it; jcg's operator has everything.
    for_uscg = get(client, f"{EXPORTS}/incidents.{fmt}", "uscg", keys=partner_keys)
    assert amber_id.encode() in for_uscg.content
    assert HIDDEN_VESSEL.encode() in get(client, f"{EXPORTS}/vessels.{fmt}").content


def test_exports_of_restricted_items_are_audited(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    incidents: dict[str, Any],
    amber_id: str,
    vessels: None,
    db: str,
) -> None:
    get(client, f"{EXPORTS}/incidents.kml?category=pollution")  # nothing restricted
    get(client, f"{EXPORTS}/incidents.csv")
    get(client, f"{EXPORTS}/incidents.geojson", "kcg", keys=partner_keys)  # AMBER withheld
    get(client, f"{EXPORTS}/incidents.geojson", "uscg", keys=partner_keys)
    get(client, f"{EXPORTS}/vessels.csv")
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        rows = conn.execute(
            "SELECT actor, detail FROM audit_log WHERE event = 'read.restricted' ORDER BY seq"
        ).fetchall()
    assert [(actor, d["path"], d["kind"], d["ids"]) for actor, d in rows] == [
        ("user:test-operator", f"{EXPORTS}/incidents.csv", "incident", [amber_id]),
        ("node:uscg", f"{EXPORTS}/incidents.geojson", "incident", [amber_id]),
        ("user:test-operator", f"{EXPORTS}/vessels.csv", "vessel", [HIDDEN_VESSEL]),
    ]


# --- vessels -----------------------------------------------------------------------------------


def test_vessel_exports_hold_the_latest_positions(
    client: TestClient, vessels: None, tmp_path: Path
) -> None:
    listed = client.get("/api/v1/vessels").json()["features"]
    assert len(listed) == len(VESSELS) + 1
    by_mmsi = sorted(listed, key=lambda f: f["id"])

    doc = orjson.loads(get(client, f"{EXPORTS}/vessels.geojson").content)
    assert doc["features"] == by_mmsi

    rows = csv_rows(get(client, f"{EXPORTS}/vessels.csv").content)
    assert [(r["id"], float(r["lon"]), r["observed_at"]) for r in rows] == [
        (f["id"], f["geometry"]["coordinates"][0], f["properties"]["observed_at"]) for f in by_mmsi
    ]

    r = get(client, f"{EXPORTS}/vessels.kml?mmsi=431&bbox={BOX}")
    path = tmp_path / "vessels.kml"
    path.write_bytes(r.content)
    out = ogrinfo(path, libkml=True)
    assert feature_count(out) == 3  # 431000001, 431000002 and the hidden one, not 440000003
    assert "  mmsi (String) = 440000003\n" not in out
    assert r.headers["content-disposition"].startswith('attachment; filename="mdx-jcg-vessels-')

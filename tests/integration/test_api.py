"""The HTTP API against a real PostGIS (and a real Mosquitto for /healthz)."""

from __future__ import annotations

import base64
import math
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from mdx.api.app import create_app
from mdx.core import intake, store
from mdx.core.envelope import make_envelope
from mdx.core.intake import Accepted, IntakePolicy
from mdx.core.schemas import INCIDENT_SCHEMA_ID, SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TOKEN_SECRET, free_port, login

INCIDENTS = "/api/v1/incidents"
PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
MMSI = "431000001"  # MID 431: Japan


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


def settings_for(database_url: str, broker_port: int = 1) -> NodeSettings:
    return NodeSettings(
        node={"id": "jcg", "default_tlp": "GREEN"},
        auth={"token_secret": TOKEN_SECRET},
        database={"url": database_url},
        broker={"host": "127.0.0.1", "port": broker_port},
    )


@pytest.fixture
def client(db: str, schemas: SchemaSet) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db), schemas)) as c:
        login(c, db)
        yield c


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def incident(lon: float = 139.0, lat: float = 35.0, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "sar",
        "status": "reported",
        "title": "Person in the water",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "observed_at": iso(T0),
    }
    data.update(fields)
    return data


def post(client: TestClient, data: dict[str, Any], **params: str) -> dict[str, Any]:
    r = client.post(INCIDENTS, json=data, params=params)
    assert r.status_code == 201, r.text
    feature: dict[str, Any] = r.json()
    return feature


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


def store_accepted(db: str, accepted: list[Accepted], bounced: list[store.Bounced] = []) -> None:  # noqa: B006
    with store.connect(db) as conn:
        store.write_batch(conn, accepted, bounced)


def judged(schemas: SchemaSet, producer: str, kind: str, data: dict[str, Any]) -> Accepted:
    """Through the same handler as MQTT ingest, as producer `producer` of node jcg."""
    type_ = f"mdx.{kind}.v1"
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=schemas)
    result = intake.accept_envelope(
        make_envelope("jcg", producer, type_, data), producer, kind, policy
    )
    assert isinstance(result, Accepted), result
    return result


def partner_incident(data: dict[str, Any]) -> Accepted:
    """An incident shared by partner node kcg (share intake is not built yet)."""
    envelope = make_envelope("kcg", "share", "mdx.incident.v1", data, tlp="GREEN")
    return Accepted("incident", "share", "kcg", envelope, "GREEN", [], None)


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


def offset(lon: float, lat: float, east_m: float = 0, north_m: float = 0) -> tuple[float, float]:
    """A point east_m / north_m metres away on the WGS 84 ellipsoid (good to ~0.1 % here)."""
    a, e2 = 6378137.0, 6.69437999014e-3
    phi = math.radians(lat)
    w = math.sqrt(1 - e2 * math.sin(phi) ** 2)
    meridian = a * (1 - e2) / w**3  # radius of curvature along the meridian
    parallel = a * math.cos(phi) / w  # radius of the parallel
    return lon + math.degrees(east_m / parallel), lat + math.degrees(north_m / meridian)


# --- POST / GET one ----------------------------------------------------------------------------


def test_post_stores_and_returns_the_feature(client: TestClient) -> None:
    r = client.post(
        INCIDENTS,
        json=incident(139.5, 35.25),
        params={"relto": "kcg, uscg", "tlp": "AMBER", "purpose": "SAR"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == GEOJSON
    feature = r.json()
    incident_id = feature["id"]
    assert uuid.UUID(incident_id).version == 4
    assert r.headers["location"] == f"{INCIDENTS}/{incident_id}"
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [139.5, 35.25]}
    props = feature["properties"]
    assert props["incident_id"] == incident_id
    assert props["version"] == 1
    assert props["category"] == "sar"
    assert props["title"] == "Person in the water"
    assert (props["origin"], props["tlp"], props["relto"], props["purpose"]) == (
        "jcg",
        "AMBER",
        ["kcg", "uscg"],
        "SAR",
    )
    assert "location" not in props
    datetime.fromisoformat(props["received_at"])

    got = client.get(r.headers["location"])
    assert got.status_code == 200
    assert got.headers["content-type"] == GEOJSON
    assert got.json() == feature


def test_post_takes_default_markings_and_given_id(client: TestClient) -> None:
    given = str(uuid.uuid4())
    props = post(client, incident(incident_id=given, version=3))["properties"]
    assert (props["incident_id"], props["version"]) == (given, 3)
    assert (props["tlp"], props["relto"], props["purpose"]) == ("GREEN", [], None)


@pytest.mark.parametrize(
    ("data", "path", "keyword"),
    [
        (incident(139.0, 91.0), "/location/coordinates/1", "maximum"),
        (incident(category="whaling"), "/category", "enum"),
        ({k: v for k, v in incident().items() if k != "title"}, "", "required"),
        (incident(status="lost"), "/status", "enum"),
    ],
    ids=["lat-91", "unknown-category", "missing-title", "unknown-status"],
)
def test_post_invalid_is_422_with_the_schema_path(
    client: TestClient, data: dict[str, Any], path: str, keyword: str
) -> None:
    body = assert_problem(client.post(INCIDENTS, json=data), 422)
    assert body["instance"] == INCIDENTS
    assert body["detail"].startswith("schema: /data")
    assert [(e["path"], e["keyword"]) for e in body["errors"]] == [(path, keyword)]
    if keyword == "required":
        assert "title" in body["errors"][0]["message"]
    assert ids(client.get(INCIDENTS)) == set()


def test_post_node_rule_violation_names_the_field(client: TestClient) -> None:
    future = iso(datetime.now(UTC) + timedelta(hours=1))
    body = assert_problem(client.post(INCIDENTS, json=incident(observed_at=future)), 422)
    assert body["errors"] == [
        {"path": "/observed_at", "keyword": None, "message": f"{future} is in the future"}
    ]


def test_post_bad_marking_names_the_parameter(client: TestClient) -> None:
    # A marking is a parameter, checked against its published pattern like every other.
    body = assert_problem(client.post(INCIDENTS, json=incident(), params={"tlp": "PINK"}), 400)
    assert [(e["in"], e["parameter"], e["value"], e["keyword"]) for e in body["errors"]] == [
        ("query", "tlp", "PINK", "string_pattern_mismatch")
    ]


def test_an_empty_time_window_selects_nothing(client: TestClient) -> None:
    client.post(INCIDENTS, json=incident())
    window = {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}
    assert client.get(INCIDENTS, params=window).json()["features"] == []


def test_post_body_not_an_object_is_400(client: TestClient) -> None:
    body = assert_problem(client.post(INCIDENTS, json=[1, 2]), 400)
    assert body["errors"][0]["in"] == "body"


def test_get_unknown_is_404_and_bad_uuid_is_400(client: TestClient) -> None:
    missing = uuid.uuid4()
    body = assert_problem(client.get(f"{INCIDENTS}/{missing}"), 404)
    assert str(missing) in body["detail"]
    body = assert_problem(client.get(f"{INCIDENTS}/not-a-uuid"), 400)
    assert body["errors"][0]["parameter"] == "incident_id"
    assert body["errors"][0]["value"] == "not-a-uuid"


# --- versions: POST conflicts, PATCH ------------------------------------------------------------


def test_patch_raises_version_and_older_versions_never_overwrite(
    client: TestClient, db: str, schemas: SchemaSet
) -> None:
    first = post(client, incident(), tlp="AMBER", relto="kcg", purpose="SAR")
    url = f"{INCIDENTS}/{first['id']}"

    r = client.patch(url, json={"status": "responding"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == GEOJSON
    props = r.json()["properties"]
    assert (props["version"], props["status"]) == (2, "responding")
    # Same markings as the stored version; everything else copied.
    assert (props["tlp"], props["relto"], props["purpose"]) == ("AMBER", ["kcg"], "SAR")
    assert props["title"] == first["properties"]["title"]
    assert r.json()["geometry"] == first["geometry"]

    for version in (1, 2):
        again = incident(incident_id=first["id"], version=version, status="closed")
        body = assert_problem(client.post(INCIDENTS, json=again), 409)
        assert body["stored_version"] == 2
    # An older version arriving over MQTT does not move the state either.
    old = incident(incident_id=first["id"], version=1, status="closed", title="stale")
    store_accepted(db, [judged(schemas, "patrol-7", "incident", old)])

    got = client.get(url).json()["properties"]
    assert (got["version"], got["status"], got["title"]) == (2, "responding", "Person in the water")
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        versions = conn.execute(
            "SELECT version, source FROM incident_versions ORDER BY version, source"
        ).fetchall()
    # The 409s stored nothing; the MQTT copy of version 1 lost to the stored version 1.
    assert versions == [(1, "urn:mdx:jcg:api"), (2, "urn:mdx:jcg:api")]

    newer = post(client, incident(incident_id=first["id"], version=3, status="resolved"))
    assert (newer["properties"]["version"], newer["properties"]["status"]) == (3, "resolved")


def test_concurrent_patches_each_make_one_version(client: TestClient, db: str) -> None:
    url = f"{INCIDENTS}/{post(client, incident())['id']}"
    statuses = ["acknowledged", "responding", "resolved", "closed"] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(
            pool.map(lambda s: client.patch(url, json={"status": s}).status_code, statuses)
        )
    # The row lock serialises them: none is lost, none collides.
    assert codes == [200] * len(statuses)
    assert client.get(url).json()["properties"]["version"] == 1 + len(statuses)
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        versions = [
            v for (v,) in conn.execute("SELECT version FROM incident_versions ORDER BY version")
        ]
    assert versions == list(range(1, 2 + len(statuses)))


def test_patch_bad_status_is_422_and_keeps_the_version(client: TestClient) -> None:
    url = f"{INCIDENTS}/{post(client, incident())['id']}"
    body = assert_problem(client.patch(url, json={"status": "lost"}), 422)
    assert [(e["path"], e["keyword"]) for e in body["errors"]] == [("/status", "enum")]
    assert client.get(url).json()["properties"]["version"] == 1


def test_patch_note_is_judged_by_the_incident_schema(
    client: TestClient, schemas: SchemaSet
) -> None:
    url = f"{INCIDENTS}/{post(client, incident())['id']}"
    r = client.patch(url, json={"status": "responding", "note": "cutter dispatched"})
    if "note" in schemas.schema(INCIDENT_SCHEMA_ID)["properties"]:
        assert r.status_code == 200, r.text
        assert r.json()["properties"]["note"] == "cutter dispatched"
    else:
        body = assert_problem(r, 422)
        assert [(e["path"], e["keyword"]) for e in body["errors"]] == [("", "additionalProperties")]
        assert client.get(url).json()["properties"]["version"] == 1


def test_patch_unknown_is_404(client: TestClient) -> None:
    r = client.patch(f"{INCIDENTS}/{uuid.uuid4()}", json={"status": "closed"})
    assert_problem(r, 404)


def test_patch_needs_a_status(client: TestClient) -> None:
    url = f"{INCIDENTS}/{post(client, incident())['id']}"
    body = assert_problem(client.patch(url, json={"note": "no status"}), 400)
    assert [(e["in"], e["parameter"]) for e in body["errors"]] == [("body", "status")]


# --- list filters ------------------------------------------------------------------------------


def test_bbox_includes_and_excludes(client: TestClient) -> None:
    inside = post(client, incident(139.5, 35.5))["id"]
    post(client, incident(141.5, 35.5))  # east of the box
    post(client, incident(139.5, 33.0))  # south of the box
    square = [[[139.9, 34.0], [140.5, 34.0], [140.5, 34.5], [139.9, 34.5], [139.9, 34.0]]]
    crossing = post(client, incident(location={"type": "Polygon", "coordinates": square}))["id"]

    assert ids(client.get(INCIDENTS, params={"bbox": "139,34.2,140,36"})) == {inside, crossing}
    assert ids(client.get(INCIDENTS, params={"bbox": "139,34.2,139.8,36"})) == {inside}
    assert ids(client.get(INCIDENTS, params={"bbox": "100,0,101,1"})) == set()


def test_near_radius_is_in_metres(client: TestClient) -> None:
    # At 60° N a degree of longitude is half a degree of latitude: only metres get both right.
    centre = (10.0, 60.0)
    near_east = post(client, incident(*offset(*centre, east_m=900)))["id"]
    post(client, incident(*offset(*centre, east_m=1100)))
    near_north = post(client, incident(*offset(*centre, north_m=-900)))["id"]
    post(client, incident(*offset(*centre, north_m=1100)))

    r = client.get(INCIDENTS, params={"near": "10,60", "radius_m": 1000})
    assert ids(r) == {near_east, near_north}
    r = client.get(INCIDENTS, params={"near": "10,60", "radius_m": 1200})
    assert len(ids(r)) == 4
    r = client.get(INCIDENTS, params={"near": "10,60", "radius_m": 800})
    assert ids(r) == set()


def test_category_status_origin_filters(client: TestClient, db: str) -> None:
    sar = post(client, incident(category="sar", status="reported"))["id"]
    oil = post(client, incident(category="pollution", status="responding"))["id"]
    iuu = post(client, incident(category="iuu_fishing", status="responding"))["id"]
    shared = str(uuid.uuid4())
    store_accepted(
        db, [partner_incident(incident(incident_id=shared, version=1, category="piracy_robbery"))]
    )

    def query(**params: str) -> set[str]:
        return ids(client.get(INCIDENTS, params=params))

    assert query(category="pollution") == {oil}
    assert query(category="pollution,iuu_fishing") == {oil, iuu}
    assert query(status="responding") == {oil, iuu}
    assert query(status="responding", category="sar") == set()
    assert query(origin="jcg") == {sar, oil, iuu}
    assert query(origin="kcg") == {shared}
    feature = client.get(f"{INCIDENTS}/{shared}").json()
    assert feature["properties"]["origin"] == "kcg"


def test_since_until_on_observed_at(client: TestClient) -> None:
    at = {
        h: post(client, incident(observed_at=iso(T0 + timedelta(hours=h))))["id"] for h in range(4)
    }

    def query(**params: str) -> set[str]:
        return ids(client.get(INCIDENTS, params=params))

    assert query(since=iso(T0 + timedelta(hours=2))) == {at[2], at[3]}
    assert query(until=iso(T0 + timedelta(hours=2))) == {at[0], at[1]}
    assert query(since=iso(T0 + timedelta(hours=1)), until="2024-05-01T13:00:00+01:00") == {
        at[1],
        at[2],
    }


def test_pagination_returns_every_incident_once_in_three_pages(
    client: TestClient, db: str, schemas: SchemaSet
) -> None:
    # 50 distinct times, 5 incidents each: ties on observed_at must not lose or repeat any.
    batch = [
        judged(
            schemas,
            "ops",
            "incident",
            incident(
                incident_id=str(uuid.uuid4()),
                version=1,
                observed_at=iso(T0 + timedelta(minutes=i // 5)),
            ),
        )
        for i in range(250)
    ]
    store_accepted(db, batch)

    seen: list[str] = []
    keys: list[tuple[str, str]] = []
    pages: list[int] = []
    url: str | None = f"{INCIDENTS}?limit=100"
    while url is not None:
        r = client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "FeatureCollection"
        assert body["numberReturned"] == len(body["features"])
        pages.append(len(body["features"]))
        for f in body["features"]:
            seen.append(f["id"])
            keys.append((f["properties"]["observed_at"], f["id"]))
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    assert pages == [100, 100, 50]
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == {a.data["incident_id"] for a in batch}
    assert keys == sorted(keys, reverse=True)  # newest first, ties by id


def test_properties_selects_what_each_feature_carries(client: TestClient, db: str) -> None:
    local = post(client, incident(category="sar", title="Man overboard"))["id"]
    shared = str(uuid.uuid4())
    store_accepted(db, [partner_incident(incident(incident_id=shared, version=1))])
    body = client.get(INCIDENTS, params={"properties": "category,title,origin,version"}).json()
    props = {f["id"]: f["properties"] for f in body["features"]}
    assert props == {
        local: {"category": "sar", "title": "Man overboard", "origin": "jcg", "version": 1},
        shared: {"category": "sar", "title": "Person in the water", "origin": "kcg", "version": 1},
    }
    assert all(f["geometry"]["type"] == "Point" for f in body["features"])
    # The light page (written by PostgreSQL) says exactly what the full features say.
    names = ["category", "status", "title", "severity", "tlp", "origin", "observed_at", "version",
             "relto", "purpose"]  # fmt: skip
    light = client.get(INCIDENTS, params={"properties": ",".join(names)}).json()["features"]
    full = client.get(INCIDENTS).json()["features"]
    assert light == [
        {**f, "properties": {k: v for k, v in f["properties"].items() if k in names}} for f in full
    ]
    # An optional property the incident does not have is left out, not invented.
    body = client.get(INCIDENTS, params={"properties": "severity,provenance"}).json()
    assert body["features"][0]["properties"].keys() == {"provenance"}


def test_default_limit_is_100(client: TestClient, db: str, schemas: SchemaSet) -> None:
    store_accepted(
        db,
        [
            judged(schemas, "ops", "incident", incident(incident_id=str(uuid.uuid4()), version=1))
            for _ in range(101)
        ],
    )
    body = client.get(INCIDENTS).json()
    assert len(body["features"]) == 100
    assert [lk["rel"] for lk in body["links"]] == ["self", "next"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "139,34,140"}, "bbox"),
        ({"bbox": "139,34,140,95"}, "bbox"),
        ({"bbox": "140,34,139,35"}, "bbox"),
        ({"bbox": "139,36,140,35"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"near": "139,35"}, "radius_m"),
        ({"radius_m": "100"}, "near"),
        ({"near": "190,35", "radius_m": "100"}, "near"),
        ({"near": "139,35", "radius_m": "-5"}, "radius_m"),
        ({"category": "whaling"}, "category"),
        ({"status": "lost"}, "status"),
        ({"since": "2024-05-01"}, "since"),
        ({"until": "2024-05-01T09:00:00"}, "until"),
        ({"limit": "5001"}, "limit"),
        ({"properties": "category,colour"}, "properties"),
        ({"properties": ""}, "properties"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
def test_bad_query_parameters_are_400_problems(
    client: TestClient, params: dict[str, str], parameter: str
) -> None:
    body = assert_problem(client.get(INCIDENTS, params=params), 400)
    assert [(e["in"], e["parameter"]) for e in body["errors"]] == [("query", parameter)]
    assert parameter in body["detail"]


# --- vessels -----------------------------------------------------------------------------------


def position(minutes: int, lon: float, lat: float, mmsi: str = MMSI) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "sog": 10.0 + minutes,
        "cog": 90.0,
        "observed_at": iso(T0 + timedelta(minutes=minutes)),
        "source_type": "ais-terrestrial",
    }


@pytest.fixture
def track_stored(db: str, schemas: SchemaSet) -> None:
    # Stored out of order, in two batches: the API must order by observation time.
    points = [position(2, 139.02, 35.0), position(0, 139.0, 35.0), position(1, 139.01, 35.0)]
    store_accepted(db, [judged(schemas, "ais-1", "position", p) for p in points])
    other = position(5, 130.0, 30.0, mmsi="440000002")
    store_accepted(db, [judged(schemas, "ais-1", "position", other)])


@pytest.mark.usefixtures("track_stored")
def test_vessel_latest_position(client: TestClient) -> None:
    r = client.get(f"/api/v1/vessels/{MMSI}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert (feature["type"], feature["id"]) == ("Feature", MMSI)
    assert feature["geometry"] == {"type": "Point", "coordinates": [139.02, 35.0]}
    props = feature["properties"]
    assert datetime.fromisoformat(props["observed_at"]) == T0 + timedelta(minutes=2)
    assert (props["sog"], props["origin"], props["tlp"]) == (12.0, "jcg", "GREEN")
    assert_problem(client.get("/api/v1/vessels/431999999"), 404)
    assert_problem(client.get("/api/v1/vessels/12345"), 400)


@pytest.mark.usefixtures("track_stored")
def test_vessel_track_is_a_linestring_in_time_order(client: TestClient) -> None:
    r = client.get(f"/api/v1/vessels/{MMSI}/track")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert feature["id"] == MMSI
    assert feature["geometry"] == {
        "type": "LineString",
        "coordinates": [[139.0, 35.0], [139.01, 35.0], [139.02, 35.0]],
    }
    times = [datetime.fromisoformat(t) for t in feature["properties"]["times"]]
    assert times == [T0 + timedelta(minutes=m) for m in range(3)]
    assert [p["sog"] for p in feature["properties"]["points"]] == [10.0, 11.0, 12.0]
    assert feature["properties"]["truncated"] is False

    window = {"since": iso(T0 + timedelta(minutes=1)), "until": iso(T0 + timedelta(minutes=2))}
    one = client.get(f"/api/v1/vessels/{MMSI}/track", params=window).json()
    assert one["geometry"] == {"type": "Point", "coordinates": [139.01, 35.0]}

    latest_two = client.get(f"/api/v1/vessels/{MMSI}/track", params={"limit": 2}).json()
    assert latest_two["geometry"]["coordinates"] == [[139.01, 35.0], [139.02, 35.0]]
    assert latest_two["properties"]["truncated"] is True

    empty = client.get(f"/api/v1/vessels/{MMSI}/track", params={"until": iso(T0)})
    assert empty.status_code == 200
    assert empty.json()["geometry"] is None
    assert empty.json()["properties"]["times"] == []

    assert_problem(client.get("/api/v1/vessels/431999999/track"), 404)


# --- dead letters ------------------------------------------------------------------------------


def test_deadletters_newest_first_with_payload_encoding(client: TestClient, db: str) -> None:
    def bounced(producer: str, payload: bytes) -> store.Bounced:
        return store.Bounced(
            intake.Rejected(producer, f"bad from {producer}"),
            f"mdx/v1/in/{producer}/position",
            payload,
        )

    store_accepted(db, [], [bounced("ais-1", b'{"not": "an envelope"}')])
    store_accepted(db, [], [bounced("ais-2", b"\xff\xfe binary")])
    store_accepted(db, [], [bounced("ais-1", b"plain text")])

    r = client.get("/api/v1/deadletters")
    assert r.status_code == 200, r.text
    items = r.json()["deadletters"]
    assert [i["id"] for i in items] == [3, 2, 1]
    assert [(i["producer"], i["payload"], i["payload_encoding"]) for i in items] == [
        ("ais-1", "plain text", "utf-8"),
        ("ais-2", base64.b64encode(b"\xff\xfe binary").decode(), "base64"),
        ("ais-1", '{"not": "an envelope"}', "utf-8"),
    ]
    assert items[1]["reason"] == "bad from ais-2"
    assert items[1]["topic"] == "mdx/v1/in/ais-2/position"

    only = client.get("/api/v1/deadletters", params={"producer": "ais-1"}).json()
    assert [i["id"] for i in only["deadletters"]] == [3, 1]

    first = client.get("/api/v1/deadletters", params={"limit": 2}).json()
    assert [i["id"] for i in first["deadletters"]] == [3, 2]
    next_href = next(lk["href"] for lk in first["links"] if lk["rel"] == "next")
    rest = client.get(next_href).json()
    assert [i["id"] for i in rest["deadletters"]] == [1]
    assert [lk["rel"] for lk in rest["links"]] == ["self"]


# --- health, docs, errors ----------------------------------------------------------------------


def test_healthz_ok_with_database_and_broker(
    node_settings: NodeSettings, schemas: SchemaSet
) -> None:
    with TestClient(create_app(node_settings, schemas)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["postgis"].startswith("3.")
    assert body["checks"]["broker"] == {
        "status": "ok",
        "host": node_settings.broker.host,
        "port": node_settings.broker.port,
    }


def test_healthz_503_names_the_broker(node_settings: NodeSettings, schemas: SchemaSet) -> None:
    wrong = node_settings.model_copy(
        update={"broker": node_settings.broker.model_copy(update={"port": free_port()})}
    )
    with TestClient(create_app(wrong, schemas)) as c:
        body = assert_problem(c.get("/healthz"), 503)
    assert body["detail"].startswith("broker: cannot connect")
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "failed"


def test_healthz_503_names_the_database(db: str, schemas: SchemaSet) -> None:
    missing_db = db.rsplit("/", 1)[0] + "/mdx_no_such_database"
    with TestClient(create_app(settings_for(missing_db), schemas)) as c:
        body = assert_problem(c.get("/healthz"), 503)
    assert body["checks"]["database"]["status"] == "failed"
    assert "mdx_no_such_database" in body["checks"]["database"]["error"]


FORMATS = ("geojson", "csv", "kml")
SCHEMA_FILES = (
    "common/v1/defs",
    *(
        f"{name}/v1/{name}"
        for name in (
            "deadletter",
            "envelope",
            "incident",
            "position",
            "receipt",
            "sar",
            "share",
            "status",
            "vessel",
            "zone",
        )
    ),
)


def test_openapi_lists_every_path(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert set(paths) == {
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/sar",
        "/api/v1/incidents/{incident_id}/timeline",
        "/api/v1/vessels",
        "/api/v1/vessels/{mmsi}",
        "/api/v1/vessels/{mmsi}/track",
        "/api/v1/zones",
        "/api/v1/zones/{zone_id}",
        "/api/v1/deadletters",
        "/api/v1/partners",
        "/api/v1/stream",
        "/federation/v1/feed",
        "/healthz",
        "/auth/token",
        "/auth/logout",
        "/auth/me",
        "/api/v1/admin/users",
        "/api/v1/admin/audit",
        # The partners' standards (issue 7): OGC API - Features, CISE, exports.
        "/ogcapi",
        "/ogcapi/conformance",
        "/ogcapi/collections",
        "/ogcapi/collections/{collection_id}",
        "/ogcapi/collections/{collection_id}/items",
        "/ogcapi/collections/{collection_id}/items/{feature_id}",
        "/ogcapi/collections/{collection_id}/queryables",
        "/api/v1/cise/incidents",
        "/api/v1/cise/incidents/{incident_id}",
        "/api/v1/cise/vessels",
        "/api/v1/cise/vessels/{mmsi}",
        *(f"/api/v1/exports/{kind}.{ext}" for kind in ("incidents", "vessels") for ext in FORMATS),
        # The published contracts: every schema at its $id path, and the AsyncAPI document.
        "/schemas/",
        *(f"/schemas/{file}.schema.json" for file in SCHEMA_FILES),
        "/asyncapi.yaml",
        "/asyncapi.json",
    }
    assert set(paths["/api/v1/incidents"]) == {"get", "post"}
    assert set(paths["/api/v1/incidents/{incident_id}"]) == {"get", "patch"}
    # Parameter errors are 400s here, so FastAPI's stock 422 must not be documented.
    assert set(paths["/api/v1/incidents"]["get"]["responses"]) == {
        "200",
        "400",
        "401",
        "404",
        "413",  # any request whose declared body is over the limit
        "500",
    }
    assert {"201", "409", "415", "422"} <= set(paths["/api/v1/incidents"]["post"]["responses"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)
    r = client.delete(INCIDENTS)
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, POST"
    # A path served by two routes (GET and PATCH): Allow names both.
    r = client.options(f"{INCIDENTS}/{uuid.uuid4()}")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, PATCH"


@pytest.mark.parametrize(
    ("path", "method", "kind"),
    [
        ("/api/v1/incidents", "get", "FeatureCollection"),
        ("/api/v1/incidents/{incident_id}", "get", "Feature"),
        ("/api/v1/incidents/{incident_id}", "patch", "Feature"),
        ("/api/v1/vessels", "get", "FeatureCollection"),
        ("/api/v1/vessels/{mmsi}", "get", "Feature"),
        ("/api/v1/vessels/{mmsi}/track", "get", "Feature"),
        ("/api/v1/zones", "get", "FeatureCollection"),
        ("/api/v1/zones/{zone_id}", "get", "Feature"),
    ],
)
def test_openapi_says_which_geojson_document_comes_back(
    client: TestClient, path: str, method: str, kind: str
) -> None:
    ok = client.get("/openapi.json").json()["paths"][path][method]["responses"]["200"]
    schema = ok["content"]["application/geo+json"]["schema"]
    assert schema["properties"]["type"]["enum"] == [kind]


def test_post_over_the_message_size_limit_is_413(client: TestClient) -> None:
    """The same 256 KiB limit as over MQTT; nothing is stored."""
    r = client.post(INCIDENTS, json=incident(description="x" * (256 * 1024)))
    body = assert_problem(r, 413)
    assert body["detail"].endswith("exceeds the limit of 262144 bytes")
    assert ids(client.get(INCIDENTS)) == set()


def test_a_body_without_a_declared_length_is_measured_and_passed_on(client: TestClient) -> None:
    """Chunked (no Content-Length): the body is read to measure it, then reaches the route."""
    small = orjson.dumps(incident(title="sent in chunks"))
    chunks = [small[:100], small[100:]]
    headers = {"Content-Type": "application/json"}
    r = client.post(INCIDENTS, content=iter(chunks), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["title"] == "sent in chunks"
    big = orjson.dumps(incident(description="x" * (256 * 1024)))
    r = client.post(INCIDENTS, content=iter([big[:1000], big[1000:]]), headers=headers)
    body = assert_problem(r, 413)
    assert body["detail"] == f"body of {len(big)} bytes exceeds the limit of 262144 bytes"
    assert len(ids(client.get(INCIDENTS))) == 1

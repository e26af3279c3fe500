"""GET /api/v1/vessels: every vessel at its latest position, in a box, as the policy releases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from mdx.api.app import create_app
from mdx.core import keys
from mdx.core.policy import Marked
from mdx.core.schemas import SchemaSet
from tests.conftest import login
from tests.integration.test_api_policy import PARTNERS, T0, Api, accepted, iso, save, settings_for

VESSELS = "/api/v1/vessels"
PROBLEM = "application/problem+json"
OPEN = Marked("jcg", "GREEN", (), None, False)


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


@pytest.fixture
def client(
    db: str, tmp_path: Path, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db, tmp_path), schemas)) as c:
        login(c, db, "viewer")
        yield c


def api(client: TestClient, partner_keys: dict[str, Ed25519PrivateKey], caller: str) -> Api:
    return Api(client, partner_keys, caller)


def report(mmsi: str, minute: int, lon: float, lat: float) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "sog": 8.0,
        "cog": 45.0,
        "observed_at": iso(T0 + timedelta(minutes=minute)),
        "source_type": "ais-terrestrial",
    }


def store(db: str, schemas: SchemaSet, *items: tuple[dict[str, Any], Marked]) -> None:
    save(db, [accepted(schemas, "position", data, m.origin, m) for data, m in items])


def mmsis(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection"
    return [f["id"] for f in body["features"]]


def test_lists_latest_positions_in_the_box(
    client: TestClient, db: str, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    store(
        db,
        schemas,
        (report("431000001", 0, 139.0, 35.0), OPEN),
        (report("431000001", 5, 139.5, 35.5), OPEN),  # the latest: still inside the box
        (report("440000002", 1, 129.0, 34.0), OPEN),  # outside the box
        (report("440000003", 0, 139.2, 35.2), OPEN),  # inside, then it moved out
        (report("440000003", 9, 141.0, 37.0), OPEN),
    )
    every = client.get(VESSELS)
    assert mmsis(every) == ["440000003", "431000001", "440000002"]  # newest first
    [first] = [f for f in every.json()["features"] if f["id"] == "431000001"]
    assert first == client.get(f"{VESSELS}/431000001").json()  # the same Feature shape
    assert first["geometry"] == {"type": "Point", "coordinates": [139.5, 35.5]}
    assert first["properties"]["sog"] == 8.0

    assert mmsis(client.get(VESSELS, params={"bbox": "138,34,140,36"})) == ["431000001"]
    assert mmsis(client.get(VESSELS, params={"bbox": "128,33,130,35"})) == ["440000002"]
    assert mmsis(client.get(VESSELS, params={"bbox": "100,0,110,10"})) == []
    assert mmsis(client.get(VESSELS, params={"limit": 2})) == ["440000003", "431000001"]


@pytest.mark.parametrize(
    "query",
    ["bbox=1,2,3", "bbox=140,35,139,36", "bbox=a,b,c,d", "limit=0", "limit=20001"],
)
def test_bad_parameters_are_problems(client: TestClient, query: str) -> None:
    r = client.get(f"{VESSELS}?{query}")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM


def test_a_partner_sees_exactly_what_the_policy_releases(
    client: TestClient, db: str, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    for_kcg = Marked("jcg", "AMBER", ("kcg",), None, False)
    for_uscg = Marked("jcg", "AMBER", ("uscg",), None, False)
    red = Marked("jcg", "RED", (), None, False)
    store(
        db,
        schemas,
        (report("431000001", 0, 139.0, 35.0), for_kcg),
        (report("431000002", 1, 139.1, 35.1), for_uscg),
        # Released to kcg, then a newer RED report: kcg sees the older position.
        (report("431000003", 2, 139.2, 35.2), for_kcg),
        (report("431000003", 3, 150.0, 40.0), red),
    )
    kcg = api(client, partner_keys, "kcg")
    uscg = api(client, partner_keys, "uscg")
    jcg = api(client, partner_keys, "jcg")
    assert set(mmsis(jcg.get(VESSELS))) == {"431000001", "431000002", "431000003"}
    assert mmsis(uscg.get(VESSELS)) == ["431000002"]
    listed = kcg.get(VESSELS)
    assert mmsis(listed) == ["431000003", "431000001"]
    [older] = [f for f in listed.json()["features"] if f["id"] == "431000003"]
    assert older["geometry"]["coordinates"] == [139.2, 35.2]
    assert older["properties"]["tlp"] == "AMBER"
    # Each is the same as the single-vessel read gives kcg.
    for feature in listed.json()["features"]:
        assert feature == kcg.get(f"{VESSELS}/{feature['id']}").json()
    # The box applies to the position kcg may see, not to the withheld newer one.
    assert mmsis(kcg.get(f"{VESSELS}?bbox=149,39,151,41")) == []
    assert mmsis(kcg.get(f"{VESSELS}?bbox=139.15,35.15,139.25,35.25")) == ["431000003"]


def test_a_partner_sees_the_newest_report_released_to_it_whatever_order_reports_arrive_in(
    client: TestClient, db: str, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    for_kcg = Marked("jcg", "AMBER", ("kcg",), None, False)
    red = Marked("jcg", "RED", (), None, False)
    kcg = api(client, partner_keys, "kcg")

    def seen() -> list[list[float]]:
        return [f["geometry"]["coordinates"] for f in kcg.get(VESSELS).json()["features"]]

    # Each store is a batch of its own, as separate arrivals are.
    store(db, schemas, (report("431000005", 5, 139.5, 35.5), for_kcg))
    store(db, schemas, (report("431000005", 6, 150.0, 40.0), red))
    assert seen() == [[139.5, 35.5]]
    store(db, schemas, (report("431000005", 4, 139.4, 35.4), for_kcg))  # late, and older
    assert seen() == [[139.5, 35.5]]
    # One batch: two reports released to kcg (the newer one counts) and a newer RED one.
    store(
        db,
        schemas,
        (report("431000005", 8, 139.8, 35.8), for_kcg),
        (report("431000005", 7, 139.7, 35.7), for_kcg),
        (report("431000005", 9, 151.0, 41.0), red),
    )
    assert seen() == [[139.8, 35.8]]
    store(db, schemas, (report("431000005", 10, 140.0, 36.0), for_kcg))  # now the latest
    assert seen() == [[140.0, 36.0]]
    assert mmsis(api(client, partner_keys, "uscg").get(VESSELS)) == []  # nothing released


def static(mmsi: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "observed_at": iso(T0 + timedelta(minutes=minute)),
        "source_type": "ais-terrestrial",
        **fields,
    }


def test_search_by_registry_fields(client: TestClient, db: str, schemas: SchemaSet) -> None:
    trawler, freighter, patrol = "440123450", "431004821", "412440127"
    store(
        db,
        schemas,
        (report(trawler, 1, 134.2, 38.1), OPEN),
        (report(freighter, 2, 130.1, 34.0), OPEN),
        (report(patrol, 3, 124.0, 36.0), OPEN),
    )
    save(
        db,
        [
            # AIS 24 part A names the trawler, part B says what it is: one registry row.
            accepted(schemas, "vessel", static(trawler, 4, name="DAE YANG 101"), "jcg", OPEN),
            accepted(schemas, "vessel", static(trawler, 5, ship_type=30), "jcg", OPEN),
            accepted(
                schemas,
                "vessel",
                static(freighter, 6, name="HAKATA MARU", ship_type=70, imo="9074729"),
                "jcg",
                OPEN,
            ),
        ],
    )

    def found(**query: str) -> list[str]:
        return mmsis(client.get(VESSELS, params=query))

    assert found(name="dae yang") == [trawler]
    assert found(name="MARU") == [freighter]
    assert found(name="100%") == []  # LIKE wildcards are searched for, not obeyed
    assert found(flag="KR") == [trawler]
    assert found(flag="jp,cn") == [patrol, freighter]
    assert found(category="fishing") == [trawler]
    assert found(category="cargo,fishing") == [freighter, trawler]
    assert found(imo="9074729") == [freighter]
    assert found(mmsi="44") == [trawler]
    assert found(mmsi="431004821,412") == [patrol, freighter]
    [feature] = client.get(VESSELS, params={"mmsi": trawler}).json()["features"]
    props = feature["properties"]
    assert (props["name"], props["flag"], props["category"], props["ship_type"]) == (
        "DAE YANG 101",
        "KR",
        "fishing",
        30,
    )
    assert client.get(f"{VESSELS}/{trawler}").json() == feature
    # Never reported static data: flag from the MID, category unknown.
    [unnamed] = client.get(VESSELS, params={"mmsi": patrol}).json()["features"]
    assert (unnamed["properties"]["flag"], unnamed["properties"]["category"]) == ("CN", "unknown")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [({"category": "whaler"}, "category"), ({"flag": "JPN"}, "flag"), ({"mmsi": "44x"}, "mmsi")],
)
def test_bad_search_parameters_are_400(
    client: TestClient, query: dict[str, str], parameter: str
) -> None:
    r = client.get(VESSELS, params=query)
    assert r.status_code == 400, r.text
    assert [e["parameter"] for e in r.json()["errors"]] == [parameter]

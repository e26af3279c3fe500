"""Zones in a real PostGIS: loading and reloading the files, /api/v1/zones, and a node that
refuses to start on a bad zone file."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from mdx.api.app import create_app
from mdx.cli.main import app
from mdx.core import zones
from mdx.core.schemas import ZONE_SCHEMA_ID, SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TOKEN_SECRET, Broker, free_port, login
from tests.integration.harness import wait_for
from tests.integration.test_api import settings_for

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "infra" / "zones"
ZONES = "/api/v1/zones"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
ALL = {
    "jcg-aor",
    "kcg-aor",
    "uscg-aor",
    "jp-eez-sea-of-japan",
    "jp-eez-pacific",
    "jp-mpa-kerama",
    "kr-eez-east-sea",
    "kr-eez-yellow-sea",
    "kr-mpa-jeju-munseom",
    "jp-kr-provisional-zone",
    "kr-cn-provisional-measures-zone",
}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def engine(db: str) -> Iterator[Engine]:
    eng = create_engine(db)
    yield eng
    eng.dispose()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped zone files, to change."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "zones"))


@pytest.fixture
def client(engine: Engine, schemas: SchemaSet, db: str) -> Iterator[TestClient]:
    zones.load(engine, SHIPPED, schemas)
    with TestClient(create_app(settings_for(db), schemas)) as c:
        login(c, db, "viewer")
        yield c


def stored(engine: Engine) -> dict[str, tuple[str, str]]:
    """zone id -> (kind, source file) of every stored zone."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT zone_id, kind, source FROM zones"))
        return {r.zone_id: (r.kind, r.source) for r in rows}


def edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc["features"])
    path.write_text(json.dumps(doc), encoding="utf-8")


def without(zone_id: str) -> Any:
    def change(features: list[dict[str, Any]]) -> None:
        features[:] = [f for f in features if f["properties"]["id"] != zone_id]

    return change


# -- loading --------------------------------------------------------------------------------


def test_the_shipped_zones_load_into_a_fresh_database(engine: Engine, schemas: SchemaSet) -> None:
    summary = zones.load(engine, SHIPPED, schemas)
    assert summary == zones.LoadSummary(
        loaded=11,
        removed=0,
        files=("agreements.geojson", "aor.geojson", "jp.geojson", "kr.geojson"),
    )
    with engine.connect() as conn:
        per_kind = dict(conn.execute(text("SELECT kind, count(*) FROM zones GROUP BY kind")).all())
        shapes = conn.execute(
            text(
                "SELECT DISTINCT ST_GeometryType(geom), ST_SRID(geom), ST_IsValid(geom) FROM zones"
            )
        ).all()
    assert per_kind == {"eez": 4, "aor": 3, "fishing_agreement": 2, "mpa": 2}
    assert shapes == [("ST_MultiPolygon", 4326, True)]
    assert set(stored(engine)) == ALL
    assert stored(engine)["jp-kr-provisional-zone"] == ("fishing_agreement", "agreements.geojson")


def test_loading_again_changes_nothing(engine: Engine, schemas: SchemaSet) -> None:
    zones.load(engine, SHIPPED, schemas)
    before = stored(engine)
    assert zones.load(engine, SHIPPED, schemas).removed == 0
    assert stored(engine) == before


def test_a_zone_removed_from_its_file_is_gone_and_the_rest_stay(
    engine: Engine, schemas: SchemaSet, folder: Path, tmp_path: Path
) -> None:
    zones.load(engine, folder, schemas)
    other = tmp_path / "other"
    other.mkdir()
    (other / "extra.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [_square("extra-mpa")]})
    )
    zones.load(engine, other, schemas)

    edit(folder / "jp.geojson", without("jp-mpa-kerama"))
    summary = zones.load(engine, folder, schemas)
    assert (summary.loaded, summary.removed) == (10, 1)
    # Another source's zone stays: only the files just read speak for their zones.
    assert set(stored(engine)) == ALL - {"jp-mpa-kerama"} | {"extra-mpa"}

    edit(folder / "kr.geojson", lambda features: features.clear())  # an emptied file
    summary = zones.load(engine, folder, schemas)
    assert (summary.loaded, summary.removed) == (7, 3)
    assert not any(source == "kr.geojson" for _, source in stored(engine).values())


def test_a_zone_moved_to_another_file_stays(
    engine: Engine, schemas: SchemaSet, folder: Path
) -> None:
    zones.load(engine, folder, schemas)
    [kerama] = [
        f
        for f in json.loads((folder / "jp.geojson").read_text())["features"]
        if f["properties"]["id"] == "jp-mpa-kerama"
    ]
    edit(folder / "jp.geojson", without("jp-mpa-kerama"))
    edit(folder / "agreements.geojson", lambda features: features.append(kerama))
    summary = zones.load(engine, folder, schemas)
    assert (summary.loaded, summary.removed) == (11, 0)
    assert stored(engine)["jp-mpa-kerama"] == ("mpa", "agreements.geojson")


def test_a_bad_file_loads_nothing(engine: Engine, schemas: SchemaSet, folder: Path) -> None:
    zones.load(engine, folder, schemas)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT zone_id, loaded_at FROM zones ORDER BY 1")).all()

    edit(folder / "jp.geojson", without("jp-mpa-kerama"))  # would remove a zone, if loaded
    bow_tie = _square("bow-tie")
    bow_tie["geometry"]["coordinates"] = [[[130, 30], [131, 31], [131, 30], [130, 31], [130, 30]]]
    edit(folder / "kr.geojson", lambda features: features.append(bow_tie))
    with pytest.raises(zones.ZoneError) as caught:
        zones.load(engine, folder, schemas)
    [problem] = caught.value.problems
    assert (problem.file, problem.zone_id) == ("kr.geojson", "bow-tie")
    assert problem.message.startswith("invalid geometry: Self-intersection")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT zone_id, loaded_at FROM zones ORDER BY 1")).all() == before


def test_a_node_without_its_zone_directory_loads_none(
    db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = NodeSettings(
        node={"id": "jcg"}, database={"url": db}, zones={"dir": tmp_path / "nope"}
    )
    with caplog.at_level(logging.WARNING, logger="mdx.zones"):
        assert zones.load_configured(settings) is None
    assert f"zone directory {tmp_path / 'nope'} does not exist" in caplog.text


def _square(zone_id: str) -> dict[str, Any]:
    ring = [[150.0, 30.0], [151.0, 30.0], [151.0, 31.0], [150.0, 31.0], [150.0, 30.0]]
    return {
        "type": "Feature",
        "properties": {
            "id": zone_id,
            "name": "Somewhere (illustrative)",
            "kind": "mpa",
            "state": "JP",
            "illustrative": True,
            "rules": {"fishing": "prohibited", "watch": []},
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _config(tmp_path: Path, db: str, zones_dir: Path) -> Path:
    config = tmp_path / "node.toml"
    config.write_text(
        f'[node]\nid = "jcg"\n[database]\nurl = "{db}"\n[zones]\ndir = "{zones_dir}"\n'
    )
    return config


def test_mdx_zones_load(db: str, tmp_path: Path, folder: Path, engine: Engine) -> None:
    config = _config(tmp_path, db, folder)
    result = CliRunner().invoke(app, ["zones", "load", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()) == (
        f"{folder}: 11 zones loaded, 0 removed "
        "(agreements.geojson, aor.geojson, jp.geojson, kr.geojson)"
    )
    edit(folder / "jp.geojson", without("jp-mpa-kerama"))
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(folder / "jp.geojson", other / "jp.geojson")
    result = CliRunner().invoke(app, ["zones", "load", "--config", str(config), str(other)])
    assert result.exit_code == 0, result.output
    assert "2 zones loaded, 1 removed (jp.geojson)" in " ".join(result.stderr.split())
    assert "jp-mpa-kerama" not in stored(engine)

    edit(other / "jp.geojson", lambda fs: fs[0]["properties"].update(state="Japan"))
    result = CliRunner().invoke(app, ["zones", "load", "--config", str(config), str(other)])
    assert result.exit_code == 1
    assert result.stderr.startswith("jp.geojson: jp-eez-sea-of-japan: /properties/state:")
    assert len(stored(engine)) == 10  # unchanged


def test_mdx_db_migrate_with_zones(db: str, tmp_path: Path, folder: Path, engine: Engine) -> None:
    config = _config(tmp_path, db, folder)
    result = CliRunner().invoke(app, ["db", "migrate", "--zones", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "zones: 11 loaded, 0 removed" in result.stderr
    assert len(stored(engine)) == 11
    missing = _config(tmp_path, db, tmp_path / "nope")
    result = CliRunner().invoke(app, ["db", "migrate", "--zones", "--config", str(missing)])
    assert result.exit_code == 0, result.output
    assert f"no zone directory {tmp_path / 'nope'}: no zones loaded" in result.stderr


# -- the API --------------------------------------------------------------------------------


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == GEOJSON
    body = response.json()
    assert body["type"] == "FeatureCollection"
    found = [f["id"] for f in body["features"]]
    assert found == sorted(found)  # by id
    return set(found)


def test_every_zone_is_served_as_a_feature_the_zone_schema_accepts(
    client: TestClient, schemas: SchemaSet
) -> None:
    body = client.get(ZONES).json()
    assert {f["id"] for f in body["features"]} == ALL
    for feature in body["features"]:
        assert schemas.validate(ZONE_SCHEMA_ID, feature) == [], feature["id"]
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert set(feature["properties"]) <= {
            "id",
            "name",
            "kind",
            "state",
            "authority",
            "illustrative",
            "rules",
        }
    [agreement] = [f for f in body["features"] if f["id"] == "jp-kr-provisional-zone"]
    assert agreement["properties"]["rules"]["agreement_states"] == ["JP", "KR"]
    assert "state" not in agreement["properties"] and "authority" not in agreement["properties"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=aor", {"jcg-aor", "kcg-aor", "uscg-aor"}),
        ("kind=territorial_sea", set()),
        (
            "kind=mpa&kind=fishing_agreement",
            {
                "jp-mpa-kerama",
                "kr-mpa-jeju-munseom",
                "jp-kr-provisional-zone",
                "kr-cn-provisional-measures-zone",
            },
        ),
        (
            "kind=mpa,aor",
            {"jp-mpa-kerama", "kr-mpa-jeju-munseom", "jcg-aor", "kcg-aor", "uscg-aor"},
        ),
        ("state=US", {"uscg-aor"}),
        ("state=CN", {"kr-cn-provisional-measures-zone"}),  # a party to an agreement
        (
            "state=JP",
            {
                "jcg-aor",
                "jp-eez-sea-of-japan",
                "jp-eez-pacific",
                "jp-mpa-kerama",
                "jp-kr-provisional-zone",
            },
        ),
        (
            "state=KR&kind=fishing_agreement",
            {"jp-kr-provisional-zone", "kr-cn-provisional-measures-zone"},
        ),
        ("authority=jcg", {"jcg-aor", "jp-eez-sea-of-japan", "jp-eez-pacific", "jp-mpa-kerama"}),
        ("authority=kcg,uscg&kind=aor", {"kcg-aor", "uscg-aor"}),
        ("authority=nobody", set()),
        ("bbox=144,13,146,15", {"uscg-aor"}),  # Guam
        ("bbox=133,37,134,38", {"jcg-aor", "jp-eez-sea-of-japan", "jp-kr-provisional-zone"}),
        (
            "bbox=128.8,34.3,129.5,35",  # the Korea Strait, either side of the median line
            {"jcg-aor", "jp-eez-sea-of-japan", "kcg-aor", "kr-eez-east-sea"},
        ),
        ("bbox=160,-10,170,0", set()),
        ("contains=133.5,37.5", {"jcg-aor", "jp-kr-provisional-zone"}),  # Sea of Japan
        ("contains=129.0,34.6", {"kcg-aor", "kr-eez-east-sea"}),  # west of Tsushima
        ("contains=129.4,34.9", {"jcg-aor", "jp-eez-sea-of-japan"}),  # north-east of it
        ("contains=126.56,33.19", {"kcg-aor", "kr-eez-yellow-sea", "kr-mpa-jeju-munseom"}),
        ("contains=124.2,34", {"kcg-aor", "kr-cn-provisional-measures-zone"}),
        ("contains=144.8,13.45", {"uscg-aor"}),  # Guam
        ("contains=138,22", {"jcg-aor", "uscg-aor"}),  # on their shared border: both
        ("contains=-150,20", set()),
        ("contains=133.5,37.5&kind=fishing_agreement&state=KR", {"jp-kr-provisional-zone"}),
        ("contains=133.5,37.5&authority=kcg", set()),
    ],
)
def test_filters(client: TestClient, query: str, expected: set[str]) -> None:
    assert ids(client.get(f"{ZONES}?{query}")) == expected


def test_one_zone(client: TestClient) -> None:
    r = client.get(f"{ZONES}/jp-kr-provisional-zone")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    listing = client.get(ZONES, params={"contains": "133.5,37.5", "kind": "fishing_agreement"})
    body = r.json()
    assert listing.json()["features"] == [body]  # the same Feature in the list
    assert body["type"] == "Feature" and body["id"] == "jp-kr-provisional-zone"
    assert body["properties"]["kind"] == "fishing_agreement"
    [[ring]] = body["geometry"]["coordinates"]
    assert ring[0] == ring[-1] == [131.25, 36.15]


def test_an_unknown_zone_is_a_404_problem(client: TestClient) -> None:
    r = client.get(f"{ZONES}/no-such-zone")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"] == "no zone no-such-zone"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("kind=reef", "kind"),
        ("kind=", "kind"),
        ("state=jp", "state"),
        ("state=JPN", "state"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=140,35,139,36", "bbox"),
        ("contains=133.5", "contains"),
        ("contains=200,10", "contains"),
        ("contains=a,b", "contains"),
    ],
)
def test_bad_parameters_are_400_problems(client: TestClient, query: str, parameter: str) -> None:
    r = client.get(f"{ZONES}?{query}")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert [e["parameter"] for e in r.json()["errors"]] == [parameter]


def test_a_malformed_zone_id_is_a_400_problem(client: TestClient) -> None:
    r = client.get(f"{ZONES}/Not_A_Slug")
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM


# -- the node -------------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_node_with_a_bad_zone_file_refuses_to_start(
    db: str, tmp_path: Path, folder: Path, broker_dir: Path, engine: Engine
) -> None:
    edit(folder / "aor.geojson", lambda fs: fs[0]["properties"].update(kind="sar_region"))
    broker_port, api_port = free_port(), free_port()
    config = tmp_path / "node.toml"
    config.write_text(
        f"""
[node]
id = "jcg"
demo = true
[broker]
port = {broker_port}
data_dir = "{broker_dir}"
security_dir = "{tmp_path / "security"}"
[database]
url = "{db}"
[api]
port = {api_port}
[auth]
token_secret = "{TOKEN_SECRET}"
[zones]
dir = "{folder}"
"""
    )
    run = subprocess.run(
        [sys.executable, "-m", "mdx.cli.main", "node", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert "aor.geojson: jcg-aor: /properties/kind:" in run.stderr
    assert "the node did not start" in run.stderr
    assert not _port_open(broker_port)  # its broker was stopped again
    assert not _port_open(api_port)
    assert stored(engine) == {}


def test_a_node_loads_its_zones_when_it_starts(
    db: str, tmp_path: Path, mqtt_broker: Broker, engine: Engine, folder: Path
) -> None:
    """With the broker of the test (--no-own-broker), until the api answers."""
    edit(folder / "kr.geojson", lambda features: features.clear())
    api_port = free_port()
    env = {
        "MDX_NODE__ID": "jcg",
        # A demo node: its services' MQTT passwords are the test broker's.
        "MDX_NODE__DEMO": "true",
        "MDX_BROKER__PORT": str(mqtt_broker.port),
        "MDX_BROKER__SECURITY_DIR": str(mqtt_broker.security_dir),
        "MDX_DATABASE__URL": db,
        "MDX_API__PORT": str(api_port),
        "MDX_ZONES__DIR": str(folder),
        "MDX_AUTH__TOKEN_SECRET": TOKEN_SECRET,
    }
    config = tmp_path / "empty.toml"
    config.write_text("[node]\nid = 'jcg'\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdx.cli.main", "node", "run", "--no-own-broker", "-c", str(config)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{api_port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(answers, 30, "the node's api never answered")
        body = httpx.get(f"{base}{ZONES}", headers=login(base, db, "viewer"), timeout=5).json()
        assert {f["id"] for f in body["features"]} == ALL - {
            "kr-eez-east-sea",
            "kr-eez-yellow-sea",
            "kr-mpa-jeju-munseom",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)

"""The shipped zone files and how the zone loader judges files (no database needed)."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core import zones
from mdx.core.schemas import SchemaSet
from mdx.sim.traffic import GROUNDS, LANES

ROOT = Path(__file__).resolve().parents[2]
ZONES = ROOT / "infra" / "zones"
SHIPPED = sorted(ZONES.glob("*.geojson"))
NODES = ("jcg", "kcg", "uscg")


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


def _features(path: Path) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


def _shipped() -> dict[str, dict[str, Any]]:
    return {f["properties"]["id"]: f for path in SHIPPED for f in _features(path)}


def _plain(text: str) -> str:
    return " ".join(text.split())


def _write(folder: Path, name: str, features: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _zone(zone_id: str = "test-eez", **props: Any) -> dict[str, Any]:
    ring = [[132.0, 36.0], [133.0, 36.0], [133.0, 37.0], [132.0, 37.0], [132.0, 36.0]]
    properties = {
        "id": zone_id,
        "name": "Test zone (illustrative)",
        "kind": "eez",
        "state": "JP",
        "illustrative": True,
        "rules": {"fishing": "flag_state_only", "watch": ["foreign_fishing"]},
    }
    properties.update(props)
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _refused(folder: Path, schemas: SchemaSet) -> list[zones.Problem]:
    with pytest.raises(zones.ZoneError) as caught:
        zones.read_dir(folder, schemas)
    assert str(caught.value).startswith(f"{len(caught.value.problems)} problem(s)")
    return caught.value.problems


# -- the shipped files ----------------------------------------------------------------------


def test_the_shipped_files_pass_zones_check() -> None:
    result = CliRunner().invoke(app, ["zones", "check", str(ZONES)])
    assert result.exit_code == 0, result.output
    assert _plain(result.stderr) == f"{ZONES}: 11 zones in 4 files, all valid"


def test_the_shipped_zones_are_the_demo_s(schemas: SchemaSet) -> None:
    records, files = zones.read_dir(ZONES, schemas)
    assert files == ["agreements.geojson", "aor.geojson", "jp.geojson", "kr.geojson"]
    assert Counter(r.kind for r in records) == {
        "eez": 4,
        "aor": 3,
        "fishing_agreement": 2,
        "mpa": 2,
    }
    aors = {r.authority: r.state for r in records if r.kind == "aor"}
    assert aors == {"jcg": "JP", "kcg": "KR", "uscg": "US"}


@pytest.mark.parametrize("zone_id", sorted(_shipped()))
def test_each_shipped_zone_is_coarse_counter_clockwise_and_says_illustrative(zone_id: str) -> None:
    feature = _shipped()[zone_id]
    props = feature["properties"]
    assert props["illustrative"] is True
    assert props["name"].endswith("(illustrative)")
    assert feature["geometry"]["type"] == "Polygon"
    [ring] = feature["geometry"]["coordinates"]  # no holes
    assert 10 <= len(ring) - 1 <= 40
    polygon = shape(feature["geometry"])
    assert polygon.is_valid and polygon.exterior.is_ccw


def test_the_readme_warns_that_these_are_not_legal_boundaries() -> None:
    text = (ZONES / "README.md").read_text(encoding="utf-8")
    assert "NOT legal boundaries" in text
    for kind in ("eez", "territorial_sea", "mpa", "fishing_agreement", "aor"):
        assert f"`{kind}`" in text, kind


def _aors() -> dict[str, Any]:
    return {
        z["properties"]["authority"]: shape(z["geometry"]) for z in _features(ZONES / "aor.geojson")
    }


def test_the_demo_fishing_grounds_and_lanes_lie_in_the_jcg_or_kcg_area() -> None:
    """The simulators (the same seas for every node) report from the JCG and KCG areas; only the
    Shanghai ends of the lanes lie outside both, in Chinese waters."""
    aors = _aors()
    network = aors["jcg"].union(aors["kcg"])
    for name, (lat, lon, _radius) in GROUNDS.items():
        assert network.covers(Point(lon, lat)), name
    for name, lane in LANES.items():
        for lat, lon in lane:
            if lon > 123.0:
                assert network.covers(Point(lon, lat)), (name, lat, lon)


def test_the_areas_of_responsibility_do_not_overlap() -> None:
    aors = _aors()
    for a in NODES:
        for b in NODES:
            if a < b:
                assert aors[a].intersection(aors[b]).area == pytest.approx(0.0, abs=1e-9), (a, b)


def test_the_jp_kr_agreement_zone_holds_yamato_bank_and_no_land_of_either() -> None:
    [zone] = [
        shape(f["geometry"])
        for f in _features(ZONES / "agreements.geojson")
        if f["properties"]["id"] == "jp-kr-provisional-zone"
    ]
    lat, lon, _ = GROUNDS["yamato-bank"]
    assert zone.covers(Point(lon, lat))
    assert zone.covers(Point(133.5, 37.5))
    for town in ((129.07, 35.18), (131.05, 34.41), (133.05, 35.47)):  # Busan, Hagi, Matsue
        assert not zone.covers(Point(*town)), town


# -- what the loader refuses ----------------------------------------------------------------


def test_a_schema_violation_names_the_file_the_zone_and_the_rule(
    tmp_path: Path, schemas: SchemaSet
) -> None:
    _write(tmp_path, "a.geojson", [_zone("fine"), _zone("lower-state", state="jp")])
    [problem] = _refused(tmp_path, schemas)
    assert (problem.file, problem.zone_id) == ("a.geojson", "lower-state")
    assert problem.message.startswith("/properties/state:")
    assert "rule pattern" in problem.message
    assert str(problem).startswith("a.geojson: lower-state: /properties/state:")


def test_an_unknown_kind_is_refused(tmp_path: Path, schemas: SchemaSet) -> None:
    _write(tmp_path, "a.geojson", [_zone("odd-kind", kind="buffer_zone")])
    [problem] = _refused(tmp_path, schemas)
    assert (problem.file, problem.zone_id) == ("a.geojson", "odd-kind")
    assert problem.message.startswith("/properties/kind:") and "rule enum" in problem.message


def test_a_self_intersecting_polygon_is_refused_with_shapely_s_reason(
    tmp_path: Path, schemas: SchemaSet
) -> None:
    bow_tie = _zone("bow-tie")
    bow_tie["geometry"]["coordinates"] = [
        [[132.0, 36.0], [133.0, 37.0], [133.0, 36.0], [132.0, 37.0], [132.0, 36.0]]
    ]
    _write(tmp_path, "b.geojson", [bow_tie])
    [problem] = _refused(tmp_path, schemas)
    assert (problem.file, problem.zone_id) == ("b.geojson", "bow-tie")
    assert re.fullmatch(r"invalid geometry: Self-intersection\[132\.5 36\.5\]", problem.message)


def test_overlapping_parts_of_a_multipolygon_are_refused(
    tmp_path: Path, schemas: SchemaSet
) -> None:
    zone = _zone("two-parts")
    square = zone["geometry"]["coordinates"]
    shifted = [[[x + 0.5, y] for x, y in square[0]]]
    zone["geometry"] = {"type": "MultiPolygon", "coordinates": [square, shifted]}
    _write(tmp_path, "m.geojson", [zone])
    [problem] = _refused(tmp_path, schemas)
    assert problem.zone_id == "two-parts"
    assert problem.message.startswith("invalid geometry: Self-intersection")


def test_a_duplicate_id_across_files_names_both_files(tmp_path: Path, schemas: SchemaSet) -> None:
    _write(tmp_path, "a.geojson", [_zone("same")])
    _write(tmp_path, "b.geojson", [_zone("other"), _zone("same")])
    [problem] = _refused(tmp_path, schemas)
    assert (problem.file, problem.zone_id) == ("b.geojson", "same")
    assert problem.message == "duplicate id: already defined in a.geojson"


def test_every_problem_of_every_file_is_listed(tmp_path: Path, schemas: SchemaSet) -> None:
    _write(tmp_path, "a.geojson", [_zone("ok"), _zone("bad-kind", kind="nope")])
    (tmp_path / "b.geojson").write_text("{not json")
    (tmp_path / "c.geojson").write_text(json.dumps(_zone("not-a-collection")))
    aor = _zone("aor-without-authority", kind="aor")
    feature_id = _zone("wrong-feature-id")
    feature_id["id"] = "another-id"
    _write(tmp_path, "d.geojson", [aor, feature_id, {"type": "Feature"}])
    problems = _refused(tmp_path, schemas)
    found = [(p.file, p.zone_id) for p in problems]
    assert found == [
        ("a.geojson", "bad-kind"),
        ("b.geojson", None),
        ("c.geojson", None),
        ("d.geojson", "aor-without-authority"),
        ("d.geojson", "wrong-feature-id"),
        # No id to name it by: its place in the file. Two rules broken, two problems.
        ("d.geojson", "features[2]"),
        ("d.geojson", "features[2]"),
    ]
    messages = [p.message for p in problems]
    assert messages[1].startswith("cannot read it as JSON")
    assert messages[2] == 'not a GeoJSON FeatureCollection ("type")'
    assert messages[3].startswith('/properties: "authority" is a required property')
    assert messages[4] == "Feature id 'another-id' differs from properties.id"
    assert messages[5].startswith('/: "geometry" is a required property')
    assert messages[6].startswith('/: "properties" is a required property')


def test_a_missing_directory_is_a_problem_too(tmp_path: Path, schemas: SchemaSet) -> None:
    [problem] = _refused(tmp_path / "nope", schemas)
    assert problem.message == "not a directory"


def test_a_polygon_becomes_a_counter_clockwise_multipolygon(
    tmp_path: Path, schemas: SchemaSet
) -> None:
    clockwise = _zone("clockwise")
    ring = clockwise["geometry"]["coordinates"][0]
    clockwise["geometry"]["coordinates"] = [ring[::-1]]
    _write(tmp_path, "a.geojson", [clockwise, _zone("plain")])
    records, _ = zones.read_dir(tmp_path, schemas)
    for record in records:
        assert record.geom.geom_type == "MultiPolygon"
        [part] = record.geom.geoms
        assert part.exterior.is_ccw
    assert records[0].geom.equals(records[1].geom)


def test_other_files_in_the_directory_are_ignored(tmp_path: Path, schemas: SchemaSet) -> None:
    _write(tmp_path, "a.geojson", [_zone("only")])
    (tmp_path / "README.md").write_text("# zones\n")
    (tmp_path / "notes.json").write_text("{}")
    records, files = zones.read_dir(tmp_path, schemas)
    assert [r.zone_id for r in records] == ["only"] and files == ["a.geojson"]


# -- mdx zones check ------------------------------------------------------------------------


def test_zones_check_exits_1_listing_each_problem(tmp_path: Path) -> None:
    shipped = _features(ZONES / "jp.geojson")
    broken = copy.deepcopy(shipped)
    broken[0]["properties"]["kind"] = "buffer_zone"
    _write(tmp_path, "jp.geojson", broken)
    _write(tmp_path, "copy.geojson", [shipped[1]])
    result = CliRunner().invoke(app, ["zones", "check", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    first_id, second_id = broken[0]["properties"]["id"], shipped[1]["properties"]["id"]
    assert lines[0].startswith(f"jp.geojson: {first_id}: /properties/kind:")
    assert lines[1] == f"jp.geojson: {second_id}: duplicate id: already defined in copy.geojson"


def test_zones_check_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["zones", "check", str(tmp_path / "nope")])
    assert result.exit_code == 2

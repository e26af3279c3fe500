"""The detection data types: zones from zone files, thresholds, keys, evidence, the registry."""

from __future__ import annotations

import copy
import itertools
import json
import tomllib
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from mdx.detect import RULES, Detection, Fix, Thresholds, Zone, carry_over, make_key, run_all, thin
from tests.unit.test_detect_support import ZONES, at, box_feature, line, vessel

ROOT = Path(__file__).resolve().parents[2]


def test_zone_from_a_feature() -> None:
    z = Zone.from_feature(
        box_feature(
            "jp-kr-x",
            (131, 35, 133, 37),
            kind="fishing_agreement",
            state=None,
            fishing="agreement_states_only",
            agreement_states=("JP", "KR"),
            watch=("foreign_fishing", "going_dark"),
        )
    )
    assert (z.id, z.kind, z.state, z.fishing) == (
        "jp-kr-x",
        "fishing_agreement",
        None,
        "agreement_states_only",
    )
    assert z.agreement_states == frozenset({"JP", "KR"})
    assert z.watch == frozenset({"foreign_fishing", "going_dark"})
    assert z.geometry.bounds == (131, 35, 133, 37)
    assert z.allows_fishing("KR") and z.allows_fishing("JP") and not z.allows_fishing("CN")
    assert not z.allows_fishing(None)


def test_zone_defaults_when_rules_are_missing() -> None:
    feature = box_feature("bare", (0, 0, 1, 1), fishing=None, watch=())
    del feature["properties"]["rules"]
    z = Zone.from_feature(feature)
    assert z.watch == frozenset()
    assert z.fishing == "open"
    assert z.allows_fishing(None) and z.allows_fishing("CN")
    weird = box_feature("weird", (0, 0, 1, 1), watch=("going_dark", "sightseeing"))
    assert Zone.from_feature(weird).watch == frozenset({"going_dark"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f["properties"]["rules"].update(fishing="sometimes"), "fishing rule"),
        (lambda f: f["properties"].pop("id"), "properties.id"),
        (lambda f: f.update(geometry={"type": "Point", "coordinates": [0, 0]}), "Polygon"),
    ],
)
def test_zone_refuses_a_wrong_feature(change, message) -> None:
    feature = copy.deepcopy(box_feature("z", (0, 0, 1, 1)))
    change(feature)
    with pytest.raises(ValueError, match=message):
        Zone.from_feature(feature)


def test_every_shipped_zone_reads() -> None:
    files = sorted((ROOT / "infra" / "zones").glob("*.geojson"))
    assert files
    zones = [
        Zone.from_feature(f)
        for path in files
        for f in json.loads(path.read_text(encoding="utf-8"))["features"]
    ]
    by_id = {z.id: z for z in zones}
    assert len(by_id) == len(zones)
    for z in zones:
        assert z.watch, z.id
        assert z.fishing in {"open", "flag_state_only", "agreement_states_only", "prohibited"}
        assert z.geometry.is_valid


def test_thresholds_defaults_validation_and_toml() -> None:
    t = Thresholds()
    assert (t.dark_after_min, t.encounter_distance_m, t.encounter_min_minutes) == (60, 500, 120)
    assert (t.encounter_max_sog_kn, t.fishing_sog_kn, t.foreign_fishing_min_minutes) == (
        2.0,
        (0.5, 5.0),
        30,
    )
    assert (t.loiter_radius_m, t.loiter_min_minutes, t.loiter_max_sog_kn) == (2000, 180, 3.0)
    assert (t.distress_quiet_minutes, t.max_evidence) == (30, 50)
    section = tomllib.loads("[detect]\ndark_after_min = 90\nfishing_sog_kn = [1.0, 4.0]\n")[
        "detect"
    ]
    t = Thresholds.model_validate(section)
    assert (t.dark_after_min, t.fishing_sog_kn) == (90, (1.0, 4.0))
    for bad in (
        {"dark_after_min": 0},
        {"encounter_distance_m": -5},
        {"fishing_sog_kn": (5.0, 0.5)},
        {"fishing_sog_kn": (2.0, 2.0)},
        {"fishing_sog_kn": (1.0,)},
        {"max_evidence": 1},
        {"dark_afer_min": 60},  # a typo is refused, not ignored
    ):
        with pytest.raises(ValidationError):
            Thresholds.model_validate(bad)


def test_key_format_and_times() -> None:
    start = datetime(2025, 6, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=9)))
    key = make_key("encounter", ["440000002", "355000001"], None, start)
    assert key == "encounter:355000001+440000002:-:20250601T003005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        make_key("x", ["1"], None, datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        Fix("1", datetime(2025, 6, 1), 0.0, 0.0, None, None)
    f = Fix("1", start, 0.0, 0.0, None, None)
    assert f.at.utcoffset() == timedelta(0) and f.at == start


def test_thin_keeps_first_and_last_evenly() -> None:
    fixes = line("1", at(0), 199, 133.0, 37.0, 5.0)
    assert len(fixes) == 200
    kept = thin(fixes, 50)
    assert len(kept) == 50 and len(set(kept)) == 50
    assert kept[0] == fixes[0] and kept[-1] == fixes[-1]
    gaps = {(b.at - a.at).total_seconds() for a, b in itertools.pairwise(kept)}
    assert gaps <= {240.0, 300.0}
    assert thin(fixes[:10], 50) == tuple(fixes[:10])


def _detection(**kw) -> Detection:
    fields = dict(
        rule="going_dark",
        key="going_dark:1:-:20250601T000000Z",
        mmsis=("1",),
        started_at=at(0),
        last_seen_at=at(0),
        lon=133.0,
        lat=37.0,
        confidence=0.5,
        evidence=(),
        zone_id=None,
        category="maritime_safety",
        title="t",
        severity="Minor",
        certainty="Possible",
        urgency="Expected",
    )
    fields.update(kw)
    return Detection(**fields)


def test_incident_id_title_and_confidence() -> None:
    ns = uuid.UUID("12345678-1234-5678-1234-567812345678")
    d = _detection()
    assert d.incident_id(ns) == uuid.uuid5(ns, d.key)
    assert len(_detection(title="x" * 300).title) == 200
    with pytest.raises(ValueError, match="confidence"):
        _detection(confidence=1.5)


def test_registry_and_run_all() -> None:
    assert set(RULES) == {"going_dark", "encounter", "foreign_fishing", "loitering"}
    kr = "440123456"
    fixes = {kr: line(kr, at(0), 40, 133.0, 37.0, 3.0)}
    vessels = {kr: vessel(kr, "KR", "fishing")}
    found = run_all(fixes, vessels, ZONES, at(40 + 70))
    assert sorted(d.rule for d in found) == ["foreign_fishing", "going_dark"]
    assert run_all(fixes, vessels, ZONES, at(41), rules=["encounter"]) == []


def test_carry_over_keeps_the_key_of_a_continued_episode() -> None:
    previous = _detection(
        rule="loitering",
        key="loitering:1:z:20250601T000000Z",
        zone_id="z",
        started_at=at(0),
        last_seen_at=at(200),
    )
    shifted = replace(
        previous, key="loitering:1:z:20250601T010000Z", started_at=at(60), last_seen_at=at(260)
    )
    (kept,) = carry_over([shifted], [previous], timedelta(minutes=60))
    assert (kept.key, kept.started_at, kept.last_seen_at) == (previous.key, at(0), at(260))
    new = replace(shifted, key="loitering:1:z:20250601T050000Z", started_at=at(300))
    assert carry_over([new], [previous], timedelta(minutes=60)) == [new]
    elsewhere = replace(shifted, zone_id="other")
    assert carry_over([elsewhere], [previous], timedelta(minutes=60)) == [elsewhere]

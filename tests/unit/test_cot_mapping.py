"""mdx.cot.mapping: every CoT type it emits exists in MITRE's type tree (CoTtypes.xml), the
affiliation, how, time/start/stale rules, and text that cannot break the XML."""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from takproto.functions import xml2message

from mdx.ais.facts import SHIP_CATEGORIES
from mdx.cot import mapping
from mdx.cot.mapping import IncidentItem, Markings, VesselFix

ROOT = Path(__file__).resolve().parents[2]
# MITRE's tree, kept with the tests (tests/fixtures/cot/README.md).
TYPES_XML = Path(os.environ.get("MDX_COT_TYPES", ROOT / "tests/fixtures/cot/CoTtypes.xml"))
INCIDENT_SCHEMA = ROOT / "schemas/incident/v1/incident.schema.json"
T0 = datetime(2026, 11, 25, 9, 0, 0, 250000, tzinfo=UTC)
GREEN = Markings("jcg", "GREEN")
NETWORK_FLAGS = frozenset({"JP", "KR", "US"})


@pytest.fixture(scope="module")
def tree() -> frozenset[str]:
    """Every `cot` attribute of a <cot> element (entries the file comments out as `zot` are
    not types)."""
    assert TYPES_XML.exists(), f"the CoT type tree is missing: {TYPES_XML} (MDX_COT_TYPES)"
    root = etree.parse(str(TYPES_XML)).getroot()
    found = frozenset(str(e.get("cot")) for e in root.iter("cot") if e.get("cot"))
    assert len(found) > 2000
    return found


def in_tree(type_: str) -> str:
    """An event's type with its affiliation letter written as the tree writes it."""
    parts = type_.split("-")
    assert parts[0] == "a" and parts[1] in ("f", "h", "u", "n", "s"), type_
    return "-".join(["a", ".", *parts[2:]])


def categories() -> list[str]:
    schema = json.loads(INCIDENT_SCHEMA.read_text())
    found: list[str] = schema["properties"]["category"]["enum"]
    return found


def fix(**fields: Any) -> VesselFix:
    values: dict[str, Any] = {
        "mmsi": "431000001",
        "lat": 35.0,
        "lon": 139.0,
        "observed_at": T0,
        "source_type": "ais-terrestrial",
        "markings": GREEN,
        "flag": "JP",
    }
    values.update(fields)
    return VesselFix(**values)


def incident(**data: Any) -> IncidentItem:
    values: dict[str, Any] = {
        "category": "sar",
        "status": "reported",
        "title": "Person in the water",
    }
    values.update(data)
    return IncidentItem("5d1c2f9e-8a7b-4c3d-9e2f-1a0b9c8d7e6f", 34.47, 129.21, T0, GREEN, values)


def parsed(event: etree._Element) -> etree._Element:
    return etree.fromstring(mapping.to_bytes(event))


# -- types ---------------------------------------------------------------------------------------


def test_every_vessel_type_emitted_is_in_the_tree(tree: frozenset[str]) -> None:
    emitted = set()
    for category, mmsi, ship_type, flags in itertools.product(
        SHIP_CATEGORIES,
        ("431000001", "111431001"),  # a ship, a SAR aircraft
        (None, 30, 52, 55, 70, 71, 74, 80),
        (frozenset(), NETWORK_FLAGS),
    ):
        v = fix(category=category, mmsi=mmsi, ship_type=ship_type)
        emitted.add(mapping.vessel_type(v, flags))
    missing = sorted(t for t in emitted if in_tree(t) not in tree)
    assert missing == []
    assert len({in_tree(t) for t in emitted}) == 14  # distinct kinds, affiliation aside
    assert {t.split("-")[1] for t in emitted} == {"f", "u"}
    # Each registry category has its own entry, none falls through to a default.
    assert set(mapping.VESSEL_TYPES) == set(SHIP_CATEGORIES)


def test_every_incident_category_maps_into_the_incident_branch(tree: frozenset[str]) -> None:
    assert set(mapping.INCIDENT_TYPES) == set(categories())
    for category in categories():
        type_ = mapping.incident_type(category)
        assert in_tree(type_) in tree, (category, type_)
        assert in_tree(type_).startswith("a-.-X-i-"), (category, type_)
    assert mapping.INCIDENT_FALLBACK in tree


@pytest.mark.parametrize(
    ("category", "flag", "mmsi", "ship_type", "expected"),
    [
        ("fishing", "CN", "412000001", 30, "a-u-S-X-F"),
        ("fishing", "JP", "431000001", 30, "a-u-S-X-F"),  # a state's fishing boat: not ours
        ("law_enforcement", "JP", "431000001", 55, "a-f-S-X-L"),  # JCG's (the node's) own
        ("law_enforcement", "KR", "440000001", 55, "a-f-S-X-L"),  # a partner's coast guard
        ("law_enforcement", "CN", "412000001", 55, "a-u-S-X-L"),  # outside the network
        ("sar", "US", "338000001", 51, "a-f-S-N-N-R"),
        ("sar", "JP", "111431001", None, "a-f-A"),  # a SAR aircraft
        ("cargo", "PA", "351000001", 70, "a-u-S-X-M-C"),
        ("cargo", "PA", "351000001", 72, "a-u-S-X-M-H"),  # dangerous goods, category B
        ("tanker", "LR", "636000001", 80, "a-u-S-X-M-O"),
        ("passenger", "KR", "440000002", 60, "a-u-S-X-M-P"),
        ("tug", "JP", "431000002", 52, "a-u-S-X-M-T-U"),
        ("towing", "JP", "431000003", 31, "a-u-S-X-M-T-O"),
        ("pleasure", "US", "338000002", 37, "a-u-S-X-R"),
        ("military", "US", "338000003", 35, "a-u-S"),
        ("unknown", None, "431000004", None, "a-u-S"),
    ],
)
def test_vessel_types_by_kind_and_affiliation(
    category: str, flag: str | None, mmsi: str, ship_type: int | None, expected: str
) -> None:
    v = fix(category=category, flag=flag, mmsi=mmsi, ship_type=ship_type)
    assert mapping.vessel_type(v, NETWORK_FLAGS) == expected
    assert parsed(mapping.vessel_event(v, NETWORK_FLAGS)).get("type") == expected


def test_without_the_network_s_states_no_vessel_is_friendly() -> None:
    coast_guard = fix(category="law_enforcement", flag="JP")
    assert mapping.vessel_type(coast_guard, frozenset()) == "a-u-S-X-L"


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("sar", "a-u-X-i-r"),
        ("pollution", "a-u-X-i-e"),
        ("piracy_robbery", "a-u-X-i-t-m-h"),
        ("iuu_fishing", "a-u-X-i-l-l"),
        ("smuggling", "a-u-X-i-l-l"),
        ("irregular_migration", "a-u-X-i-l"),
        ("maritime_safety", "a-u-X-i-t-m"),
        ("other", "a-u-X-i-o"),
        ("not-a-category", "a-u-X-i"),
    ],
)
def test_incident_types(category: str, expected: str) -> None:
    assert mapping.incident_type(category) == expected


def test_an_atom_type_is_required_for_an_affiliation() -> None:
    with pytest.raises(ValueError, match="atom"):
        mapping.with_affiliation("b-r-f-h-c", "u")


# -- how -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_type", "how"),
    [
        ("ais-terrestrial", "m-g"),
        ("ais-satellite", "m-g"),
        ("vms", "m-g"),
        ("radar", "m-r"),
        ("patrol-sighting", "h-e"),
    ],
)
def test_how_of_a_position_follows_its_source(source_type: str, how: str) -> None:
    assert parsed(mapping.vessel_event(fix(source_type=source_type))).get("how") == how


def test_how_of_an_incident_detected_or_reported() -> None:
    detection = {"rule": "going_dark", "key": "k", "confidence": 0.8, "evidence": []}
    assert parsed(mapping.incident_event(incident(), T0)).get("how") == "h-e"
    detected = incident(detection=detection)
    assert parsed(mapping.incident_event(detected, T0)).get("how") == "m-g"


# -- times ----------------------------------------------------------------------------------------


def test_vessel_times_come_from_the_observation_and_go_stale_in_minutes() -> None:
    event = parsed(mapping.vessel_event(fix()))
    assert event.get("time") == event.get("start") == "2026-11-25T09:00:00.250Z"
    assert event.get("stale") == "2026-11-25T09:10:00.250Z"
    short = parsed(mapping.vessel_event(fix(), stale=timedelta(minutes=3)))
    assert short.get("stale") == "2026-11-25T09:03:00.250Z"
    # Another zone's clock is written in UTC.
    tokyo = T0.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+09:00").tzinfo)
    assert parsed(mapping.vessel_event(fix(observed_at=tokyo))).get("time") == event.get("time")


def test_an_open_incident_stays_fresh_from_now_a_closed_one_from_its_observation() -> None:
    now = T0 + timedelta(days=3)
    open_ = parsed(mapping.incident_event(incident(status="responding"), now))
    assert open_.get("time") == open_.get("start") == "2026-11-25T09:00:00.250Z"
    assert open_.get("stale") == "2026-11-29T09:00:00.250Z"  # now + 24 h
    closed = parsed(mapping.incident_event(incident(status="closed"), now))
    assert closed.get("stale") == "2026-11-26T09:00:00.250Z"  # observed + 24 h: stale already
    hour = parsed(mapping.incident_event(incident(), now, stale=timedelta(hours=1)))
    assert hour.get("stale") == "2026-11-28T10:00:00.250Z"


def test_takproto_reads_the_times_as_the_same_instants() -> None:
    message = xml2message(mapping.to_bytes(mapping.vessel_event(fix())))
    epoch_ms = int(T0.timestamp() * 1000)
    assert message.cotEvent.sendTime == message.cotEvent.startTime == epoch_ms
    assert message.cotEvent.staleTime == epoch_ms + 10 * 60 * 1000


# -- the event -----------------------------------------------------------------------------------


def test_a_vessel_event_as_takproto_reads_it() -> None:
    v = fix(
        name="SEIRYU MARU",
        imo="9074729",
        call_sign="JD1234",
        category="fishing",
        sog=10.0,
        cog=45.5,
        heading=50,
    )
    xml = mapping.to_bytes(mapping.vessel_event(v, NETWORK_FLAGS))
    assert xml.startswith(b"<event ") and xml.endswith(b"</event>")  # no XML declaration
    e = xml2message(xml).cotEvent
    assert (e.uid, e.type, e.how) == ("mdx-vessel-431000001", "a-u-S-X-F", "m-g")
    assert (e.lat, e.lon, e.hae, e.ce, e.le) == (35.0, 139.0, *([mapping.UNKNOWN] * 3))
    assert e.detail.contact.callsign == "SEIRYU MARU"
    assert e.detail.track.course == 45.5
    assert e.detail.track.speed == pytest.approx(5.14444, abs=1e-5)  # 10 kn in m/s
    remarks = parsed(mapping.vessel_event(v)).findtext("detail/remarks")
    assert remarks == (
        "SEIRYU MARU\nMMSI 431000001, IMO 9074729, call sign JD1234, flag JP\n"
        "fishing; source ais-terrestrial\nTLP:GREEN; origin jcg"
    )


def test_a_vessel_without_a_name_or_a_course() -> None:
    event = parsed(mapping.vessel_event(fix(sog=3.0)))
    assert event.find("detail/contact").get("callsign") == "431000001"
    assert event.find("detail/track") is None  # no course: no track rather than a made-up one
    with_heading = parsed(mapping.vessel_event(fix(sog=0.0, heading=270)))
    assert with_heading.find("detail/track").attrib == {"course": "270.0", "speed": "0.0"}


def test_an_incident_event_with_its_markings_and_area() -> None:
    item = IncidentItem(
        "5d1c2f9e-8a7b-4c3d-9e2f-1a0b9c8d7e6f",
        34.47,
        129.21,
        T0,
        Markings("kcg", "AMBER", ("jcg", "uscg"), "FisheriesMonitoring"),
        {
            "category": "iuu_fishing",
            "status": "reported",
            "title": "Unlit trawler",
            "description": "Gear in the water.",
            "severity": "Moderate",
            "certainty": "Likely",
            "persons_at_risk": 0,
            "vessels": [{"mmsi": "412000001", "name": "LU YU 1", "flag": "CN", "role": "suspect"}],
        },
        ce_m=1234.5,
    )
    event = parsed(mapping.incident_event(item, T0))
    assert event.get("uid") == "mdx-incident-5d1c2f9e-8a7b-4c3d-9e2f-1a0b9c8d7e6f"
    assert event.find("point").get("ce") == "1234.5"
    assert event.find("detail/contact").get("callsign") == "Unlit trawler"
    assert event.findtext("detail/remarks") == (
        "IUU FISHING: Unlit trawler\nGear in the water.\n"
        "status reported; severity Moderate; certainty Likely\npersons at risk 0\n"
        "vessels: LU YU 1, MMSI 412000001, CN, suspect\n"
        "TLP:AMBER, releasable to jcg, uscg; purpose FisheriesMonitoring; origin kcg"
    )
    assert event.find("detail/mdx").attrib == {
        "kind": "incident",
        "category": "iuu_fishing",
        "status": "reported",
        "origin": "kcg",
        "tlp": "AMBER",
        "relto": "jcg uscg",
        "purpose": "FisheriesMonitoring",
    }


HOSTILE = '</remarks><event uid="x"/>&amp; <![CDATA[ ]]> "quoted" \'single\' \u00e9\u6f01'


def test_text_is_escaped_not_markup() -> None:
    v = fix(name=HOSTILE, call_sign="<b>")
    xml = mapping.to_bytes(mapping.vessel_event(v))
    assert b"<event uid" not in xml and b"<b>" not in xml
    event = etree.fromstring(xml)
    assert len(event.findall(".//event")) == 0
    assert event.find("detail/contact").get("callsign") == HOSTILE
    assert event.findtext("detail/remarks").startswith(HOSTILE + "\nMMSI 431000001")
    title = incident(title=HOSTILE, description="a < b & c > d")
    remarks = parsed(mapping.incident_event(title, T0)).findtext("detail/remarks")
    assert remarks.splitlines()[:2] == [f"SAR: {HOSTILE}", "a < b & c > d"]
    # The independent parser reads the same text back.
    assert xml2message(xml).cotEvent.detail.contact.callsign == HOSTILE

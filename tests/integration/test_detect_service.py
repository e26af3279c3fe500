"""The detection service against a real PostGIS, a real Mosquitto and a real ingest: positions
in the database, one cycle run in-process, incidents out through MQTT and stored by ingest."""

from __future__ import annotations

import dataclasses
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from mdx.api.app import create_app
from mdx.core import store, zones
from mdx.core.intake import Accepted
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from mdx.detect import reader
from mdx.detect.model import Detection, Fix, Thresholds
from mdx.detect.publish import change, namespace
from mdx.detect.reader import Tracks
from mdx.detect.service import DetectService
from mdx.detect.settings import DetectSettings
from tests.conftest import login
from tests.integration.harness import ServiceProcess, wait_for
from tests.integration.test_api import judged, offset
from tests.integration.test_ingest import wait_until_online

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "infra" / "zones"
# Inside jp-eez-sea-of-japan (flag_state_only, JP), outside the JP-KR agreement zone.
SEA_OF_JAPAN = (134.5, 37.5)
KR_TRAWLER = "440123456"  # MID 440: Korea
JP_TRAWLER = "431999001"  # MID 431: Japan
DARK = "431000777"
SART = "970123456"
SART_UNDER_TEST = "970654321"
# Minutes whole, and hours before now: the intake refuses observations from the future.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
WAIT_S = 10


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def settings(node_settings: NodeSettings) -> NodeSettings:
    """The test node, with AMBER as its default TLP (not the intake's own default)."""
    node = node_settings.node.model_copy(update={"default_tlp": "AMBER"})
    return node_settings.model_copy(update={"node": node})


@pytest.fixture
def ingest(settings: NodeSettings, schemas: SchemaSet, tmp_path: Path) -> Iterator[None]:
    """The shipped zones loaded, and ingest running on the test broker."""
    zones.load(create_engine(settings.database.url), SHIPPED, schemas)
    proc = ServiceProcess("ingest", settings, tmp_path)
    proc.start()
    try:
        wait_until_online(settings, proc)
        yield
    finally:
        proc.stop()


@pytest.fixture
def service(ingest: None, settings: NodeSettings) -> Iterator[DetectService]:
    """A started service, whose cycles the test runs."""
    svc = DetectService(settings)
    svc.start()
    try:
        yield svc
    finally:
        svc.close()


def write(db: str, items: list[Accepted]) -> None:
    """Store as ingest would: the same intake judgement, the same store."""
    with store.connect(db) as conn:
        store.write_batch(conn, items, [])


def fix(
    schemas: SchemaSet,
    mmsi: str,
    t: datetime,
    lon: float,
    lat: float,
    producer: str = "ais",
    **more: Any,
) -> Accepted:
    data = {
        "mmsi": mmsi,
        "observed_at": iso(t),
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "source_type": "ais-terrestrial",
        **more,
    }
    return judged(schemas, producer, "position", data)


def static(schemas: SchemaSet, mmsi: str, name: str, ship_type: int) -> Accepted:
    data = {
        "mmsi": mmsi,
        "observed_at": iso(at(-5)),
        "source_type": "ais-terrestrial",
        "name": name,
        "ship_type": ship_type,
    }
    return judged(schemas, "ais", "vessel", data)


def trawl(
    schemas: SchemaSet, mmsi: str, start: float, minutes: int, origin: tuple[float, float]
) -> list[Accepted]:
    """One fix a minute at 3 kn heading north-east from `origin`, from minute `start` on."""
    metres_per_min = 3 * 1852 / 60
    out = []
    for i in range(minutes):
        m = start + i
        lon, lat = offset(
            *origin, east_m=m * metres_per_min * 0.7, north_m=m * metres_per_min * 0.7
        )
        out.append(fix(schemas, mmsi, at(m), lon, lat, sog=3.0, cog=45.0))
    return out


def rows(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        return conn.execute(sql, params).fetchall()


def incident(db: str, incident_id: uuid.UUID) -> dict[str, Any] | None:
    found = rows(
        db,
        "SELECT version, origin, tlp, purpose, status, data FROM incidents WHERE incident_id = %s",
        incident_id,
    )
    if not found:
        return None
    version, origin, tlp, purpose, status, data = found[0]
    return {
        "version": version,
        "origin": origin,
        "tlp": tlp,
        "purpose": purpose,
        "status": status,
        "data": data,
    }


def dead_letters(db: str) -> str:
    found = rows(db, "SELECT producer, reason FROM dead_letters ORDER BY id")
    return f"(dead letters: {found})"


def version_of(db: str, incident_id: uuid.UUID) -> int | None:
    found = incident(db, incident_id)
    return found["version"] if found else None


def incidents_naming(db: str, mmsi: str) -> int:
    sql = "SELECT count(*) FROM incidents WHERE data->'vessels' @> %s::jsonb"
    return int(rows(db, sql, f'[{{"mmsi": "{mmsi}"}}]')[0][0])


def test_foreign_fishing_raises_one_incident_and_updates_it_only_on_change(
    service: DetectService, settings: NodeSettings, schemas: SchemaSet, db: str
) -> None:
    near_miss = offset(*SEA_OF_JAPAN, north_m=20_000)
    write(
        db,
        [
            static(schemas, KR_TRAWLER, "DAE HO 7", 30),
            static(schemas, JP_TRAWLER, "SHINSEI MARU", 30),
            *trawl(schemas, KR_TRAWLER, 0, 46, SEA_OF_JAPAN),
            *trawl(schemas, JP_TRAWLER, 0, 46, near_miss),
        ],
    )

    report = service.run_once(at(46))
    assert report.vessels == 2 and report.read.full
    (d,) = [d for d in report.detections if d.rule == "foreign_fishing"]
    incident_id = d.incident_id(namespace("jcg"))
    wait_for(
        lambda: version_of(db, incident_id) == 1,
        WAIT_S,
        lambda: "version 1 of the incident " + dead_letters(db),
    )

    got = incident(db, incident_id)
    assert got is not None
    data = got["data"]
    assert (got["origin"], got["tlp"], got["purpose"], got["status"]) == (
        "jcg",
        "AMBER",
        "FisheriesMonitoring",
        "reported",
    )
    assert data["category"] == "iuu_fishing"
    assert (data["severity"], data["urgency"]) == ("Moderate", "Expected")
    assert data["observed_at"] == iso(at(45))
    assert data["vessels"] == [
        {"mmsi": KR_TRAWLER, "role": "suspect", "name": "DAE HO 7", "flag": "KR"}
    ]
    det = data["detection"]
    assert det["rule"] == "foreign_fishing"
    assert det["zone_id"] == "jp-eez-sea-of-japan"
    assert det["key"] == f"foreign_fishing:{KR_TRAWLER}:jp-eez-sea-of-japan:{at(0):%Y%m%dT%H%M%SZ}"
    assert len(det["evidence"]) >= 10
    assert det["evidence"][0]["observed_at"] == iso(at(0))
    assert det["evidence"][-1] | {"lon": 0, "lat": 0} == {
        "mmsi": KR_TRAWLER,
        "observed_at": iso(at(45)),
        "sog": 3.0,
        "cog": 45.0,
        "lon": 0,
        "lat": 0,
    }
    assert data["location"]["coordinates"] == [
        det["evidence"][-1]["lon"],
        det["evidence"][-1]["lat"],
    ]
    assert "KR fishing vessel DAE HO 7 (440123456)" in data["description"]
    assert "where only vessels of JP may fish" in data["description"]
    assert "mdx rule foreign_fishing" in data["description"]
    # The envelope carried the node's default TLP itself, from producer `detect`.
    (envelope,) = rows(
        db, "SELECT envelope FROM incident_versions WHERE incident_id = %s", incident_id
    )
    assert envelope[0]["tlp"] == "AMBER"
    assert envelope[0]["source"] == "urn:mdx:jcg:detect"
    # The JP trawler fishes in its own state's zone: nothing.
    assert incidents_naming(db, JP_TRAWLER) == 0
    assert rows(db, "SELECT count(*) FROM incidents")[0][0] == 1

    # Ten more minutes of trawling: the same incident, version 2, with the new fixes.
    write(db, trawl(schemas, KR_TRAWLER, 46, 10, SEA_OF_JAPAN))
    report = service.run_once(at(56))
    assert not report.read.full and report.published == 1
    wait_for(
        lambda: version_of(db, incident_id) == 2,
        WAIT_S,
        lambda: "version 2 of the incident " + dead_letters(db),
    )
    data = (incident(db, incident_id) or {})["data"]
    assert data["detection"]["last_seen_at"] == iso(at(55))
    assert data["detection"]["evidence"][-1]["observed_at"] == iso(at(55))
    assert data["detection"]["key"] == det["key"]

    # Nothing new: nothing published.
    report = service.run_once(at(56.5))
    assert report.published == 0
    assert service.flush(WAIT_S)
    assert version_of(db, incident_id) == 2
    assert rows(db, "SELECT count(*) FROM dead_letters")[0][0] == 0

    # An operator acknowledges it; the next update keeps that status.
    with TestClient(create_app(settings, schemas)) as api:
        login(api, db)
        r = api.patch(f"/api/v1/incidents/{incident_id}", json={"status": "acknowledged"})
        assert r.status_code == 200, r.text
    assert version_of(db, incident_id) == 3
    write(db, trawl(schemas, KR_TRAWLER, 56, 10, SEA_OF_JAPAN))
    assert service.run_once(at(66)).published == 1
    wait_for(
        lambda: version_of(db, incident_id) == 4,
        WAIT_S,
        lambda: "version 4 of the incident " + dead_letters(db),
    )
    got = incident(db, incident_id) or {}
    assert got["status"] == "acknowledged"
    assert got["data"]["detection"]["last_seen_at"] == iso(at(65))
    assert rows(db, "SELECT count(*) FROM incidents")[0][0] == 1


def test_distress_alerts_raise_a_sar_incident_and_update_it(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    lon, lat = 139.8, 34.6
    write(
        db,
        [
            fix(schemas, SART, at(0), lon, lat, nav_status=14),
            fix(schemas, SART_UNDER_TEST, at(0), lon + 1, lat, nav_status=15),
        ],
    )
    assert service.run_distress_once() == 1
    incident_id = uuid.uuid5(
        namespace("jcg"), f"distress:{SART}:jp-eez-pacific:{at(0):%Y%m%dT%H%M%SZ}"
    )
    wait_for(
        lambda: version_of(db, incident_id) == 1,
        WAIT_S,
        lambda: "the distress incident " + dead_letters(db),
    )
    got = incident(db, incident_id) or {}
    data = got["data"]
    assert (data["category"], data["severity"], data["certainty"], data["urgency"]) == (
        "sar",
        "Extreme",
        "Observed",
        "Immediate",
    )
    assert got["purpose"] == "SAR"
    assert data["detection"]["rule"] == "distress"
    assert data["vessels"] == [{"mmsi": SART, "role": "victim"}]
    assert data["title"].startswith("AIS-SART alert")

    # Seen again: nothing more.
    assert service.run_distress_once() == 0
    # A minute later the SART sends again: the same incident, a new version.
    write(db, [fix(schemas, SART, at(1), lon + 0.001, lat, nav_status=14)])
    assert service.run_distress_once() == 1
    wait_for(
        lambda: version_of(db, incident_id) == 2,
        WAIT_S,
        lambda: "version 2 of the distress incident " + dead_letters(db),
    )
    det = (incident(db, incident_id) or {})["data"]["detection"]
    assert det["last_seen_at"] == iso(at(1)) and len(det["evidence"]) == 2
    # The device under test raised nothing; the track rules never see distress devices.
    assert incidents_naming(db, SART_UNDER_TEST) == 0
    assert service.run_once(at(90)).vessels == 0


WITNESS = "431000999"


def test_a_silent_feed_makes_no_vessel_dark(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    # Every vessel stops at once (the receiver, not the vessels): nobody is dark, however late.
    write(
        db,
        [
            fix(schemas, DARK, at(i * 50 / 9), *offset(*SEA_OF_JAPAN, east_m=i * 800), sog=8.0)
            for i in range(10)
        ],
    )
    assert service.run_once(at(50 + 180)).detections == []


def test_going_dark_after_regular_reports(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    last = 50.0
    write(
        db,
        [
            fix(schemas, DARK, at(i * last / 9), *offset(*SEA_OF_JAPAN, east_m=i * 800), sog=8.0)
            for i in range(10)
        ],
    )
    # Another vessel keeps reporting: the feed is alive, so the silence is the vessel's own
    # (the rules judge by the data's clock, not the wall clock).
    write(
        db,
        [
            fix(schemas, WITNESS, at(m), *offset(*SEA_OF_JAPAN, north_m=20_000 + m * 250), sog=8.0)
            for m in range(0, 135, 5)
        ],
    )
    assert service.run_once(at(last + 50)).detections == []
    report = service.run_once(at(last + 70))
    (d,) = report.detections
    assert d.rule == "going_dark"
    incident_id = d.incident_id(namespace("jcg"))
    wait_for(
        lambda: version_of(db, incident_id) == 1,
        WAIT_S,
        lambda: "the going-dark incident " + dead_letters(db),
    )
    data = (incident(db, incident_id) or {})["data"]
    assert data["detection"]["zone_id"] == "jp-eez-sea-of-japan"
    assert data["detection"]["facts"]["gap_minutes"] == 70.0
    assert "fell silent after 10 position reports" in data["description"]
    assert rows(db, "SELECT count(*) FROM incidents")[0][0] == 1

    # It reports again: the incident's last version says the silence is over.
    write(db, [fix(schemas, DARK, at(last + 80), *offset(*SEA_OF_JAPAN, east_m=9000), sog=8.0)])
    service.run_once(at(last + 81))
    wait_for(
        lambda: version_of(db, incident_id) == 2,
        WAIT_S,
        lambda: "the going-dark incident, over " + dead_letters(db),
    )
    data = (incident(db, incident_id) or {})["data"]
    assert data["urgency"] == "Past"
    assert data["detection"]["facts"] == data["detection"]["facts"] | {
        "resumed": True,
        "gap_minutes": 80.0,
    }
    assert f"it reported again at {at(last + 80):%Y-%m-%d %H:%M} UTC" in data["description"]
    assert data["title"].startswith("AIS gap of 1 h 20 min:")
    assert service.run_once(at(last + 82)).published == 0


def test_a_receiver_catching_up_makes_none_of_its_vessels_dark(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    # Receiver "ais" has delivered up to minute 50 (its history is still on its way); another
    # source is live at minute 130. DARK reported regularly to "ais" until minute 50.
    steady = [
        fix(schemas, DARK, at(m), *offset(*SEA_OF_JAPAN, east_m=m * 150), sog=8.0)
        for m in range(0, 51, 5)
    ]
    live = [
        fix(schemas, WITNESS, at(m), *offset(*SEA_OF_JAPAN, north_m=20_000), "radar", sog=8.0)
        for m in range(0, 131, 5)
    ]
    write(db, [*steady, *live])
    assert service.run_once(at(130)).detections == []
    # The receiver catches up to minute 130 with another vessel, but DARK is not in it: dark.
    write(
        db,
        [
            fix(schemas, KR_TRAWLER, at(m), *offset(*SEA_OF_JAPAN, north_m=-20_000), sog=8.0)
            for m in range(50, 131, 5)
        ],
    )
    (d,) = service.run_once(at(130)).detections
    assert (d.rule, d.mmsis, d.facts["gap_minutes"]) == ("going_dark", (DARK,), 80.0)


def test_a_gap_filled_by_late_positions_withdraws_its_candidate(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    write(
        db,
        [
            fix(schemas, DARK, at(m), *offset(*SEA_OF_JAPAN, east_m=m * 150), sog=8.0)
            for m in range(0, 51, 5)
        ]
        + [
            fix(schemas, WITNESS, at(m), *offset(*SEA_OF_JAPAN, north_m=20_000), sog=8.0)
            for m in range(0, 131, 5)
        ],
    )
    (d,) = service.run_once(at(120)).detections
    incident_id = d.incident_id(namespace("jcg"))
    wait_for(lambda: version_of(db, incident_id) == 1, WAIT_S, lambda: dead_letters(db))
    # DARK's reports of minutes 55-130 were held up on the way (same source), and arrive.
    write(
        db,
        [
            fix(schemas, DARK, at(m), *offset(*SEA_OF_JAPAN, east_m=m * 150), sog=8.0)
            for m in range(55, 131, 5)
        ],
    )
    report = service.run_once(at(130))
    assert [(x.rule, x.facts.get("withdrawn")) for x in report.detections] == [("going_dark", True)]
    wait_for(lambda: version_of(db, incident_id) == 2, WAIT_S, lambda: dead_letters(db))
    got = incident(db, incident_id) or {}
    assert got["status"] == "closed"
    assert got["data"]["detection"]["facts"]["gap_minutes"] == 5.0
    assert "was never silent for 1 h. Withdrawn. Candidate raised" in got["data"]["description"]
    assert service.run_once(at(131)).published == 0


def test_an_episode_longer_than_the_window_keeps_its_incident(
    ingest: None, settings: NodeSettings, schemas: SchemaSet, db: str
) -> None:
    # A 2.5 h window (loitering's minimum made to fit) over 4 h of trawling: by the third
    # cycle the rule sees the episode start later than it did; it stays one incident.
    config = DetectSettings(window_h=2.5, thresholds=Thresholds(loiter_min_minutes=60))
    svc = DetectService(settings, config)
    svc.start()
    try:
        write(db, [static(schemas, KR_TRAWLER, "DAE HO 7", 30)])
        write(db, trawl(schemas, KR_TRAWLER, -120, 240, SEA_OF_JAPAN))
        assert [svc.run_once(at(m)).published for m in (-60, 0, 60, 120)] == [1, 1, 1, 1]
        assert svc.flush(WAIT_S)
    finally:
        svc.close()
    ((version, data),) = rows(db, "SELECT version, data FROM incidents")
    det = data["detection"]
    assert version == 4
    assert (
        det["key"] == f"foreign_fishing:{KR_TRAWLER}:jp-eez-sea-of-japan:{at(-120):%Y%m%dT%H%M%SZ}"
    )
    assert (det["started_at"], det["last_seen_at"]) == (iso(at(-120)), iso(at(119)))
    assert det["evidence"][0]["observed_at"] == iso(at(-120)) and len(det["evidence"]) <= 50
    assert det["facts"]["minutes"] == 239.0
    assert "at fishing speed for 3 h 59 min" in data["title"]


def test_the_service_runs_both_loops_until_stopped(
    ingest: None, settings: NodeSettings, schemas: SchemaSet, db: str
) -> None:
    svc = DetectService(settings, DetectSettings(interval_s=0.3, distress_interval_s=0.1))
    runner = threading.Thread(target=svc.run)
    runner.start()
    try:
        write(db, [fix(schemas, SART, datetime.now(UTC) - timedelta(seconds=5), 139.8, 34.6)])
        wait_for(
            lambda: rows(db, "SELECT count(*) FROM incidents WHERE category = 'sar'")[0][0] == 1,
            WAIT_S,
            lambda: "the distress loop's incident " + dead_letters(db),
        )
    finally:
        svc.stop()
        runner.join(timeout=20)
    assert not runner.is_alive()


# --- reading: new rows merged into the kept tracks equal a fresh read ---------------------------


def test_tracks_kept_between_cycles_equal_a_fresh_read(db: str, schemas: SchemaSet) -> None:
    rng = random.Random(7)
    mmsis = ["431000101", "440000202", "412000303"]
    # Fixes every 20 s or so over 2 h, written in three batches, out of order (late arrivals),
    # some at the same second twice; a distress device and an aid to navigation too.
    items = [
        fix(schemas, m, at(rng.uniform(0, 120)), 134.0 + i / 10, 37.0, sog=rng.uniform(0, 12))
        for m in mmsis
        for i in range(360)
    ]
    items += [
        fix(schemas, SART, at(10), 134.0, 37.0),
        fix(schemas, "993456789", at(10), 134.0, 37.0),
    ]
    items += items[:30]
    rng.shuffle(items)
    kept = Tracks(timedelta(hours=6))
    with reader.connect(db) as conn:
        for part in (items[:400], items[400:800], items[800:]):
            write(db, part)
            kept.refresh(conn, at(130))
        fresh = Tracks(timedelta(hours=6))
        assert fresh.refresh(conn, at(130)).full
        assert sorted(kept.tracks) == sorted(mmsis)
        assert kept.tracks == fresh.tracks
        for track in kept.tracks.values():
            minutes = [int(f.at.timestamp() // 60) for f in track]
            assert minutes == sorted(set(minutes))
        # Two hours later the first hour is out of a 3-hour window.
        kept.window = timedelta(hours=3)
        kept.refresh(conn, at(240))
        assert all(f.at > at(60) for track in kept.tracks.values() for f in track)
        assert kept.upto(at(30)) == {}


def test_merge_keeps_the_first_fix_of_each_minute() -> None:
    def f(seconds: float) -> Fix:
        return Fix("431000101", at(0) + timedelta(seconds=seconds), 134.0, 37.0)

    track: list[Fix] = []
    assert [reader.merge(track, f(s)) for s in (10, 70, 50, 5, 5, 130, 125, 200)] == [
        True,  # minute 0
        True,  # minute 1
        False,  # minute 0 has an earlier one
        True,  # earlier in minute 0: replaces it
        False,  # the same again
        True,  # minute 2
        True,  # earlier in minute 2
        True,  # minute 3
    ]
    assert track == [f(5), f(70), f(125), f(200)]


def test_a_new_version_only_for_a_change_of_substance() -> None:
    evidence = tuple(Fix(KR_TRAWLER, at(m), 134.0, 37.0) for m in range(10))
    old = Detection(
        rule="foreign_fishing",
        key="k",
        mmsis=(KR_TRAWLER,),
        started_at=at(0),
        last_seen_at=at(9),
        lon=134.0,
        lat=37.0,
        confidence=0.7,
        evidence=evidence,
        zone_id=None,
        category="iuu_fishing",
        title="t",
        severity="Moderate",
        certainty="Likely",
        urgency="Expected",
    )
    later = (Fix(KR_TRAWLER, at(10), 134.0, 37.0),)
    assert change(old, None) == "new"
    assert change(old, old) is None
    assert change(dataclasses.replace(old, confidence=0.74), old) is None
    assert change(dataclasses.replace(old, confidence=0.75), old) is not None
    assert change(dataclasses.replace(old, urgency="Past"), old) is not None
    assert change(dataclasses.replace(old, last_seen_at=at(13)), old) is None
    assert change(dataclasses.replace(old, last_seen_at=at(14)), old) is not None
    # One more fix a minute later counts; one more fix of the same minute does not.
    grown = dataclasses.replace(old, evidence=evidence + later, last_seen_at=at(10))
    assert change(grown, old) is not None
    same_minute = dataclasses.replace(grown, last_seen_at=at(9.5))
    assert change(same_minute, old) is None


def broadcast(db: str, mmsi: str, minutes: float, text: str) -> None:
    line = f"!AIVDM,1,1,,A,test-{mmsi}-{minutes},0*00"  # kept as received; not decoded again
    safety = store.SafetyText("rx1", mmsi, 14, None, text, at(minutes), line)
    with store.connect(db) as conn:
        store.write_batch(conn, [], [], safety=[safety])


def test_a_broadcast_calling_for_help_raises_distress_at_the_senders_position(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    caller, chatter = "431000555", "431000556"
    lon, lat = 139.8, 34.6
    write(db, [fix(schemas, caller, at(0), lon, lat), fix(schemas, chatter, at(0), lon + 1, lat)])
    broadcast(db, caller, 1, "MOB MAN OVERBOARD")
    broadcast(db, chatter, 1, "NAV WARNING BUOY ADRIFT")
    assert service.run_distress_once() == 1
    assert service.run_distress_once() == 0  # each broadcast is handled once
    wait_for(lambda: incidents_naming(db, caller) == 1, WAIT_S, lambda: dead_letters(db))
    assert incidents_naming(db, chatter) == 0
    [(data,)] = rows(db, "SELECT data FROM incidents")
    assert (data["category"], data["detection"]["rule"]) == ("sar", "distress")
    assert data["location"]["coordinates"] == [lon, lat]  # where the caller was last seen


def test_a_call_for_help_before_any_position_waits_for_one(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    caller, silent = "431000557", "431000558"
    broadcast(db, caller, 0, "MAYDAY MAYDAY TAKING WATER")
    broadcast(db, silent, 0, "MAYDAY ENGINE FIRE")
    quiet = service.thresholds.distress_quiet_minutes
    assert service.run_distress_once(at(1)) == 0  # neither sender has a position yet
    write(db, [fix(schemas, caller, at(2), 139.8, 34.6)])
    assert service.run_distress_once(at(3)) == 1  # the caller's first report places its call
    wait_for(lambda: incidents_naming(db, caller) == 1, WAIT_S, lambda: dead_letters(db))
    # The other call waits as long as an episode stays open, then is given up (and logged).
    assert service.run_distress_once(at(quiet + 1)) == 0
    write(db, [fix(schemas, silent, at(quiet + 2), 139.9, 34.6)])
    assert service.run_distress_once(at(quiet + 3)) == 0
    assert incidents_naming(db, silent) == 0


def test_a_partners_distress_device_is_the_partners_to_raise(
    service: DetectService, schemas: SchemaSet, db: str
) -> None:
    shared = dataclasses.replace(
        fix(schemas, SART, at(0), 139.8, 34.6, nav_status=14), origin="kcg", received_via="kcg"
    )
    write(db, [shared])
    assert rows(db, "SELECT origin FROM positions WHERE mmsi = %s", SART) == [("kcg",)]
    assert service.run_distress_once() == 0
    write(db, [fix(schemas, SART, at(1), 139.8, 34.6, nav_status=14)])  # heard here too
    assert service.run_distress_once() == 1


def test_a_listed_carrier_is_a_reefer_to_the_encounter_rule(schemas: SchemaSet, db: str) -> None:
    reefer_by_mmsi, reefer_by_imo, cargo = "351000001", "351000002", "351000003"
    write(db, [static(schemas, m, f"SHIP {m}", 70) for m in (reefer_by_mmsi, reefer_by_imo, cargo)])
    write(db, [judged(schemas, "ais", "vessel", {
        "mmsi": reefer_by_imo, "observed_at": iso(at(-4)), "source_type": "ais-terrestrial",
        "imo": "9074729",
    })])  # fmt: skip
    config = DetectSettings(carriers=["351000001", "IMO 9074729"])
    with reader.connect(db) as conn:
        vessels = reader.read_vessels(conn, [reefer_by_mmsi, reefer_by_imo, cargo], config.carriers)
    assert {m: v.category for m, v in vessels.items()} == {
        reefer_by_mmsi: "reefer",
        reefer_by_imo: "reefer",
        cargo: "cargo",
    }


@pytest.mark.parametrize("bad", ["35100000", "IMO 907472", "MMSI 351000001", ""])
def test_a_carrier_must_be_an_mmsi_or_an_imo_number(bad: str) -> None:
    with pytest.raises(ValueError, match="neither an MMSI"):
        DetectSettings(carriers=[bad])


def side_by_side(
    schemas: SchemaSet, a: str, b: str, lon: float, lat: float, minutes: int = 130
) -> list[Accepted]:
    """Two vessels drifting 300 m apart at 1 kn, a fix each a minute."""
    out = []
    for m in range(minutes):
        here = offset(lon, lat, north_m=m * 30)
        out.append(fix(schemas, a, at(m), *here, sog=1.0, cog=0.0))
        out.append(fix(schemas, b, at(m), *offset(*here, east_m=300), sog=1.0, cog=0.0))
    return out


@pytest.mark.parametrize(
    ("where", "lon", "lat", "raised", "zone"),
    [
        ("in a watched JP zone", 133.3, 32.2, True, "jp-eez-pacific"),
        ("in KCG's East Sea zone (KCG's to raise)", 130.1, 36.9, False, None),
        ("on the open sea, outside every zone", 160.0, 30.0, True, None),
    ],
)
def test_an_encounter_is_raised_in_this_nodes_zones_or_on_the_open_sea(
    service: DetectService,
    schemas: SchemaSet,
    db: str,
    where: str,
    lon: float,
    lat: float,
    raised: bool,
    zone: str | None,
) -> None:
    fishers = ("431000101", "431000102")
    write(db, [static(schemas, m, f"FISHER {m}", 30) for m in fishers])
    write(db, side_by_side(schemas, *fishers, lon, lat))
    found = [d for d in service.run_once(at(130)).detections if d.rule == "encounter"]
    assert [(d.mmsis, d.zone_id) for d in found] == ([(fishers, zone)] if raised else []), where


@pytest.mark.parametrize("device_first", [True, False])
def test_a_call_for_help_and_the_mob_device_nearby_are_one_incident(
    service: DetectService, schemas: SchemaSet, db: str, device_first: bool
) -> None:
    ship, device, far_ship = "431000561", "972000561", "431000562"
    lon, lat = 139.8, 34.6
    write(
        db,
        [
            fix(schemas, ship, at(0), lon + 0.002, lat),
            fix(schemas, far_ship, at(0), lon + 0.5, lat),  # 45 km away: a case of its own
        ],
    )
    alert = fix(schemas, device, at(2), lon, lat, nav_status=14)
    if device_first:
        write(db, [alert])
        assert service.run_distress_once() == 1
    broadcast(db, ship, 1, "MOB MAN OVERBOARD")
    broadcast(db, far_ship, 1, "MAYDAY FIRE")
    assert service.run_distress_once() == 2
    if not device_first:
        write(db, [alert])
        assert service.run_distress_once() == 1
    wait_for(
        lambda: rows(db, "SELECT count(*), sum(version) FROM incidents") == [(2, 3)],
        WAIT_S,
        lambda: dead_letters(db),
    )
    assert incidents_naming(db, device) == incidents_naming(db, ship) == 1
    [(data,)] = rows(db, "SELECT data FROM incidents WHERE data->>'title' LIKE %s", f"%{ship}%")
    assert {v["mmsi"] for v in data["vessels"]} == {ship, device}
    assert data["severity"] == "Extreme"
    # The device again 20 s later, from where it was: nothing of substance, no new version
    # (the stored version, read back, names only the device: it is not the baseline).
    write(db, [fix(schemas, device, at(2) + timedelta(seconds=20), lon, lat, nav_status=14)])
    assert service.run_distress_once() == 0

"""distress: one detection per episode of distress messages of one MMSI."""

from __future__ import annotations

import uuid

import pytest

from mdx.detect import Fix, Thresholds, distress
from tests.unit.test_detect_support import JP_EEZ, MPA, ZONES, at, vessel

T = Thresholds()
SART = "970012345"
SHIP = "431000555"
NS = uuid.UUID("6f0c2a57-1d3e-4a8b-9c1e-2f5a7b3d9e10")


def _sart(minutes: float, previous=None, lon=133.0, lat=37.0, text="SART ACTIVE"):
    return distress.from_message(
        SART, "ais-sart", at(minutes), lon, lat, text, previous, T, zones=ZONES
    )


def test_a_first_sart_message_raises_a_sar_detection() -> None:
    d = _sart(0)
    assert d is not None
    assert d.rule == "distress"
    assert d.key == f"distress:{SART}:{JP_EEZ.id}:20250601T000000Z"
    assert d.mmsis == (SART,)
    assert d.started_at == d.last_seen_at == at(0)
    assert (d.lon, d.lat) == (133.0, 37.0)
    assert d.zone_id == JP_EEZ.id
    assert d.category == "sar"
    assert (d.severity, d.certainty, d.urgency) == ("Extreme", "Observed", "Immediate")
    assert d.confidence == 1.0
    assert len(d.evidence) == 1 and d.evidence[0].at == at(0)
    assert d.title == 'AIS-SART alert: MMSI 970012345 at 37.00N 133.00E: "SART ACTIVE"'


def test_a_second_message_within_the_quiet_window_continues_the_episode() -> None:
    first = _sart(0)
    second = _sart(20, first, lon=133.01, lat=37.01)
    assert second is not None and first is not None
    assert second.key == first.key
    assert second.incident_id(NS) == first.incident_id(NS)
    assert second.started_at == at(0)
    assert second.last_seen_at == at(20)
    assert len(second.evidence) == 2
    assert (second.lon, second.lat) == (133.01, 37.01)  # the latest position
    assert second.facts["messages"] == 2
    # Drifting into the MPA does not change the episode's zone (nor its key).
    third = _sart(45, second, lon=133.6, lat=37.6)
    assert third is not None
    assert third.key == first.key and third.zone_id == JP_EEZ.id
    assert len(third.evidence) == 3


def test_after_45_minutes_quiet_a_new_episode_starts() -> None:
    first = _sart(0)
    later = _sart(45, first, lon=133.6, lat=37.6)
    assert first is not None and later is not None
    assert later.key != first.key
    assert later.key == f"distress:{SART}:{MPA.id}:20250601T004500Z"
    assert later.started_at == at(45)
    assert len(later.evidence) == 1


def test_evidence_stays_bounded_over_a_long_episode() -> None:
    d = _sart(0)
    for k in range(1, 120):
        d = _sart(k, d, lon=133.0 + k / 1000)
    assert d is not None
    assert len(d.evidence) == T.max_evidence
    assert d.evidence[0].at == at(0) and d.evidence[-1].at == at(119)
    assert d.key.endswith("20250601T000000Z")


def test_a_broadcast_without_position_uses_the_last_known_one() -> None:
    last = Fix(SHIP, at(-10), 133.5, 37.2, 6.0, 90.0)
    ship = vessel(SHIP, "JP", "fishing", "KAIYO MARU")
    d = distress.from_message(
        SHIP,
        "safety-broadcast",
        at(0),
        None,
        None,
        "MAYDAY FIRE ON BOARD",
        None,
        T,
        last_known=last,
        vessel=ship,
        zones=ZONES,
    )
    assert d is not None
    assert (d.lon, d.lat) == (133.5, 37.2)
    assert d.evidence == (last,)
    assert d.started_at == at(0)
    assert (d.severity, d.certainty, d.urgency) == ("Severe", "Observed", "Immediate")
    assert d.facts["position_from"] == "last known position"
    assert d.title.startswith("Distress broadcast: JP fishing vessel KAIYO MARU (431000555)")
    # Without any position, nothing can be placed.
    assert (
        distress.from_message(SHIP, "safety-broadcast", at(0), None, None, "MAYDAY", None, T)
        is None
    )
    # A later broadcast without position continues the episode where it was.
    again = distress.from_message(SHIP, "safety-broadcast", at(5), None, None, "MAYDAY", d, T)
    assert again is not None and again.key == d.key
    assert (again.lon, again.lat) == (133.5, 37.2)
    # An alert in the same episode raises its severity to Extreme.
    mob = distress.from_message(SHIP, "mob", at(8), 133.52, 37.21, "MOB ACTIVE", again, T)
    assert mob is not None and mob.key == d.key
    assert mob.severity == "Extreme"


def test_test_messages_raise_nothing_and_wrong_input_is_refused() -> None:
    assert _sart(0, text="SART TEST") is None
    assert distress.from_message(SART, "epirb", at(0), 133.0, 37.0, "EPIRB test", None, T) is None
    with pytest.raises(ValueError, match="kind"):
        distress.from_message(SART, "flare", at(0), 133.0, 37.0, None, None, T)
    other = distress.from_message("972000001", "mob", at(0), 133.0, 37.0, None, None, T)
    with pytest.raises(ValueError, match="not a distress of"):
        _sart(1, other)


def test_outside_every_zone_and_without_zones() -> None:
    d = distress.from_message(SART, "ais-sart", at(0), 160.0, 10.0, None, None, T)
    assert d is not None
    assert d.zone_id is None
    assert d.key == f"distress:{SART}:-:20250601T000000Z"
    assert d.title == "AIS-SART alert: MMSI 970012345 at 10.00N 160.00E"


MOB = "972012345"


def test_a_vessels_call_and_its_mob_device_are_one_case() -> None:
    ship = vessel(SHIP, "JP", "fishing", "KAIYO MARU")
    device = distress.from_message(MOB, "mob", at(0), 133.0, 37.0, None, None, T, zones=ZONES)
    assert device is not None and device.title.startswith("Man-overboard alert: MMSI 972012345")
    # The vessel's call, placed at its last known position 300 m away, joins the device's case.
    last = Fix(SHIP, at(-1), 133.0034, 37.0, 3.0, 90.0)
    call = distress.from_message(
        SHIP,
        "safety-broadcast",
        at(1),
        None,
        None,
        "MOB MAN OVERBOARD",
        device,
        T,
        joining=True,
        last_known=last,
        vessel=ship,
    )
    assert call is not None
    assert (call.key, call.mmsis) == (device.key, (MOB, SHIP))
    assert (call.lon, call.lat) == (133.0, 37.0)  # still where the device is
    assert (call.severity, call.facts["messages"]) == ("Extreme", 2)
    assert call.title.startswith("Man-overboard alert: JP fishing vessel KAIYO MARU (431000555)")
    # The device's next position moves the case and keeps both MMSIs and the vessel's words.
    drift = distress.from_message(MOB, "mob", at(2), 133.001, 37.001, None, call, T, vessel=ship)
    assert drift is not None and drift.mmsis == (MOB, SHIP)
    assert (drift.lon, drift.lat) == (133.001, 37.001)
    assert drift.title.endswith('"MOB MAN OVERBOARD"')
    # Without `joining`, another MMSI's episode is a caller error.
    with pytest.raises(ValueError, match="not a distress of"):
        distress.from_message("972099999", "mob", at(3), 133.0, 37.0, None, drift, T)

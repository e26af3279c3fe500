"""Distress: an AIS-SART, man-overboard or EPIRB-AIS alert, or a safety broadcast (AIS message
14) about distress, raised as a search-and-rescue detection.

Not a rule over tracks: the service calls `from_message` for each such message as it arrives,
with the open detection of that vessel (if any), and gets the detection to raise or update.

Episodes: a message within `distress_quiet_minutes` of the previous detection's last message
continues it (same key and incident, evidence and position extended); after a longer quiet
period it starts a new episode with a new key. A message that is a test ("SART TEST",
"MOB TEST", "EPIRB TEST": the word TEST in its text) raises nothing.

One case, one incident: a man overboard shows as the MOB device's alerts AND the vessel's call
for help, two MMSIs. The service passes, as `previous`, an open episode of another MMSI within
`distress_join_m` of this message (`nearby`); the message joins it and the episode names both.
Its position stays the device's once it has one (that is where the person is), and its title
names the vessel rather than the device.

Position: the message's own when it has one; otherwise (a type 14 broadcast carries none) the
vessel's last known position passed as `last_known`, else the position of the episode so far;
with none of them, nothing can be placed and None is returned (the service should still log
or forward such a message).

Category sar, certainty Observed, urgency Immediate; severity Extreme for an AIS-SART, MOB or
EPIRB alert, Severe for a safety broadcast (an episode keeps the highest severity seen);
confidence 1.0 for an alert, 0.8 for a broadcast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from mdx.detect._common import Zones, described, fmt_position
from mdx.detect.geo import ZoneIndex, most_specific
from mdx.detect.model import (
    Detection,
    Fix,
    Severity,
    Thresholds,
    Vessel,
    as_utc,
    make_key,
    thin,
)

RULE = "distress"
KINDS: Final = {
    "ais-sart": "AIS-SART alert",
    "mob": "Man-overboard alert",
    "epirb": "EPIRB-AIS alert",
    "safety-broadcast": "Distress broadcast",
}
DEVICE_MIDS: Final = frozenset({"970", "972", "974"})
_TEST = re.compile(r"\bTEST\b", re.IGNORECASE)
_RANK: Final[dict[str, int]] = {"Extreme": 0, "Severe": 1, "Moderate": 2, "Minor": 3, "Unknown": 4}


def is_test(text: str | None) -> bool:
    return bool(text and _TEST.search(text))


def is_device(mmsi: str) -> bool:
    """An AIS-SART, MOB or EPIRB-AIS (970/972/974xxxxxx), as opposed to a vessel."""
    return mmsi[:3] in DEVICE_MIDS


def from_message(
    mmsi: str,
    kind: str,
    at: datetime,
    lon: float | None,
    lat: float | None,
    text: str | None,
    previous: Detection | None,
    thresholds: Thresholds,
    *,
    joining: bool = False,
    last_known: Fix | None = None,
    vessel: Vessel | None = None,
    zones: Zones = (),
) -> Detection | None:
    """The distress detection to raise or update for one message (see module docstring).

    `previous`: the latest distress detection of this MMSI, or None; a previous detection of
    another rule, or of other MMSIs unless `joining`, is a caller error (ValueError).
    `joining`: `previous` is another MMSI's open episode nearby, which this message joins.
    `last_known`: the vessel's last known position, used when the message has none.
    `vessel`: what the title names (the episode's vessel rather than its device). `zones`: to
    name the zone the episode started in (the most specific zone there, whatever it
    watches)."""
    if kind not in KINDS:
        raise ValueError(f"unknown distress message kind {kind!r}; expected one of {sorted(KINDS)}")
    at = as_utc(at, "at")
    if previous is not None and (
        previous.rule != RULE or (mmsi not in previous.mmsis and not joining)
    ):
        raise ValueError(f"previous detection {previous.key} is not a distress of {mmsi}")
    if is_test(text):
        return None
    quiet = timedelta(minutes=thresholds.distress_quiet_minutes)
    ongoing = (
        previous
        if previous is not None
        and previous.started_at - quiet <= at <= previous.last_seen_at + quiet
        else None
    )

    if lon is not None and lat is not None:
        fix: Fix | None = Fix(mmsi, at, float(lon), float(lat))
        position_from = "message"
    elif last_known is not None:
        fix = last_known
        position_from = "last known position"
    else:
        fix = None
        position_from = "episode"
    if fix is None and ongoing is None:
        return None

    severity: Severity = "Severe" if kind == "safety-broadcast" else "Extreme"
    confidence = 0.8 if kind == "safety-broadcast" else 1.0
    vessel = vessel or Vessel(mmsi=mmsi)
    label = KINDS[kind]

    if ongoing is not None:
        evidence = list(ongoing.evidence)
        if fix is not None and fix not in evidence:
            evidence = sorted([*evidence, fix], key=lambda f: f.at)
        newest = at >= ongoing.last_seen_at
        # A device's position is where the person is: a vessel's never moves the episode off it.
        moves = is_device(mmsi) or not any(map(is_device, ongoing.mmsis))
        place = fix if fix is not None and newest and moves else None
        lon_, lat_ = (place.lon, place.lat) if place is not None else (ongoing.lon, ongoing.lat)
        if _RANK[ongoing.severity] < _RANK[severity]:  # keep the gravest kind of the episode
            severity = ongoing.severity
            label = str(ongoing.facts.get("label", label))
        return Detection(
            rule=RULE,
            key=ongoing.key,
            mmsis=ongoing.mmsis if mmsi in ongoing.mmsis else (*ongoing.mmsis, mmsi),
            started_at=min(ongoing.started_at, at),
            last_seen_at=max(ongoing.last_seen_at, at),
            lon=lon_,
            lat=lat_,
            confidence=max(ongoing.confidence, confidence),
            evidence=thin(evidence, thresholds.max_evidence),
            zone_id=ongoing.zone_id,
            category="sar",
            title=_title(label, vessel, lon_, lat_, text or str(ongoing.facts.get("text", ""))),
            severity=severity,
            certainty="Observed",
            urgency="Immediate",
            facts={
                "label": label,
                "messages": int(ongoing.facts.get("messages", 1)) + 1,
                "position_from": position_from,
                "text": (text or str(ongoing.facts.get("text", "")))[:160],
            },
        )

    assert fix is not None
    index = ZoneIndex.of(zones)
    zone = most_specific(index.at(fix.lon, fix.lat)) if len(index) else None
    zone_id = zone.id if zone is not None else None
    return Detection(
        rule=RULE,
        key=make_key(RULE, [mmsi], zone_id, at),
        mmsis=(mmsi,),
        started_at=at,
        last_seen_at=at,
        lon=fix.lon,
        lat=fix.lat,
        confidence=confidence,
        evidence=(fix,),
        zone_id=zone_id,
        category="sar",
        title=_title(label, vessel, fix.lon, fix.lat, text),
        severity=severity,
        certainty="Observed",
        urgency="Immediate",
        facts={
            "label": label,
            "messages": 1,
            "position_from": position_from,
            "text": (text or "")[:160],
        },
    )


def _title(label: str, vessel: Vessel, lon: float, lat: float, text: str | None) -> str:
    said = f': "{" ".join(text.split())[:60]}"' if text and text.strip() else ""
    return f"{label}: {described(vessel)} at {fmt_position(lon, lat)}{said}"


def latest(detections: Sequence[Detection], mmsi: str) -> Detection | None:
    """The latest distress detection of `mmsi` among `detections` (a helper for callers that
    keep the open ones in a list)."""
    mine = [d for d in detections if d.rule == RULE and mmsi in d.mmsis]
    return max(mine, key=lambda d: d.last_seen_at, default=None)

"""Going dark: a vessel that reported regularly, then fell silent inside a watched zone.

Raised when, at `now`:
- the vessel's LAST fix lies inside a zone that watches "going_dark";
- it has been silent since for at least `dark_after_min`, by the clock of the receiver that
  heard it last (`heard_until`): a receiver whose data arrives late (a feed catching up on its
  history, a partner's backlog) or not at all does not make its vessels dark;
- it reported at least `dark_min_prior_fixes` fixes (the last one included) within the
  `dark_prior_window_min` before that last fix: a vessel seen once or rarely is not "dark".

The episode starts at the last fix (the start of the gap), so the key stays the same on every
run until the vessel reports again; a later gap after new reports is a new episode.

Confidence: 0.3, plus up to 0.4 as the gap grows from the threshold to three times it, plus up
to 0.3 with the prior reporting rate (12 fixes an hour or more counts as fully regular).
Category: iuu_fishing in an EEZ-like zone (eez, territorial sea, MPA, fishing agreement) for a
fishing vessel, a reefer or a vessel of unknown category; maritime_safety otherwise (an aor,
or a cargo ship in an EEZ). Severity Moderate (iuu_fishing) or Minor; urgency Expected.

Not known here, left to the service: whether the vessel is in port (AIS is often switched off
alongside) and whether the gap is a coverage hole of the receivers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from mdx.detect._common import (
    Zones,
    certainty_for,
    clamp01,
    described,
    fmt_duration,
    minutes_between,
    ordered,
    utc_now,
    vessel_of,
    where,
)
from mdx.detect.geo import ZoneIndex, most_specific
from mdx.detect.model import (
    EEZ_LIKE,
    Category,
    Detection,
    Fix,
    Thresholds,
    Vessel,
    Zone,
    make_key,
    thin,
)

RULE = "going_dark"
REGULAR_FIXES_PER_HOUR = 12.0


def detect(
    fixes: Mapping[str, Sequence[Fix]],
    vessels: Mapping[str, Vessel],
    zones: Zones,
    now: datetime,
    thresholds: Thresholds,
    heard_until: Mapping[str, datetime] | None = None,
) -> list[Detection]:
    """Every vessel dark at `now` inside a zone that watches going_dark. `heard_until`: per
    MMSI, the time up to which the receiver of its last fix has delivered data (the silence is
    measured to that time when it is earlier than `now`)."""
    now = utc_now(now)
    index = ZoneIndex.of(zones)
    if not index.watching(RULE):
        return []
    dark_after = timedelta(minutes=thresholds.dark_after_min)
    silent: list[tuple[str, Sequence[Fix], datetime]] = []
    for mmsi, track in fixes.items():
        if track:
            track = ordered(track)
            until = min(now, heard_until.get(mmsi, now)) if heard_until else now
            if until - track[-1].at >= dark_after:
                silent.append((mmsi, track, until))
    if not silent:
        return []
    zones_at = index.containing(
        [t[-1].lon for _, t, _ in silent], [t[-1].lat for _, t, _ in silent]
    )
    out: list[Detection] = []
    for (mmsi, track, until), here in zip(silent, zones_at, strict=True):
        zone = most_specific(z for z in here if RULE in z.watch)
        if zone is None:
            continue
        last = track[-1]
        window_start = last.at - timedelta(minutes=thresholds.dark_prior_window_min)
        prior = [f for f in track if f.at >= window_start]
        if len(prior) < thresholds.dark_min_prior_fixes:
            continue
        out.append(_detection(vessel_of(mmsi, vessels), zone, last, prior, until, thresholds))
    return out


def _detection(
    vessel: Vessel,
    zone: Zone,
    last: Fix,
    prior: list[Fix],
    now: datetime,
    t: Thresholds,
) -> Detection:
    gap = minutes_between(last.at, now)
    per_hour = len(prior) * 60 / t.dark_prior_window_min
    gap_score = min(1.0, (gap / t.dark_after_min - 1) / 2)
    rate_score = min(1.0, per_hour / REGULAR_FIXES_PER_HOUR)
    confidence = clamp01(0.3 + 0.4 * gap_score + 0.3 * rate_score)
    fisheries = zone.kind in EEZ_LIKE and vessel.category in (
        None,
        "",
        "unknown",
        "fishing",
        "reefer",
    )
    category: Category = "iuu_fishing" if fisheries else "maritime_safety"
    return Detection(
        rule=RULE,
        key=make_key(RULE, [vessel.mmsi], zone.id, last.at),
        mmsis=(vessel.mmsi,),
        started_at=last.at,
        last_seen_at=last.at,
        lon=last.lon,
        lat=last.lat,
        confidence=confidence,
        evidence=thin(prior, t.max_evidence),
        zone_id=zone.id,
        category=category,
        title=(
            f"AIS gap of {fmt_duration(gap)}: {described(vessel)} {where(zone, last.lon, last.lat)}"
        ),
        severity="Moderate" if fisheries else "Minor",
        certainty=certainty_for(confidence),
        urgency="Expected",
        facts={"gap_minutes": round(gap, 1), "prior_fixes_per_hour": round(per_hour, 1)},
    )

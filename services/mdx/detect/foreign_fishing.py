"""Foreign fishing: a fishing vessel at fishing speeds where its flag may not fish.

A fix counts when the vessel's category is `fishing`, its flag is known, its speed is within
`fishing_sog_kn` (inclusive), and it lies inside a zone that watches "foreign_fishing" whose
rule the flag breaks:
- flag_state_only: the flag is not the zone's state;
- agreement_states_only: the flag is neither one of the agreement states nor the zone's state;
- prohibited: any flag, the state's own included (a fishing ban such as an MPA's).
A fishing-agreement zone that allows the flag at the same point overrides a flag-state-only
(or other agreement) zone it overlaps; nothing overrides a prohibition.

An episode is a run of such fixes lasting at least `foreign_fishing_min_minutes`; it ends at a
fix outside those zones or outside fishing speeds (transit at 10 kn does not count), or at a
time gap longer than `episode_gap_min`. A fix without a speed neither extends nor ends it.
The zone in the key is the most specific zone broken at the first fix of the episode.

Unknown flag (None): no detection, since whether the vessel may fish cannot be judged; the
service may want a separate review of unflagged fishing vessels. Vessels that are not known
to be fishing vessels (category None/unknown) are left out too: AIS speed alone cannot tell
trawling from slow steaming.

Confidence: 0.7 at the minimum duration, up to 0.95 at three times it. Category iuu_fishing,
severity Moderate (Severe inside a prohibited zone), urgency Expected while it goes on, Past
once it is over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mdx.detect._common import (
    Zones,
    certainty_for,
    clamp01,
    described,
    fmt_duration,
    forbidding,
    minutes_between,
    ordered,
    runs,
    urgency_for,
    utc_now,
    where,
    zones_of_tracks,
)
from mdx.detect.geo import ZoneIndex, most_specific
from mdx.detect.model import Detection, Fix, Thresholds, Vessel, Zone, make_key, thin

RULE = "foreign_fishing"


def detect(
    fixes: Mapping[str, Sequence[Fix]],
    vessels: Mapping[str, Vessel],
    zones: Zones,
    now: datetime,
    thresholds: Thresholds,
) -> list[Detection]:
    """Every episode of foreign (or banned) fishing in the fixes given."""
    now = utc_now(now)
    index = ZoneIndex.of(zones)
    if not index.watching(RULE):
        return []
    tracks: dict[str, Sequence[Fix]] = {}
    for mmsi, track in fixes.items():
        vessel = vessels.get(mmsi)
        if track and vessel is not None and vessel.category == "fishing" and vessel.flag:
            tracks[mmsi] = ordered(track)
    combo_of, combos = zones_of_tracks(index, tracks)
    low, high = thresholds.fishing_sog_kn
    out: list[Detection] = []
    for mmsi, track in tracks.items():
        vessel = vessels[mmsi]
        # The zones whose rule the flag breaks, per combination of zones: once each.
        breaks = [forbidding(combo, vessel.flag, RULE) for combo in combos]
        broken = [breaks[c] for c in combo_of[mmsi]]
        if not any(broken):
            continue

        def state(
            i: int, track: Sequence[Fix] = track, broken: list[list[Zone]] = broken
        ) -> bool | None:
            sog = track[i].sog
            if sog is None:
                return None
            return low <= sog <= high and bool(broken[i])

        for run, open_ended in runs(track, state, thresholds.episode_gap_min * 60):
            first, last = track[run[0]], track[run[-1]]
            if minutes_between(first.at, last.at) < thresholds.foreign_fishing_min_minutes:
                continue
            zone = most_specific(broken[run[0]])
            assert zone is not None  # a fix is in a run only where some zone is broken
            episode = [track[i] for i in run]
            out.append(_detection(vessel, zone, episode, not open_ended, now, thresholds))
    return out


def _detection(
    vessel: Vessel, zone: Zone, episode: list[Fix], ended: bool, now: datetime, t: Thresholds
) -> Detection:
    first, last = episode[0], episode[-1]
    minutes = minutes_between(first.at, last.at)
    ratio = minutes / t.foreign_fishing_min_minutes
    confidence = clamp01(0.7 + 0.25 * min(1.0, (ratio - 1) / 2))
    banned = zone.fishing == "prohibited"
    what = "Fishing in a no-fishing zone" if banned else "Foreign fishing"
    sogs = [f.sog for f in episode if f.sog is not None]
    return Detection(
        rule=RULE,
        key=make_key(RULE, [vessel.mmsi], zone.id, first.at),
        mmsis=(vessel.mmsi,),
        started_at=first.at,
        last_seen_at=last.at,
        lon=last.lon,
        lat=last.lat,
        confidence=confidence,
        evidence=thin(episode, t.max_evidence),
        zone_id=zone.id,
        category="iuu_fishing",
        title=(
            f"{what}: {described(vessel)} at fishing speed for {fmt_duration(minutes)} "
            f"{where(zone, last.lon, last.lat)}"
        ),
        severity="Severe" if banned else "Moderate",
        certainty=certainty_for(confidence),
        urgency=urgency_for(ended, last.at, now, t),
        facts={
            "minutes": round(minutes, 1),
            "mean_sog_kn": round(sum(sogs) / len(sogs), 2) if sogs else 0.0,
            "zone_rule": zone.fishing,
            "flag": vessel.flag or "",
        },
    )

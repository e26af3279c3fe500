"""Behaviour detection over recent AIS positions: small, pure, explainable rules.

Each track rule takes the recent fixes of every vessel (time-ordered), what is known of the
vessels, the zones (a sequence or a prebuilt ZoneIndex), the time of the run and the
thresholds, and returns candidate detections, each one episode of one behaviour under a key
that stays the same while the episode goes on (see model.make_key): the service raises one
incident per key (Detection.incident_id) and updates it on later runs.

    RULES["going_dark"](fixes, vessels, zones, now, thresholds) -> list[Detection]

Distress alerts are per message, not per track: distress.from_message.
No I/O here; reading positions and raising incidents is the service's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final

from mdx.detect import distress, encounter, foreign_fishing, going_dark, loitering
from mdx.detect._common import TrackRule, Zones
from mdx.detect.episodes import carry_over, continues
from mdx.detect.geo import ZoneIndex, haversine_m, most_specific
from mdx.detect.model import (
    Detection,
    Fix,
    Thresholds,
    Vessel,
    Zone,
    make_key,
    thin,
)

RULES: Final[dict[str, TrackRule]] = {
    going_dark.RULE: going_dark.detect,
    encounter.RULE: encounter.detect,
    foreign_fishing.RULE: foreign_fishing.detect,
    loitering.RULE: loitering.detect,
}


def run_all(
    fixes: Mapping[str, Sequence[Fix]],
    vessels: Mapping[str, Vessel],
    zones: Zones,
    now: datetime,
    thresholds: Thresholds | None = None,
    rules: Iterable[str] | None = None,
) -> list[Detection]:
    """Every track rule (or those named) over the same input, zones indexed once."""
    index = ZoneIndex.of(zones)
    t = thresholds or Thresholds()
    out: list[Detection] = []
    for name in rules if rules is not None else RULES:
        out += RULES[name](fixes, vessels, index, now, t)
    return out


__all__ = [
    "RULES",
    "Detection",
    "Fix",
    "Thresholds",
    "TrackRule",
    "Vessel",
    "Zone",
    "ZoneIndex",
    "Zones",
    "carry_over",
    "continues",
    "distress",
    "haversine_m",
    "make_key",
    "most_specific",
    "run_all",
    "thin",
]

"""The data types of the detection rules: what goes in (fixes, vessels, zones, thresholds) and
what comes out (detections). No I/O: the service that reads positions and raises incidents
builds these from its rows.

Times are timezone-aware datetimes; `Fix` refuses a naive one and stores every time in UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import MultiPolygon, Polygon, shape

Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
# The incident categories a detection may raise (a subset of the incident schema's enum).
Category = Literal["iuu_fishing", "sar", "maritime_safety"]
Watch = Literal["going_dark", "foreign_fishing", "loitering", "encounter"]
FishingRule = Literal["open", "flag_state_only", "agreement_states_only", "prohibited"]

WATCHES: Final[frozenset[str]] = frozenset(
    {"going_dark", "foreign_fishing", "loitering", "encounter"}
)
FISHING_RULES: Final[frozenset[str]] = frozenset(
    {"open", "flag_state_only", "agreement_states_only", "prohibited"}
)
ZONE_KINDS: Final[frozenset[str]] = frozenset(
    {"eez", "territorial_sea", "mpa", "fishing_agreement", "aor"}
)
# Zones whose rules concern fishing and resources: a dark vessel or an encounter inside one
# is a fisheries matter (category iuu_fishing); an aor is a search-and-rescue region.
EEZ_LIKE: Final[frozenset[str]] = frozenset({"eez", "territorial_sea", "mpa", "fishing_agreement"})


def as_utc(at: datetime, what: str) -> datetime:
    offset = at.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {at.isoformat()}")
    return at if offset.total_seconds() == 0 and at.tzinfo is UTC else at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report of one vessel. `sog` in knots, `cog` in degrees; None when the
    report did not carry them (AIS "not available")."""

    mmsi: str
    at: datetime
    lon: float
    lat: float
    sog: float | None = None
    cog: float | None = None

    def __post_init__(self) -> None:
        at = as_utc(self.at, "Fix.at")
        if at is not self.at:
            object.__setattr__(self, "at", at)


@dataclass(frozen=True, slots=True)
class Vessel:
    """What is known of a vessel besides its positions. `flag`: ISO 3166-1 alpha-2 or None
    when unknown; `category`: fishing, cargo, tanker, passenger, sar, law_enforcement, reefer,
    other, unknown (None is unknown too)."""

    mmsi: str
    flag: str | None = None
    category: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How titles name the vessel: `NAME (MMSI)`, or `MMSI 123456789` without a name."""
        name = (self.name or "").strip()
        return f"{name} ({self.mmsi})" if name else f"MMSI {self.mmsi}"


@dataclass(frozen=True)
class Zone:
    """A zone read from a zone file (GeoJSON Feature, lon/lat). `state` is None for a
    fishing-agreement zone, which belongs to its `agreement_states`. A zone without a fishing
    rule counts as `open`; without `watch`, no rule applies inside it."""

    id: str
    name: str
    kind: str
    state: str | None
    watch: frozenset[str]
    fishing: str
    agreement_states: frozenset[str]
    geometry: Any  # shapely Polygon or MultiPolygon, lon/lat
    authority: str | None = None
    illustrative: bool = False

    @classmethod
    def from_feature(cls, feature: Mapping[str, Any]) -> Zone:
        """A zone from a GeoJSON Feature of a zone file (schemas/zone/v1): properties
        {id, name, kind, state?, authority?, illustrative, rules: {fishing?, agreement_states?,
        watch?, notes?}}. Missing optional fields take safe defaults (watch: none, fishing:
        open); unknown watch names are ignored; a wrong shape or value raises ValueError."""
        props = feature.get("properties")
        if not isinstance(props, Mapping):
            raise ValueError("zone feature has no properties")
        zone_id = props.get("id")
        if not isinstance(zone_id, str) or not zone_id:
            raise ValueError("zone feature has no properties.id")
        rules = props.get("rules") or {}
        if not isinstance(rules, Mapping):
            raise ValueError(f"zone {zone_id}: rules is not an object")
        fishing = rules.get("fishing") or "open"
        if fishing not in FISHING_RULES:
            raise ValueError(f"zone {zone_id}: unknown fishing rule {fishing!r}")
        geometry = shape(feature["geometry"])
        if not isinstance(geometry, Polygon | MultiPolygon) or geometry.is_empty:
            raise ValueError(f"zone {zone_id}: geometry must be a Polygon or MultiPolygon")
        state = props.get("state")
        return cls(
            id=zone_id,
            name=str(props.get("name") or zone_id),
            kind=str(props.get("kind") or "eez"),
            state=state.upper() if isinstance(state, str) and state else None,
            watch=frozenset(w for w in rules.get("watch") or () if w in WATCHES),
            fishing=fishing,
            agreement_states=frozenset(s.upper() for s in rules.get("agreement_states") or ()),
            geometry=geometry,
            authority=props.get("authority"),
            illustrative=bool(props.get("illustrative", False)),
        )

    def allows_fishing(self, flag: str | None) -> bool:
        """Whether a vessel of this flag may fish here by the zone's rule. An unknown flag
        may fish only where fishing is open."""
        if self.fishing == "open":
            return True
        if self.fishing == "prohibited" or flag is None:
            return False
        if self.fishing == "flag_state_only":
            return flag == self.state
        allowed = self.agreement_states | ({self.state} if self.state else set())
        return flag in allowed  # agreement_states_only


class Thresholds(BaseModel):
    """Tuning of every rule; the node's TOML `[detect.thresholds]`. Minutes, metres, knots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # going_dark: silent this long at `now` after reporting at least dark_min_prior_fixes in
    # the dark_prior_window_min before the last fix.
    dark_after_min: float = Field(default=60, gt=0)
    dark_prior_window_min: float = Field(default=60, gt=0)
    dark_min_prior_fixes: int = Field(default=3, ge=1)
    # encounter: within this distance, both at most this fast, for this long.
    encounter_distance_m: float = Field(default=500, gt=0)
    encounter_min_minutes: float = Field(default=120, gt=0)
    encounter_max_sog_kn: float = Field(default=2.0, gt=0)
    # The time grid the two tracks are paired on, and how far a fix may be from a grid time.
    encounter_step_min: float = Field(default=5, gt=0)
    # foreign_fishing: at fishing speeds (min, max knots) inside the zone for this long.
    fishing_sog_kn: tuple[float, float] = (0.5, 5.0)
    foreign_fishing_min_minutes: float = Field(default=30, gt=0)
    # loitering: within this radius of the centroid, this long, at this mean speed at most.
    loiter_radius_m: float = Field(default=2000, gt=0)
    loiter_min_minutes: float = Field(default=180, gt=0)
    loiter_max_sog_kn: float = Field(default=3.0, gt=0)
    # distress: an episode ends after this long without a new distress message.
    distress_quiet_minutes: float = Field(default=30, gt=0)
    # distress: a message this close to an open episode of another MMSI joins it (a vessel's
    # call for help and its man-overboard device are one case).
    distress_join_m: float = Field(default=3704, gt=0)  # 2 nautical miles
    # A gap between two reports longer than this ends an episode (foreign fishing, loitering,
    # encounter): what follows is a new episode with a new key.
    episode_gap_min: float = Field(default=60, gt=0)
    # At most this many fixes of evidence per detection (first and last always kept).
    max_evidence: int = Field(default=50, ge=2)

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        low, high = self.fishing_sog_kn
        if not 0 <= low < high:
            raise ValueError(
                f"fishing_sog_kn must be (min, max) with 0 <= min < max, got {low, high}"
            )
        return self


def make_key(rule: str, mmsis: Iterable[str], zone_id: str | None, started_at: datetime) -> str:
    """The detection key: one per episode of one behaviour, stable across runs.
    `rule:mmsi[+mmsi]:zone-or-dash:YYYYmmddTHHMMSSZ` (vessels sorted, start in UTC)."""
    start = as_utc(started_at, "started_at")
    return f"{rule}:{'+'.join(sorted(mmsis))}:{zone_id or '-'}:{start:%Y%m%dT%H%M%SZ}"


def thin(fixes: Sequence[Fix], limit: int) -> tuple[Fix, ...]:
    """At most `limit` fixes, picked evenly over the sequence, first and last always kept."""
    n = len(fixes)
    if n <= limit:
        return tuple(fixes)
    if limit < 2:
        return (fixes[-1],) if limit == 1 else ()
    return tuple(fixes[round(i * (n - 1) / (limit - 1))] for i in range(limit))


@dataclass(frozen=True)
class Detection:
    """A candidate incident: one episode of one behaviour of one or two vessels.

    `key` identifies the episode (see make_key) and stays the same while the episode goes on,
    so the service creates one incident per key and updates it. `lon`/`lat`: the latest
    position of the behaviour. `evidence`: the fixes that triggered it, time-ordered, thinned
    to Thresholds.max_evidence.
    """

    rule: str
    key: str
    mmsis: tuple[str, ...]
    started_at: datetime
    last_seen_at: datetime
    lon: float
    lat: float
    confidence: float
    evidence: tuple[Fix, ...]
    zone_id: str | None
    category: Category
    title: str
    severity: Severity
    certainty: Certainty
    urgency: Urgency
    # Rule-specific numbers for a description (e.g. gap_minutes, distance_m); never in the key.
    facts: Mapping[str, float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")
        if len(self.title) > 200:
            object.__setattr__(self, "title", self.title[:199] + "\u2026")

    def incident_id(self, namespace: uuid.UUID) -> uuid.UUID:
        """The incident this detection raises or updates: uuid5(namespace, key)."""
        return uuid.uuid5(namespace, self.key)

    @property
    def duration_minutes(self) -> float:
        return (self.last_seen_at - self.started_at).total_seconds() / 60

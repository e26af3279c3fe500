"""The scenario file format (YAML), as pydantic models: what is read is checked, and a mistake
is reported with where it is and what was wrong. docs/scenarios.md describes the format.

A scenario is a list of steps, each at a time `at` (seconds from the start), and a list of
expectations, each with a deadline `within` (seconds from the start). Strings may hold
placeholders (mdx.scenario.template): `{{id:NAME}}`, `{{mmsi:NAME}}`, `{{now}}`, `{{now-600}}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

Kind = Literal["position", "incident", "sar", "vessel"]
Tlp = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    at: float = Field(default=0.0, ge=0, description="seconds from the start")
    node: str
    producer: str


class Publish(Step):
    """One envelope from a producer: its `data` and markings as the producer sets them."""

    publish: Kind
    data: dict[str, Any]
    tlp: Tlp | None = None
    relto: list[str] = Field(default_factory=list)
    purpose: str | None = None


class Track(_Strict):
    mmsi: str
    # Waypoints (lat, lon) the vessel sails between at a steady pace over the step's duration.
    route: list[tuple[float, float]] = Field(min_length=2)
    rate: float = Field(gt=0, le=100, description="positions per second")
    count: int = Field(gt=0, le=100_000)
    sog: float = 10.0
    tlp: Tlp | None = None


class Positions(Step):
    """A generator: `count` positions of one vessel along a route at `rate` per second."""

    positions: Track


class Behaviour(_Strict):
    """One of mdx.sim.ais's scripted behaviours, as raw AIS (NMEA) history up to now."""

    kind: Literal["encounter", "foreign_fishing", "going_dark"]
    zone: str
    anchor: tuple[float, float]
    mmsi: str
    name: str
    # encounter: the other vessel (the carrier)
    other_mmsi: str | None = None
    other_name: str | None = None
    history_h: float = Field(default=4.0, gt=0, le=12)

    @model_validator(mode="after")
    def _encounter_has_two(self) -> Behaviour:
        if self.kind == "encounter" and not (self.other_mmsi and self.other_name):
            raise ValueError("an encounter needs other_mmsi and other_name (the carrier)")
        return self


class Ais(Step):
    ais: Behaviour


class Raw(Step):
    """Bytes as a misconfigured producer might send them, on its topic of `kind`."""

    raw: str
    kind: str = "position"


class Outage(_Strict):
    node: str
    seconds: float = Field(gt=0, le=600)


class Cut(_Strict):
    """Take a node off the network for a while (the network's `down` and `up` commands)."""

    at: float = Field(default=0.0, ge=0)
    outage: Outage


def _tagged_by(keys: tuple[str, ...]) -> Discriminator:
    """Which model a mapping is, by the one key that names it (a clear error if none does)."""

    def tag(value: Any) -> str | None:
        found = [k for k in keys if isinstance(value, dict) and k in value]
        return found[0] if len(found) == 1 else None

    return Discriminator(
        tag,
        custom_error_type="scenario_item",
        custom_error_message=f"needs exactly one of: {', '.join(keys)}",
    )


AnyStep = Annotated[
    Annotated[Publish, Tag("publish")]
    | Annotated[Positions, Tag("positions")]
    | Annotated[Ais, Tag("ais")]
    | Annotated[Raw, Tag("raw")]
    | Annotated[Cut, Tag("outage")],
    _tagged_by(("publish", "positions", "ais", "raw", "outage")),
]


class Expect(_Strict):
    name: str
    node: str
    within: float = Field(gt=0, le=900, description="seconds from the start")
    # Absent: the item must still not be there at the deadline (checked until then).
    absent: bool = False


class IncidentExpect(Expect):
    """An incident by id, through the node's API; `where`: properties it must have."""

    incident: str
    where: dict[str, Any] = Field(default_factory=dict)
    # SAR coordination steps its timeline must show, by kind and the node that took them.
    sar_events: list[dict[str, str]] = Field(default_factory=list)


class IncidentSearch(_Strict):
    category: str
    mmsi: str
    origin: str | None = None


class SearchExpect(Expect):
    """An incident found by what it is about (its id unknown: a detection's, say)."""

    incidents: IncidentSearch
    where: dict[str, Any] = Field(default_factory=dict)


class TrackExpect(Expect):
    """A vessel's positions through the node's API: exactly `positions` of them (absent: none
    at all until the deadline)."""

    track: str
    positions: int = Field(default=0, ge=0)


class DeadLetters(_Strict):
    producer: str
    count: int = Field(ge=0)
    # Each of these must be in the reason of one of the dead letters.
    reasons: list[str] = Field(default_factory=list)


class DeadLetterExpect(Expect):
    """Dead letters announced on the node's broker to the producer (over MQTT)."""

    deadletters: DeadLetters


class Shared(_Strict):
    sender: str
    incident: str | None = None  # the envelope's data.incident_id
    mmsi: str | None = None  # or its data.mmsi (a position, a vessel)

    @model_validator(mode="after")
    def _names_one(self) -> Shared:
        if (self.incident is None) == (self.mmsi is None):
            raise ValueError("name the item by exactly one of incident, mmsi")
        return self


class ShareExpect(Expect):
    """A signed share message from `sender` to the node carrying the item, seen on the node's
    broker (as its `recorder` identity, which may read the partners' streams to it)."""

    shared: Shared


AnyExpect = Annotated[
    Annotated[IncidentExpect, Tag("incident")]
    | Annotated[SearchExpect, Tag("incidents")]
    | Annotated[TrackExpect, Tag("track")]
    | Annotated[DeadLetterExpect, Tag("deadletters")]
    | Annotated[ShareExpect, Tag("shared")],
    _tagged_by(("incident", "incidents", "track", "deadletters", "shared")),
]


class Scenario(_Strict):
    name: str
    description: str = ""
    steps: list[AnyStep] = Field(min_length=1)
    expect: list[AnyExpect] = Field(min_length=1)

    @property
    def nodes(self) -> set[str]:
        named = {s.node for s in self.steps if not isinstance(s, Cut)}
        named |= {s.outage.node for s in self.steps if isinstance(s, Cut)}
        return named | {e.node for e in self.expect}

    @property
    def deadline(self) -> float:
        return max(e.within for e in self.expect)


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with the reason."""


def load(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ScenarioError(f"{path}: {e}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
        )
        raise ScenarioError(f"{path}: {problems}") from None

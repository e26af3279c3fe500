"""Hypothesis strategies for valid mdx envelopes, built from the schema files' own enums.

Valid means what a correct producer of node `jcg` sends at `NOW`: every value drawn from the
range its schema allows, observations in the past, MMSIs with allocated MIDs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from mdx.ais.facts import MID_FLAGS
from mdx.core.schemas import (
    DEFS_SCHEMA_ID,
    INCIDENT_SCHEMA_ID,
    POSITION_SCHEMA_ID,
    SchemaSet,
)

NODE = "jcg"
PRODUCER = "patrol-7"
NOW = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)
SCHEMAS = SchemaSet()

_DEFS = SCHEMAS.schema(DEFS_SCHEMA_ID)["$defs"]
_POSITION = SCHEMAS.schema(POSITION_SCHEMA_ID)["properties"]
_INCIDENT = SCHEMAS.schema(INCIDENT_SCHEMA_ID)["properties"]
TLPS: list[str] = _DEFS["tlp"]["enum"]
PURPOSES: list[str] = _DEFS["purpose"]["enum"]
SOURCE_TYPES: list[str] = _POSITION["source_type"]["enum"]
CATEGORIES: list[str] = _INCIDENT["category"]["enum"]
STATUSES: list[str] = _INCIDENT["status"]["enum"]

node_ids = st.from_regex(r"[a-z][a-z0-9-]{1,12}", fullmatch=True)
digits = st.text(alphabet="0123456789", min_size=0, max_size=9)
# Any text UTF-8 can carry (no lone surrogates), except NUL, which intake refuses: PostgreSQL
# cannot store it.
storable = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.text(alphabet=storable, min_size=1, max_size=200)


def _stamp(moment: datetime, fraction: bool) -> str:
    if fraction:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 in the schemas' profile, between 2000 and NOW."""
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=NOW.replace(tzinfo=None)))
    return _stamp(moment, draw(st.booleans()))


@st.composite
def ship_mmsis(draw: st.DrawFn) -> str:
    """A ship's MMSI (MIDxxxxxx) with an allocated MID."""
    mid = draw(st.sampled_from(sorted(MID_FLAGS)))
    return f"{mid}{draw(st.integers(0, 999_999)):06d}"


@st.composite
def markings(draw: st.DrawFn) -> dict[str, Any]:
    """Optional handling markings: tlp, relto, purpose."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["tlp"] = draw(st.sampled_from(TLPS))
    relto = draw(st.lists(node_ids, max_size=3))
    if relto:
        out["relto"] = " ".join(relto)
    if draw(st.booleans()):
        out["purpose"] = draw(st.sampled_from(PURPOSES))
    return out


@st.composite
def position_data(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mmsi": draw(ship_mmsis()),
        "lat": draw(st.floats(-90, 90)),
        "lon": draw(st.floats(-180, 180)),
        "observed_at": draw(timestamps()),
        "source_type": draw(st.sampled_from(SOURCE_TYPES)),
    }
    optional = {
        "sog": st.floats(0, 102.2),
        "cog": st.floats(0, 360, exclude_max=True),
        "heading": st.integers(0, 359),
        "nav_status": st.integers(0, 15),
        "name": st.text(alphabet=storable, max_size=120),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            data[name] = draw(values)
    return data


@st.composite
def incident_data(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "incident_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        "version": draw(st.integers(1, 1_000_000)),
        "category": draw(st.sampled_from(CATEGORIES)),
        "status": draw(st.sampled_from(STATUSES)),
        "title": draw(texts),
        "location": {
            "type": "Point",
            "coordinates": [draw(st.floats(-180, 180)), draw(st.floats(-90, 90))],
        },
        "observed_at": draw(timestamps()),
    }
    if draw(st.booleans()):
        data["description"] = draw(st.text(alphabet=storable))
    return data


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(kind, envelope) of a valid position or incident from PRODUCER at NODE."""
    kind = draw(st.sampled_from(["position", "incident"]))
    data = draw(position_data() if kind == "position" else incident_data())
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        "source": f"urn:mdx:{NODE}:{PRODUCER}",
        "type": f"mdx.{kind}.v1",
        "time": _stamp(NOW - timedelta(seconds=draw(st.integers(0, 3600))), False),
        "datacontenttype": "application/json",
        "dataschema": SCHEMAS.data_schemas[f"mdx.{kind}.v1"],
        "data": data,
        **draw(markings()),
    }
    if draw(st.booleans()):
        envelope["seq"] = draw(st.integers(1, 2**53 - 1))
    return kind, envelope

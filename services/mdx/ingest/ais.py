"""Raw AIS on `mdx/v1/in/{producer}/ais` -> the same verdicts as any other inbound message.

Each decoded report becomes the envelope a producer would have sent (mdx.position.v1 or
mdx.vessel.v1) and is judged by the same intake rules, so AIS and JSON producers meet one
schema and one policy. A bad line is a verdict of its own, dead-lettered with its bytes and
reason, and never takes the good lines of the same message with it. Reports without a usable
position (`Skipped`) are counted, not dead-lettered: AIS sends them by design. Type 12/14
safety texts are kept as they are (store.SafetyText); the detection service raises distress
incidents from broadcasts and from the positions of AIS-SART, MOB and EPIRB devices.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mdx.ais import (
    AisFeed,
    LineError,
    PositionReport,
    SafetyBroadcast,
    StaticReport,
    imo_valid,
)
from mdx.core import intake
from mdx.core.envelope import make_envelope
from mdx.core.intake import Accepted, IntakePolicy, Rejected
from mdx.core.store import SafetyText

log = logging.getLogger("mdx.ingest.ais")

# Envelope ids derive from what was received, so a message delivered twice stores once.
_AIS_EVENTS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:mdx:ais")
SOURCE_TYPE = "ais-terrestrial"


@dataclass(slots=True)
class Judged:
    """One verdict and the bytes it stands for (what a dead letter of it keeps), or a safety
    text to keep (no verdict: it is not an item of its own)."""

    verdict: Accepted | Rejected | None
    payload: bytes
    safety: SafetyText | None = None


@dataclass(slots=True)
class AisIntake:
    """Per-producer reassembly state: fragments of one message may span MQTT messages."""

    policy: IntakePolicy
    feeds: dict[str, AisFeed] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    def judge(self, producer: str, payload: bytes, received_at: datetime) -> list[Judged]:
        feed = self.feeds.setdefault(producer, AisFeed())
        out: list[Judged] = []
        for item in [*feed.expire(received_at), *feed.feed(payload, received_at)]:
            if isinstance(item, LineError):
                reason = f"ais: {item.reason}"
                out.append(Judged(Rejected(producer, reason), item.line.encode()))
            elif isinstance(item, PositionReport | StaticReport):
                kind, data = _position(item) if isinstance(item, PositionReport) else _static(item)
                out.append(self._envelope(producer, kind, data, item.raw, item.observed_at))
            elif isinstance(item, SafetyBroadcast):
                text = SafetyText(
                    producer,
                    item.mmsi,
                    item.msg_type,
                    item.dest_mmsi,
                    item.text,
                    item.observed_at,
                    "\n".join(item.raw),
                )
                out.append(Judged(None, text.raw.encode(), text))
            else:
                self.skipped[item.reason] += 1
        return out

    def _envelope(
        self,
        producer: str,
        kind: str,
        data: dict[str, Any],
        raw: tuple[str, ...],
        observed_at: datetime,
    ) -> Judged:
        event_id = uuid.uuid5(
            _AIS_EVENTS, f"{producer}\n{observed_at.isoformat()}\n" + "\n".join(raw)
        )
        envelope = make_envelope(
            self.policy.node_id, producer, f"mdx.{kind}.v1", data, event_id=str(event_id)
        )
        verdict = intake.accept_envelope(envelope, producer, kind, self.policy)
        return Judged(verdict, "\n".join(raw).encode())


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _position(r: PositionReport) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {
        "mmsi": r.mmsi,
        "lat": r.lat,
        "lon": r.lon,
        "observed_at": _iso(r.observed_at),
        "source_type": SOURCE_TYPE,
    }
    for key, value in (
        ("sog", r.sog),
        ("cog", r.cog),
        ("heading", r.heading),
        ("nav_status", r.nav_status),
    ):
        if value is not None:
            data[key] = value
    return "position", data


def _static(r: StaticReport) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {
        "mmsi": r.mmsi,
        "observed_at": _iso(r.observed_at),
        "source_type": SOURCE_TYPE,
        "ais_class": "A" if r.msg_type == 5 else "B",
    }
    # A misreported IMO is common in AIS; the rest of the report is still worth keeping.
    if r.imo is not None and imo_valid(r.imo):
        data["imo"] = f"{r.imo:07d}"
    if r.ship_type is not None and 1 <= r.ship_type <= 99:
        data["ship_type"] = r.ship_type
    for key in ("name", "call_sign", "destination", "eta"):
        value = getattr(r, key)
        if value:
            data[key] = value
    if r.draught:
        data["draught"] = r.draught
    dims = {
        k: v
        for k in ("to_bow", "to_stern", "to_port", "to_starboard")
        if (v := getattr(r, k)) is not None
    }
    if dims:
        data["dimensions"] = dims
    return "vessel", data

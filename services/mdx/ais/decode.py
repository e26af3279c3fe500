"""A reassembled AIS message -> a position, static or safety report (or why not).

pyais does the bit-level work (`bit_vector`, the message classes' field layouts and unit
scaling). This module adds what an ingest needs on top:

- a value, never an exception, for every input: messages too short for the fields we read
  are reported as truncated (pyais silently returns None or partial fields for them), and
  anything pyais raises becomes a `LineError`;
- AIS "not available" codes mapped to None (sog 102.3, cog 360, heading 511, ...) and
  impossible values rejected, so that a number in a report is a measurement;
- text padding removed and units fixed by field name.

Outcomes: `PositionReport`, `StaticReport`, `SafetyBroadcast` for the types ingest uses;
`Skipped` for valid messages ingest does not use, and for position reports that carry no
position (lat 91 / lon 181): they are countable but not evidence of a fault, so ingest need
not dead-letter them; `LineError` for messages that are corrupt or impossible.

observed_at is the receive time (tag block / NAIS / given), in UTC. The UTC second that
position reports carry is not used: the receive time is what every message type has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pyais import bit_vector
from pyais.messages import MSG_CLASS

from mdx.ais.assembler import Complete
from mdx.ais.nmea import LineError
from mdx.core.identifiers import MmsiKind, mmsi_kind


@dataclass(frozen=True, slots=True)
class PositionReport:
    mmsi: str  # 9 digits, zero-padded
    msg_type: int
    lat: float  # degrees
    lon: float  # degrees
    sog: float | None  # knots
    cog: float | None  # degrees true
    heading: int | None  # degrees true
    nav_status: int | None  # ITU-R M.1371 navigational status 0-14 (15 "not defined" -> None)
    observed_at: datetime  # UTC
    source_class: Literal["A", "B"]
    raw: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StaticReport:
    mmsi: str
    msg_type: int
    part: Literal["A", "B"] | None  # type 24 part; None for type 5
    name: str | None
    call_sign: str | None
    imo: int | None
    ship_type: int | None  # ITU-R M.1371 ship and cargo type code, 1-255
    to_bow: int | None  # metres from the position reference point
    to_stern: int | None
    to_port: int | None
    to_starboard: int | None
    destination: str | None
    eta: str | None  # "MM-DD HH:MM" UTC; AIS gives no year
    draught: float | None  # metres
    observed_at: datetime
    raw: tuple[str, ...]
    mothership_mmsi: str | None = None  # type 24 part B of an auxiliary craft (98MIDxxxx)


@dataclass(frozen=True, slots=True)
class SafetyBroadcast:
    mmsi: str
    msg_type: int  # 12 addressed, 14 broadcast
    text: str
    dest_mmsi: str | None  # type 12 only
    observed_at: datetime
    raw: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A valid message that ingest does not use; count it, no need to dead-letter it."""

    reason: str
    msg_type: int | None = None
    mmsi: str | None = None
    raw: tuple[str, ...] = ()


Decoded = PositionReport | StaticReport | SafetyBroadcast | Skipped | LineError

_POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
_USED_TYPES = _POSITION_TYPES | {5, 12, 14, 24}
_KNOWN_TYPES = frozenset(range(1, 28)) | {28}

# Bits needed to hold the last field we read (pyais yields None or a partial value beyond).
# Type 5: 420, not the full 424: many transponders send 420 bits (GPSD accepts them too);
# the destination is then read in whole characters only.
_MIN_BITS = {1: 137, 2: 137, 3: 137, 18: 133, 19: 133, 27: 94, 5: 420, 12: 72, 14: 40}
_MIN_BITS_24 = {0: 160, 1: 162}  # part A: name; part B: dimensions / mothership

# Where type 5 fields we read ourselves start (ITU-R M.1371 message 5 layout).
_T5_SHIP_TYPE_BIT = 232
_T5_DESTINATION_BIT = 302

_DISTRESS = {MmsiKind.sart: "ais-sart", MmsiKind.mob: "mob", MmsiKind.epirb: "epirb"}


def distress_kind(mmsi: str) -> str | None:
    """Kind of distress device an MMSI names (ITU-R M.585), else None.

    "ais-sart" for 970xxxxxx, "mob" for 972xxxxxx, "epirb" for 974xxxxxx.
    """
    kind = mmsi_kind(mmsi)
    return _DISTRESS.get(kind) if kind is not None else None


def decode(complete: Complete) -> Decoded:
    """Decode one reassembled message. Never raises."""
    try:
        return _decode(complete)
    except Exception as exc:  # pyais or a bug here must not stop a feed: report it as data
        return LineError(f"cannot decode: {type(exc).__name__}: {exc}", "\n".join(complete.raw))


def _decode(c: Complete) -> Decoded:
    lines = "\n".join(c.raw)
    bits = c.bit_length
    if bits < 38:
        return LineError(f"truncated payload: {bits} bits, shorter than a message header", lines)
    bv = bit_vector(c.payload.encode("ascii"), c.fill_bits)
    msg_type = bv.get(0, 6)
    mmsi = f"{bv.get(8, 30):09d}"
    if msg_type not in _KNOWN_TYPES:
        return LineError(f"unknown message type {msg_type}", lines)
    if msg_type not in _USED_TYPES:
        return Skipped(f"type {msg_type} is not used", msg_type, mmsi, c.raw)

    need = _MIN_BITS_24.get(bv.get(38, 2), 40) if msg_type == 24 else _MIN_BITS[msg_type]
    if bits < need:
        return LineError(f"truncated payload: type {msg_type} has {bits} bits, needs {need}", lines)
    if msg_type == 24 and bv.get(38, 2) > 1:
        return LineError(f"type 24 part number {bv.get(38, 2)} is invalid", lines)

    # Any: pyais types this as a union of ~60 classes; the fields read below are those of
    # the message type just checked.
    msg: Any = MSG_CLASS[msg_type].from_vector(bv)
    observed_at = _utc(c.received_at)
    if msg_type in _POSITION_TYPES:
        return _position(msg, msg_type, mmsi, observed_at, c.raw, lines)
    if msg_type == 5:
        return _static_5(msg, bv, bits, mmsi, observed_at, c.raw)
    if msg_type == 24:
        return _static_24(msg, mmsi, observed_at, c.raw)
    return SafetyBroadcast(
        mmsi=mmsi,
        msg_type=msg_type,
        text=_text(msg.text) or "",
        dest_mmsi=f"{msg.dest_mmsi:09d}" if msg_type == 12 else None,
        observed_at=observed_at,
        raw=c.raw,
    )


def _position(
    msg: Any, msg_type: int, mmsi: str, observed_at: datetime, raw: tuple[str, ...], lines: str
) -> PositionReport | Skipped | LineError:
    lat, lon = float(msg.lat), float(msg.lon)
    if lat == 91.0 or lon == 181.0:
        return Skipped("position not available", msg_type, mmsi, raw)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return LineError(f"impossible position: lat {lat}, lon {lon}", lines)

    if msg_type == 27:
        # Long-range broadcast: whole knots and degrees; 63 / 511 = not available; no heading.
        sog = None if msg.speed == 63 else float(msg.speed)
        cog = None if msg.course == 511 else float(msg.course)
        heading = None
        course_limit = 359.0
    else:
        sog = None if msg.speed >= 102.3 else float(msg.speed)
        cog = None if msg.course == 360.0 else float(msg.course)
        heading = None if msg.heading == 511 else int(msg.heading)
        course_limit = 359.9
    if cog is not None and cog > course_limit:
        return LineError(f"impossible course {cog}", lines)
    if heading is not None and heading > 359:
        return LineError(f"impossible heading {heading}", lines)

    status = int(msg.status) if msg_type in (1, 2, 3, 27) else None
    return PositionReport(
        mmsi=mmsi,
        msg_type=msg_type,
        lat=lat,
        lon=lon,
        sog=sog,
        cog=cog,
        heading=heading,
        nav_status=None if status == 15 else status,
        observed_at=observed_at,
        # Message 27 is sent by Class A (and by Class B "SO" units, which AIS cannot tell apart).
        source_class="B" if msg_type in (18, 19) else "A",
        raw=raw,
    )


def _static_5(
    msg: Any, bv: bit_vector, bits: int, mmsi: str, observed_at: datetime, raw: tuple[str, ...]
) -> StaticReport:
    # The ship type is read raw: pyais maps it through an enum that folds reserved codes
    # (26 -> 25, 38 -> 0, 100 -> 0, ...), losing the code that was sent.
    ship_type = bv.get(_T5_SHIP_TYPE_BIT, 8)
    dest_chars = min(20, (bits - _T5_DESTINATION_BIT) // 6)
    dims = _dimensions(msg.to_bow, msg.to_stern, msg.to_port, msg.to_starboard)
    return StaticReport(
        mmsi=mmsi,
        msg_type=5,
        part=None,
        name=_text(msg.shipname),
        call_sign=_text(msg.callsign),
        imo=msg.imo or None,
        ship_type=ship_type or None,
        to_bow=dims[0],
        to_stern=dims[1],
        to_port=dims[2],
        to_starboard=dims[3],
        destination=_text(bv.get_str(_T5_DESTINATION_BIT, dest_chars * 6)),
        eta=_eta(msg.month, msg.day, msg.hour, msg.minute),
        draught=float(msg.draught) or None,
        observed_at=observed_at,
        raw=raw,
    )


def _static_24(msg: Any, mmsi: str, observed_at: datetime, raw: tuple[str, ...]) -> StaticReport:
    common: dict[str, Any] = {
        "mmsi": mmsi,
        "msg_type": 24,
        "imo": None,
        "destination": None,
        "eta": None,
        "draught": None,
        "observed_at": observed_at,
        "raw": raw,
    }
    if msg.partno == 0:
        return StaticReport(
            part="A",
            name=_text(msg.shipname),
            call_sign=None,
            ship_type=None,
            to_bow=None,
            to_stern=None,
            to_port=None,
            to_starboard=None,
            **common,
        )
    mothership = getattr(msg, "mothership_mmsi", None)  # pyais picks the auxiliary layout
    dims = (
        (None, None, None, None)
        if mothership is not None
        else _dimensions(msg.to_bow, msg.to_stern, msg.to_port, msg.to_starboard)
    )
    return StaticReport(
        part="B",
        name=None,
        call_sign=_text(msg.callsign),
        ship_type=msg.ship_type or None,
        to_bow=dims[0],
        to_stern=dims[1],
        to_port=dims[2],
        to_starboard=dims[3],
        mothership_mmsi=f"{mothership:09d}" if mothership else None,
        **common,
    )


def _text(value: str | None) -> str | None:
    """AIS text: '@' starts the padding; trailing spaces are padding too."""
    if not value:
        return None
    return value.split("@", 1)[0].rstrip() or None


def _dimensions(
    bow: int, stern: int, port: int, starboard: int
) -> tuple[int | None, int | None, int | None, int | None]:
    # All zero = not available. A single 0 is kept: ITU-R M.1371 sends A=C=0 when the
    # reference point is unknown but length (B) and beam (D) are known.
    if not (bow or stern or port or starboard):
        return (None, None, None, None)
    return (bow, stern, port, starboard)


def _eta(month: int, day: int, hour: int, minute: int) -> str | None:
    # 0 month/day, hour 24 and minute 60 mean "not available"; any of them voids the ETA.
    if 1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour <= 23 and 0 <= minute <= 59:
        return f"{month:02d}-{day:02d} {hour:02d}:{minute:02d}"
    return None


def _utc(when: datetime) -> datetime:
    # Naive times are taken as UTC (receivers and the ingest clock run in UTC).
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

"""decode: Complete -> PositionReport / StaticReport / SafetyBroadcast / Skipped / LineError."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from functools import reduce
from typing import Any

import pytest
from pyais import decode as pyais_decode
from pyais import encode_dict
from pyais.messages import MessageType5

from mdx.ais.assembler import Complete
from mdx.ais.decode import (
    PositionReport,
    SafetyBroadcast,
    Skipped,
    StaticReport,
    decode,
    distress_kind,
)
from mdx.ais.nmea import LineError, Sentence, parse_line

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def to_bits(payload: str, fill: int) -> str:
    bits = "".join(f"{(ord(c) - 48) - 8 if ord(c) - 48 > 40 else ord(c) - 48:06b}" for c in payload)
    return bits[: len(bits) - fill]


def from_bits(bits: str) -> tuple[str, int]:
    fill = -len(bits) % 6
    bits += "0" * fill
    values = (int(bits[i : i + 6], 2) for i in range(0, len(bits), 6))
    return "".join(chr(v + 48 if v < 40 else v + 56) for v in values), fill


def encoded(data: dict[str, Any]) -> tuple[str, int]:
    """pyais-encoded payload and fill bits of one message."""
    lines = encode_dict(data, sentence_type="VDM")
    payload = "".join(line.split(",")[5] for line in lines)
    return payload, int(lines[-1].split(",")[6][0])


def complete(payload: str, fill: int, received_at: datetime = T0) -> Complete:
    fields = f"AIVDM,1,1,,A,{payload},{fill}"
    line = f"!{fields}*{reduce(lambda acc, ch: acc ^ ord(ch), fields, 0):02X}"
    s = parse_line(line)
    assert isinstance(s, Sentence), s
    return Complete((s,), payload, fill, received_at)


def decoded(data: dict[str, Any], received_at: datetime = T0) -> Any:
    return decode(complete(*encoded(data), received_at))


def static(result: object) -> StaticReport:
    assert isinstance(result, StaticReport), result
    return result


def with_bits(data: dict[str, Any], start: int, width: int, value: int) -> Complete:
    """Encode `data`, then overwrite bits [start, start+width) with `value`."""
    bits = to_bits(*encoded(data))
    bits = bits[:start] + f"{value:0{width}b}" + bits[start + width :]
    return complete(*from_bits(bits))


POSITION = {"type": 1, "mmsi": 2275200, "lat": 48.38, "lon": -123.395, "speed": 12.3,
            "course": 224.0, "heading": 215, "status": 5}  # fmt: skip


def test_position_report_fields_and_units() -> None:
    r = decoded(POSITION)
    assert r == PositionReport(
        mmsi="002275200",
        msg_type=1,
        lat=48.38,
        lon=-123.395,
        sog=12.3,
        cog=224.0,
        heading=215,
        nav_status=5,
        observed_at=T0,
        source_class="A",
        raw=r.raw,
    )
    assert len(r.raw) == 1 and r.raw[0].startswith("!AIVDM,1,1,,A,")


def test_not_available_values_become_none() -> None:
    r = decoded({**POSITION, "speed": 102.3, "course": 360.0, "heading": 511, "status": 15})
    assert (r.sog, r.cog, r.heading, r.nav_status) == (None, None, None, None)


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 10.0), (10.0, 181.0), (91.0, 181.0)])
def test_position_not_available_is_skipped(lat: float, lon: float) -> None:
    r = decoded({**POSITION, "lat": lat, "lon": lon})
    assert r == Skipped("position not available", 1, "002275200", r.raw)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lat": 95.0}, "impossible position: lat 95.0, lon -123.395"),
        ({"lon": -200.0}, "impossible position: lat 48.38, lon -200.0"),
        ({"course": 400.0}, "impossible course 400.0"),
        ({"heading": 400}, "impossible heading 400"),
    ],
)
def test_impossible_values_are_errors(change: dict[str, float], reason: str) -> None:
    r = decoded({**POSITION, **change})
    assert isinstance(r, LineError)
    assert r.reason == reason


def test_class_b_position() -> None:
    r = decoded({"type": 18, "mmsi": 338087471, "lat": 40.68454, "lon": -74.072132,
                 "speed": 0.1, "course": 79.6, "heading": 511})  # fmt: skip
    assert isinstance(r, PositionReport)
    assert (r.source_class, r.nav_status, r.heading, r.sog, r.cog) == ("B", None, None, 0.1, 79.6)


def test_long_range_type_27_units_and_not_available() -> None:
    r = decoded({"type": 27, "mmsi": 206914217, "lat": 4.84, "lon": 137.023333, "speed": 57,
                 "course": 167, "status": 2})  # fmt: skip
    assert isinstance(r, PositionReport)
    assert (r.lat, r.lon, r.sog, r.cog, r.heading, r.nav_status) == (
        4.84,
        137.023333,
        57.0,
        167.0,
        None,
        2,
    )
    na = decoded({"type": 27, "mmsi": 206914217, "lat": 4.84, "lon": 137.0, "speed": 63,
                  "course": 511})  # fmt: skip
    assert (na.sog, na.cog) == (None, None)


VOYAGE = {"type": 5, "mmsi": 351759000, "imo": 9134270, "callsign": "3FOF8",
          "shipname": "EVER DIADEM", "ship_type": 70, "to_bow": 225, "to_stern": 70,
          "to_port": 1, "to_starboard": 31, "month": 5, "day": 15, "hour": 14, "minute": 0,
          "draught": 12.2, "destination": "NEW YORK"}  # fmt: skip


def test_static_voyage_report() -> None:
    r = decoded(VOYAGE)
    assert r == StaticReport(
        mmsi="351759000",
        msg_type=5,
        part=None,
        name="EVER DIADEM",
        call_sign="3FOF8",
        imo=9134270,
        ship_type=70,
        to_bow=225,
        to_stern=70,
        to_port=1,
        to_starboard=31,
        destination="NEW YORK",
        eta="05-15 14:00",
        draught=12.2,
        observed_at=T0,
        raw=r.raw,
    )


def test_static_report_empty_and_not_available_fields() -> None:
    r = decoded({"type": 5, "mmsi": 271010059, "imo": 0, "callsign": "", "shipname": "",
                 "ship_type": 0, "hour": 24, "minute": 60, "destination": ""})  # fmt: skip
    assert (r.imo, r.name, r.call_sign, r.ship_type, r.eta, r.draught, r.destination) == (
        (None,) * 7
    )
    assert (r.to_bow, r.to_stern, r.to_port, r.to_starboard) == (None,) * 4


def test_text_padding_is_stripped() -> None:
    # '@' starts the padding even when other characters follow it.
    sixbit = "".join(f"{ord(c) - 64 if ord(c) >= 64 else ord(c):06b}" for c in "ABC@@D")
    padded = with_bits(VOYAGE, 112, 36, int(sixbit, 2))  # the name's first 6 characters
    assert static(decode(padded)).name == "ABC"
    assert decoded({**VOYAGE, "shipname": "SPACED   "}).name == "SPACED"


def test_type_5_ship_type_is_read_raw() -> None:
    c = with_bits(VOYAGE, 232, 8, 38)  # 38: a reserved code
    assert static(decode(c)).ship_type == 38
    # Why we read it ourselves: pyais folds reserved codes into other enum members.
    theirs = pyais_decode(c.raw[0])
    assert isinstance(theirs, MessageType5)
    assert theirs.ship_type == 0


def test_type_5_of_420_bits_is_accepted() -> None:
    payload, fill = encoded(VOYAGE)
    bits = to_bits(payload, fill)
    assert len(bits) == 424
    r = decode(complete(*from_bits(bits[:420])))
    assert isinstance(r, StaticReport)
    assert (r.name, r.destination) == ("EVER DIADEM", "NEW YORK")


@pytest.mark.parametrize(
    ("data", "keep_bits", "reason"),
    [
        (POSITION, 120, "truncated payload: type 1 has 120 bits, needs 137"),
        (VOYAGE, 360, "truncated payload: type 5 has 360 bits, needs 420"),
        (POSITION, 30, "truncated payload: 30 bits, shorter than a message header"),
        ({"type": 24, "mmsi": 271041815, "partno": 0, "shipname": "PROGUY"}, 150,
         "truncated payload: type 24 has 150 bits, needs 160"),
    ],
)  # fmt: skip
def test_truncated_payloads(data: dict[str, Any], keep_bits: int, reason: str) -> None:
    bits = to_bits(*encoded(data))[:keep_bits]
    r = decode(complete(*from_bits(bits)))
    assert isinstance(r, LineError)
    assert r.reason == reason


def test_type_24_parts() -> None:
    a = decoded({"type": 24, "mmsi": 271041815, "partno": 0, "shipname": "PROGUY"})
    assert (a.part, a.name, a.call_sign, a.ship_type, a.to_bow) == ("A", "PROGUY", None, None, None)
    b = decoded({"type": 24, "mmsi": 271041815, "partno": 1, "ship_type": 60,
                 "callsign": "TC6163", "to_stern": 15, "to_starboard": 5})  # fmt: skip
    assert (b.part, b.name, b.call_sign, b.ship_type) == ("B", None, "TC6163", 60)
    assert (b.to_bow, b.to_stern, b.to_port, b.to_starboard, b.mothership_mmsi) == (
        0,
        15,
        0,
        5,
        None,
    )


def test_type_24_auxiliary_craft_gives_mothership_not_dimensions() -> None:
    r = decoded({"type": 24, "mmsi": 981234567, "partno": 1, "ship_type": 52,
                 "callsign": "AUX1", "mothership_mmsi": 366123456})  # fmt: skip
    assert isinstance(r, StaticReport)
    assert (r.mmsi, r.ship_type, r.call_sign, r.mothership_mmsi) == (
        "981234567",
        52,
        "AUX1",
        "366123456",
    )
    assert (r.to_bow, r.to_stern, r.to_port, r.to_starboard) == (None,) * 4


def test_type_24_bad_part_number() -> None:
    c = with_bits({"type": 24, "mmsi": 271041815, "partno": 0, "shipname": "X"}, 38, 2, 2)
    r = decode(c)
    assert isinstance(r, LineError)
    assert r.reason == "type 24 part number 2 is invalid"


def test_safety_messages() -> None:
    addressed = decoded({"type": 12, "mmsi": 351853000, "dest_mmsi": 2391100, "text": "THANX"})
    assert addressed == SafetyBroadcast("351853000", 12, "THANX", "002391100", T0, addressed.raw)
    broadcast = decoded({"type": 14, "mmsi": 970123456, "text": "SART ACTIVE"})
    assert broadcast == SafetyBroadcast("970123456", 14, "SART ACTIVE", None, T0, broadcast.raw)


def test_unused_and_unknown_types() -> None:
    base = decoded({"type": 4, "mmsi": 3669702})
    assert base == Skipped("type 4 is not used", 4, "003669702", base.raw)
    for msg_type in (0, 40, 63):
        r = decode(with_bits(POSITION, 0, 6, msg_type))
        assert isinstance(r, LineError)
        assert r.reason == f"unknown message type {msg_type}"


def test_observed_at_is_utc() -> None:
    naive = decoded(POSITION, received_at=datetime(2024, 5, 1, 10, 0))
    assert naive.observed_at == T0 and naive.observed_at.tzinfo is UTC
    tokyo = timezone(timedelta(hours=9))
    aware = decoded(POSITION, received_at=datetime(2024, 5, 1, 19, 0, tzinfo=tokyo))
    assert aware.observed_at == T0 and aware.observed_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("mmsi", "kind"),
    [("970123456", "ais-sart"), ("972001234", "mob"), ("974999999", "epirb"),
     ("431123456", None), ("97012345", None), ("975123456", None)],
)  # fmt: skip
def test_distress_kind(mmsi: str, kind: str | None) -> None:
    assert distress_kind(mmsi) == kind


def test_decode_never_raises_on_random_payloads() -> None:
    rng = random.Random(11)
    armour = [chr(c) for c in (*range(48, 88), *range(96, 120))]
    for _ in range(3000):
        payload = "".join(rng.choice(armour) for _ in range(rng.randint(1, 90)))
        r = decode(complete(payload, rng.randint(0, 5) if len(payload) > 1 else 0))
        assert isinstance(r, PositionReport | StaticReport | SafetyBroadcast | Skipped | LineError)
        if isinstance(r, LineError):
            assert not r.reason.startswith("cannot decode"), r

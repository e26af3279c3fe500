"""GPSD's own decode of its AIS regression sample as the oracle for nmea -> assembler -> decode.

Alignment with the golden file (one JSON object per message GPSD emitted, in file order):
- the sample's `AIVDM,2,2,1,B,...` line has no `!`; GPSD emits nothing for it, we report a
  LineError ("not an AIS sentence");
- GPSD merges a type 24 part A with the next part B of the same MMSI into one object and emits
  nothing for unpaired parts; we emit each part. The test pairs our parts the same way;
- every other message is one object on both sides, matched in order by (type, mmsi).

Units/print conventions of GPSD: lat/lon printed with 6 decimals (1 decimal for type 27,
whose positions are 1/10 minute: the format is "%.1f" there); not-available values printed
raw (lat 91, lon 181, speed 102.3, course 360, heading 511; type 27 speed 63, course 511);
empty text as "", imo and shiptype 0; ETA as "MM-DDTHH:MMZ" with 00-00T24:60Z = unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mdx.ais.assembler import Assembler
from mdx.ais.decode import PositionReport, SafetyBroadcast, Skipped, StaticReport, decode
from mdx.ais.nmea import LineError, parse_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ais"
SAMPLE = FIXTURES / "gpsd-sample.aivdm"
GOLDEN = FIXTURES / "gpsd-sample.aivdm.json-golden"
RECEIVED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

Report = PositionReport | StaticReport | SafetyBroadcast | Skipped


def _sample_lines() -> list[str]:
    # Two lines of the sample end in the text "\x0d\x0a": GPSD's way of writing a CR LF line
    # ending into a text file. Turn the escapes back into the characters they name.
    text = SAMPLE.read_text(encoding="utf-8")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text).split("\n")


def _decode_sample() -> tuple[list[Report], list[LineError]]:
    assembler = Assembler()
    reports: list[Report] = []
    errors: list[LineError] = []
    for line in _sample_lines():
        parsed = parse_line(line)
        if parsed is None:
            continue
        if isinstance(parsed, LineError):
            errors.append(parsed)
            continue
        for item in assembler.push(parsed, RECEIVED):
            result = item if isinstance(item, LineError) else decode(item)
            if isinstance(result, LineError):
                errors.append(result)
            else:
                reports.append(result)
    errors.extend(assembler.expire(datetime(2100, 1, 1, tzinfo=UTC)))
    return reports, errors


def _pair_type_24(reports: list[Report]) -> tuple[list[Report | tuple[Any, Any]], list[Any]]:
    """GPSD's rule: a part B completes the last unconsumed part A of the same MMSI."""
    merged: list[Report | tuple[Any, Any]] = []
    part_a: dict[str, StaticReport] = {}
    unpaired: list[StaticReport] = []
    for r in reports:
        if not (isinstance(r, StaticReport) and r.msg_type == 24):
            merged.append(r)
        elif r.part == "A":
            if r.mmsi in part_a:
                unpaired.append(part_a[r.mmsi])
            part_a[r.mmsi] = r
        elif r.mmsi in part_a:
            merged.append((part_a.pop(r.mmsi), r))
        else:
            unpaired.append(r)
    return merged, unpaired + list(part_a.values())


def _na(value: Any, sentinel: Any) -> Any:
    return None if value == sentinel else value


def _text(value: str) -> str | None:
    return value or None


def _same_degrees(ours: float, gpsd: float, decimals: int) -> bool:
    if decimals == 1:
        return round(ours, 1) == gpsd
    return math.isclose(ours, gpsd, rel_tol=0, abs_tol=1e-6)


def _check_position(ours: PositionReport, gpsd: dict[str, Any]) -> None:
    decimals = 1 if gpsd["type"] == 27 else 6
    assert gpsd["lat"] != 91 and gpsd["lon"] != 181  # no n/a position among the sample's reports
    assert _same_degrees(ours.lat, gpsd["lat"], decimals), (ours, gpsd)
    assert _same_degrees(ours.lon, gpsd["lon"], decimals), (ours, gpsd)
    if gpsd["type"] == 27:
        assert ours.sog == _na(gpsd["speed"], 63)
        assert ours.cog == _na(gpsd["course"], 511)
        assert ours.heading is None
    else:
        assert ours.sog == _na(gpsd["speed"], 102.3)
        assert ours.cog == _na(gpsd["course"], 360.0)
        assert ours.heading == _na(gpsd["heading"], 511)


def _check_type_5(ours: StaticReport, gpsd: dict[str, Any]) -> None:
    assert ours.name == _text(gpsd["shipname"])
    assert ours.call_sign == _text(gpsd["callsign"])
    assert ours.imo == _na(gpsd["imo"], 0)
    assert ours.ship_type == _na(gpsd["shiptype"], 0)
    dims = (ours.to_bow, ours.to_stern, ours.to_port, ours.to_starboard)
    assert dims == (gpsd["to_bow"], gpsd["to_stern"], gpsd["to_port"], gpsd["to_starboard"])
    assert ours.draught == _na(gpsd["draught"], 0)
    assert ours.destination == _text(gpsd["destination"])
    eta = gpsd["eta"]  # "MM-DDTHH:MMZ"
    expected_eta = None if eta == "00-00T24:60Z" else eta[:5] + " " + eta[6:11]
    assert ours.eta == expected_eta


def _check_type_24(part_a: StaticReport, part_b: StaticReport, gpsd: dict[str, Any]) -> None:
    assert part_a.mmsi == part_b.mmsi
    assert part_a.name == _text(gpsd["shipname"])
    assert part_b.call_sign == _text(gpsd["callsign"])
    assert part_b.ship_type == _na(gpsd["shiptype"], 0)
    dims = (part_b.to_bow, part_b.to_stern, part_b.to_port, part_b.to_starboard)
    assert dims == (gpsd["to_bow"], gpsd["to_stern"], gpsd["to_port"], gpsd["to_starboard"])


def test_sample_decodes_like_gpsd() -> None:
    golden = [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]
    reports, errors = _decode_sample()

    assert [e.reason for e in errors] == ["not an AIS sentence"]
    assert errors[0].line == "AIVDM,2,2,1,B,00000000000,2*26"

    merged, unpaired = _pair_type_24(reports)
    # The sample's "type 24 collisions" section: parts GPSD never emits.
    assert sorted((r.mmsi, r.part) for r in unpaired) == [
        ("271020195", "B"),
        ("271041511", "A"),
        ("271041815", "B"),
    ]
    assert len(merged) == len(golden) == 97

    compared: Counter[int] = Counter()
    for ours, gpsd in zip(merged, golden, strict=True):
        if isinstance(ours, tuple):
            assert (24, int(ours[0].mmsi)) == (gpsd["type"], gpsd["mmsi"])
            _check_type_24(ours[0], ours[1], gpsd)
            compared[24] += 1
            continue
        assert (ours.msg_type, int(ours.mmsi or -1)) == (gpsd["type"], gpsd["mmsi"]), gpsd
        if isinstance(ours, PositionReport):
            _check_position(ours, gpsd)
        elif isinstance(ours, StaticReport):
            _check_type_5(ours, gpsd)
        elif isinstance(ours, SafetyBroadcast):
            assert ours.text == gpsd["text"]
            assert ours.dest_mmsi == (f"{gpsd['dest_mmsi']:09d}" if ours.msg_type == 12 else None)
        else:
            assert ours.reason == f"type {gpsd['type']} is not used"
            continue
        compared[ours.msg_type] += 1

    # Counted from the golden file, so that a silently skipped comparison fails the test.
    assert compared == {1: 4, 2: 1, 3: 1, 5: 3, 12: 7, 14: 3, 18: 3, 19: 1, 24: 2, 27: 2}
    assert sum(isinstance(r, Skipped) for r in merged) == 70


def test_sample_observed_at_is_the_receive_time() -> None:
    reports, _ = _decode_sample()
    stamped = [r for r in reports if not isinstance(r, Skipped)]
    assert stamped and all(r.observed_at == RECEIVED for r in stamped)


def test_sample_nais_trailers_and_escaped_line_endings_parse() -> None:
    sentences = [s for s in map(parse_line, _sample_lines()) if s is not None]
    nais = [s for s in sentences if not isinstance(s, LineError) and s.station]
    # ",r08TPHI1,1242958962", ",r07RPAL1,1272415370", ",r09SCHA1,1272422678"
    assert [(s.station, s.time) for s in nais] == [
        ("r08TPHI1", datetime.fromtimestamp(1242958962, UTC)),
        ("r07RPAL1", datetime.fromtimestamp(1272415370, UTC)),
        ("r09SCHA1", datetime.fromtimestamp(1272422678, UTC)),
    ]
    assert sum(isinstance(s, LineError) for s in sentences) == 1

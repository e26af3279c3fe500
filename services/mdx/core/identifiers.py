"""Checks of maritime identifiers that a JSON Schema pattern cannot express.

MMSI structure follows ITU-R M.585; the IMO number check digit follows IMO resolution
A.1117(30). Pure functions, no I/O. The schemas' `mmsi` pattern admits exactly the
strings for which `mmsi_kind` is not None (a test keeps the two in step).
"""

from __future__ import annotations

import re
from enum import StrEnum

# [0-9], not \d: \d (and str.isdigit) also accept the digits of other scripts.
_IMO = re.compile(r"[0-9]{7}")
_MMSI = re.compile(r"[0-9]{9}")

MID_MIN = 201
MID_MAX = 775


class MmsiKind(StrEnum):
    """What an MMSI identifies, read from its leading digits."""

    ship = "ship"  # MIDxxxxxx
    coast_station = "coast_station"  # 00MIDxxxx
    group = "group"  # 0MIDxxxxx
    sar_aircraft = "sar_aircraft"  # 111MIDxxx
    sart = "sart"  # 970xxxxxx (AIS search and rescue transmitter)
    mob = "mob"  # 972xxxxxx (man overboard device)
    epirb = "epirb"  # 974xxxxxx (EPIRB with AIS)
    craft_of_parent_ship = "craft_of_parent_ship"  # 98MIDxxxx
    aid_to_navigation = "aid_to_navigation"  # 99MIDxxxx


# Kind -> index of the first MID digit; 97x devices carry no MID.
_MID_OFFSET: dict[MmsiKind, int] = {
    MmsiKind.ship: 0,
    MmsiKind.coast_station: 2,
    MmsiKind.group: 1,
    MmsiKind.sar_aircraft: 3,
    MmsiKind.craft_of_parent_ship: 2,
    MmsiKind.aid_to_navigation: 2,
}

_DEVICES = {"970": MmsiKind.sart, "972": MmsiKind.mob, "974": MmsiKind.epirb}


def imo_is_valid(imo: str) -> bool:
    """True for 7 ASCII digits whose last is (7*d1 + 6*d2 + ... + 2*d6) mod 10."""
    if not _IMO.fullmatch(imo):
        return False
    digits = [int(c) for c in imo]
    return sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 == digits[6]


def mmsi_kind(mmsi: str) -> MmsiKind | None:
    """The kind of station an MMSI names, or None if its structure is not a known one.

    The MID's first digit must be 2-7 (the ITU regions); whether the MID is actually
    allocated is `mid_is_allocated`'s question.
    """
    if not _MMSI.fullmatch(mmsi):
        return None
    if mmsi[:3] in _DEVICES:
        return _DEVICES[mmsi[:3]]
    if mmsi.startswith("00"):
        kind = MmsiKind.coast_station
    elif mmsi.startswith("0"):
        kind = MmsiKind.group
    elif mmsi.startswith("111"):
        kind = MmsiKind.sar_aircraft
    elif mmsi.startswith("98"):
        kind = MmsiKind.craft_of_parent_ship
    elif mmsi.startswith("99"):
        kind = MmsiKind.aid_to_navigation
    else:
        kind = MmsiKind.ship
    return kind if mmsi[_MID_OFFSET[kind]] in "234567" else None


def mmsi_mid(mmsi: str) -> int | None:
    """The 3-digit Maritime Identification Digits (flag) of an MMSI, or None.

    None when the MMSI is malformed or names a SART, MOB or EPIRB, which carry no MID.
    """
    kind = mmsi_kind(mmsi)
    if kind is None or kind not in _MID_OFFSET:
        return None
    start = _MID_OFFSET[kind]
    return int(mmsi[start : start + 3])


def mid_is_allocated(mid: int) -> bool:
    """True if `mid` lies in the range ITU allocates MIDs from (201-775)."""
    return MID_MIN <= mid <= MID_MAX

"""facts: flag state from the MID, IMO check digit, ship categories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mdx.ais.facts import MID_FLAGS, flag_of, imo_valid, ship_category

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "ais" / "gpsd-sample.aivdm.json-golden"


@pytest.mark.parametrize(
    ("mmsi", "flag"),
    [
        ("431123456", "JP"),
        ("432000001", "JP"),
        ("440348000", "KR"),  # from GPSD's sample
        ("366123456", "US"),
        ("338087471", "US"),
        ("412123456", "CN"),
        ("416000001", "TW"),
        ("477000001", "HK"),
        ("273123456", "RU"),
        ("636012668", "LR"),
        ("538000001", "MH"),
        ("371798000", "PA"),
        ("356302000", "PA"),
        ("003669702", "US"),  # coast station 00MIDxxxx
        ("036612345", "US"),  # group 0MIDxxxxx
        ("111232511", "GB"),  # SAR aircraft 111MIDxxx
        ("984312345", "JP"),  # auxiliary craft 98MIDxxxx
        ("992509976", "IE"),  # aid to navigation 99MIDxxxx
        ("843112345", "JP"),  # handheld VHF 8MIDxxxxx
        ("970123456", None),  # AIS-SART: no MID
        ("972158237", None),  # MOB
        ("974000001", None),  # EPIRB
        ("217123456", None),  # MID not allocated
        ("812345678", None),  # handheld with a MID outside 2xx-7xx
        ("12345", None),
        ("43112345x", None),
    ],
)
def test_flag_of(mmsi: str, flag: str | None) -> None:
    assert flag_of(mmsi) == flag


def test_mid_table_shape() -> None:
    assert len(MID_FLAGS) == 292
    assert all(201 <= mid <= 775 for mid in MID_FLAGS)
    assert all(len(code) == 2 and code.isupper() for code in MID_FLAGS.values())
    assert [mid for mid, code in MID_FLAGS.items() if code == "PA"] == [
        351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373, 374,
    ]  # fmt: skip


@pytest.mark.parametrize("imo", [9074729, 9176187, 7625811, 9134270])
def test_real_imo_numbers_are_valid(imo: int) -> None:
    assert imo_valid(imo) is True


@pytest.mark.parametrize("imo", [9074728, 9074720, 0, 123, 10_000_000, -9074729])
def test_invalid_imo_numbers(imo: int) -> None:
    assert imo_valid(imo) is False


def test_imo_numbers_in_the_golden_file() -> None:
    imos = [obj["imo"] for obj in map(json.loads, GOLDEN.read_text().splitlines()) if "imo" in obj]
    assert imos == [9134270, 0, 0]  # EVER DIADEM; HEALTH CONTROL 13 (twice) sends none
    assert [imo_valid(i) for i in imos] == [True, False, False]


@pytest.mark.parametrize(
    ("ship_type", "category"),
    [
        (None, "unknown"), (0, "unknown"), (20, "wig"), (29, "wig"), (30, "fishing"),
        (31, "towing"), (32, "towing"), (33, "dredging"), (34, "diving"), (35, "military"),
        (36, "sailing"), (37, "pleasure"), (38, "other"), (40, "high_speed"),
        (49, "high_speed"), (50, "pilot"), (51, "sar"), (52, "tug"), (53, "port_tender"),
        (54, "anti_pollution"), (55, "law_enforcement"), (56, "other"), (58, "medical"),
        (59, "other"), (60, "passenger"), (69, "passenger"), (70, "cargo"), (79, "cargo"),
        (80, "tanker"), (89, "tanker"), (90, "other"), (99, "other"), (1, "other"),
        (19, "other"), (100, "other"), (255, "other"),
    ],
)  # fmt: skip
def test_ship_category(ship_type: int | None, category: str) -> None:
    assert ship_category(ship_type) == category


def test_sar_aircraft_are_sar_whatever_their_type() -> None:
    assert ship_category(None, "111232511") == "sar"
    assert ship_category(70, "111265591") == "sar"
    assert ship_category(70, "366123456") == "cargo"

"""MMSI and IMO identifier checks, and their agreement with the schemas' mmsi pattern."""

from __future__ import annotations

import json
import re

import pytest

from mdx.core.identifiers import (
    MmsiKind,
    imo_is_valid,
    mid_is_allocated,
    mmsi_kind,
    mmsi_mid,
)
from mdx.core.schemas import SCHEMA_DIR


@pytest.mark.parametrize("imo", ["9074729", "9176187", "7625811"])
def test_real_imo_numbers_pass_the_check_digit(imo: str) -> None:
    assert imo_is_valid(imo) is True


@pytest.mark.parametrize(
    "imo",
    [
        "9074728",  # check digit off by one
        "9074720",
        "1234560",
        "907472",  # 6 digits
        "90747290",  # 8 digits
        "IMO9074729",  # the prefix belongs in display, not in the field
        "907472a",
        "",
        " 9074729",
        "٩٠٧٤٧٢٩",  # Arabic-Indic digits of 9074729: isdigit() but not ASCII
    ],
)
def test_imo_numbers_failing_the_check_are_rejected(imo: str) -> None:
    assert imo_is_valid(imo) is False


def test_every_six_digit_prefix_has_exactly_one_check_digit() -> None:
    for prefix in ("000000", "907472", "123456", "999999", "500001"):
        valid = [d for d in "0123456789" if imo_is_valid(prefix + d)]
        assert len(valid) == 1, prefix
    # 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 6*2 = 77, so 7 is the check digit of 123456.
    assert [d for d in "0123456789" if imo_is_valid("123456" + d)] == ["7"]


@pytest.mark.parametrize(
    ("mmsi", "kind", "mid"),
    [
        ("431000123", MmsiKind.ship, 431),  # Japan
        ("440312580", MmsiKind.ship, 440),  # Korea
        ("201000000", MmsiKind.ship, 201),
        ("775999999", MmsiKind.ship, 775),
        ("004310001", MmsiKind.coast_station, 431),
        ("044012345", MmsiKind.group, 440),
        ("111431501", MmsiKind.sar_aircraft, 431),
        ("970012345", MmsiKind.sart, None),
        ("972123456", MmsiKind.mob, None),
        ("974123456", MmsiKind.epirb, None),
        ("984401234", MmsiKind.craft_of_parent_ship, 440),
        ("994401017", MmsiKind.aid_to_navigation, 440),
    ],
)
def test_mmsi_kind_and_mid(mmsi: str, kind: MmsiKind, mid: int | None) -> None:
    assert mmsi_kind(mmsi) is kind
    assert mmsi_mid(mmsi) == mid


@pytest.mark.parametrize(
    "mmsi",
    [
        "123456789",  # 1 only starts SAR aircraft (111)
        "812345678",  # 8xx handhelds are national, not in the shared scheme
        "971123456",  # 97 + 1 is no device
        "961234567",
        "001431000",  # coast station with MID starting 1
        "011234567",  # group with MID starting 1
        "111131501",  # SAR aircraft with MID starting 1
        "981234567",
        "991234567",
        "43100012",  # 8 digits
        "4310001234",  # 10 digits
        "43100012a",
        "٤٣١٠٠٠١٢٣",  # non-ASCII digits
        "",
    ],
)
def test_malformed_mmsis_have_no_kind_and_no_mid(mmsi: str) -> None:
    assert mmsi_kind(mmsi) is None
    assert mmsi_mid(mmsi) is None


@pytest.mark.parametrize(
    ("mid", "allocated"),
    [(200, False), (201, True), (431, True), (775, True), (776, False), (0, False)],
)
def test_mid_allocation_range(mid: int, allocated: bool) -> None:
    assert mid_is_allocated(mid) is allocated


def test_schema_mmsi_pattern_accepts_exactly_the_classified_mmsis() -> None:
    """The JSON Schema pattern and mmsi_kind must never disagree (one rule, two places)."""
    defs = json.loads((SCHEMA_DIR / "common/v1/defs.schema.json").read_text(encoding="utf-8"))
    pattern = re.compile(defs["$defs"]["mmsi"]["pattern"])
    checked = 0
    for prefix in range(10_000):  # every 4-digit start, which decides the structure
        mmsi = f"{prefix:04d}12345"
        assert (pattern.search(mmsi) is not None) == (mmsi_kind(mmsi) is not None), mmsi
        checked += 1
    assert checked == 10_000
    assert pattern.search("4310001234") is None and pattern.search("43100012") is None

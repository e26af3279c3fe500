"""MMSI and IMO checks as properties: every MID of the flag table, every form, every digit."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mdx.ais.facts import MID_FLAGS, flag_of, imo_valid
from mdx.core.identifiers import MmsiKind, imo_is_valid, mid_is_allocated, mmsi_kind, mmsi_mid
from mdx.core.schemas import DEFS_SCHEMA_ID
from tests.property.strategies import SCHEMAS

MMSI_PATTERN = re.compile(SCHEMAS.schema(DEFS_SCHEMA_ID)["$defs"]["mmsi"]["pattern"])
# ITU-R M.585 forms that carry a MID: kind -> (digits before the MID, digits after it).
MID_FORMS = {
    MmsiKind.ship: ("", 6),
    MmsiKind.group: ("0", 5),
    MmsiKind.coast_station: ("00", 4),
    MmsiKind.sar_aircraft: ("111", 3),
    MmsiKind.craft_of_parent_ship: ("98", 4),
    MmsiKind.aid_to_navigation: ("99", 4),
}
DEVICES = {"970": MmsiKind.sart, "972": MmsiKind.mob, "974": MmsiKind.epirb}
IMO_WEIGHTS = (7, 6, 5, 4, 3, 2)


def check_digit(first_six: str) -> str:
    return str(sum(int(d) * w for d, w in zip(first_six, IMO_WEIGHTS, strict=True)) % 10)


@settings(max_examples=25)  # each example checks every MID in every form
@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_every_mid_of_the_flag_table_gives_its_flag_in_every_form(tail: str) -> None:
    checked = 0
    for mid, flag in MID_FLAGS.items():
        assert mid_is_allocated(mid)
        for kind, (prefix, after) in MID_FORMS.items():
            mmsi = f"{prefix}{mid}{tail[:after]}"
            assert len(mmsi) == 9
            assert (mmsi_kind(mmsi), mmsi_mid(mmsi), flag_of(mmsi)) == (kind, mid, flag), mmsi
            assert MMSI_PATTERN.fullmatch(mmsi)
            checked += 1
        # A handheld VHF (8MIDxxxxx) has a flag but no MmsiKind: the schemas do not admit it.
        assert flag_of(f"8{mid}{tail[:5]}") == flag
    assert checked == len(MID_FLAGS) * len(MID_FORMS)


@given(st.sampled_from(sorted(DEVICES)), st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_sart_mob_and_epirb_carry_no_mid_and_no_flag(prefix: str, tail: str) -> None:
    mmsi = prefix + tail
    assert (mmsi_kind(mmsi), mmsi_mid(mmsi), flag_of(mmsi)) == (DEVICES[prefix], None, None)


@given(st.text(max_size=12) | st.text(alphabet="0123456789", min_size=8, max_size=10))
def test_mmsi_kind_and_the_schema_pattern_agree_on_any_string(text: str) -> None:
    assert (mmsi_kind(text) is not None) == bool(MMSI_PATTERN.fullmatch(text))
    if mmsi_kind(text) is not None:
        assert len(text) == 9 and text.isascii() and text.isdigit()


@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_every_imo_number_with_its_check_digit_is_valid(first_six: str) -> None:
    imo = first_six + check_digit(first_six)
    assert imo_is_valid(imo)
    assert imo_valid(int(imo)) == (imo[0] != "0")  # as an integer it must have 7 digits


@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.integers(0, 6),
    st.integers(1, 9),
)
def test_a_single_digit_change_is_caught_exactly_when_the_weighted_sum_moves(
    first_six: str, position: int, delta: int
) -> None:
    """What the check digit promises, no more: a change of `delta` at a digit of weight w is
    caught unless w * delta is a multiple of 10. The check digit itself (weight 1) and the
    digits of weight 7 and 3 catch every change; weights 6, 4 and 2 miss a change by 5, and
    weight 5 misses every even change (IMO A.1117(30) weights 7..2, sum mod 10)."""
    imo = first_six + check_digit(first_six)
    changed_digit = (int(imo[position]) + delta) % 10
    changed = imo[:position] + str(changed_digit) + imo[position + 1 :]
    weight = IMO_WEIGHTS[position] if position < 6 else 1
    assert imo_is_valid(changed) == ((weight * delta) % 10 == 0)


@given(st.text(max_size=9).filter(lambda s: not re.fullmatch("[0-9]{7}", s)))
def test_anything_but_seven_ascii_digits_is_no_imo_number(text: str) -> None:
    assert not imo_is_valid(text)

"""nmea.parse_line: one line -> Sentence | LineError | None, whatever the input."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

import pytest

from mdx.ais.nmea import LineError, Sentence, parse_line

POS = "15RTgt0PAso;90TKcjM8h6g208CQ"  # a type 1 payload from GPSD's sample
LINE = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"
GPGGA = "$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76"


def xor(text: str) -> str:
    return f"{reduce(lambda acc, ch: acc ^ ord(ch), text, 0):02X}"


def sentence(fields: str) -> str:
    """'!' + fields + '*' + checksum, e.g. sentence('AIVDM,1,1,,A,<payload>,0')."""
    return f"!{fields}*{xor(fields)}"


def tag(content: str) -> str:
    return f"\\{content}*{xor(content)}\\"


def parsed(line: str | bytes) -> Sentence:
    result = parse_line(line)
    assert isinstance(result, Sentence), result
    return result


def error(line: str | bytes) -> str:
    result = parse_line(line)
    assert isinstance(result, LineError), result
    return result.reason


def test_plain_sentence_fields() -> None:
    s = parsed(LINE + "\r\n")
    assert (s.talker, s.fragment_count, s.fragment_number, s.seq_id, s.channel) == (
        "AIVDM",
        1,
        1,
        "",
        "A",
    )
    assert (s.payload, s.fill_bits, s.own_vessel, s.raw) == (POS, 0, False, LINE)
    assert (s.station, s.time, s.group) == (None, None, None)


def test_multi_fragment_and_vdo() -> None:
    s = parsed(sentence("AIVDO,2,1,7,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6C,0"))
    assert (s.talker, s.fragment_count, s.fragment_number, s.seq_id, s.channel) == (
        "AIVDO",
        2,
        1,
        "7",
        "B",
    )
    assert s.own_vessel is True


def test_other_ais_talkers_are_kept_as_sent() -> None:
    assert parsed(sentence(f"BSVDM,1,1,,1,{POS},0")).talker == "BSVDM"


@pytest.mark.parametrize("line", ["", "   ", "\r\n", "# comment", "  # indented comment"])
def test_blank_and_comment_lines_are_skipped(line: str) -> None:
    assert parse_line(line) is None


def test_tag_block_time_station_and_group() -> None:
    s = parsed(tag("s:rORBCOMM000,c:1425772800") + LINE)
    assert s.station == "rORBCOMM000"
    assert s.time == datetime(2015, 3, 8, tzinfo=UTC)
    assert s.raw.endswith(LINE)
    g = parsed(tag("g:1-2-1234,c:1425772800123") + LINE)
    assert g.group == "1234"
    assert g.time == datetime(2015, 3, 8, 0, 0, 0, 123000, tzinfo=UTC)  # c: in milliseconds


def test_tag_block_without_checksum_is_accepted() -> None:
    assert parsed("\\s:station1\\" + LINE).station == "station1"


def test_bad_tag_block_checksum() -> None:
    content = "s:rORBCOMM000,c:1425772800"
    assert xor(content) == "25"
    assert error(f"\\{content}*5A\\{LINE}") == "tag-block checksum mismatch: expected 25, found 5A"


@pytest.mark.parametrize(
    ("tag_block", "reason"),
    [
        (tag("c:soon"), "bad tag-block time 'soon'"),
        (tag("g:1-2"), "bad tag-block group '1-2'"),
        (tag("nonsense"), "bad tag-block field 'nonsense'"),
        ("\\s:x*5", "unterminated tag block"),
    ],
)
def test_malformed_tag_blocks(tag_block: str, reason: str) -> None:
    assert error(tag_block + LINE) == reason


def test_nais_trailer_gives_station_and_time() -> None:
    s = parsed(LINE + ",s22,d-106,T11.9,x1234,r003669961,1181000000")
    assert s.station == "r003669961"
    assert s.time == datetime.fromtimestamp(1181000000, UTC)
    assert s.payload == POS


def test_nais_trailer_without_time() -> None:
    s = parsed(LINE + ",s36310,d-081,T59.01777335")
    assert (s.station, s.time) == (None, None)


def test_tag_block_time_wins_over_nais_time() -> None:
    s = parsed(tag("c:1425772800") + LINE + ",r003669961,1181000000")
    assert s.time == datetime(2015, 3, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("1714557600.123 ", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("1714557600,", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z ", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01 12:00:00+02:00\t", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00 ", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_leading_receive_time(prefix: str, expected: datetime) -> None:
    s = parsed(prefix + LINE)
    assert s.time == expected
    assert s.payload == POS


def test_unrecognised_prefix() -> None:
    assert error("hello " + LINE) == "unrecognised text before the sentence: 'hello'"


def test_checksum_mismatch_names_expected_and_found() -> None:
    assert error(LINE[:-2] + "4B") == "checksum mismatch: expected 4A, found 4B"
    corrupted = LINE.replace("15RTgt", "15RTgu")
    assert error(corrupted) == "checksum mismatch: expected 4B, found 4A"  # t->u flips bit 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GPGGA, "not an AIS sentence"),
        (sentence("GPRMC,1,2,3"), "not an AIS sentence"),
        ("AIVDM,2,2,1,B,00000000000,2*26", "not an AIS sentence"),
        ("just words", "not an AIS sentence"),
        ("!AIVDM,1,1,,A," + POS + ",0", "missing checksum"),
        ("!AIVDM,1,1,,A," + POS + ",0*G1", "bad checksum field 'G1'"),
        (LINE + "junk", "unexpected text after the checksum: 'junk'"),
        (sentence("AIVDM,1,1,,A," + POS), "expected 7 fields in AIVDM, found 6"),
        (sentence("AIVDM,0,1,,A," + POS + ",0"), "bad fragment count '0'"),
        (sentence("AIVDM,2,3,1,A," + POS + ",0"), "bad fragment number '3' of 2"),
        (sentence("AIVDM,2,1,x,A," + POS + ",0"), "bad sequential message id 'x'"),
        (sentence("AIVDM,1,1,,C," + POS + ",0"), "bad channel 'C'"),
        (sentence("AIVDM,1,1,,A,,0"), "empty payload"),
        (sentence("AIVDM,1,1,,A,15RTZt,0"), "invalid payload character 'Z'"),
        (sentence("AIVDM,1,1,,A," + POS + ",6"), "bad fill bits '6'"),
        (LINE + ",r1,99999999999999999999", "bad receive time '99999999999999999999'"),
    ],
)
def test_format_errors(line: str, reason: str) -> None:
    assert error(line) == reason


def test_invalid_utf8_and_garbage_bytes_are_errors_not_exceptions() -> None:
    broken = LINE.encode().replace(b"RTgt", b"RT\xff\xfe")
    assert error(broken) == "non-ASCII characters in the sentence"
    assert error(b"\x00\x01\x02!\xff\xff*00") == (
        "unrecognised text before the sentence: '\\x00\\x01\\x02'"
    )
    assert error(bytes(range(256))) == "unrecognised text before the sentence: " + repr(
        bytes(range(33)).decode().strip()
    )
    assert error(b"\xc3\x28" * 50) == "not an AIS sentence"


def test_overlong_line_is_cut() -> None:
    result = parse_line("!" + "A" * 5000)
    assert isinstance(result, LineError)
    assert result.reason == "line too long (5001 characters)"
    assert len(result.line) == 1024


def test_parse_line_never_raises_on_random_input() -> None:
    import random

    rng = random.Random(7)
    alphabet = "!$\\*,:.-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgw@`;<>?cgsr \t\xff\u2028"
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        result = parse_line(line)
        assert result is None or isinstance(result, Sentence | LineError)
        if isinstance(result, LineError):
            assert not result.reason.startswith("unparseable line")

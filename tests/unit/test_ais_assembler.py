"""Assembler: fragments of interleaved multi-sentence messages -> Complete, or errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

from pyais import encode_dict

from mdx.ais.assembler import Assembler, Complete
from mdx.ais.decode import StaticReport, decode
from mdx.ais.nmea import LineError, Sentence, parse_line

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def type5(mmsi: int, name: str, seq_id: int, channel: str = "A") -> list[str]:
    lines: list[str] = encode_dict(
        {"type": 5, "mmsi": mmsi, "shipname": name, "callsign": "CALL1", "ship_type": 70},
        sentence_type="VDM",
        radio_channel=channel,
        seq_id=seq_id,
    )
    assert len(lines) == 2
    return lines


def sentence(line: str) -> Sentence:
    s = parse_line(line)
    assert isinstance(s, Sentence), s
    return s


def with_tag(content: str, line: str) -> str:
    checksum = reduce(lambda acc, ch: acc ^ ord(ch), content, 0)
    return f"\\{content}*{checksum:02X}\\{line}"


def push_all(
    assembler: Assembler, lines: list[str], at: datetime = T0
) -> list[Complete | LineError]:
    out: list[Complete | LineError] = []
    for line in lines:
        out.extend(assembler.push(sentence(line), at))
    return out


def names(results: list[Complete | LineError]) -> list[str | None]:
    decoded = [decode(r) for r in results if isinstance(r, Complete)]
    assert all(isinstance(d, StaticReport) for d in decoded), decoded
    return [d.name for d in decoded if isinstance(d, StaticReport)]


def test_single_sentence_completes_at_once() -> None:
    line = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"
    [complete] = push_all(Assembler(), [line])
    assert isinstance(complete, Complete)
    assert complete.raw == (line,)
    assert complete.bit_length == 168
    assert complete.received_at == T0


def test_interleaved_messages_from_two_vessels_reassemble() -> None:
    a1, a2 = type5(366123456, "ALPHA", seq_id=1)
    b1, b2 = type5(431987654, "BRAVO", seq_id=2)
    assembler = Assembler()
    results = push_all(assembler, [a1, b1, a2, b2])
    assert names(results) == ["ALPHA", "BRAVO"]
    assert [r.raw for r in results if isinstance(r, Complete)] == [(a1, a2), (b1, b2)]
    assert len(assembler) == 0


def test_same_sequence_id_on_two_channels_or_stations_stays_apart() -> None:
    a1, a2 = type5(366123456, "ALPHA", seq_id=3, channel="A")
    b1, b2 = type5(431987654, "BRAVO", seq_id=3, channel="B")
    assert names(push_all(Assembler(), [a1, b1, b2, a2])) == ["BRAVO", "ALPHA"]

    c1, c2 = type5(440111222, "CHARLIE", seq_id=3)
    d1, d2 = type5(412333444, "DELTA", seq_id=3)
    lines = [c1 + ",r003669961", d1 + ",r003669962", c2 + ",r003669961", d2 + ",r003669962"]
    assert names(push_all(Assembler(), lines)) == ["CHARLIE", "DELTA"]


def test_tag_block_group_links_fragments_without_station() -> None:
    a1, a2 = type5(366123456, "ALPHA", seq_id=4)
    lines = [with_tag("g:1-2-77,s:rORBCOMM000,c:1425772800", a1), with_tag("g:2-2-77", a2)]
    [complete] = push_all(Assembler(), lines)
    assert isinstance(complete, Complete)
    assert complete.station == "rORBCOMM000"
    assert complete.received_at == datetime(2015, 3, 8, tzinfo=UTC)
    assert names([complete]) == ["ALPHA"]


def test_three_fragments_may_arrive_out_of_order_after_the_first() -> None:
    lines = [
        "!AIVDM,3,1,7,A,85Mwp=iKfGwushJ?gNlt2QU3osVGe:4?cNhQqf2VH8t,0*08",
        "!AIVDM,3,3,7,A,Uq:1Kk`e8,4*27",
        "!AIVDM,3,2,7,A,?A;J6b7AwuiqIGLeNiKCPDR7HQR<u;TTFufegr>kCSF,0*41",
    ]
    [complete] = push_all(Assembler(), lines)
    assert isinstance(complete, Complete)
    assert complete.raw == (lines[0], lines[2], lines[1])
    assert complete.fill_bits == 4


def test_lone_second_fragment_is_an_error_at_once() -> None:
    _, a2 = type5(366123456, "ALPHA", seq_id=1)
    assert push_all(Assembler(), [a2]) == [LineError("fragment 2 of 2 without fragment 1", a2)]


def test_first_fragment_expires_after_max_age() -> None:
    a1, _ = type5(366123456, "ALPHA", seq_id=3)
    assembler = Assembler(max_age_s=10)
    assert push_all(assembler, [a1]) == []
    assert assembler.expire(T0 + timedelta(seconds=10)) == []  # not older than max_age yet
    assert assembler.expire(T0 + timedelta(seconds=10.5)) == [
        LineError("fragment 1 of 2 (seq 3, channel A) expired without the rest", a1)
    ]
    assert len(assembler) == 0


def test_push_expires_stale_fragments_before_matching() -> None:
    a1, a2 = type5(366123456, "ALPHA", seq_id=3)
    assembler = Assembler(max_age_s=10)
    push_all(assembler, [a1])
    late = assembler.push(sentence(a2), T0 + timedelta(seconds=11))
    assert [e.reason for e in late if isinstance(e, LineError)] == [
        "fragment 1 of 2 (seq 3, channel A) expired without the rest",
        "fragment 2 of 2 without fragment 1",
    ]


def test_expired_error_names_station_and_all_held_fragments() -> None:
    lines = [
        "!AIVDM,3,1,0,A,802UMp@0D002G`lCH2FuR@mE8;;w2d00001h82F0@hm;gh0w00010Wk3<2FG,0*00",
        "!AIVDM,3,2,0,A,ePm;5@0w0000iLBaP2F4khlwAH0w0000u7fUP2G=u0m3T@0w00010W:s02F>,0*72",
    ]
    assembler = Assembler()
    push_all(assembler, [line + ",r08TPHI1" for line in lines])
    [err] = assembler.expire(T0 + timedelta(minutes=1))
    assert err.reason == (
        "fragments 1, 2 of 3 (station r08TPHI1, seq 0, channel A) expired without the rest"
    )
    assert err.line.split("\n") == [line + ",r08TPHI1" for line in lines]


def test_duplicate_first_fragment_restarts_the_message() -> None:
    a1, _ = type5(366123456, "ALPHA", seq_id=5)
    b1, b2 = type5(366123456, "ALPHA-B", seq_id=5)
    results = push_all(Assembler(), [a1, b1, b2])
    assert [r for r in results if isinstance(r, LineError)] == [
        LineError("fragment 1 of 2 (seq 5, channel A) superseded by a repeated fragment 1", a1)
    ]
    assert names(results) == ["ALPHA-B"]


def test_eviction_at_the_bound_reports_the_oldest() -> None:
    firsts = [type5(366000000 + i, f"SHIP {i}", seq_id=i)[0] for i in range(4)]
    assembler = Assembler(max_pending=3)
    results = push_all(assembler, firsts)
    assert results == [
        LineError(
            "fragment 1 of 2 (seq 0, channel A) evicted: more than 3 incomplete messages",
            firsts[0],
        )
    ]
    assert len(assembler) == 3


def test_stated_time_wins_over_arrival_time() -> None:
    a1, a2 = type5(366123456, "ALPHA", seq_id=1)
    nais = [a1 + ",r003669961,1181000000", a2 + ",r003669961,1181000001"]
    [complete] = push_all(Assembler(), nais)
    assert isinstance(complete, Complete)
    assert complete.received_at == datetime.fromtimestamp(1181000000, UTC)

    assembler = Assembler()
    assembler.push(sentence(a1), T0)
    [plain] = assembler.push(sentence(a2), T0 + timedelta(seconds=1))
    assert isinstance(plain, Complete)
    assert plain.received_at == T0  # arrival of the first fragment

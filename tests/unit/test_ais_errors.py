"""A feed mixing good lines with every kind of fault: each fault is one exact error, and the
good lines around them still decode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

from pyais import encode_dict

from mdx.ais import AisFeed, LineError, PositionReport, StaticReport
from mdx.ais.decode import Decoded

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

TYPE_1 = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"  # 371798000, from GPSD's sample
TYPE_18 = "!AIVDM,1,1,,A,B52K>;h00Fc>jpUlNV@ikwpUoP06,0*4C"  # 338087471
TYPE_1_LATE = "!AIVDM,1,1,,A,13aIkM@P00PJ@qPNL=e@0?wJ28JO,0*66"  # 244740981


def type5(mmsi: int, name: str, seq_id: int) -> list[str]:
    lines: list[str] = encode_dict(
        {"type": 5, "mmsi": mmsi, "shipname": name}, sentence_type="VDM", seq_id=seq_id
    )
    return lines


def with_checksum(fields: str) -> str:
    return f"!{fields}*{reduce(lambda acc, ch: acc ^ ord(ch), fields, 0):02X}"


def test_faults_are_exact_errors_and_good_lines_survive() -> None:
    feed = AisFeed(max_age_s=10, max_pending=3)
    results: list[Decoded] = []

    def send(text: str | bytes, seconds: float) -> None:
        results.extend(feed.feed(text, T0 + timedelta(seconds=seconds)))

    send(TYPE_1, 0)
    send(TYPE_1.replace("15RTgt", "15RTgu"), 0)  # corrupted in transit
    send(TYPE_18, 0)
    send("\\s:rORBCOMM000,c:1425772800*5A\\" + TYPE_1, 0)  # tag-block checksum is 25
    send("\n".join(type5(366123456, "ALPHA", 1)), 0)  # one MQTT message, two lines
    send(type5(431000001, "LONELY", 2)[1], 0)  # second fragment only
    send(b"\x00\xfe\xff\x10garbage\xc3\x28", 0)
    send(b"\xfe\xff!AIVDM\x00\x01*00", 0)
    send(TYPE_18.encode().replace(b"ikwp", b"ik\xff\xfe"), 0)  # invalid UTF-8 in a sentence
    send("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76", 0)
    send(with_checksum("AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8,0"), 0)  # 120 of 168 bits
    send(type5(440000003, "NEVER DONE", 3)[0], 1)
    send(TYPE_1_LATE, 12)  # 11 s later: the pending first fragment expires
    first, _ = type5(412000004, "RESTARTED", 4)
    again, rest = type5(412000004, "RESTARTED", 4)
    send("\r\n".join([first, again, rest]), 12)
    for seq_id in (5, 6, 7, 8):  # four pending messages against a bound of three
        send(type5(366000000 + seq_id, f"SHIP {seq_id}", seq_id)[0], 13)
    send(TYPE_1, 14)
    results.extend(feed.expire(T0 + timedelta(minutes=5)))

    errors = [r.reason for r in results if isinstance(r, LineError)]
    assert errors == [
        "checksum mismatch: expected 4B, found 4A",
        "tag-block checksum mismatch: expected 25, found 5A",
        "fragment 2 of 2 without fragment 1",
        "not an AIS sentence",
        "unrecognised text before the sentence: '\ufffd\ufffd'",
        "non-ASCII characters in the sentence",
        "not an AIS sentence",
        "truncated payload: type 1 has 120 bits, needs 137",
        "fragment 1 of 2 (seq 3, channel A) expired without the rest",
        "fragment 1 of 2 (seq 4, channel A) superseded by a repeated fragment 1",
        "fragment 1 of 2 (seq 5, channel A) evicted: more than 3 incomplete messages",
        "fragment 1 of 2 (seq 6, channel A) expired without the rest",
        "fragment 1 of 2 (seq 7, channel A) expired without the rest",
        "fragment 1 of 2 (seq 8, channel A) expired without the rest",
    ]
    good = [
        (r.mmsi, getattr(r, "name", None))
        for r in results
        if isinstance(r, PositionReport | StaticReport)
    ]
    assert good == [
        ("371798000", None),
        ("338087471", None),
        ("366123456", "ALPHA"),
        ("244740981", None),
        ("412000004", "RESTARTED"),
        ("371798000", None),
    ]
    assert len(results) == len(errors) + len(good) == 20
    assert len(feed.assembler) == 0


def test_error_values_keep_the_offending_lines() -> None:
    feed = AisFeed()
    bad = TYPE_1.replace("15RTgt", "15RTgu")
    [err] = feed.feed(bad + "\r\n", T0)
    assert err == LineError("checksum mismatch: expected 4B, found 4A", bad)

"""Splitting a feed's byte stream into lines: any chunking gives the same lines."""

from __future__ import annotations

import asyncio
import random

from mdx.feed.tcp import MAX_LINE_BYTES, LineSplitter, TcpCounters, pump

TAGGED = b"\\s:2573345,c:1714557600*0A\\!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
PLAIN = b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24"
NAIS = b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24,s22,d-98,T21.1,x1,r003669945,1714557600"
BAD_UTF8 = b"!AIVDM,1,1,,A,\xff\xfe\x80bad\xc3(,0*00"
LONG = b"!" + b"X" * (MAX_LINE_BYTES + 500)
EXACT = b"!" + b"Y" * (MAX_LINE_BYTES - 1)  # exactly at the bound: kept whole


def _stream() -> tuple[bytes, list[bytes]]:
    """A stream mixing every terminator, blank lines, bad UTF-8 and an overlong line, and the
    lines it must give."""
    parts = [
        (TAGGED, b"\r\n"),
        (PLAIN, b"\n"),
        (b"", b"\r\n"),  # blank
        (NAIS, b"\r"),
        (b"   \t ", b"\n"),  # whitespace only: blank
        (BAD_UTF8, b"\r\n"),
        (LONG, b"\n"),
        (EXACT, b"\r\n"),
        (b"", b"\n\n\r\n"),
    ]
    lines = [b"line %d" % i for i in range(200)]
    stream = b"".join(line + end for line, end in parts)
    stream += b"".join(
        line + random.Random(i).choice([b"\n", b"\r\n", b"\r"]) for i, line in enumerate(lines)
    )
    stream += b"last line without terminator"
    expected = [TAGGED, PLAIN, NAIS, BAD_UTF8, LONG[:MAX_LINE_BYTES], EXACT, *lines]
    return stream, [*expected, b"last line without terminator"]


def _split(stream: bytes, cuts: list[int]) -> tuple[list[bytes], int]:
    splitter = LineSplitter()
    out: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        out += splitter.feed(stream[previous:cut])
        previous = cut
    return out + splitter.flush(), splitter.cut


def test_one_chunk_gives_the_lines() -> None:
    stream, expected = _stream()
    lines, cut = _split(stream, [])
    assert lines == expected
    assert cut == 1


def test_any_chunking_gives_exactly_the_same_lines() -> None:
    stream, expected = _stream()
    rng = random.Random(20261125)
    for round_ in range(500):
        # From many tiny chunks (splitting CR from LF, bytes of a UTF-8 sequence) to a few big.
        n = rng.choice([1, 2, 5, 50, 500, len(stream) // 2])
        cuts = sorted(rng.sample(range(1, len(stream)), min(n, len(stream) - 1)))
        lines, cut = _split(stream, cuts)
        assert lines == expected, f"round {round_}, cuts {cuts[:20]}..."
        assert cut == 1


def test_byte_by_byte() -> None:
    stream, expected = _stream()
    assert _split(stream, list(range(1, len(stream)))) == (expected, 1)


def test_terminators_and_blank_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r\nb\nc\rd") == [b"a", b"b", b"c"]
    assert splitter.feed(b"\r") == [b"d"]
    assert splitter.feed(b"\n\n\r\n \r\n\t\n") == []  # the LF of CRLF split off, blanks
    assert splitter.flush() == []


def test_invalid_utf8_is_kept_byte_exact() -> None:
    splitter = LineSplitter()
    assert splitter.feed(BAD_UTF8[:17]) == []
    assert splitter.feed(BAD_UTF8[17:] + b"\r\n") == [BAD_UTF8]


def test_an_overlong_line_is_cut_counted_and_the_rest_discarded() -> None:
    splitter = LineSplitter(max_line=10)
    # Without a newline the buffer never holds more than the bound plus one read.
    assert splitter.feed(b"0123456789ABC") == [b"0123456789"]
    assert splitter.cut == 1
    assert splitter.feed(b"D" * 100_000) == []
    assert len(splitter._partial) == 0
    assert splitter.feed(b"EF\nnext\n") == [b"next"]
    assert splitter.feed(b"0123456789\n") == [b"0123456789"]  # at the bound: whole
    assert splitter.feed(b"0123456789X\n") == [b"0123456789"]
    assert splitter.cut == 2
    assert splitter.flush() == []


def test_pump_forwards_the_last_line_and_counts_cuts() -> None:
    got: list[bytes] = []
    counters = TcpCounters()

    async def go() -> int:
        reader = asyncio.StreamReader()
        reader.feed_data(PLAIN + b"\r\n" + LONG + b"\r\n" + TAGGED)
        reader.feed_eof()
        return await pump(reader, got.extend, counters, "test", idle_timeout_s=5)

    received = asyncio.run(go())
    assert received == len(PLAIN) + len(LONG) + len(TAGGED) + 4
    assert got == [PLAIN, LONG[:MAX_LINE_BYTES], TAGGED]
    assert counters.cut == 1


def test_pump_gives_up_on_a_silent_sender() -> None:
    got: list[bytes] = []

    async def go() -> int:
        reader = asyncio.StreamReader()
        reader.feed_data(b"partial")
        return await pump(reader, got.extend, TcpCounters(), "test", idle_timeout_s=0.05)

    assert asyncio.run(go()) == 7
    assert got == [b"partial"]

"""One text line from an AIS feed -> a `Sentence`, a `LineError`, or None (blank/comment).

Why not pyais's own sentence parser (`NMEASentenceFactory`): it raises exceptions on bad
input, accepts bad checksums unless asked, rejects lines carrying USCG NAIS trailing fields or
an aggregator's timestamp prefix, and does not turn tag-block `c:` or NAIS receipt times into
datetimes. Ingest reads untrusted text from many feeds, so every line must become a value and
the receive metadata must survive; pyais is used for the 6-bit payload only (see decode.py).

Accepted shapes (all optional parts may be combined):

    [prefix time] [\\tag block\\] !AIVDM,n,k,seq,chan,payload,fill*hh [,NAIS fields...,unix time]

The prefix time is a unix time (`1714557600.123`) or ISO 8601 time. The tag block
(NMEA 4.0) gives `c:` (unix seconds or milliseconds), `s:` (source station) and `g:` (group
`sentence-total-id`); its checksum is verified when present. NAIS trailing fields give the
receiving station (`r...`) and, as the last field, the unix time of receipt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from operator import xor

# A real NMEA line is at most ~82 characters plus metadata; anything far longer is junk and
# is cut so that an error value never holds an unbounded string.
MAX_LINE = 1024

# Unix times at or above this are milliseconds (1e11 s would be the year 5138).
_MS_THRESHOLD = 100_000_000_000

_CHANNELS = frozenset({"A", "B", "1", "2", ""})
# AIS 6-bit armour uses ASCII 48-87 ('0'-'W') and 96-119 ('`'-'w'); 88-95 never occur.
_ARMOUR = frozenset(chr(c) for c in (*range(48, 88), *range(96, 120)))
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")

NOT_AIS = "not an AIS sentence"


@dataclass(frozen=True, slots=True)
class LineError:
    """Why a line (or, from the assembler, a group of lines joined by newlines) was rejected."""

    reason: str
    line: str


@dataclass(frozen=True, slots=True)
class Sentence:
    """One AIVDM/AIVDO sentence and what its line said about its reception."""

    talker: str  # "AIVDM", "AIVDO" (other AIS talker ids, e.g. "BSVDM", are kept as sent)
    fragment_count: int
    fragment_number: int
    seq_id: str  # sequential message id; "" for single-sentence messages
    channel: str  # "A", "B", "1", "2" or ""
    payload: str
    fill_bits: int
    own_vessel: bool  # VDO: our own ship's transponder
    raw: str  # the line as received, surrounding whitespace removed
    station: str | None = None  # receiving station: tag block s:, else NAIS r... field
    time: datetime | None = None  # receive time (UTC): tag c:, else NAIS, else prefix
    group: str | None = None  # tag-block group id: links the lines of one message


def checksum(text: str) -> int:
    """NMEA checksum: XOR of the characters' codes."""
    return reduce(xor, (ord(c) for c in text), 0)


def parse_line(line: str | bytes) -> Sentence | LineError | None:
    """Parse one line; None for blank and `#` comment lines. Never raises."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    if len(text) > MAX_LINE:
        return LineError(f"line too long ({len(text)} characters)", text[:MAX_LINE])
    try:
        return _parse(text)
    except Exception as exc:  # a parser bug must not stop a feed; report it as data
        return LineError(f"unparseable line: {type(exc).__name__}", text)


def _parse(text: str) -> Sentence | LineError:
    start = _first_of(text, "\\!$")
    if start < 0:
        return LineError(NOT_AIS, text)

    prefix_time: datetime | None = None
    prefix = text[:start].strip().rstrip(",;")
    if prefix:
        prefix_time = _parse_prefix_time(prefix)
        if prefix_time is None:
            return LineError(f"unrecognised text before the sentence: {prefix!r}", text)

    rest = text[start:]
    tag = _TagBlock()
    if rest.startswith("\\"):
        end = rest.find("\\", 1)
        if end < 0:
            return LineError("unterminated tag block", text)
        tag_or_error = _parse_tag_block(rest[1:end], text)
        if isinstance(tag_or_error, LineError):
            return tag_or_error
        tag = tag_or_error
        rest = rest[end + 1 :]

    if not rest.startswith("!"):
        return LineError(NOT_AIS, text)
    star = rest.find("*")
    if star < 0:
        return LineError("missing checksum", text)
    body, found, after = rest[1:star], rest[star + 1 : star + 3], rest[star + 3 :]
    if not body.isascii():
        return LineError("non-ASCII characters in the sentence", text)
    if len(found) != 2 or not set(found) <= _HEX:
        return LineError(f"bad checksum field {found!r}", text)
    expected = checksum(body)
    if expected != int(found, 16):
        return LineError(f"checksum mismatch: expected {expected:02X}, found {found.upper()}", text)
    if after and not after.startswith(","):
        return LineError(f"unexpected text after the checksum: {after!r}", text)

    nais = _parse_nais(after[1:].split(",")) if after else _Nais(None, None)
    if isinstance(nais, str):
        return LineError(nais, text)
    return _sentence(body, text, tag, nais, prefix_time)


def _sentence(
    body: str, text: str, tag: _TagBlock, nais: _Nais, prefix_time: datetime | None
) -> Sentence | LineError:
    fields = body.split(",")
    talker = fields[0]
    if len(talker) != 5 or talker[2:] not in ("VDM", "VDO") or not talker[:2].isalpha():
        return LineError(NOT_AIS, text)
    if len(fields) != 7:
        return LineError(f"expected 7 fields in {talker}, found {len(fields)}", text)
    count_s, number_s, seq_id, channel, payload, fill_s = fields[1:]

    if len(count_s) != 1 or count_s not in "123456789":
        return LineError(f"bad fragment count {count_s!r}", text)
    count = int(count_s)
    if len(number_s) != 1 or number_s not in "123456789" or int(number_s) > count:
        return LineError(f"bad fragment number {number_s!r} of {count}", text)
    if not set(seq_id) <= _DIGITS or len(seq_id) > 1:
        return LineError(f"bad sequential message id {seq_id!r}", text)
    if channel not in _CHANNELS:
        return LineError(f"bad channel {channel!r}", text)
    if not payload:
        return LineError("empty payload", text)
    bad = next((c for c in payload if c not in _ARMOUR), None)
    if bad is not None:
        return LineError(f"invalid payload character {bad!r}", text)
    if len(fill_s) != 1 or fill_s not in "012345":
        return LineError(f"bad fill bits {fill_s!r}", text)

    return Sentence(
        talker=talker,
        fragment_count=count,
        fragment_number=int(number_s),
        seq_id=seq_id,
        channel=channel,
        payload=payload,
        fill_bits=int(fill_s),
        own_vessel=talker.endswith("VDO"),
        raw=text,
        station=tag.station or nais.station,
        time=tag.time or nais.time or prefix_time,
        group=tag.group,
    )


@dataclass(frozen=True, slots=True)
class _TagBlock:
    station: str | None = None
    time: datetime | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class _Nais:
    station: str | None
    time: datetime | None


def _parse_tag_block(content: str, text: str) -> _TagBlock | LineError:
    if "*" in content:
        content, found = content.rsplit("*", 1)
        if len(found) != 2 or not set(found) <= _HEX:
            return LineError(f"bad tag-block checksum field {found!r}", text)
        expected = checksum(content)
        if expected != int(found, 16):
            return LineError(
                f"tag-block checksum mismatch: expected {expected:02X}, found {found.upper()}",
                text,
            )
    station: str | None = None
    time: datetime | None = None
    group: str | None = None
    for field in content.split(","):
        key, sep, value = field.partition(":")
        if not sep:
            return LineError(f"bad tag-block field {field!r}", text)
        if key == "c":
            time = _unix_time(value)
            if time is None:
                return LineError(f"bad tag-block time {value!r}", text)
        elif key == "s":
            station = value or None
        elif key == "g":
            parts = value.split("-")
            if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
                return LineError(f"bad tag-block group {value!r}", text)
            group = parts[2]
        # d: destination, n: line count, r: relative time, t: text, i: info: not needed
    return _TagBlock(station=station, time=time, group=group)


def _parse_nais(fields: list[str]) -> _Nais | str:
    """USCG NAIS trailer: `s..,d..,T..,x..,r<station>,<unix time>`; unknown fields ignored.

    The station keeps its leading "r": USCG names receivers "r003669945" in tag blocks
    (`s:r003669945`) too, so one receiver has one name in both formats.
    """
    station = next((f for f in fields if f.startswith("r") and len(f) > 1), None)
    last = fields[-1]
    time: datetime | None = None
    if last and set(last) <= _DIGITS | {"."}:
        time = _unix_time(last)
        if time is None:
            return f"bad receive time {last!r}"
    return _Nais(station=station, time=time)


def _parse_prefix_time(prefix: str) -> datetime | None:
    unix = _unix_time(prefix)
    if unix is not None:
        return unix
    try:
        parsed = datetime.fromisoformat(prefix)
    except ValueError:
        return None
    # A prefix without an offset is taken as UTC, as AIS receivers log in UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _unix_time(value: str) -> datetime | None:
    """Unix seconds or milliseconds (integer or decimal) -> aware UTC datetime, else None."""
    if not value or not value.isascii() or not set(value) <= _DIGITS | {"."}:
        return None
    try:
        seconds = float(value)
        if not math.isfinite(seconds):
            return None
        if seconds >= _MS_THRESHOLD:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _first_of(text: str, chars: str) -> int:
    found = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(found) if found else -1

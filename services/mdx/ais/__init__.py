"""AIS decoding for ingest: pure functions and small stateful helpers, no I/O.

nmea (line -> Sentence) -> assembler (Sentences -> Complete) -> decode (Complete -> report);
feed wires the three for one feed; facts holds reference data (flags, IMO, ship categories).
"""

from mdx.ais.assembler import Assembler, Complete
from mdx.ais.decode import (
    Decoded,
    PositionReport,
    SafetyBroadcast,
    Skipped,
    StaticReport,
    decode,
    distress_kind,
)
from mdx.ais.facts import flag_of, imo_valid, ship_category
from mdx.ais.feed import AisFeed
from mdx.ais.nmea import LineError, Sentence, parse_line

__all__ = [
    "AisFeed",
    "Assembler",
    "Complete",
    "Decoded",
    "LineError",
    "PositionReport",
    "SafetyBroadcast",
    "Sentence",
    "Skipped",
    "StaticReport",
    "decode",
    "distress_kind",
    "flag_of",
    "imo_valid",
    "parse_line",
    "ship_category",
]

"""Reassembly of multi-sentence AIS messages from an interleaved stream of sentences.

Why not pyais (`decode(*parts)`, `pyais.queue`): they expect the caller to hand over the
parts of one message, or key fragments by sequence id alone, and raise on missing parts.
A feed that multiplexes several receivers and vessels needs fragments kept apart by
receiver, talker, channel and sequence id; stale and orphaned fragments reported as values;
and memory bounded whatever the feed sends.

Use one `Assembler` per feed (TCP connection, MQTT producer). Times given to `push` and
`expire` are arrival times by the caller's clock and should not go backwards: they decide
expiry. The time a `Complete` carries is the one its lines stated (tag block `c:`, NAIS or
prefix time), else the arrival time of its first fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mdx.ais.nmea import LineError, Sentence

# Fragments of one message: by tag-block group when the lines carry one (only the first line
# of a group need name the station), else by receiving station; then talker, channel, id, count.
_Key = tuple[str, str, str, str, str, int]


@dataclass(frozen=True, slots=True)
class Complete:
    """All fragments of one AIS message, in fragment order."""

    sentences: tuple[Sentence, ...]
    payload: str  # the fragments' payloads, concatenated (6-bit armoured)
    fill_bits: int  # of the last fragment: padding bits at the end of the payload
    received_at: datetime

    @property
    def raw(self) -> tuple[str, ...]:
        return tuple(s.raw for s in self.sentences)

    @property
    def bit_length(self) -> int:
        return len(self.payload) * 6 - self.fill_bits

    @property
    def station(self) -> str | None:
        return next((s.station for s in self.sentences if s.station), None)


@dataclass(slots=True)
class _Pending:
    first_arrival: datetime
    fragments: dict[int, Sentence] = field(default_factory=dict)

    def describe(self) -> str:
        """E.g. "fragment 1 of 2 (seq 3, channel A)"."""
        first = next(iter(self.fragments.values()))
        held = sorted(self.fragments)
        numbers = ", ".join(str(n) for n in held)
        noun = "fragment" if len(held) == 1 else "fragments"
        where = f"seq {first.seq_id or 'none'}, channel {first.channel or 'none'}"
        if first.station:
            where = f"station {first.station}, {where}"
        return f"{noun} {numbers} of {first.fragment_count} ({where})"

    def lines(self) -> str:
        return "\n".join(self.fragments[n].raw for n in sorted(self.fragments))


class Assembler:
    """Collects fragments until each message is whole; reports what can never complete."""

    def __init__(self, max_age_s: float = 10.0, max_pending: int = 10_000) -> None:
        self.max_age = timedelta(seconds=max_age_s)
        self.max_pending = max(1, max_pending)
        # Insertion order is arrival order of each message's first fragment: the oldest
        # entries are at the front, which makes expiry and eviction cheap.
        self._pending: dict[_Key, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, sentence: Sentence, received_at: datetime) -> list[Complete | LineError]:
        """Add one sentence; return completed messages and any errors it revealed.

        Fragments that outlived `max_age_s` by `received_at` are expired first.
        """
        out: list[Complete | LineError] = list(self.expire(received_at))
        if sentence.fragment_count == 1:
            out.append(_complete((sentence,), received_at))
            return out

        key = _key(sentence)
        pending = self._pending.get(key)
        number = sentence.fragment_number
        if pending is not None and number in pending.fragments:
            # A repeated fragment number means the sender started over (or a sequence id
            # wrapped): what was held can no longer be trusted to belong together.
            del self._pending[key]
            out.append(
                LineError(
                    f"{pending.describe()} superseded by a repeated fragment {number}",
                    pending.lines(),
                )
            )
            pending = None

        if pending is None:
            if number != 1:
                out.append(
                    LineError(
                        f"fragment {number} of {sentence.fragment_count} without fragment 1",
                        sentence.raw,
                    )
                )
                return out
            if len(self._pending) >= self.max_pending:
                oldest_key = next(iter(self._pending))
                oldest = self._pending.pop(oldest_key)
                out.append(
                    LineError(
                        f"{oldest.describe()} evicted: more than {self.max_pending} "
                        "incomplete messages",
                        oldest.lines(),
                    )
                )
            self._pending[key] = _Pending(received_at, {1: sentence})
            return out

        pending.fragments[number] = sentence
        if len(pending.fragments) == sentence.fragment_count:
            del self._pending[key]
            ordered = tuple(pending.fragments[n] for n in sorted(pending.fragments))
            out.append(_complete(ordered, pending.first_arrival))
        return out

    def expire(self, now: datetime) -> list[LineError]:
        """Drop and report messages whose first fragment arrived more than max_age before now."""
        out: list[LineError] = []
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.first_arrival <= self.max_age:
                break
            del self._pending[key]
            out.append(LineError(f"{pending.describe()} expired without the rest", pending.lines()))
        return out


def _key(s: Sentence) -> _Key:
    origin = ("group", s.group) if s.group else ("station", s.station or "")
    return (*origin, s.talker, s.channel, s.seq_id, s.fragment_count)


def _complete(sentences: tuple[Sentence, ...], first_arrival: datetime) -> Complete:
    stated = next((s.time for s in sentences if s.time is not None), None)
    return Complete(
        sentences=sentences,
        payload="".join(s.payload for s in sentences),
        fill_bits=sentences[-1].fill_bits,
        received_at=stated or first_arrival,
    )

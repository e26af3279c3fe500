"""Inbound streams: partners' share messages in, verified, judged and stored with provenance.

A message is opened (transport signature, recipient, expiry, origin signature, custody chain:
mdx.core.signing), its item judged by the same rules as our own producers' items
(mdx.core.intake.accept_foreign) and stored; anything refused is dead-lettered with the reason
and audited. Each sender's stream is receipted cumulatively, like a producer's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from mdx.core import audit, signing, topics
from mdx.core.intake import Accepted, IntakePolicy, Rejected, accept_foreign
from mdx.core.keys import NodeKeys
from mdx.core.store import Bounced, DeadLetterRow

# in-streams: acked_seq = what we hold contiguously; last_seq = the highest the sender has
# shown us (its head, from the feed, or any seq received): their difference is the lag.
_SEEN = """
INSERT INTO share_streams (peer, direction, last_seq, acked_seq, last_seen_at)
VALUES (%(peer)s, 'in', %(seq)s, %(seq)s, now())
ON CONFLICT (peer, direction) DO UPDATE SET
  last_seq = greatest(share_streams.last_seq, %(seq)s),
  acked_seq = greatest(share_streams.acked_seq, %(seq)s), last_seen_at = now()
"""
_HEAD = """
INSERT INTO share_streams (peer, direction, last_seq, acked_seq)
VALUES (%(peer)s, 'in', %(head)s, 0)
ON CONFLICT (peer, direction) DO UPDATE SET last_seq = greatest(share_streams.last_seq, %(head)s)
"""
_LINK = """
INSERT INTO share_streams (peer, direction, connected, connected_changed_at)
VALUES (%(peer)s, 'out', %(up)s, now())
ON CONFLICT (peer, direction) DO UPDATE SET connected = %(up)s, connected_changed_at = now()
"""


@dataclass
class Judged:
    """A batch of inbound share messages: the items to store, each with its place in its
    stream (stored in stream order), and the refusals, dead-lettered at once. A refused item
    whose message verifiably holds a place (`placed`) still counts in its stream, so the
    stream goes on past it; a message refused as such holds no place."""

    opened: list[tuple[str, int, Accepted]] = field(default_factory=list)
    placed: list[tuple[str, int]] = field(default_factory=list)
    refused: list[Bounced] = field(default_factory=list)
    duplicates: int = 0


def sender_of(topic: str) -> str:
    """The sender named by a share topic mdx/v1/share/{sender}/{recipient}."""
    parts = topic.split("/")
    return parts[3] if len(parts) == 5 and parts[2] == "share" else "unknown"


def judge(
    messages: list[tuple[str, bytes]],
    keys: NodeKeys,
    policy: IntakePolicy,
    held: dict[str, int] | None = None,
) -> Judged:
    """`held`: per sender, the seq up to which we hold its stream; a message at or below it is
    a duplicate (bridge queue, republish and backfill overlap) and is dropped unopened."""
    out = Judged()
    now = datetime.now(UTC)
    for topic, payload in messages:
        claimed = sender_of(topic)
        if held and _seq_of(payload) <= held.get(claimed, 0):
            out.duplicates += 1
            continue
        try:
            opened = signing.open_message(
                payload, me=keys.node_id, trusted=keys.trusted, now=now, schemas=policy.schemas
            )
        except signing.ShareRejected as e:
            out.refused.append(
                Bounced(Rejected(claimed, f"share refused: {e.reason}"), topic, payload)
            )
            if e.place is not None and e.place[0] == claimed:
                out.placed.append(e.place)
            continue
        if opened.sender != claimed:
            reason = f"share refused: sent by {opened.sender!r} on {claimed!r}'s stream"
            out.refused.append(Bounced(Rejected(claimed, reason), topic, payload))
            continue
        verdict = accept_foreign(
            opened.envelope, opened.origin, opened.sender, list(opened.custody), policy
        )
        if isinstance(verdict, Rejected):
            out.refused.append(Bounced(verdict, topic, payload))
            out.placed.append((opened.sender, opened.seq))
        else:
            verdict.topic, verdict.payload = topic, payload
            out.opened.append((opened.sender, opened.seq, verdict))
    return out


@dataclass
class Reorder:
    """Puts each sender's stream back in order: an item is released for storing only once
    everything before it in its stream has been. Items held past a gap are acknowledged to
    the broker but not receipted, so until the gap fills (from the bridge, a republish or the
    feed) their sender keeps them; a crash loses nothing."""

    # None: a place whose item was refused (already dead-lettered); it only fills the gap.
    held: dict[str, dict[int, Accepted | None]] = field(default_factory=dict)
    limit: int = 50_000

    def add(self, sender: str, seq: int, item: Accepted | None, after: int) -> None:
        if seq > after:
            stream = self.held.setdefault(sender, {})
            if len(stream) < self.limit or seq in stream:  # past the limit: sender resends
                stream[seq] = item

    def release(self, watermarks: dict[str, int]) -> list[tuple[str, int, Accepted | None]]:
        """Items that continue each stream from `watermarks` without a gap, in order."""
        ready = []
        for sender, stream in self.held.items():
            mark = watermarks.get(sender, 0)
            for seq in [s for s in stream if s <= mark]:
                del stream[seq]  # came again after it was stored
            while mark + 1 in stream:
                mark += 1
                ready.append((sender, mark, stream.pop(mark)))
        return ready

    def gapped(self) -> set[str]:
        return {sender for sender, stream in self.held.items() if stream}


def _seq_of(payload: bytes) -> int:
    """The stream seq a message claims, or 0 if it has none (it is then opened and judged)."""
    try:
        seq = orjson.loads(payload).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def audit_refusals(conn: psycopg.Connection[Any], dead: list[DeadLetterRow]) -> None:
    """Every refusal at the border leaves a trace (the dead letter keeps the bytes); a message
    refused again, byte for byte, is one dead letter and one trace."""
    for d in dead:
        detail = {"topic": d.topic, "reason": d.reason, "dead_letter": d.id}
        audit.record(conn, audit.SHARE_REFUSED, actor="share", peer=d.producer, detail=detail)


def audit_received(
    conn: psycopg.Connection[Any], stored: list[tuple[str, int, Accepted | None]]
) -> None:
    """One share.received per sender for the items of its stream this batch accepted and
    handed to the store (an incident the store then bounces, a foreign change or a version
    conflict, also gets its share.refused)."""
    by_sender: dict[str, list[tuple[int, str]]] = {}
    for sender, seq, item in stored:
        if item is not None:  # a refused place is audited as its refusal
            by_sender.setdefault(sender, []).append((seq, item.kind))
    for sender, items in sorted(by_sender.items()):
        seqs = [seq for seq, _ in items]
        detail = {
            "first_seq": min(seqs),
            "last_seq": max(seqs),
            "count": len(items),
            "kinds": dict(sorted(Counter(kind for _, kind in items).items())),
        }
        audit.record(conn, audit.SHARE_RECEIVED, actor="share", peer=sender, detail=detail)


def record_seen(conn: psycopg.Connection[Any], watermarks: dict[str, int]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        for peer, seq in watermarks.items():
            cur.execute(_SEEN, {"peer": peer, "seq": seq})


def record_head(conn: psycopg.Connection[Any], peer: str, head: int) -> None:
    with conn.transaction():
        conn.execute(_HEAD, {"peer": peer, "head": head})


def record_link(conn: psycopg.Connection[Any], peer: str, up: bool) -> None:
    with conn.transaction():
        conn.execute(_LINK, {"peer": peer, "up": up})


def receipt_body(sender: str, seq: int) -> bytes:
    return orjson.dumps(
        {
            "producer": sender,
            "seq": seq,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )


def receipt_topic(sender: str, me: str) -> str:
    return topics.share_receipt(sender, me)

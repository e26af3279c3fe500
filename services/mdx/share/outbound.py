"""Outbound streams: number the outbox per recipient, seal and publish what is due, and mark
rows delivered when the recipient's cumulative receipt covers them.

A row is due when it was never published, or when its last publication is older than a
back-off that doubles with each attempt, and never again while the bridge reports the link
down: the bridge's queue holds what was published, and the partner backfills from the feed
what any queue lost (a partner that is down for an hour is not flooded on its return).
Only a window of seqs beyond the recipient's last receipt is in flight at once, so the local
broker's queue for a dead link stays bounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from mdx.core import audit, sharing
from mdx.core.keys import NodeKeys

WINDOW = 20_000
MAX_BACKOFF_S = 300

_UNNUMBERED = "SELECT id, recipient FROM outbox WHERE seq IS NULL ORDER BY id LIMIT %s FOR UPDATE"
_ADVANCE_STREAM = """
INSERT INTO share_streams (peer, direction, last_seq, acked_seq) VALUES (%(peer)s, 'out', %(n)s, 0)
ON CONFLICT (peer, direction) DO UPDATE SET last_seq = share_streams.last_seq + %(n)s
RETURNING last_seq
"""
_SET_SEQS = """
UPDATE outbox o SET seq = v.seq FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, seq)
WHERE o.id = v.id
"""
_DUE = """
SELECT o.id, o.recipient, o.seq, o.envelope, o.custody
FROM outbox o JOIN share_streams s ON s.peer = o.recipient AND s.direction = 'out'
WHERE o.delivered_at IS NULL AND o.seq IS NOT NULL AND o.seq <= s.acked_seq + %(window)s
  AND (o.published_at IS NULL OR s.connected IS DISTINCT FROM false)
  AND (o.published_at IS NULL
       OR o.published_at < now() - least(%(after)s * power(2, o.attempts - 1), %(max)s)
                                   * interval '1 second')
ORDER BY o.recipient, o.seq
LIMIT %(limit)s
"""
_PUBLISHED = """
UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY(%s)
RETURNING recipient, seq, attempts
"""
_DELIVERED = """
UPDATE outbox SET delivered_at = now()
WHERE recipient = %(peer)s AND seq <= %(seq)s AND delivered_at IS NULL
"""
_ACKED = """
UPDATE share_streams SET acked_seq = greatest(acked_seq, %(seq)s), last_seen_at = now()
WHERE peer = %(peer)s AND direction = 'out'
"""


@dataclass(frozen=True, slots=True)
class Sealed:
    outbox_id: int
    recipient: str
    seq: int
    payload: bytes


def number(conn: psycopg.Connection[Any], limit: int = 10_000) -> int:
    """Give unnumbered outbox rows the next seqs of their stream, in id order."""
    with conn.transaction():
        rows = conn.execute(_UNNUMBERED, (limit,)).fetchall()
        by_recipient: dict[str, list[int]] = defaultdict(list)
        for row_id, recipient in rows:
            by_recipient[recipient].append(row_id)
        ids: list[int] = []
        seqs: list[int] = []
        for recipient, row_ids in by_recipient.items():
            last = conn.execute(_ADVANCE_STREAM, {"peer": recipient, "n": len(row_ids)}).fetchone()
            assert last is not None
            first = last[0] - len(row_ids) + 1
            ids += row_ids
            seqs += range(first, first + len(row_ids))
        if ids:
            conn.execute(_SET_SEQS, (ids, seqs))
    return len(rows)


def due(
    conn: psycopg.Connection[Any],
    keys: NodeKeys,
    *,
    republish_after_s: float,
    validity_s: int,
    limit: int,
) -> list[Sealed]:
    """Seal the rows due for publication (signing our own items as their origin)."""
    with conn.transaction():
        rows = conn.execute(
            _DUE,
            {"window": WINDOW, "after": republish_after_s, "max": MAX_BACKOFF_S, "limit": limit},
        ).fetchall()
    now = datetime.now(UTC)
    return [
        Sealed(
            row_id,
            recipient,
            seq,
            sharing.seal_row(keys, recipient, seq, envelope, custody, now, validity_s),
        )
        for row_id, recipient, seq, envelope, custody in rows
    ]


def mark_published(conn: psycopg.Connection[Any], ids: list[int]) -> None:
    """Note the rows as published, and audit one share.sent per recipient for the batch."""
    with conn.transaction():
        rows = conn.execute(_PUBLISHED, (ids,)).fetchall()
        by_recipient: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for recipient, seq, attempts in rows:
            by_recipient[recipient].append((seq, attempts))
        for recipient, sent in sorted(by_recipient.items()):
            seqs = [seq for seq, _ in sent]
            detail = {
                "first_seq": min(seqs),
                "last_seq": max(seqs),
                "count": len(sent),
                "republished": sum(1 for _, attempts in sent if attempts > 1),
            }
            audit.record(conn, audit.SHARE_SENT, actor="share", peer=recipient, detail=detail)


def mark_delivered(conn: psycopg.Connection[Any], peer: str, seq: int) -> int:
    """Apply a recipient's cumulative receipt (audited); returns how many rows it newly covers."""
    with conn.transaction():
        covered = conn.execute(_DELIVERED, {"peer": peer, "seq": seq}).rowcount
        conn.execute(_ACKED, {"peer": peer, "seq": seq})
        detail = {"seq": seq, "covered": covered}
        audit.record(conn, audit.RECEIPT_RECEIVED, actor="share", peer=peer, detail=detail)
    return covered

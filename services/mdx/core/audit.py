"""The audit trail: append-only, hash-chained rows in `audit_log`; write, read and verify.

The chain is made by the database (migration 0007): a BEFORE INSERT trigger takes an advisory
lock, numbers the row (`seq` = last + 1), links it (`prev_hash` = last `hash`, 32 zero bytes for
the first) and sets `hash` = sha256(prev_hash || utf8(canonical text)). Any plain INSERT, from
any process, is chained. Another trigger refuses UPDATE and DELETE.

`verify` recomputes every hash here, independently of the database's function, so an edited
row, a deleted row or a broken link is found. What it cannot see alone: the newest rows
deleted, or the whole chain rewritten from some row on (the chain has no secret). Record the
head (`mdx audit verify` prints it) somewhere else and pass it back as `expected`: a head
that is gone or has another hash is then reported.

Writers pass a psycopg connection or a SQLAlchemy Connection (for a Session:
`session.connection()`); the row joins the caller's transaction, so it commits or rolls back
with the change it records. The advisory lock is held until that transaction ends: record
near the end of the transaction, not before slow work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import sqlalchemy
from psycopg.rows import tuple_row

# -- the event vocabulary -------------------------------------------------------------------

SHARE_SENT = "share.sent"  # a batch/stream range published to a partner
SHARE_RECEIVED = "share.received"  # a partner's batch stored
SHARE_REFUSED = "share.refused"  # a partner's message refused (bad signature, policy, ...)
RECEIPT_RECEIVED = "receipt.received"  # a partner acknowledged our stream up to a seq
POLICY_WITHHELD = "policy.withheld"  # the sharing policy kept items from a partner
READ_RESTRICTED = "read.restricted"  # restricted data read through the API
READ_WITHHELD = "read.withheld"  # a caller asked for an item withheld from it
AUTH_LOGIN = "auth.login"  # an operator or partner authenticated
AUTH_REFUSED = "auth.refused"  # an authentication attempt failed
CERT_ISSUED = "cert.issued"  # a client certificate issued by the node's CA
CERT_REVOKED = "cert.revoked"  # a client certificate revoked
AUDIT_READ = "audit.read"  # the audit trail itself read by an admin

EVENTS = frozenset(
    {
        SHARE_SENT,
        SHARE_RECEIVED,
        SHARE_REFUSED,
        RECEIPT_RECEIVED,
        POLICY_WITHHELD,
        READ_RESTRICTED,
        READ_WITHHELD,
        AUTH_LOGIN,
        AUTH_REFUSED,
        CERT_ISSUED,
        CERT_REVOKED,
        AUDIT_READ,
    }
)

NUL_SHOWN = "\u2400"
GENESIS = bytes(32)  # prev_hash of the first row

Conn = psycopg.Connection[Any] | sqlalchemy.Connection

_INSERT = "INSERT INTO audit_log (event, actor, peer, detail) VALUES (%s, %s, %s, %s::jsonb)"
_COLUMNS = "seq, at, event, peer, actor, detail, prev_hash, hash"
_PAGE = 5000
# The trigger refuses other times; one edited to infinity or 10000 AD is reported, not a crash.
_READABLE_AT = "CASE WHEN at >= '0001-01-02 00:00+00' AND at < '9999-12-31 00:00+00' THEN at END"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    event: str
    peer: str | None
    actor: str
    detail: Any
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class Head:
    """The newest row's place in the chain: what an operator records to check against later."""

    seq: int
    hash: bytes

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """The inverse of str(): "SEQ:HEX"."""
        seq, _, digest = text.partition(":")
        return cls(int(seq), bytes.fromhex(digest))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int  # rows checked
    head: Head | None  # the last row checked (None for an empty log)
    bad_seq: int | None = None  # the first row found wrong
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            head = f"head {self.head}" if self.head else "empty"
            return f"audit chain intact: {self.rows} rows, {head}"
        return f"audit chain broken at seq {self.bad_seq}: {self.reason}"


# -- writing --------------------------------------------------------------------------------


def record(conn: Conn, event: str, *, actor: str, peer: str | None = None, detail: Any) -> None:
    """Append one row in the caller's transaction; the database chains it."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    # What a hostile caller sent is kept, but NUL (which PostgreSQL cannot store) is shown as
    # U+2400 SYMBOL FOR NULL, in text and in the JSON text alike.
    params = (event, _storable(actor), _storable(peer), orjson.dumps(_storable(detail)).decode())
    if isinstance(conn, sqlalchemy.Connection):
        conn.exec_driver_sql(_INSERT, params)
    else:
        conn.execute(_INSERT, params)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", NUL_SHOWN)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


# -- reading --------------------------------------------------------------------------------


def _rows(conn: Conn, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    if isinstance(conn, sqlalchemy.Connection):
        return [tuple(row) for row in conn.exec_driver_sql(sql, params).all()]
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(sql, params).fetchall()


def read(
    conn: Conn, *, after: int = 0, limit: int = 100, event: str | None = None
) -> list[AuditEntry]:
    """Entries with seq > `after`, oldest first, at most `limit`, optionally of one event."""
    sql = f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s"
    params: tuple[Any, ...] = (after,)
    if event is not None:
        sql += " AND event = %s"
        params += (event,)
    rows = _rows(conn, sql + " ORDER BY seq LIMIT %s", (*params, limit))
    return [AuditEntry(*row) for row in rows]


def latest(conn: Conn, count: int, *, event: str | None = None) -> list[AuditEntry]:
    """The newest `count` entries (optionally of one event), oldest first."""
    where, params = ("WHERE event = %s", (event,)) if event is not None else ("", ())
    sql = f"SELECT {_COLUMNS} FROM audit_log {where} ORDER BY seq DESC LIMIT %s"
    return [AuditEntry(*row) for row in reversed(_rows(conn, sql, (*params, count)))]


def head(conn: Conn) -> Head | None:
    rows = _rows(conn, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", ())
    return Head(rows[0][0], rows[0][1]) if rows else None


# -- verifying ------------------------------------------------------------------------------


def _field(value: str | None) -> str:
    # Length-prefixed, so a newline inside a value cannot move a field boundary.
    return "~" if value is None else f"{len(value.encode())}:{value}"


def _utc_iso(at: datetime) -> str:
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u:%m-%dT%H:%M:%S}.{u.microsecond:06d}Z"


def canonical_text(
    seq: int, at: datetime, event: str, peer: str | None, actor: str, detail_text: str
) -> str:
    """The text a row's hash covers; `detail_text` is PostgreSQL's `detail::text`.

    Must match the database's audit_log_hash() (migration 0007) byte for byte.
    """
    return "\n".join(
        (str(seq), _utc_iso(at), _field(event), _field(peer), _field(actor), detail_text)
    )


def row_hash(prev_hash: bytes, canonical: str) -> bytes:
    return hashlib.sha256(prev_hash + canonical.encode()).digest()


def verify(conn: Conn, *, expected: Head | None = None) -> Verdict:
    """Walk the whole chain in seq order, recomputing each hash; the first fault wins.

    With `expected` (a head recorded earlier), also report that head missing (the newest rows
    deleted) or with another hash (the chain rewritten from some row on).
    """
    last_seq, last_hash, rows, seen_expected = 0, GENESIS, 0, False

    def broken(seq: int, reason: str) -> Verdict:
        return Verdict(False, rows, Head(last_seq, last_hash) if rows else None, seq, reason)

    while True:
        page = _rows(
            conn,
            f"SELECT seq, {_READABLE_AT}, event, peer, actor, detail::text, prev_hash, hash"
            " FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s",
            (last_seq, _PAGE),
        )
        for seq, at, event, peer, actor, detail_text, prev_hash, digest in page:
            if seq != last_seq + 1:
                return broken(seq, f"seq gap {last_seq} -> {seq} (row deleted)")
            if bytes(prev_hash) != last_hash:
                return broken(seq, "prev_hash does not link")
            if at is None:
                return broken(seq, "timestamp out of range (row edited)")
            canonical = canonical_text(seq, at, event, peer, actor, detail_text)
            if row_hash(bytes(prev_hash), canonical) != bytes(digest):
                return broken(seq, "hash mismatch (row edited)")
            if expected is not None and seq == expected.seq:
                if bytes(digest) != expected.hash:
                    return broken(seq, "hash differs from the recorded head (chain rewritten)")
                seen_expected = True
            last_seq, last_hash, rows = seq, bytes(digest), rows + 1
        if len(page) < _PAGE:
            break
    if expected is not None and not seen_expected:
        reason = f"recorded head seq {expected.seq} is gone (newest rows deleted)"
        return broken(expected.seq, reason)
    return Verdict(True, rows, Head(last_seq, last_hash) if rows else None)

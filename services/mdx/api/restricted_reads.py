"""The audit trail of reads: one `read.restricted` row per request that returned restricted
items (TLP AMBER, AMBER+STRICT or RED), with their ids; and the audit actor of a caller.

The row is written and committed on the request's own connection (deps.Db), the one its reads
and the caller's account check used: a second connection per read cost the API a checkout, a
liveness ping and a transaction of its own, a fifth of an OGC API page (measured)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request
from sqlalchemy import Connection

from mdx.api.visibility import Caller
from mdx.core import audit

RESTRICTED_TLPS = frozenset({"AMBER", "AMBER+STRICT", "RED"})
_MAX_ACTOR = 128  # audit_log.actor


def actor(who: Caller) -> str:
    """`user:<account>` for this node's people, `node:<id>` for a partner node."""
    label = f"node:{who.node}" if who.node is not None else f"user:{who.subject}"
    return label[:_MAX_ACTOR]


def record(
    conn: Connection, request: Request, who: Caller, kind: str, items: Iterable[tuple[str, str]]
) -> None:
    """Record the restricted ones of `items` ((id, tlp) pairs of one `kind`) if there are any,
    and commit (what `conn` read before is committed with it: reads only, by then)."""
    ids = sorted({item_id for item_id, tlp in items if tlp in RESTRICTED_TLPS})
    if not ids:
        return
    detail: dict[str, object] = {
        "method": request.method,
        "path": request.url.path,
        "kind": kind,
        "ids": ids,
    }
    if who.token_id is not None:
        detail["token"] = who.token_id
    audit.record(conn, audit.READ_RESTRICTED, actor=actor(who), peer=who.node, detail=detail)
    conn.commit()

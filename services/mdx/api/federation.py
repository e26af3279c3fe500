"""The partners' side of the API: a node's stream to a partner, for backfill after a gap or an
outage, and the health of every partner link.

`GET /federation/v1/feed` serves exactly the outbox rows the policy wrote for the calling
partner (authenticated by its node signature, mdx.core.fedauth), sealed afresh: the same share
messages the bridge carries, so the partner checks them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import text

from mdx.api import params, problems
from mdx.api.deps import Db, Res, Who
from mdx.core import sharing

router = APIRouter(tags=["federation"])

_FEED = text(
    "SELECT seq, envelope, custody FROM outbox WHERE recipient = :peer AND seq > :since "
    "ORDER BY seq LIMIT :limit"
)
_STREAMS = text(
    "SELECT peer, direction, last_seq, acked_seq, last_seen_at, connected, connected_changed_at "
    "FROM share_streams"
)
_OLDEST_UNRECEIPTED = text(
    "SELECT recipient, min(created_at) FROM outbox WHERE delivered_at IS NULL GROUP BY recipient"
)


@router.get(
    "/federation/v1/feed",
    summary="This node's stream to the calling partner, from a sequence number on",
    responses=problems.responses(401, 403, 503),
)
def feed(
    db: Db,
    res: Res,
    who: Who,
    since: Annotated[
        int, Query(ge=0, le=params.MAX_BIGINT, description="last seq the caller has")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> Response:
    if who.local or who.node is None:
        raise problems.Forbidden("the feed is for partner nodes: sign the request as one")
    node_keys = res.node_keys
    if node_keys is None:
        raise problems.Unavailable("this node has no signing key: no feed")
    rows = db.execute(_FEED, {"peer": who.node, "since": since, "limit": limit}).all()
    head = db.execute(
        text("SELECT last_seq FROM share_streams WHERE peer = :p AND direction = 'out'"),
        {"p": who.node},
    ).scalar()
    now = datetime.now(UTC)
    validity = res.settings.sharing.message_validity_s
    messages = [
        orjson.Fragment(sharing.seal_row(node_keys, who.node, seq, env, custody, now, validity))
        for seq, env, custody in rows
    ]
    body = {
        "sender": res.settings.node.id,
        "recipient": who.node,
        "head": head or 0,
        "messages": messages,
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/api/v1/partners", summary="Health of every partner link")
def partners(db: Db, res: Res, who: Who) -> dict[str, Any]:
    if not who.local:
        raise problems.Forbidden("link health is for this node's operators")
    streams = {(r.peer, r.direction): r for r in db.execute(_STREAMS)}
    oldest: dict[str, datetime] = {r[0]: r[1] for r in db.execute(_OLDEST_UNRECEIPTED)}
    out = []
    for p in res.settings.partners:
        o, i = streams.get((p.id, "out")), streams.get((p.id, "in"))
        out.append(
            {
                "id": p.id,
                "name": p.name,
                "link": {
                    "connected": o.connected if o else None,
                    "since": o.connected_changed_at if o else None,
                },
                "outbound": {
                    "last_seq": o.last_seq if o else 0,
                    "receipted_seq": o.acked_seq if o else 0,
                    "backlog": (o.last_seq - o.acked_seq) if o else 0,
                    "oldest_unreceipted_at": oldest.get(p.id),
                },
                "inbound": {
                    "head_seq": i.last_seq if i else 0,
                    "received_seq": i.acked_seq if i else 0,
                    "lag": (i.last_seq - i.acked_seq) if i else 0,
                    "last_seen_at": i.last_seen_at if i else None,
                },
            }
        )
    return {"node": res.settings.node.id, "partners": out}

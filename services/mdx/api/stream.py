"""/api/v1/stream: the live picture (new incident versions and vessel positions) as Server-Sent
Events.

Each event is `event: incident` (data: the incident's Feature as GET /api/v1/incidents/{id}
returns it) or `event: position` (data: the vessel's position Feature, id = MMSI), with
`id: i<incident_versions.id>p<positions.id>`: the cursor of everything delivered up to and
including that event. A client resumes with `Last-Event-ID` (or `?last_event_id=`) and gets all
that came after, once. Reads go through `visible`, so a partner streams only what it may see.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, and_, func, select

from mdx.api import accounts, incident_query, params, restricted_reads, vessels
from mdx.api.deps import Res, Who
from mdx.api.visibility import Caller, visible
from mdx.api.vocabulary import CATEGORIES
from mdx.core.db import Incident, IncidentVersion, Position

router = APIRouter(prefix="/api/v1/stream", tags=["stream"])

MEDIA_TYPE = "text/event-stream"
POLL_S = 0.25
KEEPALIVE_S = 15.0
ACCOUNT_CHECK_S = 5.0  # how soon a disabled account's open streams end
BATCH = 500
KINDS = frozenset({"incident", "position"})
# The last incident version and position delivered (ids that fit a bigint), letters and digits
# only: a header value no client or proxy mangles.
CURSOR = r"^i([0-9]{1,18})p([0-9]{1,18})$"
_CURSOR = re.compile(CURSOR)


@dataclass(frozen=True, slots=True)
class Cursor:
    iv: int  # last incident_versions.id delivered
    p: int  # last positions.id delivered

    def encode(self) -> str:
        return f"i{self.iv}p{self.p}"


def parse_cursor(name: str, value: str) -> Cursor:
    m = _CURSOR.match(value.strip())
    if m is None:
        raise params.bad(name, value, "not a stream cursor such as i12p340")
    return Cursor(int(m[1]), int(m[2]))


@dataclass(frozen=True, slots=True)
class Options:
    kinds: frozenset[str]
    categories: list[str] | None
    origins: list[str] | None


@router.get(
    "",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="New incident versions and vessel positions as Server-Sent Events",
)
async def stream(
    request: Request,
    res: Res,
    who: Who,
    category: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(CATEGORIES)),
            description="incident categories, comma-separated",
        ),
    ] = None,
    origin: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.NODE_ID),
            description="incident origin nodes, comma-separated",
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(KINDS)),
            description="incident,position (default both)",
        ),
    ] = None,
    since_start: Annotated[bool, Query(description="without a cursor: from the beginning")] = False,
    last_event_id: Annotated[
        str | None, Query(pattern=CURSOR, description="resume after this event id")
    ] = None,
    last_event_id_header: Annotated[
        str, Header(alias="Last-Event-ID", pattern=CURSOR, description="what EventSource sends")
    ] = "",
) -> StreamingResponse:
    """`retry: 1000` first, then events as they are stored; `: keepalive` when idle 15 s."""
    opts = Options(
        kinds=frozenset(params.words("kinds", kinds, KINDS)) if kinds is not None else KINDS,
        categories=params.words("category", category, CATEGORIES) if category else None,
        origins=params.words("origin", origin) if origin else None,
    )
    # The header (what EventSource sends on reconnect) is newer than a query string's cursor.
    if last_event_id_header:
        start = parse_cursor("Last-Event-ID", last_event_id_header)
    elif last_event_id:
        start = parse_cursor("last_event_id", last_event_id)
    elif since_start:
        start = Cursor(0, 0)
    else:
        start = await run_in_threadpool(_now, res.engine)
    return StreamingResponse(
        _events(
            request, res.engine, who, opts, start, _ends_at(who, res.settings.api.stream_max_s)
        ),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _ends_at(who: Caller, max_s: float) -> float:
    """Unix time at which the stream ends: its longest life, or the access token's expiry."""
    end = time.time() + max_s
    return min(end, who.expires_at) if who.expires_at is not None else end


async def _events(
    request: Request, engine: Engine, who: Caller, opts: Options, cursor: Cursor, ends_at: float
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    quiet_since = checked_at = time.monotonic()
    while time.time() < ends_at and not await request.is_disconnected():
        if who.local and time.monotonic() - checked_at >= ACCOUNT_CHECK_S:
            checked_at = time.monotonic()
            if not await anyio.to_thread.run_sync(_still_active, engine, who.subject):
                return
        events, full, marked = await anyio.to_thread.run_sync(_poll, engine, who, opts, cursor)
        if marked:
            # One audit row per batch that carried restricted items (a stream is one request).
            await anyio.to_thread.run_sync(_audit, engine, request, who, marked)
        for kind, doc, cursor in events:
            yield f"event: {kind}\nid: {cursor.encode()}\ndata: {orjson.dumps(doc).decode()}\n\n"
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_S:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        if not full:  # more may be waiting right away when a batch was full
            await anyio.sleep(POLL_S)


def _still_active(engine: Engine, name: str) -> bool:
    with engine.connect() as conn:
        return accounts.active(conn, name) is not None


def _now(engine: Engine) -> Cursor:
    with engine.connect() as conn:
        iv = conn.execute(select(func.coalesce(func.max(IncidentVersion.id), 0))).scalar_one()
        p = conn.execute(select(func.coalesce(func.max(Position.id), 0))).scalar_one()
    return Cursor(int(iv), int(p))


# A feature as a dict (incidents) or as JSON PostgreSQL wrote (positions).
Event = tuple[str, dict[str, Any] | orjson.Fragment, Cursor]


Marked = list[tuple[str, str, str]]  # (kind, id, TLP) of each item sent


def _audit(engine: Engine, request: Request, who: Caller, marked: Marked) -> None:
    if not any(tlp in restricted_reads.RESTRICTED_TLPS for _, _, tlp in marked):
        return  # nothing restricted: no connection taken for it
    with engine.connect() as conn:
        for kind in ("incident", "vessel"):
            items = [(item_id, tlp) for k, item_id, tlp in marked if k == kind]
            restricted_reads.record(conn, request, who, kind, items)


def _poll(
    engine: Engine, who: Caller, opts: Options, cursor: Cursor
) -> tuple[list[Event], bool, Marked]:
    """Events after `cursor`, in cursor order, each with the cursor that includes it; whether
    a batch was full; and what was sent, for the audit trail."""
    with engine.connect() as conn:
        incidents = (
            conn.execute(_incident_query(who, opts, cursor.iv)).all()
            if ("incident" in opts.kinds)
            else []
        )
        positions = (
            conn.execute(_position_query(who, cursor.p)).all() if ("position" in opts.kinds) else []
        )
    events: list[Event] = []
    marked: Marked = []
    iv = cursor.iv
    # Within a poll, only the last stored row of each incident (vessel) is sent: every row left
    # out has a smaller id than the one sent, so the cursors stay increasing and complete.
    for row in _last_per(incidents, "incident_id"):
        iv = row.stream_id
        events.append(("incident", incident_query.to_feature(row, who), Cursor(iv, cursor.p)))
        marked.append(("incident", str(row.incident_id), row.tlp))
    for row in _last_per(positions, "mmsi"):
        events.append(("position", orjson.Fragment(row.json), Cursor(iv, row.stream_id)))
        marked.append(("vessel", row.mmsi, row.tlp))
    return events, len(incidents) == BATCH or len(positions) == BATCH, marked


def _last_per(rows: Sequence[Any], key: str) -> list[Any]:
    last = {getattr(r, key): r for r in rows}  # rows come in id order: the last one wins
    return sorted(last.values(), key=lambda r: int(r.stream_id))


def _incident_query(who: Caller, opts: Options, after: int) -> Any:
    # A version that did not become the current state (it arrived after a newer one) is no news.
    query = select(IncidentVersion.id.label("stream_id"), *incident_query._COLUMNS).join(
        Incident,
        and_(
            Incident.incident_id == IncidentVersion.incident_id,
            Incident.version == IncidentVersion.version,
        ),
    )
    query = query.where(IncidentVersion.id > after)
    if opts.categories:
        query = query.where(Incident.category.in_(opts.categories))
    if opts.origins:
        query = query.where(Incident.origin.in_(opts.origins))
    return visible(query, Incident.__table__, who).order_by(IncidentVersion.id).limit(BATCH)


def _position_query(who: Caller, after: int) -> Any:
    # The same Feature as the vessel endpoint gives, registry data included.
    reg = vessels.registry(who)
    feature, _, _ = vessels.feature_json(Position, reg)
    query = (
        select(Position.id.label("stream_id"), Position.mmsi, Position.tlp, feature.label("json"))
        .select_from(Position)
        .outerjoin(reg, reg.c.mmsi == Position.mmsi)
        .where(Position.id > after)
    )
    return visible(query, Position.__table__, who).order_by(Position.id).limit(BATCH)

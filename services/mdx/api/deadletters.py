"""/api/v1/deadletters: what the node refused, newest first, with the reason and the bytes."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from mdx.api import cursor, params
from mdx.api.deps import Db, Who
from mdx.api.visibility import AnyRow, visible
from mdx.core.db import DeadLetter

router = APIRouter(prefix="/api/v1/deadletters", tags=["deadletters"])


class DeadLetterItem(BaseModel):
    id: int
    received_at: datetime
    topic: str
    producer: str
    reason: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]


class Link(BaseModel):
    href: str
    rel: str
    type: str = "application/json"


class DeadLetterPage(BaseModel):
    deadletters: list[DeadLetterItem]
    links: list[Link]


@router.get("", summary="Dead letters, newest first")
def list_deadletters(
    request: Request,
    db: Db,
    who: Who,
    producer: Annotated[
        str | None, Query(pattern=params.PRODUCER_ID, description="only this producer's")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor_: Annotated[
        str | None,
        Query(alias="cursor", pattern=cursor.SEQ, description="from the previous page's next link"),
    ] = None,
) -> DeadLetterPage:
    columns = (
        DeadLetter.id,
        DeadLetter.received_at,
        DeadLetter.topic,
        DeadLetter.producer,
        DeadLetter.reason,
        DeadLetter.payload,
    )
    query = visible(select(*columns), DeadLetter.__table__, who)
    if producer is not None:
        query = query.where(DeadLetter.producer == producer)
    if cursor_ is not None:
        query = query.where(DeadLetter.id < cursor.decode_seq(cursor_))
    # Ids grow with arrival, so id order is arrival order and a unique keyset.
    rows = db.execute(query.order_by(DeadLetter.id.desc()).limit(limit + 1)).all()
    links = [Link(href=str(request.url), rel="self")]
    if len(rows) > limit:
        rows = rows[:limit]
        href = request.url.include_query_params(cursor=cursor.seq(rows[-1].id))
        links.append(Link(href=str(href), rel="next"))
    return DeadLetterPage(deadletters=[_item(r) for r in rows], links=links)


def _item(row: AnyRow) -> DeadLetterItem:
    encoding: Literal["utf-8", "base64"]
    try:
        payload, encoding = row.payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(row.payload).decode(), "base64"
    return DeadLetterItem(
        id=row.id,
        received_at=row.received_at,
        topic=row.topic,
        producer=row.producer,
        reason=row.reason,
        payload=payload,
        payload_encoding=encoding,
    )

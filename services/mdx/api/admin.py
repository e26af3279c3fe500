"""/api/v1/admin: what only this node's admins may see and do (accounts; the audit trail)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mdx.api import accounts, params, problems
from mdx.api.access import AdminOnly, Writer
from mdx.api.deps import Db, Res
from mdx.api.restricted_reads import actor
from mdx.core import audit

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=problems.responses(401, 403))


class AccountItem(BaseModel):
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class NewAccount(BaseModel):
    name: str = Field(
        pattern=accounts.NAME.pattern, description="2-64 of a-z 0-9 . _ -, starting with a letter"
    )
    role: Literal["viewer", "operator", "admin"]
    password: str = Field(min_length=accounts.MIN_PASSWORD_CHARS)


@router.get("/users", summary="This node's accounts")
def list_users(db: Db, _: AdminOnly) -> list[AccountItem]:
    return [AccountItem(**asdict(a)) for a in accounts.listing(db)]


@router.post(
    "/users",
    status_code=201,
    summary="Create an account",
    responses=problems.responses(409, 415, 422, 429),
)
def add_user(new: NewAccount, res: Res, _admin: AdminOnly, _rate: Writer) -> AccountItem:
    try:
        with res.engine.begin() as conn:
            accounts.add(conn, new.name, new.role, new.password)
            made = accounts.find(conn, new.name)
    except accounts.AccountExists as e:
        raise problems.VersionConflict(str(e)) from None
    except accounts.AccountError as e:
        raise problems.Rejected(str(e)) from None
    assert made is not None
    return AccountItem(**asdict(made))


class AuditItem(BaseModel):
    seq: int
    at: datetime
    event: str
    actor: str
    peer: str | None
    detail: Any
    prev_hash: str  # hex
    hash: str  # hex


class AuditPage(BaseModel):
    entries: list[AuditItem]
    # Pass as `after` for the next page (the last seq returned; `after` itself if none).
    last_seq: int


@router.get("/audit", summary="The audit trail, oldest first (mdx audit verify checks it)")
def read_audit(
    res: Res,
    who: AdminOnly,
    after: Annotated[
        int, Query(ge=0, le=params.MAX_BIGINT, description="entries with a greater seq")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    event: Annotated[
        str | None,
        Query(
            pattern=params.exactly(audit.EVENTS), description="only this event, e.g. auth.refused"
        ),
    ] = None,
) -> AuditPage:
    with res.engine.begin() as conn:
        entries = audit.read(conn, after=after, limit=limit, event=event)
        # Reading the trail is itself on the trail (after the read: not in this answer).
        detail = {"after": after, "limit": limit, "event": event, "rows": len(entries)}
        audit.record(conn, audit.AUDIT_READ, actor=actor(who), detail=detail)
    items = [
        AuditItem(
            seq=e.seq,
            at=e.at,
            event=e.event,
            actor=e.actor,
            peer=e.peer,
            detail=e.detail,
            prev_hash=e.prev_hash.hex(),
            hash=e.hash.hex(),
        )
        for e in entries
    ]
    return AuditPage(entries=items, last_seq=entries[-1].seq if entries else after)

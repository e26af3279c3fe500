"""The app factory: settings in, a FastAPI app out; engine and schemas built at startup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mdx.api import (
    access,
    admin,
    auth,
    bodies,
    cise,
    contracts,
    deadletters,
    exports,
    federation,
    health,
    incidents,
    map,
    ogcapi,
    problems,
    sar,
    stream,
    vessels,
    zones,
)
from mdx.api.deps import build_resources, caller, unauthorized
from mdx.api.token_key import token_key
from mdx.core.fedauth import AuthRejected
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings

DB_CONNECT_TIMEOUT_S = 5
# Connections kept open. A request holds up to two at once (its reads, and the audit trail's
# write), and a connection opened per request costs a new PostgreSQL backend, whose first
# queries plan with cold catalogue caches (tens of ms: the slowest answers under load).
POOL_SIZE = 20
POOL_OVERFLOW = 20
# No JIT: a page of a box's few thousand rows is estimated costly enough to be compiled, which
# took ~9 ms of a ~20 ms query (EXPLAIN ANALYZE); the API only runs queries that small.
_SESSION = "-c jit=off"


# Open to anyone: health, login and logout, the map's files (its data calls authenticate), the
# published contracts (schemas and the AsyncAPI document).
# The OpenAPI document and /docs are FastAPI's own routes, outside these routers.
PUBLIC = (health, auth, map, contracts)
# Everything else needs an authenticated caller; what each route lets it do is its own rule.
AUTHENTICATED = (
    incidents,
    sar,
    vessels,
    zones,
    deadletters,
    federation,
    stream,
    admin,
    ogcapi,
    exports,
    cise,
)


def create_app(settings: NodeSettings, schemas: SchemaSet | None = None) -> FastAPI:
    """Raises mdx.api.token_key.InsecureSecret when a real node has no safe token key."""
    key = token_key(settings)  # before anything starts: a node with a weak key never serves
    schemas = schemas or SchemaSet()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database.url,
            pool_pre_ping=True,  # survive a database restart without failing the next request
            connect_args={"connect_timeout": DB_CONNECT_TIMEOUT_S, "options": _SESSION},
            json_deserializer=orjson.loads,  # jsonb columns: several times the stdlib's speed
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_use_lifo=True,  # the most recently used connection first: its caches are warm
        )
        app.state.resources = build_resources(settings, schemas, engine, key)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title=f"mdx node {settings.node.id}",
        summary="Maritime Domain eXchange: incidents, vessel positions, zones and dead letters",
        version="1",
        lifespan=lifespan,
        # Every route may answer these (413: any body over the limit); FastAPI's own 422 for
        # parameters is a 400 here.
        responses=problems.responses(400, 404, 413, 500),
    )
    problems.install(app)
    bodies.install(app, schemas)
    access.install(app)
    app.add_exception_handler(AuthRejected, unauthorized)

    app.add_middleware(BodyLimit, limit=settings.ingest.max_payload_bytes)
    for module in AUTHENTICATED:
        app.include_router(
            module.router, dependencies=[Depends(caller)], responses=problems.responses(401)
        )
    for module in PUBLIC:
        app.include_router(module.router)
    return app


class BodyLimit:
    """413 for a body over `limit` bytes: the same limit as over MQTT (a report is never bigger
    than a message may be). Plain ASGI: a request passes through without the per-request task
    and stream of Starlette's BaseHTTPMiddleware (measured: a visible share of a small read)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        size = int(declared) if declared and declared.isdigit() else None
        if size is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # No length declared (chunked): read the body to measure it, then hand it on.
            messages: list[Message] = []
            size, more = 0, True
            while more:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
            receive = _replay(messages, receive)
        if size is not None and size > self.limit:
            response = problems.problem(
                Request(scope),
                413,
                f"body of {size} bytes exceeds the limit of {self.limit} bytes",
                slug=problems.PayloadTooLarge.slug,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first, then what `receive` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed

"""The app factory: settings in, a FastAPI app out; engine and schemas built at startup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from sqlalchemy import create_engine

from mdx.api import (
    deadletters,
    federation,
    health,
    incidents,
    map,
    problems,
    sar,
    stream,
    vessels,
    zones,
)
from mdx.api.deps import build_resources, unauthorized
from mdx.core.fedauth import AuthRejected
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings

DB_CONNECT_TIMEOUT_S = 5


def create_app(settings: NodeSettings, schemas: SchemaSet | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database.url,
            pool_pre_ping=True,  # survive a database restart without failing the next request
            connect_args={"connect_timeout": DB_CONNECT_TIMEOUT_S},
            json_deserializer=orjson.loads,  # jsonb columns: several times the stdlib's speed
        )
        app.state.resources = build_resources(settings, schemas or SchemaSet(), engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title=f"mdx node {settings.node.id}",
        summary="Maritime Domain eXchange: incidents, vessel positions, zones and dead letters",
        version="1",
        lifespan=lifespan,
        # Every route may answer these; FastAPI's own 422 for parameters is a 400 here.
        responses=problems.responses(400, 404, 500),
    )
    problems.install(app)
    app.add_exception_handler(AuthRejected, unauthorized)

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The same limit as over MQTT: a report is never bigger than a message may be.
        limit = settings.ingest.max_payload_bytes
        declared = request.headers.get("content-length")
        size = int(declared) if declared and declared.isdigit() else None
        if size is None and request.method in ("POST", "PUT", "PATCH"):
            size = len(await request.body())
        if size is not None and size > limit:
            return problems.problem(
                request,
                413,
                f"body of {size} bytes exceeds the limit of {limit} bytes",
                slug=problems.PayloadTooLarge.slug,
            )
        return await call_next(request)

    for module in (incidents, sar, vessels, zones, deadletters, health, federation, map, stream):
        app.include_router(module.router)
    return app

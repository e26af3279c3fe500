"""The app factory: settings in, a FastAPI app out; engine and schemas built at startup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import create_engine

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
            connect_args={"connect_timeout": DB_CONNECT_TIMEOUT_S},
            json_deserializer=orjson.loads,  # jsonb columns: several times the stdlib's speed
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

    for module in AUTHENTICATED:
        app.include_router(
            module.router, dependencies=[Depends(caller)], responses=problems.responses(401)
        )
    for module in PUBLIC:
        app.include_router(module.router)
    return app

"""What the app factory builds once (engine, intake policy, trust store) and how endpoints get
it, including who is calling."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection, Engine

from mdx.api import identity, incident_query, problems
from mdx.api.ratelimit import RateLimiter
from mdx.api.visibility import Caller
from mdx.core import fedauth, keys
from mdx.core.intake import IntakePolicy
from mdx.core.keys import NodeKeys
from mdx.core.schemas import INCIDENT_SCHEMA_ID, ZONE_SCHEMA_ID, SchemaSet
from mdx.core.settings import NodeSettings

log = logging.getLogger("mdx.api")


@dataclass(frozen=True, slots=True)
class Resources:
    settings: NodeSettings
    engine: Engine
    policy: IntakePolicy
    # Filter values are checked against the schema's own enums (one source of truth).
    categories: frozenset[str]
    statuses: frozenset[str]
    zone_kinds: frozenset[str]
    # What `properties=` may select from an incident feature (schema fields + provenance).
    incident_properties: frozenset[str]
    # Partner node id -> public key: whose signed requests this node accepts.
    trusted: Mapping[str, Ed25519PublicKey]
    # What the feed seals with; None when the node has no signing key (then no feed).
    node_keys: NodeKeys | None
    # The HMAC key of access tokens (mdx.api.token_key) and the per-caller rate limits.
    token_key: bytes
    write_limiter: RateLimiter
    login_limiter: RateLimiter


def build_resources(
    settings: NodeSettings, schemas: SchemaSet, engine: Engine, token_key: bytes
) -> Resources:
    incident = schemas.schema(INCIDENT_SCHEMA_ID)["properties"]
    zone = schemas.schema(ZONE_SCHEMA_ID)["properties"]["properties"]["properties"]
    return Resources(
        settings=settings,
        engine=engine,
        policy=IntakePolicy(
            node_id=settings.node.id,
            default_tlp=settings.node.default_tlp,
            schemas=schemas,
            max_payload_bytes=settings.ingest.max_payload_bytes,
        ),
        categories=frozenset(incident["category"]["enum"]),
        statuses=frozenset(incident["status"]["enum"]),
        zone_kinds=frozenset(zone["kind"]["enum"]),
        incident_properties=frozenset(incident) - {"location"} | incident_query.STORED_PROPERTIES,
        trusted=fedauth.trust_store(settings),
        node_keys=_node_keys(settings),
        token_key=token_key,
        write_limiter=_limiter(settings),
        login_limiter=_limiter(settings),
    )


def _limiter(settings: NodeSettings) -> RateLimiter:
    return RateLimiter(settings.auth.write_burst, settings.auth.writes_per_minute / 60)


def _node_keys(settings: NodeSettings) -> NodeKeys | None:
    try:
        return keys.load_node_keys(settings)
    except keys.KeyError_ as e:
        log.warning("no federation feed: %s", e)
        return None


async def resources(request: Request) -> Resources:
    # async: FastAPI runs a plain function dependency on a worker thread, a hand-off per
    # request for an attribute read.
    res: Resources = request.app.state.resources
    return res


def connection(res: Annotated[Resources, Depends(resources)]) -> Iterator[Connection]:
    with res.engine.connect() as conn:
        yield conn


Res = Annotated[Resources, Depends(resources)]
# One connection per request, shared by the caller's account check, the endpoint's reads and
# the audit trail's row (mdx.api.restricted_reads); given back when the endpoint returns, before
# the answer is sent (a stream's events read through connections of their own).
Db = Annotated[Connection, Depends(connection, scope="function")]


# Only for the OpenAPI document (the Authorize button of /docs); `identify` reads the header.
_oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def caller(
    request: Request, res: Res, db: Db, _: Annotated[str | None, Depends(_oauth2)]
) -> Caller:
    """The account or partner node behind the request (mdx.api.identity); 401 if none."""
    return identity.identify(request, res, db)


async def unauthorized(request: Request, exc: Exception) -> Response:
    """401 for refused partner credentials, naming the reason (exception handler)."""
    assert isinstance(exc, fedauth.AuthRejected)
    response = problems.problem(
        request, 401, f"authentication failed: {exc}", slug="unauthorized", reason=exc.reason
    )
    response.headers["WWW-Authenticate"] = fedauth.SCHEME
    return response


Who = Annotated[Caller, Depends(caller)]

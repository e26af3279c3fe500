"""What the app factory builds once (engine, intake policy, trust store) and how endpoints get
it, including who is calling."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine

from mdx.api import incident_query, problems
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


def build_resources(settings: NodeSettings, schemas: SchemaSet, engine: Engine) -> Resources:
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
    )


def _node_keys(settings: NodeSettings) -> NodeKeys | None:
    try:
        return keys.load_node_keys(settings)
    except keys.KeyError_ as e:
        log.warning("no federation feed: %s", e)
        return None


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def connection(res: Annotated[Resources, Depends(resources)]) -> Iterator[Connection]:
    with res.engine.connect() as conn:
        yield conn


Res = Annotated[Resources, Depends(resources)]
Db = Annotated[Connection, Depends(connection)]


def caller(request: Request, res: Res) -> Caller:
    """A partner node, if the request is signed (see mdx.core.fedauth); else a local operator.

    Operator login arrives in a later issue; until then a request without credentials is the
    node's own operator, so the API must be reachable only from the node's own network.
    """
    header = request.headers.get("authorization")
    if header is None:
        return Caller()
    node = fedauth.verify_request(
        header, request.method, _path_qs(request), res.settings.node.id, res.trusted, time.time()
    )
    return Caller(node=node, settings=res.settings)


def _path_qs(request: Request) -> str:
    # The path and query exactly as sent (still percent-encoded): what the partner signed.
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return (path + b"?" + query if query else path).decode("latin-1")


async def unauthorized(request: Request, exc: Exception) -> Response:
    """401 for refused partner credentials, naming the reason (exception handler)."""
    assert isinstance(exc, fedauth.AuthRejected)
    response = problems.problem(
        request, 401, f"authentication failed: {exc}", slug="unauthorized", reason=exc.reason
    )
    response.headers["WWW-Authenticate"] = fedauth.SCHEME
    return response


Who = Annotated[Caller, Depends(caller)]

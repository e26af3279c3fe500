"""What the app factory builds once (engine, intake policy) and how endpoints get it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from mdx.api.visibility import Caller, caller
from mdx.core.intake import IntakePolicy
from mdx.core.schemas import INCIDENT_SCHEMA_ID, SchemaSet
from mdx.core.settings import NodeSettings


@dataclass(frozen=True, slots=True)
class Resources:
    settings: NodeSettings
    engine: Engine
    policy: IntakePolicy
    # Filter values are checked against the schema's own enums (one source of truth).
    categories: frozenset[str]
    statuses: frozenset[str]


def build_resources(settings: NodeSettings, schemas: SchemaSet, engine: Engine) -> Resources:
    incident = schemas.schema(INCIDENT_SCHEMA_ID)["properties"]
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
    )


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def connection(res: Annotated[Resources, Depends(resources)]) -> Iterator[Connection]:
    with res.engine.connect() as conn:
        yield conn


Res = Annotated[Resources, Depends(resources)]
Db = Annotated[Connection, Depends(connection)]
Who = Annotated[Caller, Depends(caller)]

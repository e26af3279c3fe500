"""The published contracts: every JSON Schema at the path of its `$id`, an index of them, and
the AsyncAPI document of the node's topics (YAML as written, and as JSON).

A schema's `$id` is `https://mdx.example/schemas/<name>/v1/<name>.schema.json`; this node serves
it at `/schemas/<name>/v1/<name>.schema.json`, so a `$ref` between schemas resolves against any
node as it does against the ids. One explicit route per schema file, made from the schema set
when this module loads (the files ship with the code, as the map's do): the OpenAPI document
then lists exactly the paths that exist. The bytes served are the file's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from mdx.core.schemas import ID_BASE, SCHEMA_DIR, SchemaSet

SCHEMA_MEDIA_TYPE = "application/schema+json"
YAML_MEDIA_TYPE = "application/yaml"  # RFC 9512
JSON_MEDIA_TYPE = "application/json"
ASYNCAPI_FILE = "asyncapi.yaml"
INDEX_PATH = "/schemas/"
# The contracts change only with a new release of the node: caches may keep them a while.
_CACHE = {"Cache-Control": "public, max-age=300"}

router = APIRouter(tags=["contracts"])


@dataclass(frozen=True, slots=True)
class PublishedSchema:
    schema_id: str
    path: str  # where this node serves it: the path of the $id
    title: str
    body: bytes  # the file as written


class SchemaEntry(BaseModel):
    id: str
    href: str
    title: str


class SchemaIndex(BaseModel):
    schemas: list[SchemaEntry]
    asyncapi: list[SchemaEntry]


def published(schema_dir: Path = SCHEMA_DIR) -> list[PublishedSchema]:
    """Each schema of the set (SchemaSet checks the files and their unique `$id`s), read from
    the file at its `$id`'s place under `schema_dir`."""
    found = []
    schemas = SchemaSet(schema_dir)
    for schema_id in schemas.ids:
        if not schema_id.startswith(ID_BASE):
            raise ValueError(f"schema $id {schema_id} is not under {ID_BASE}")
        file = schema_dir / schema_id.removeprefix(ID_BASE)
        if not file.is_file():
            raise ValueError(f"schema $id {schema_id} does not name its file ({file})")
        title = schemas.schema(schema_id).get("title")
        found.append(
            PublishedSchema(
                schema_id=schema_id,
                path=urlsplit(schema_id).path,
                title=title if isinstance(title, str) else schema_id,
                body=file.read_bytes(),
            )
        )
    return found


# The AsyncAPI file names the payload schemas relatively ('./incident/v1/...', beside it in
# schemas/). Served from the root, those references are moved under /schemas/ so that they
# still resolve to the schemas this node serves.
_RELATIVE_REF = re.compile(r"""(\$ref:\s*['"]?)\./""")


def asyncapi_at_root(text: str) -> str:
    return _RELATIVE_REF.sub(r"\1./schemas/", text)


SCHEMAS = published()
_ASYNCAPI_TEXT = asyncapi_at_root((SCHEMA_DIR / ASYNCAPI_FILE).read_text(encoding="utf-8"))
_ASYNCAPI_JSON: dict[str, Any] = yaml.safe_load(_ASYNCAPI_TEXT)


class SchemaResponse(Response):
    media_type = SCHEMA_MEDIA_TYPE


class YAMLResponse(Response):
    media_type = YAML_MEDIA_TYPE


def _serve(schema: PublishedSchema) -> None:
    def serve() -> SchemaResponse:
        return SchemaResponse(schema.body, headers=_CACHE)

    router.add_api_route(
        schema.path,
        serve,
        methods=["GET"],
        name=f"schema:{schema.path}",
        operation_id="get_schema_" + re.sub(r"\W+", "_", schema.schema_id.removeprefix(ID_BASE)),
        summary=schema.title,
        description=f"The JSON Schema whose `$id` is {schema.schema_id}, as its file is written.",
        response_class=SchemaResponse,
        responses={
            200: {
                "description": "A JSON Schema (2020-12)",
                "content": {SCHEMA_MEDIA_TYPE: {"schema": {"type": "object"}}},
            }
        },
    )


for _schema in SCHEMAS:
    _serve(_schema)


@router.get(INDEX_PATH, summary="The published JSON Schemas and AsyncAPI document")
def index() -> SchemaIndex:
    return SchemaIndex(
        schemas=[SchemaEntry(id=s.schema_id, href=s.path, title=s.title) for s in SCHEMAS],
        asyncapi=[
            SchemaEntry(id=href, href=href, title=f"AsyncAPI document ({kind})")
            for href, kind in (("/asyncapi.yaml", "YAML"), ("/asyncapi.json", "JSON"))
        ],
    )


@router.get(
    "/asyncapi.yaml",
    response_class=YAMLResponse,
    summary="The AsyncAPI 3.0 document of this node's MQTT topics",
    responses={
        200: {
            "description": "AsyncAPI 3.0 (YAML)",
            "content": {YAML_MEDIA_TYPE: {"schema": {"type": "object"}}},
        }
    },
)
def asyncapi_yaml() -> YAMLResponse:
    return YAMLResponse(_ASYNCAPI_TEXT, headers=_CACHE)


@router.get(
    "/asyncapi.json",
    summary="The AsyncAPI 3.0 document of this node's MQTT topics, as JSON",
    responses={200: {"description": "AsyncAPI 3.0 (JSON)"}},
)
def asyncapi_json() -> dict[str, Any]:
    return _ASYNCAPI_JSON

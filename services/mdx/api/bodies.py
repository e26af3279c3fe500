"""Request bodies that are mdx's own JSON Schemas: declared in the OpenAPI document as those very
schemas, and read with the same strict JSON parser as MQTT payloads.

FastAPI would describe such a body from a pydantic model, a second definition of the entity; the
schema files are the one definition. OpenAPI 3.1 speaks JSON Schema 2020-12, so a schema goes
in as it is, with its references to the shared definitions rewritten to point into
`components/schemas` (a client cannot fetch the schemas' `$id` hosts).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request

from mdx.api.problems import InvalidBody, UnsupportedMediaType, param_error
from mdx.core import strict_json
from mdx.core.schemas import DEFS_SCHEMA_ID, SchemaSet

_DEFS_REF = "../../common/v1/defs.schema.json#/$defs/"
_COMPONENT = "#/components/schemas/"
# Names in components/schemas for the shared definitions, so they never clash with FastAPI's.
_PREFIX = "mdx-"
JSON = "application/json"


# Text the node can store: PostgreSQL refuses U+0000 in text and jsonb (and the strict JSON
# parser refuses it, naming where it was), so the published schema says so for every free
# string and every free property name.
NO_NUL = "^[^\\x00]*$"


def _rewrite(node: Any) -> Any:
    """`node` with every reference to a shared definition pointing into components/schemas,
    and the no-NUL rule on free text."""
    if isinstance(node, dict):
        out = {k: _rewrite(v) for k, v in node.items() if k not in ("$id", "$schema")}
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix(_DEFS_REF).removeprefix("#/$defs/")
            out["$ref"] = _COMPONENT + _PREFIX + name
        if node.get("type") == "string" and not node.keys() & {"pattern", "enum", "const"}:
            out["pattern"] = NO_NUL
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            out.setdefault("propertyNames", {"pattern": NO_NUL})
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def shared_definitions(schemas: SchemaSet) -> dict[str, Any]:
    """The shared definitions as components/schemas entries."""
    defs = schemas.schema(DEFS_SCHEMA_ID)["$defs"]
    return {_PREFIX + name: _rewrite(d) for name, d in defs.items()}


def body(
    schema: dict[str, Any],
    *,
    description: str,
    optional: tuple[str, ...] = (),
    server_fields: tuple[str, ...] = (),
) -> Any:
    """`openapi_extra` for a route whose JSON body is `schema`, with the `optional` properties
    no longer required (the server fills them in when absent) and the `server_fields` gone
    (the server always writes them)."""
    declared = _rewrite(copy.deepcopy(schema))
    for name in server_fields:
        declared["properties"].pop(name, None)
    dropped = {*optional, *server_fields}
    declared["required"] = [r for r in declared.get("required", []) if r not in dropped]
    for rule in declared.get("allOf", []):
        then = rule.get("then", {})
        if "required" in then:
            then["required"] = [r for r in then["required"] if r not in server_fields]
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {JSON: {"schema": declared}},
        }
    }


def install(app: FastAPI, schemas: SchemaSet) -> None:
    """Add the shared definitions to the app's OpenAPI document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                shared_definitions(schemas)
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 problem saying why it is not one."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON:
        raise UnsupportedMediaType(f"the body must be {JSON}")
    try:
        value = strict_json.loads(await request.body())
    except orjson.JSONDecodeError as e:
        raise _invalid(f"the body is not JSON: {e}") from None
    except strict_json.StrictJsonError as e:
        raise _invalid(f"the body is refused: {e}") from None
    if not isinstance(value, dict):
        raise _invalid("the body must be a JSON object")
    return value


def _invalid(message: str) -> InvalidBody:
    return InvalidBody(message, errors=[param_error("", None, message, where="body")])

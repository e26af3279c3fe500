"""GeoJSON (RFC 7946) documents and the response class that serves them."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

MEDIA_TYPE = "application/geo+json"


# What the routes serve, for their `responses=` (FastAPI cannot see into a Response it is handed;
# without these the OpenAPI document would promise a string).
_FEATURE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"type": ["object", "null"]},
        "properties": {"type": ["object", "null"]},
    },
}
_COLLECTION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _FEATURE},
    },
}
FEATURE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A GeoJSON Feature", "content": {MEDIA_TYPE: {"schema": _FEATURE}}}
}
COLLECTION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A GeoJSON FeatureCollection",
        "content": {MEDIA_TYPE: {"schema": _COLLECTION}},
    }
}


class GeoJSONResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        # orjson writes datetimes as RFC 3339 and UUIDs as strings, which is what we serve.
        return orjson.dumps(content)


def feature(
    id_: str, geometry: dict[str, Any] | None, properties: dict[str, Any]
) -> dict[str, Any]:
    return {"type": "Feature", "id": id_, "geometry": geometry, "properties": properties}


def collection(features: list[Any], links: list[dict[str, str]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if links is not None:
        # Foreign members (RFC 7946 6.1), as OGC API - Features uses them.
        doc["links"] = links
        doc["numberReturned"] = len(features)
    return doc


def link(href: str, rel: str, type_: str = MEDIA_TYPE) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_}

"""The JSON documents of OGC API - Features other than features: landing page, conformance
declaration, collections and queryables, with their links; and the conformance classes this
node implements (only those that work: tests/integration/test_ogcapi.py)."""

from __future__ import annotations

from typing import Any

from mdx.api.deps import Resources
from mdx.ogcapi.collection import Collection
from mdx.ogcapi.parameters import CRS84

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
)


def link(href: str, rel: str, type_: str = JSON, title: str | None = None) -> dict[str, str]:
    found = {"href": href, "rel": rel, "type": type_}
    if title is not None:
        found["title"] = title
    return found


def landing(root: str, openapi: str, docs: str | None, node_name: str) -> dict[str, Any]:
    """`root` is this API's absolute URL without a trailing slash."""
    links = [
        link(root, "self", title="This document"),
        link(openapi, "service-desc", OPENAPI, "The API definition (OpenAPI 3)"),
    ]
    if docs is not None:
        links.append(link(docs, "service-doc", "text/html", "The API documentation"))
    links += [
        link(f"{root}/conformance", "conformance", title="Conformance classes implemented"),
        link(f"{root}/collections", "data", title="The collections of features"),
    ]
    return {
        "title": f"{node_name}: OGC API - Features",
        "description": "Incidents, vessels, positions and zones this node may show you",
        "links": links,
    }


def conformance(root: str) -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE), "links": [link(f"{root}/conformance", "self")]}


def collection(root: str, c: Collection) -> dict[str, Any]:
    here = f"{root}/collections/{c.id}"
    extent: dict[str, Any] = {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}}
    if c.temporal:
        extent["temporal"] = {
            "interval": [[None, None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [
            link(here, "self", title=c.title),
            link(f"{here}/items", "items", GEOJSON, f"The {c.id} as GeoJSON"),
            link(f"{here}/queryables", QUERYABLES_REL, SCHEMA_JSON, "What `filter` may name"),
        ],
    }


def collections(root: str, found: list[Collection]) -> dict[str, Any]:
    return {
        "links": [link(f"{root}/collections", "self")],
        "collections": [collection(root, c) for c in found],
    }


def queryables(root: str, c: Collection, res: Resources) -> dict[str, Any]:
    here = f"{root}/collections/{c.id}/queryables"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": here,
        "type": "object",
        "title": f"{c.title}: queryables",
        "properties": {name: q.json_schema() for name, q in c.queryables(res).items()},
        "additionalProperties": False,
    }

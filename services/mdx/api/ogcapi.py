"""OGC API - Features at /ogcapi/: Part 1 (core, GeoJSON, OpenAPI 3.0) and Part 3 filtering with
CQL2 text, over incidents, vessels, positions and zones (mdx.ogcapi).

Every call needs the caller's credentials, as the rest of the API does (GDAL, QGIS and OWSLib
send them as a header), and every item passes the releasability policy: an item a caller may
not see is absent from its lists, its counts and its filters, and a 404 by id like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from mdx.api import geojson, params, restricted_reads
from mdx.api.deps import Db, Res, Who
from mdx.api.geojson import GeoJSONResponse
from mdx.api.problems import NotFound
from mdx.ogcapi import documents, parameters
from mdx.ogcapi.catalogue import COLLECTIONS
from mdx.ogcapi.collection import Collection, ItemsQuery
from mdx.ogcapi.documents import GEOJSON, JSON, SCHEMA_JSON, link

PREFIX = "/ogcapi"
router = APIRouter(prefix=PREFIX, tags=["ogcapi"])

_JSON_FORMATS = ("json",)
_FEATURE_FORMATS = ("json", "geojson")
_ITEMS_PARAMETERS = (
    "bbox", "bbox-crs", "datetime", "limit", "cursor", "filter", "filter-lang", "filter-crs", "f",
)  # fmt: skip
# Not a pattern: an unknown collection is a 404, as OGC API - Features asks.
CollectionId = Annotated[str, Path(description="incidents, vessels, positions or zones")]
Format = Annotated[
    str | None,
    Query(pattern=params.exactly(_JSON_FORMATS), description="json (the only encoding served)"),
]
FeatureFormat = Annotated[
    str | None, Query(pattern=params.exactly(_FEATURE_FORMATS), description="json or geojson")
]
# An incident's UUID, a vessel's MMSI, a position's number or a zone's slug.
FeatureId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


def _root(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}; there are {', '.join(COLLECTIONS)}")
    return found


def _json(doc: dict[str, Any], media_type: str = JSON) -> Response:
    return JSONResponse(doc, media_type=media_type)


@router.get("", summary="Landing page")
@router.get("/", summary="Landing page", include_in_schema=False)
def landing(request: Request, res: Res, f: Format = None) -> Response:
    """Links to the API definition, the conformance declaration and the collections."""
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _JSON_FORMATS)
    base = str(request.base_url).rstrip("/")
    app = request.app
    docs = f"{base}{app.docs_url}" if app.docs_url else None
    name = res.settings.node.name or res.settings.node.id
    return _json(documents.landing(_root(request), f"{base}{app.openapi_url}", docs, name))


@router.get("/conformance", summary="Conformance classes implemented")
def conformance(request: Request, f: Format = None) -> Response:
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _JSON_FORMATS)
    return _json(documents.conformance(_root(request)))


@router.get("/collections", summary="The collections")
def collections(request: Request, f: Format = None) -> Response:
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _JSON_FORMATS)
    return _json(documents.collections(_root(request), list(COLLECTIONS.values())))


@router.get("/collections/{collection_id}", summary="One collection")
def collection(request: Request, collection_id: CollectionId, f: Format = None) -> Response:
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _JSON_FORMATS)
    return _json(documents.collection(_root(request), _collection(collection_id)))


@router.get(
    "/collections/{collection_id}/queryables",
    summary="What `filter` may name, as a JSON Schema",
    responses={200: {"content": {SCHEMA_JSON: {}}}},
)
def queryables(
    request: Request, collection_id: CollectionId, res: Res, f: Format = None
) -> Response:
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _JSON_FORMATS)
    found = _collection(collection_id)
    return _json(documents.queryables(_root(request), found, res), SCHEMA_JSON)


@router.get(
    "/collections/{collection_id}/items",
    responses=geojson.COLLECTION,
    summary="The features of a collection, a page at a time",
)
def items(
    request: Request,
    collection_id: CollectionId,
    db: Db,
    res: Res,
    who: Who,
    bbox: Annotated[
        str | None,
        Query(
            pattern=parameters.BBOX,
            description="minlon,minlat,maxlon,maxlat (or 6 numbers, heights ignored); CRS84",
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(
            alias="bbox-crs", pattern=params.exactly((parameters.CRS84,)), description="CRS84 only"
        ),
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            pattern=parameters.DATETIME,
            description="an RFC 3339 instant or a date, or an interval start/end with '..' or "
            "nothing for an open end",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description=f"features per page: default {parameters.DEFAULT_LIMIT}, at most "
            f"{parameters.MAX_LIMIT} (a larger value is taken as the maximum)",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=parameters.CURSOR, description="from the previous page's `next` link"),
    ] = None,
    filter_: Annotated[
        str | None, Query(alias="filter", description="CQL2 text over the queryables")
    ] = None,
    filter_lang: Annotated[
        str | None,
        Query(
            alias="filter-lang",
            pattern=params.exactly(("cql2-text",)),
            description="cql2-text (the default and only one)",
        ),
    ] = None,
    filter_crs: Annotated[
        str | None,
        Query(
            alias="filter-crs",
            pattern=params.exactly((parameters.CRS84,)),
            description="CRS84 only",
        ),
    ] = None,
    f: FeatureFormat = None,
) -> GeoJSONResponse:
    """A GeoJSON FeatureCollection of what the caller may see, with `numberReturned`,
    `numberMatched` (except for positions), `timeStamp` and a `next` link while more remain."""
    parameters.refuse_unknown(request, _ITEMS_PARAMETERS)
    parameters.format_(f, _FEATURE_FORMATS)
    parameters.crs("bbox-crs", bbox_crs)
    parameters.crs("filter-crs", filter_crs)
    if filter_lang is not None and filter_lang != "cql2-text":
        raise params.bad("filter-lang", filter_lang, "only cql2-text is supported")
    found = _collection(collection_id)
    q = ItemsQuery(
        boxes=parameters.bbox(bbox) if bbox is not None else None,
        time=parameters.datetime_(datetime_) if datetime_ is not None else None,
        filter=filter_,
        limit=parameters.limit(limit),
        cursor=cursor,
    )
    stamp = datetime.now(UTC)
    page = found.items(db, res, who, q)
    restricted_reads.record(db, request, who, found.audit_kind, page.marked)
    links = [
        link(str(request.url), "self", GEOJSON, "This page"),
        link(f"{_root(request)}/collections/{found.id}", "collection", JSON, found.title),
    ]
    if page.next_cursor is not None:
        href = str(request.url.include_query_params(cursor=page.next_cursor))
        links.append(link(href, "next", GEOJSON, "The next page"))
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": page.features}
    doc["timeStamp"] = stamp.isoformat().replace("+00:00", "Z")
    if page.matched is not None:
        doc["numberMatched"] = page.matched
    doc["numberReturned"] = len(page.features)
    doc["links"] = links
    return GeoJSONResponse(doc)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    responses=geojson.FEATURE,
    summary="One feature",
)
def item(
    request: Request,
    collection_id: CollectionId,
    feature_id: FeatureId,
    db: Db,
    res: Res,
    who: Who,
    f: FeatureFormat = None,
) -> GeoJSONResponse:
    """A GeoJSON Feature; 404 when it does not exist or the caller may not see it."""
    parameters.refuse_unknown(request, ("f",))
    parameters.format_(f, _FEATURE_FORMATS)
    found = _collection(collection_id)
    one = found.item(db, res, who, feature_id)
    if one is None:
        raise NotFound(f"no feature {feature_id!r} in {found.id}")
    if one.tlp is not None:
        restricted_reads.record(db, request, who, found.audit_kind, [(feature_id, one.tlp)])
    here = f"{_root(request)}/collections/{found.id}"
    links = [
        link(str(request.url), "self", GEOJSON, "This feature"),
        link(here, "collection", JSON, found.title),
    ]
    return GeoJSONResponse({**one.feature, "links": links})

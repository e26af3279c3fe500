"""OGC API - Features checks: the conformance classes the target declares at
/ogcapi/conformance, each the kit knows run as a few concrete requests, read as the checking
identity; a declared class the kit does not know is reported as not checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from mdx.conformance.report import Result, failed, passed, skipped
from mdx.conformance.target import Target

ROOT = "/ogcapi"
_SPEC = "http://www.opengis.net/spec/"
CORE = _SPEC + "ogcapi-features-1/1.0/conf/core"
GEOJSON = _SPEC + "ogcapi-features-1/1.0/conf/geojson"
OAS30 = _SPEC + "ogcapi-features-1/1.0/conf/oas30"
QUERYABLES = _SPEC + "ogcapi-features-3/1.0/conf/queryables"
# One check covers the four classes a CQL2 text `filter` needs together.
FILTER = (
    _SPEC + "ogcapi-features-3/1.0/conf/filter",
    _SPEC + "ogcapi-features-3/1.0/conf/features-filter",
    _SPEC + "cql2/1.0/conf/cql2-text",
    _SPEC + "cql2/1.0/conf/basic-cql2",
)
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


class Broken(Exception):
    """What a check saw that the class forbids."""


def run(target: Target) -> list[Result]:
    if target.key is None:
        why = "needs the checking identity's key (--key) to read the API"
        return [skipped("ogcapi.conformance", why)]
    r = target.get(f"{ROOT}/conformance")
    declared = r.json().get("conformsTo") if _is_json(r) else None
    if r.status_code != 200 or not isinstance(declared, list):
        return [
            failed("ogcapi.conformance", f"GET {ROOT}/conformance: {r.status_code}, no conformsTo")
        ]
    results = [passed("ogcapi.conformance", f"{len(declared)} classes declared")]
    checks: list[tuple[str, tuple[str, ...], Callable[[Target], str]]] = [
        ("ogcapi.core", (CORE,), _core),
        ("ogcapi.geojson", (GEOJSON,), _geojson),
        ("ogcapi.oas30", (OAS30,), _oas30),
        ("ogcapi.queryables", (QUERYABLES,), _queryables),
        ("ogcapi.filter", FILTER, _filter),
    ]
    known: set[str] = set()
    for check, classes, fn in checks:
        known.update(classes)
        if not all(c in declared for c in classes):
            results.append(skipped(check, "not declared by the target"))
            continue
        try:
            results.append(passed(check, fn(target)))
        except Broken as e:
            results.append(failed(check, str(e)))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            results.append(failed(check, f"unexpected answer: {e!r}"))
    for c in declared:
        if c not in known:
            name = "ogcapi." + str(c).rstrip("/").rsplit("/", 1)[-1]
            results.append(skipped(name, f"declared, but the kit has no check for {c}"))
    return results


def _is_json(r: httpx.Response) -> bool:
    return "json" in r.headers.get("content-type", "")


def _get(target: Target, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    r = target.get(path, params)
    if r.status_code != 200 or not _is_json(r):
        raise Broken(f"GET {path} {params or ''}: {r.status_code} {r.headers.get('content-type')}")
    body: dict[str, Any] = r.json()
    return body


def _rels(doc: dict[str, Any]) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in doc.get("links", [])}


def _collections(target: Target) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _get(target, f"{ROOT}/collections").get("collections", [])
    if not found:
        raise Broken("GET /collections lists no collection")
    return found


def _items(target: Target, cid: str, **params: Any) -> dict[str, Any]:
    page = _get(target, f"{ROOT}/collections/{cid}/items", params)
    if page.get("type") != "FeatureCollection":
        raise Broken(f"{cid} items: type {page.get('type')!r}, not FeatureCollection")
    if page.get("numberReturned") != len(page.get("features", [])):
        raise Broken(f"{cid} items: numberReturned {page.get('numberReturned')} is not the count")
    # numberMatched may be left out (counting a large collection is costly), never wrong.
    matched = page.setdefault("numberMatched", None)
    if matched is not None and (not isinstance(matched, int) or matched < page["numberReturned"]):
        raise Broken(f"{cid} items: numberMatched {matched!r} below numberReturned")
    return page


def _count(page: dict[str, Any]) -> int:
    """Features matched, as far as the page tells: numberMatched, or at least those returned
    (plus one when a next link promises more)."""
    if page["numberMatched"] is not None:
        return int(page["numberMatched"])
    return int(page["numberReturned"]) + (1 if "next" in _rels(page) else 0)


def _busiest(target: Target) -> tuple[str, dict[str, Any]]:
    """The collection with the most features the checking identity may see, and its first page."""
    pages = {c["id"]: _items(target, c["id"], limit=5) for c in _collections(target)}
    cid = max(pages, key=lambda k: _count(pages[k]))
    if _count(pages[cid]) < 2:
        raise Broken("no collection has two features this identity may see: nothing to page")
    return cid, pages[cid]


def _core(target: Target) -> str:
    landing = _rels(_get(target, f"{ROOT}/"))
    for rel in ("self", "conformance", "data", "service-desc"):
        if rel not in landing:
            raise Broken(f"the landing page has no {rel!r} link")
    collections = _collections(target)
    for c in collections:
        if "items" not in _rels(c):
            raise Broken(f"collection {c['id']} has no items link")
    cid, first = _busiest(target)
    one = _items(target, cid, limit=1)
    if len(one["features"]) != 1:
        raise Broken(f"{cid} items?limit=1 returned {len(one['features'])}")
    nxt = _rels(one).get("next")
    if nxt is None:
        raise Broken(f"{cid} items?limit=1 of {_count(first)} has no next link")
    second = target.get_url(nxt).json()
    # Not compared with `first`: a live node may have taken in new features in between.
    ids = [f.get("id") for f in second.get("features", [])]
    if len(ids) != 1 or ids[0] == one["features"][0].get("id"):
        raise Broken(f"{cid}: the next link gave {ids}, not one feature after the first page's")
    box = _box_around(first["features"][0])
    inside = _items(target, cid, bbox=",".join(map(str, box)), limit=100)
    if not inside["features"] or not all(_point_in(f, box) for f in inside["features"]):
        raise Broken(f"{cid} items?bbox={box}: a feature outside the box, or none inside")
    return (
        f"{len(collections)} collections; {cid}: limit, next link, bbox "
        f"({inside['numberReturned']} in a 0.2° box) honoured"
    )


def _box_around(feature: dict[str, Any]) -> list[float]:
    lon, lat = _first_position(feature)
    return [round(lon - 0.1, 6), round(lat - 0.1, 6), round(lon + 0.1, 6), round(lat + 0.1, 6)]


def _first_position(feature: dict[str, Any]) -> tuple[float, float]:
    coords: Any = (feature.get("geometry") or {}).get("coordinates")
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    if not (isinstance(coords, list) and len(coords) >= 2):
        raise Broken(f"feature {feature.get('id')} has no coordinates")
    return float(coords[0]), float(coords[1])


def _point_in(feature: dict[str, Any], box: list[float]) -> bool:
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != "Point":
        return True  # only points are judged exactly here
    lon, lat = _first_position(feature)
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _geojson(target: Target) -> str:
    cid, _ = _busiest(target)
    r = target.get(f"{ROOT}/collections/{cid}/items", {"limit": 5})
    if not r.headers.get("content-type", "").startswith("application/geo+json"):
        raise Broken(f"{cid} items served as {r.headers.get('content-type')}")
    for f in r.json()["features"]:
        if f.get("type") != "Feature" or "geometry" not in f or "properties" not in f:
            raise Broken(f"{cid}: {f.get('id')} is not a GeoJSON Feature")
    fid = r.json()["features"][0]["id"]
    one = target.get(f"{ROOT}/collections/{cid}/items/{fid}")
    if one.status_code != 200 or one.json().get("type") != "Feature":
        raise Broken(f"{cid}/items/{fid}: {one.status_code}, not a Feature")
    return f"{cid} items and item {fid} are GeoJSON (application/geo+json)"


def _oas30(target: Target) -> str:
    href = _rels(_get(target, f"{ROOT}/"))["service-desc"]
    r = target.get_url(href)
    version = str(r.json().get("openapi", "")) if _is_json(r) else ""
    # OpenAPI 3.1 is accepted too: it is a superset clients of 3.0 read (FastAPI serves it).
    if r.status_code != 200 or not version.startswith("3."):
        raise Broken(f"service-desc {href}: {r.status_code}, openapi {version!r}")
    return f"service-desc is an OpenAPI {version} document"


def _queryables(target: Target) -> str:
    names = []
    for c in _collections(target):
        href = _rels(c).get(QUERYABLES_REL)
        if href is None:
            raise Broken(f"collection {c['id']} has no queryables link")
        doc = target.get_url(href).json()
        if doc.get("type") != "object" or not isinstance(doc.get("properties"), dict):
            raise Broken(f"{c['id']} queryables is not a JSON Schema of an object")
        names.append(f"{c['id']} ({len(doc['properties'])})")
    return "queryables are JSON Schemas: " + ", ".join(names)


def _filter(target: Target) -> str:
    cid, page = _busiest(target)
    queryable = _get(target, f"{ROOT}/collections/{cid}/queryables")["properties"]
    props = page["features"][0]["properties"]
    name = next(
        (n for n in queryable if isinstance(props.get(n), str) and "'" not in props[n]), None
    )
    if name is None:
        raise Broken(f"{cid}: no text queryable with a value on its first feature")
    value = props[name]
    hits = _items(target, cid, filter=f"{name}='{value}'", limit=100)
    if not hits["features"] or any(f["properties"].get(name) != value for f in hits["features"]):
        raise Broken(f"{cid} filter {name}='{value}': a feature without that value, or none")
    bad = target.get(f"{ROOT}/collections/{cid}/items", {"filter": f"{name} =="})
    if bad.status_code != 400:
        raise Broken(f"{cid}: a malformed filter got {bad.status_code}, not 400")
    return f"{cid} filter {name}='{value}' matched {_count(hits)}; a bad one is a 400"

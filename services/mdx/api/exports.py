"""/api/v1/exports: downloads of a filtered selection as GeoJSON, CSV or KML.

One route per kind and format (`incidents.geojson`, `vessels.kml`, ...): the file name a browser
saves and the media type a GIS client expects are then fixed by the URL, and the OpenAPI
document states exactly what each route answers. Incidents take the filters of
GET /api/v1/incidents, vessels those of GET /api/v1/vessels; every export holds only what the
caller may see (the same queries as those routes), and its restricted items are recorded in the
audit trail as those routes record them.

An export holds at most MAX_FEATURES features (fewer with `limit`); the headers say how many it
holds and whether more matched. The file is written to a temporary file first (spilling to disk
when large), so the count and the cut are known before the first byte is sent.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from mdx.api import problems, restricted_reads
from mdx.api.deps import Db, Res, Resources, Who
from mdx.api.incident_filters import IncidentSearch
from mdx.api.vessel_filters import VesselSearch
from mdx.api.visibility import Caller
from mdx.core.schemas import INCIDENT_SCHEMA_ID
from mdx.exports import csv_writer, geojson_writer, kml_writer, layouts, selection
from mdx.exports.selection import Selection

PREFIX = "/api/v1/exports"
MAX_FEATURES = 100_000
_SPOOL_BYTES = 8 * 1024 * 1024  # larger exports are written to a temporary file on disk
_CHUNK = 256 * 1024

router = APIRouter(prefix=PREFIX, tags=["exports"])

COUNT_HEADER = "MDX-Export-Count"
TRUNCATED_HEADER = "MDX-Export-Truncated"


class Format(StrEnum):
    geojson = "geojson"
    csv = "csv"
    kml = "kml"


MEDIA_TYPES = {
    Format.geojson: geojson_writer.MEDIA_TYPE,
    # RFC 4180's optional parameters: the charset, and that the first line is a header.
    Format.csv: csv_writer.MEDIA_TYPE + "; charset=utf-8; header=present",
    Format.kml: kml_writer.MEDIA_TYPE,
}

_HEADERS_DOC: dict[str, Any] = {
    "Content-Disposition": {
        "description": "attachment; filename=mdx-<node>-<kind>-<UTC time>.<format>",
        "schema": {"type": "string"},
    },
    COUNT_HEADER: {
        "description": "How many features the file holds",
        "schema": {"type": "integer", "minimum": 0},
    },
    TRUNCATED_HEADER: {
        "description": "true when more features matched than the file holds (see `limit`)",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
}
_BODY_SCHEMAS: dict[Format, dict[str, Any]] = {
    Format.geojson: {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object"}},
            "numberReturned": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
    },
    Format.csv: {"type": "string"},
    Format.kml: {"type": "string"},
}
_DESCRIPTIONS = {
    Format.geojson: "A GeoJSON (RFC 7946) FeatureCollection",
    Format.csv: "CSV (RFC 4180), UTF-8, with a header row",
    Format.kml: "KML 2.2",
}


def _responses(fmt: Format) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": _DESCRIPTIONS[fmt],
            "headers": _HEADERS_DOC,
            "content": {MEDIA_TYPES[fmt].split(";")[0]: {"schema": _BODY_SCHEMAS[fmt]}},
        }
    }


Limit = Annotated[
    int,
    Query(ge=1, le=MAX_FEATURES, description=f"at most this many features (up to {MAX_FEATURES})"),
]
Bom = Annotated[
    bool,
    Query(description="start with a UTF-8 byte-order mark (Excel reads UTF-8 only with one)"),
]


# --- writing and sending ---------------------------------------------------------------------


def _write(
    fmt: Format, out: IO[bytes], found: Selection, res: Resources, kind: str, *, bom: bool
) -> None:
    if fmt is Format.geojson:
        geojson_writer.write_geojson(
            out,
            found,
            numberReturned=lambda: found.count,
            truncated=lambda: found.truncated,
        )
    elif fmt is Format.csv:
        csv_writer.write_csv(out, found, _columns(res, kind), bom=bom)
    else:
        title = f"mdx {res.settings.node.id} {kind}s"
        about = f"{kind.capitalize()}s held by mdx node {res.settings.node.id}, as released to you"
        kml_writer.write_kml(out, found, _layout(res, kind), title=title, about=about)


def _columns(res: Resources, kind: str) -> list[str]:
    if kind == "vessel":
        return list(layouts.VESSEL_COLUMNS)
    schema = res.policy.schemas.schema(INCIDENT_SCHEMA_ID)
    return layouts.incident_columns(schema["properties"])


def _layout(res: Resources, kind: str) -> kml_writer.Layout:
    if kind == "vessel":
        return layouts.vessel_layout()
    return layouts.incident_layout(sorted(res.categories))


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        file.seek(0)
        while chunk := file.read(_CHUNK):
            yield chunk
    finally:
        file.close()


def _export(
    request: Request,
    db: Connection,
    res: Res,
    who: Caller,
    kind: str,
    fmt: Format,
    found: Selection,
    bom: bool,
) -> StreamingResponse:
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed by _chunks)
    try:
        _write(fmt, file, found, res, kind, bom=bom)
        size = file.tell()
    except BaseException:
        file.close()
        raise
    restricted_reads.record(db, request, who, kind, found.marked)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"mdx-{res.settings.node.id}-{kind}s-{stamp}.{fmt.value}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(size),
        COUNT_HEADER: str(found.count),
        TRUNCATED_HEADER: "true" if found.truncated else "false",
    }
    return StreamingResponse(_chunks(file), media_type=MEDIA_TYPES[fmt], headers=headers)


# --- routes ------------------------------------------------------------------------------------

Endpoint = Callable[..., StreamingResponse]


def _incident_route(fmt: Format) -> Endpoint:
    def export(
        request: Request, db: Db, res: Res, who: Who, f: IncidentSearch, limit: Limit = MAX_FEATURES
    ) -> StreamingResponse:
        found = selection.incidents(db, f, who, limit)
        return _export(request, db, res, who, "incident", fmt, found, bom=False)

    def export_csv(
        request: Request,
        db: Db,
        res: Res,
        who: Who,
        f: IncidentSearch,
        limit: Limit = MAX_FEATURES,
        bom: Bom = False,
    ) -> StreamingResponse:
        found = selection.incidents(db, f, who, limit)
        return _export(request, db, res, who, "incident", fmt, found, bom=bom)

    return export_csv if fmt is Format.csv else export


def _vessel_route(fmt: Format) -> Endpoint:
    def export(
        request: Request, db: Db, res: Res, who: Who, f: VesselSearch, limit: Limit = MAX_FEATURES
    ) -> StreamingResponse:
        found = selection.latest_positions(db, f, who, limit)
        return _export(request, db, res, who, "vessel", fmt, found, bom=False)

    def export_csv(
        request: Request,
        db: Db,
        res: Res,
        who: Who,
        f: VesselSearch,
        limit: Limit = MAX_FEATURES,
        bom: Bom = False,
    ) -> StreamingResponse:
        found = selection.latest_positions(db, f, who, limit)
        return _export(request, db, res, who, "vessel", fmt, found, bom=bom)

    return export_csv if fmt is Format.csv else export


_WHAT = {
    "incidents": ("Incidents", "newest observation first", _incident_route),
    "vessels": ("Vessels at their latest position", "by MMSI", _vessel_route),
}

for _path, (_what, _order, _route) in _WHAT.items():
    for _fmt in Format:
        router.add_api_route(
            f"/{_path}.{_fmt.value}",
            _route(_fmt),
            methods=["GET"],
            name=f"export_{_path}_{_fmt.value}",
            operation_id=f"export_{_path}_{_fmt.value}",
            summary=f"{_what} as {_fmt.value.upper()} ({_order}), to download",
            response_class=StreamingResponse,
            responses={**_responses(_fmt), **problems.responses(400)},
        )

"""CSV (RFC 4180): UTF-8, a header row, one row per feature, CRLF line ends.

Geometry: a point as `lon` and `lat` columns (what a spreadsheet sorts and QGIS's delimited-text
layer reads as X/Y), any other geometry as WKT in the `wkt` column (written by shapely). Nested
property values (lists, objects) are JSON text in their cell.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from typing import IO, Any

import shapely.geometry

from mdx.exports.values import Feature, as_text

MEDIA_TYPE = "text/csv"
GEOMETRY_COLUMNS = ("id", "lon", "lat", "wkt")

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): a
# report titled "=HYPERLINK(...)" must stay text when an analyst opens the export in Excel or
# LibreOffice. Such a text cell gets a leading single quote (OWASP's advice), which the
# spreadsheet reads as "this is text". Tab and carriage return start formulas in some too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defused(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(
    out: IO[bytes], features: Iterable[Feature], columns: Sequence[str], *, bom: bool = False
) -> int:
    """One row per feature under the header `id, lon, lat, wkt, *columns` (properties a feature
    lacks are empty cells; properties not in `columns` are left out). With `bom`, a UTF-8
    byte-order mark first (Excel reads the file as UTF-8 only with one). Returns the row count."""
    if bom:
        out.write(codecs.BOM_UTF8)
    buffer = io.StringIO()
    rows = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: CRLF; quoting as needed
    rows.writerow([*GEOMETRY_COLUMNS, *columns])
    count = 0
    for feature in features:
        props = feature.get("properties") or {}
        cells = [
            *_geometry_cells(feature.get("geometry")),
            *(_cell(props.get(name)) for name in columns),
        ]
        rows.writerow([defused(as_text(feature.get("id"))), *cells])
        count += 1
        if buffer.tell() > 64 * 1024:
            out.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode())
    return count


def _cell(value: Any) -> str:
    text = as_text(value)
    # Only text can be a formula; a number such as -3.5 stays a number.
    return defused(text) if isinstance(value, str) else text


def _geometry_cells(geometry: dict[str, Any] | None) -> tuple[str, str, str]:
    if not geometry:
        return "", "", ""
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return as_text(lon), as_text(lat), ""
    return "", "", shapely.geometry.shape(geometry).wkt

"""CQL2 text -> SQL (mdx.ogcapi.cql2): what each accepted filter becomes, compiled for
PostgreSQL, and the 400 that names what a refused one asked for."""

from __future__ import annotations

from typing import Any

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import ColumnElement, DateTime, Float, Integer, String, column, table
from sqlalchemy.dialects import postgresql

from mdx.api.problems import InvalidParameter
from mdx.ogcapi.cql2 import Queryable, translate

T = table(
    "t",
    column("category", String),
    column("title", String),
    column("version", Integer),
    column("sog", Float),
    column("observed_at", DateTime(timezone=True)),
    column("geom", Geometry),
)
QUERYABLES = {
    "category": Queryable("string", "Category", ("sar", "pollution", "piracy_robbery")),
    "title": Queryable("string", "Title"),
    "version": Queryable("integer", "Version"),
    "sog": Queryable("number", "Speed"),
    "observed_at": Queryable("datetime", "Observed"),
    "geometry": Queryable("geometry", "Location"),
}
COLUMNS: dict[str, ColumnElement[Any]] = {
    "category": T.c.category,
    "title": T.c.title,
    "version": T.c.version,
    "sog": T.c.sog,
    "observed_at": T.c.observed_at,
    "geometry": T.c.geom,
}


def sql(text: str) -> str:
    condition = translate(text, QUERYABLES, COLUMNS)
    compiled = condition.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("category = 'sar'", "t.category = 'sar'"),
        ("\"category\" <> 'sar'", "t.category != 'sar'"),
        ("version > 1", "t.version > 1"),
        ("2 <= version", "t.version >= 2"),  # the literal on the left: the sides swapped
        ("sog < 10.5", "t.sog < 10.5"),
        ("sog >= 3", "t.sog >= 3"),
        ("sog BETWEEN 1 AND 2", "t.sog BETWEEN 1 AND 2"),
        ("version NOT BETWEEN 1 AND 2", "t.version NOT BETWEEN 1 AND 2"),
        ("category IN ('sar', 'pollution')", "t.category IN ('sar', 'pollution')"),
        ("category NOT IN ('sar')", "(t.category NOT IN ('sar'))"),
        ("title LIKE 'case_1%'", "t.title LIKE 'case_1%%'"),
        ("title NOT LIKE 'x%'", "t.title NOT LIKE 'x%%'"),
        ("category IS NULL", "t.category IS NULL"),
        ("category IS NOT NULL", "t.category IS NOT NULL"),
        ("NOT (category = 'sar')", "t.category != 'sar'"),
        ("NOT category = 'sar' AND version = 1", "t.category != 'sar' AND t.version = 1"),
        ("INCLUDE", "true"),
        ("EXCLUDE", "false"),
        (
            "observed_at >= TIMESTAMP('2024-05-01T00:00:00Z')",
            "t.observed_at >= '2024-05-01 00:00:00+00:00'",
        ),
        # GDAL writes a time as a quoted RFC 3339 string.
        (
            "observed_at < '2024-05-01T09:30:00+09:00'",
            "t.observed_at < '2024-05-01 09:30:00+09:00'",
        ),
        (
            "observed_at = DATE('2024-05-01')",
            "CAST(timezone('UTC', t.observed_at) AS DATE) = '2024-05-01'",
        ),
        (
            "S_INTERSECTS(geometry, BBOX(129, 33, 131.5, 35))",
            "ST_Intersects(t.geom, ST_MakeEnvelope(129, 33, 131.5, 35, 4326))",
        ),
        (
            "S_INTERSECTS(geometry, BBOX(129, 33, 0, 131.5, 35, 10))",
            "ST_Intersects(t.geom, ST_MakeEnvelope(129, 33, 131.5, 35, 4326))",
        ),
        (
            "S_INTERSECTS(geometry, POINT(130 34))",
            "ST_Intersects(t.geom, ST_SetSRID(ST_GeomFromGeoJSON("
            '\'{"type":"Point","coordinates":[130.0,34.0]}\'), 4326))',
        ),
    ],
)
def test_translates(text: str, expected: str) -> None:
    assert sql(text) == expected


def test_and_binds_tighter_than_or() -> None:
    # pygeofilter alone reads this as (sar OR pollution) AND version = 2.
    assert sql("category = 'sar' OR category = 'pollution' AND version = 2") == (
        "t.category = 'sar' OR t.category = 'pollution' AND t.version = 2"
    )
    assert sql("(category = 'sar' OR category = 'pollution') AND version = 2") == (
        "(t.category = 'sar' OR t.category = 'pollution') AND t.version = 2"
    )
    assert sql("version = 1 AND version = 2 OR version = 3") == (
        "t.version = 1 AND t.version = 2 OR t.version = 3"
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty filter"),
        ("category =", "not valid CQL2 text"),
        ("category = 'sar' AND", "not valid CQL2 text"),
        ("colour = 'red'", "unknown queryable 'colour'"),
        ("category = 'trawling'", "'trawling' is not a category"),
        ("category IN ('sar', 'trawling')", "'trawling' is not a category"),
        ("category = 5", "category is a string"),
        ("version = 'one'", "version is an integer"),
        ("version = 1.5", "version is an integer"),
        ("sog = 'fast'", "sog is a number"),
        ("observed_at > 3", "observed_at is a time"),
        ("observed_at > 'yesterday'", "RFC 3339"),
        ("title = category", "compared with a literal"),
        ("'a' = 'b'", "needs a queryable"),
        ("sog LIKE '1%'", "LIKE needs a string queryable"),
        ("category BETWEEN 'a' AND 'b'", "BETWEEN needs a number or time"),
        ("geometry = 'x'", "geometry is a geometry"),
        ("S_INTERSECTS(sog, POINT(1 2))", "S_INTERSECTS needs a geometry queryable"),
        ("S_INTERSECTS(geometry, BBOX(1, 2, 3))", "BBOX takes 4 numbers"),
        ("S_WITHIN(geometry, POINT(1 2))", "S_WITHIN is not supported"),
        ("S_DISJOINT(geometry, POINT(1 2))", "S_DISJOINT is not supported"),
        ("T_AFTER(observed_at, TIMESTAMP('2024-05-01T00:00:00Z'))", "T_AFTER is not supported"),
        ("A_CONTAINS(title, ('a'))", "A_CONTAINS is not supported"),
        ("CASEI(category) = 'sar'", "CASEI() is not supported"),
        ("sog + 1 > 2", "arithmetic is not supported"),
    ],
)
def test_refuses_naming_what(text: str, named: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        translate(text, QUERYABLES, COLUMNS)
    assert named in refused.value.detail
    assert refused.value.errors is not None
    assert refused.value.errors[0]["parameter"] == "filter"


def test_queryables_document_entries() -> None:
    assert QUERYABLES["category"].json_schema() == {
        "title": "Category",
        "type": "string",
        "enum": ["sar", "pollution", "piracy_robbery"],
    }
    assert QUERYABLES["observed_at"].json_schema() == {
        "title": "Observed",
        "type": "string",
        "format": "date-time",
    }
    assert QUERYABLES["geometry"].json_schema()["x-ogc-role"] == "primary-geometry"

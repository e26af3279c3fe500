"""CQL2 text filters (OGC API - Features Part 3) as SQLAlchemy conditions over an allow-list.

pygeofilter parses the text; the translation to SQL is ours, because it must accept only the
queryables a collection names (columns chosen by us, never by the caller) and only the
operators below, and name anything else in a 400: comparisons (= <> < <= > >=), BETWEEN, LIKE,
IN, IS NULL, AND/OR/NOT, INCLUDE/EXCLUDE and S_INTERSECTS with a geometry or BBOX literal.

pygeofilter's grammar gives AND and OR the same precedence, read left to right, where CQL2
binds AND tighter (`a OR b AND c` is `a OR (b AND c)`); we load its grammar with that rule
corrected, and fall back to its own parser should a later release change the grammar.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import orjson
from lark import Lark
from lark.exceptions import LarkError
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parser as cql2_text
from sqlalchemy import ColumnElement, Date, and_, cast, false, func, not_, or_, true

from mdx.api import params
from mdx.api.problems import InvalidParameter

QueryableType = Literal["string", "integer", "number", "datetime", "geometry"]
GEOMETRY = "geometry"  # the name of every collection's primary geometry queryable


@dataclass(frozen=True, slots=True)
class Queryable:
    """A property a filter may name: its type (for checking literals) and what it means."""

    type: QueryableType
    title: str
    enum: tuple[str, ...] | None = None

    def json_schema(self) -> dict[str, Any]:
        """Its entry in the collection's queryables document (JSON Schema 2020-12)."""
        if self.type == "geometry":
            return {"title": self.title, "format": "geometry-any", "x-ogc-role": "primary-geometry"}
        schema: dict[str, Any] = {"title": self.title}
        if self.type == "datetime":
            schema.update(type="string", format="date-time")
        else:
            schema["type"] = self.type
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        return schema


def bad(text: str, message: str) -> InvalidParameter:
    return params.bad("filter", text, message)


# -- parsing ----------------------------------------------------------------------------------

_EQUAL_PRECEDENCE = """?condition: condition_1
          | condition "AND"i condition_1                                 -> and_
          | condition "OR"i condition_1                                   -> or_
"""
_CQL2_PRECEDENCE = """?condition: and_condition
          | condition "OR"i and_condition                                -> or_

?and_condition: condition_1
          | and_condition "AND"i condition_1                             -> and_
"""


_UNPARSED_OPERATOR = re.compile(r"\b[TA]_[A-Za-z]+(?=\s*\()")


@functools.cache
def _parser() -> Callable[[str], Any]:
    """pygeofilter's CQL2 text parser with AND binding tighter than OR (built on first use)."""
    folder = os.path.dirname(cql2_text.__file__)
    with open(os.path.join(folder, "grammar.lark"), encoding="utf-8") as f:
        grammar = f.read()
    if _EQUAL_PRECEDENCE not in grammar:  # a release that changed the grammar: trust it
        return cql2_text.parse  # type: ignore[no-any-return]
    lark = Lark(
        grammar.replace(_EQUAL_PRECEDENCE, _CQL2_PRECEDENCE),
        parser="lalr",
        maybe_placeholders=False,
        transformer=cql2_text.CQLTransformer(),
        import_paths=[os.path.dirname(folder)],
    )
    return lark.parse


def parse(text: str) -> Any:
    """The pygeofilter AST of `text`; a 400 naming where the text stops being CQL2."""
    if not text.strip():
        raise bad(text, "empty filter")
    try:
        return _parser()(text)
    except (LarkError, ValueError, TypeError) as e:
        # pygeofilter's grammar stops at temporal and array operators before we see them.
        if unsupported := _UNPARSED_OPERATOR.search(text):
            found = unsupported.group(0).upper()
            raise bad(text, f"{found} is not supported; supported: {SUPPORTED}") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise bad(text, f"not valid CQL2 text: {first}") from None


# -- translation ------------------------------------------------------------------------------

_COMPARISONS: dict[type[ast.Comparison], Callable[[Any, Any], ColumnElement[bool]]] = {
    ast.Equal: lambda c, v: c == v,
    ast.NotEqual: lambda c, v: c != v,
    ast.LessThan: lambda c, v: c < v,
    ast.LessEqual: lambda c, v: c <= v,
    ast.GreaterThan: lambda c, v: c > v,
    ast.GreaterEqual: lambda c, v: c >= v,
}
# The same comparison with its sides swapped (`5 < sog` is `sog > 5`).
_FLIPPED: dict[type[ast.Comparison], type[ast.Comparison]] = {
    ast.Equal: ast.Equal,
    ast.NotEqual: ast.NotEqual,
    ast.LessThan: ast.GreaterThan,
    ast.LessEqual: ast.GreaterEqual,
    ast.GreaterThan: ast.LessThan,
    ast.GreaterEqual: ast.LessEqual,
}
SUPPORTED = (
    "comparisons (= <> < <= > >=), BETWEEN, LIKE, IN, IS NULL, AND, OR, NOT, INCLUDE, EXCLUDE, "
    "S_INTERSECTS(geometry, <geometry or BBOX literal>)"
)


class Translator:
    """Turns one parsed filter into a SQL condition over `columns` (name -> expression), where
    `queryables` says what each name may be compared with."""

    def __init__(
        self,
        text: str,
        queryables: Mapping[str, Queryable],
        columns: Mapping[str, ColumnElement[Any]],
    ) -> None:
        self.text, self.queryables, self.columns = text, queryables, columns

    def condition(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, ast.And):
            return and_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Or):
            return or_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Not):
            return not_(self.condition(node.sub_node))
        if isinstance(node, ast.Include):
            return false() if node.not_ else true()
        if type(node) in _COMPARISONS:
            return self._comparison(node)
        if isinstance(node, ast.Between):
            return self._between(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.In):
            return self._in(node)
        if isinstance(node, ast.IsNull):
            name, _ = self._queryable(node.lhs, "IS NULL")
            column = self.columns[name]
            return column.is_not(None) if node.not_ else column.is_(None)
        if isinstance(node, ast.GeometryIntersects):
            return self._intersects(node)
        raise bad(self.text, f"{_describe(node)} is not supported; supported: {SUPPORTED}")

    # -- each operator ---------------------------------------------------------------------

    def _comparison(self, node: Any) -> ColumnElement[bool]:
        kind = type(node)
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs, kind = rhs, lhs, _FLIPPED[kind]
        name, q = self._queryable(lhs, "a comparison")
        if q.type == "geometry":
            raise bad(self.text, f"{name} is a geometry: use S_INTERSECTS")
        column = self.columns[name]
        if q.type == "datetime" and isinstance(rhs, date) and not isinstance(rhs, datetime):
            # A DATE literal compares with the day (UTC) of the instant.
            column = cast(func.timezone("UTC", column), Date)
            return _COMPARISONS[kind](column, rhs)
        value = self._literal(name, q, rhs, check_enum=kind in (ast.Equal, ast.NotEqual))
        return _COMPARISONS[kind](column, value)

    def _between(self, node: Any) -> ColumnElement[bool]:
        name, q = self._queryable(node.lhs, "BETWEEN")
        if q.type not in ("integer", "number", "datetime"):
            raise bad(self.text, f"BETWEEN needs a number or time queryable; {name} is a {q.type}")
        low = self._literal(name, q, node.low)
        high = self._literal(name, q, node.high)
        condition = self.columns[name].between(low, high)
        return not_(condition) if node.not_ else condition

    def _like(self, node: Any) -> ColumnElement[bool]:
        name, q = self._queryable(node.lhs, "LIKE")
        if q.type != "string":
            raise bad(self.text, f"LIKE needs a string queryable; {name} is a {q.type}")
        if not isinstance(node.pattern, str):
            raise bad(self.text, f"the pattern of LIKE on {name} must be a quoted string")
        # CQL2's wildcards are SQL's (% and _) and so is its escape (\\), PostgreSQL's default.
        column = self.columns[name]
        return column.not_like(node.pattern) if node.not_ else column.like(node.pattern)

    def _in(self, node: Any) -> ColumnElement[bool]:
        name, q = self._queryable(node.lhs, "IN")
        if q.type == "geometry":
            raise bad(self.text, f"{name} is a geometry: use S_INTERSECTS")
        found = [self._literal(name, q, v, check_enum=True) for v in node.sub_nodes]
        column = self.columns[name]
        return column.not_in(found) if node.not_ else column.in_(found)

    def _intersects(self, node: Any) -> ColumnElement[bool]:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        name, q = self._queryable(lhs, "S_INTERSECTS")
        if q.type != "geometry":
            raise bad(self.text, f"S_INTERSECTS needs a geometry queryable; {name} is a {q.type}")
        return func.ST_Intersects(self.columns[name], self._geometry(rhs))

    # -- operands --------------------------------------------------------------------------

    def _queryable(self, node: Any, where: str) -> tuple[str, Queryable]:
        if isinstance(node, ast.Function | ast.Arithmetic):
            raise bad(self.text, f"{_describe(node)} is not supported; supported: {SUPPORTED}")
        if not isinstance(node, ast.Attribute):
            raise bad(self.text, f"{where} needs a queryable on one side, got {_describe(node)}")
        q = self.queryables.get(node.name)
        if q is None:
            names = ", ".join(sorted(self.queryables))
            raise bad(self.text, f"unknown queryable {node.name!r}; the queryables are {names}")
        return node.name, q

    def _literal(self, name: str, q: Queryable, value: Any, check_enum: bool = False) -> Any:
        if isinstance(value, ast.Node):
            raise bad(
                self.text, f"{name} can only be compared with a literal, not {_describe(value)}"
            )
        if q.type == "string":
            if not isinstance(value, str):
                raise bad(self.text, f"{name} is a string: quote the value ({value!r})")
            if check_enum and q.enum is not None and value not in q.enum:
                raise bad(self.text, f"{value!r} is not a {name}; one of {', '.join(q.enum)}")
            return value
        if q.type in ("integer", "number"):
            ok = (int,) if q.type == "integer" else (int, float)
            if isinstance(value, bool) or not isinstance(value, ok):
                raise bad(self.text, f"{name} is a{'n' if q.type == 'integer' else ''} {q.type}")
            return value
        if q.type == "datetime":
            if isinstance(value, str):  # as GDAL writes times: a quoted RFC 3339 string
                return params.timestamp("filter", value)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise bad(self.text, f"the time compared with {name} needs a time zone")
                return value
            if isinstance(value, date):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            raise bad(self.text, f"{name} is a time: use TIMESTAMP('...') or DATE('...')")
        raise bad(self.text, f"{name} cannot be compared with {value!r}")

    def _geometry(self, node: Any) -> ColumnElement[Any]:
        if isinstance(node, values.Envelope):
            return func.ST_MakeEnvelope(node.x1, node.y1, node.x2, node.y2, 4326)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            args = node.arguments
            numeric = all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
            if len(args) not in (4, 6) or not numeric:
                raise bad(self.text, "BBOX takes 4 numbers (or 6, the heights ignored)")
            box = args if len(args) == 4 else [args[0], args[1], args[3], args[4]]
            return func.ST_MakeEnvelope(*box, 4326)
        if isinstance(node, values.Geometry):
            text = orjson.dumps(node.geometry).decode()
            return func.ST_SetSRID(func.ST_GeomFromGeoJSON(text), 4326)
        raise bad(
            self.text, f"S_INTERSECTS needs a geometry or BBOX literal, got {_describe(node)}"
        )


def translate(
    text: str, queryables: Mapping[str, Queryable], columns: Mapping[str, ColumnElement[Any]]
) -> ColumnElement[bool]:
    """The SQL condition of the CQL2 text `text`; a 400 naming what is wrong or unsupported."""
    return Translator(text, queryables, columns).condition(parse(text))


def _describe(node: Any) -> str:
    """How a caller wrote a node, roughly: the CQL2 name of an operator or function."""
    op = getattr(type(node), "op", None)
    if isinstance(node, ast.TemporalPredicate) and op is not None:
        return f"T_{op.name}"
    if isinstance(node, ast.SpatialComparisonPredicate) and op is not None:
        return f"S_{op.name}"
    if isinstance(node, ast.ArrayPredicate) and op is not None:
        return f"A_{op.name}"
    if isinstance(node, ast.Function):
        return "CASEI()" if node.name == "lower" else f"function {node.name}()"
    if isinstance(node, ast.Arithmetic):
        return "arithmetic"
    if isinstance(node, ast.Attribute):
        return f"the property {node.name}"
    if isinstance(node, ast.Node):
        return type(node).__name__
    return f"the literal {node!r}"

"""Who is asking, and what they may see: the one place every read passes through.

The releasability policy (TLP, relto, purpose per caller) arrives in a later issue; until then a
caller sees everything the node holds. Every read query goes through `visible` so the policy
is added here once, not in each endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import FromClause, Row, Select

# A select and a row of any columns (SQLAlchemy 2.1 types them per column).
AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]
S = TypeVar("S", bound=AnySelect)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated party behind a request; `node` is None for a local operator."""

    node: str | None = None


def caller(request: Request) -> Caller:
    """FastAPI dependency; authentication replaces this body, not its signature."""
    return Caller()


def visible(query: S, table: FromClause, who: Caller) -> S:
    """`query` restricted to the rows of `table` that `who` may see (for now: all of them)."""
    return query

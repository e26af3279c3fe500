"""The query parameters that select vessels (their latest positions): one definition for the
vessel search, its exports and its CISE form. Their OpenAPI patterns admit exactly what the
parsers read (see mdx.api.params)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, func, or_

from mdx.ais.facts import SHIP_CATEGORIES
from mdx.api import params


@dataclass(frozen=True, slots=True)
class VesselFilter:
    bbox: tuple[float, float, float, float] | None = None
    name: str | None = None  # part of the name, any case
    mmsi_prefixes: list[str] | None = None
    imo: str | None = None
    flags: list[str] | None = None  # ISO 3166-1 alpha-2, upper case
    categories: list[str] | None = None


async def vessel_filter(
    bbox: Annotated[
        str | None,
        Query(
            pattern=params.BBOX,
            description="minlon,minlat,maxlon,maxlat (WGS 84): latest position in it",
        ),
    ] = None,
    name: Annotated[
        str | None,
        Query(max_length=120, pattern=r"^[^\x00]*$", description="part of the name, any case"),
    ] = None,
    mmsi: Annotated[
        str | None,
        Query(
            pattern=params.list_of("[0-9]{1,9}"),
            description="MMSIs or MMSI prefixes (e.g. 440 for MID 440), comma-separated",
        ),
    ] = None,
    imo: Annotated[str | None, Query(pattern=r"^[0-9]{7}$", description="IMO number")] = None,
    flag: Annotated[
        str | None,
        Query(
            pattern=params.list_of("[A-Za-z]{2}"),
            description="flag states (ISO 3166-1 alpha-2, from the MID), comma-separated",
        ),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(SHIP_CATEGORIES)),
            description=f"ship categories, comma-separated: {', '.join(SHIP_CATEGORIES)}",
        ),
    ] = None,
) -> VesselFilter:
    """The filter, or a 400 problem naming the parameter and what is wrong with it.

    `async` though it never waits: FastAPI then runs it on the event loop instead of handing it
    to a worker thread and back (a thread switch per request for a few string splits).
    """
    return VesselFilter(
        bbox=params.bbox(bbox) if bbox is not None else None,
        name=name or None,
        mmsi_prefixes=params.split(mmsi) or None,
        imo=imo,
        flags=[f.upper() for f in params.split(flag)] or None,
        categories=params.split(category) or None,
    )


VesselSearch = Annotated[VesselFilter, Depends(vessel_filter)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conditions(
    f: VesselFilter, latest: Any, reg: Any, name: Any, imo: Any
) -> list[ColumnElement[bool]]:
    """SQL for `f` over a latest-position row `latest` joined to the registry `reg`, with the
    name and IMO expressions that merge the two (mdx.api.vessels.feature_json)."""
    where: list[ColumnElement[bool]] = []
    if f.bbox is not None:
        where.append(func.ST_Intersects(latest.geom, func.ST_MakeEnvelope(*f.bbox, 4326)))
    if f.name:
        where.append(name.ilike(f"%{_escape_like(f.name)}%", escape="\\"))
    if f.mmsi_prefixes:
        where.append(or_(*[latest.mmsi.startswith(p) for p in f.mmsi_prefixes]))
    if f.imo:
        where.append(imo == f.imo)
    if f.flags:
        where.append(reg.flag.in_(f.flags))
    if f.categories:
        where.append(reg.category.in_(f.categories))
    return where

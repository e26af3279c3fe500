"""Zone files (`*.geojson`, one FeatureCollection each) in, the `zones` table out.

Every file of a directory is judged before anything is written: each feature against the zone
schema, its geometry by shapely (a self-intersecting ring is refused, never repaired: a
repaired shape would silently differ from what the file says), and ids across all files. Any
problem refuses the whole load, listing every problem found; otherwise one transaction upserts
every zone and removes the zones their files no longer hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity
from sqlalchemy import Engine, create_engine, delete, func
from sqlalchemy.dialects.postgresql import insert

from mdx.core.db import Zone
from mdx.core.schemas import ZONE_SCHEMA_ID, SchemaSet
from mdx.core.settings import NodeSettings

log = logging.getLogger("mdx.zones")

PATTERN: Final = "*.geojson"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a zone file cannot be loaded."""

    file: str
    zone_id: str | None  # None when the file as a whole is wrong
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.zone_id or '(file)'}: {self.message}"


class ZoneError(Exception):
    """The zone files cannot be loaded; `problems` lists every reason, file by file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the zone files:\n{lines}")


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """A zone as judged and ready to store: its geometry is always a MultiPolygon."""

    zone_id: str
    name: str
    kind: str
    state: str | None
    authority: str | None
    illustrative: bool
    rules: dict[str, Any]
    source: str
    geom: MultiPolygon


@dataclass(frozen=True, slots=True)
class LoadSummary:
    loaded: int
    removed: int
    files: tuple[str, ...]


def read_dir(directory: Path, schemas: SchemaSet) -> tuple[list[ZoneRecord], list[str]]:
    """Every zone of every `*.geojson` in `directory` and the file names read; ZoneError if any
    file, feature or id is wrong."""
    if not directory.is_dir():
        raise ZoneError([Problem(str(directory), None, "not a directory")])
    files = sorted(directory.glob(PATTERN))
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    for path in files:
        found, wrong = read_file(path, schemas)
        records += found
        problems += wrong
    problems += _duplicates(records)
    if problems:
        raise ZoneError(problems)
    return records, [p.name for p in files]


def read_file(path: Path, schemas: SchemaSet) -> tuple[list[ZoneRecord], list[Problem]]:
    """The zones of one file and the problems found in it (both may be non-empty)."""
    name = path.name
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        return [], [Problem(name, None, f"cannot read it as JSON: {e}")]
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [], [Problem(name, None, 'not a GeoJSON FeatureCollection ("type")')]
    features = doc.get("features")
    if not isinstance(features, list):
        return [], [Problem(name, None, '"features" is not an array')]
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    for index, feature in enumerate(features):
        zone_id = _zone_id(feature, index)
        wrong = [str(v) for v in schemas.validate(ZONE_SCHEMA_ID, feature)]
        if not wrong:
            record, why = _record(feature, name)
            if record is not None:
                records.append(record)
            wrong = why
        problems += [Problem(name, zone_id, w) for w in wrong]
    return records, problems


def load(engine: Engine, directory: Path, schemas: SchemaSet) -> LoadSummary:
    """Judge the directory's files, then store their zones in one transaction."""
    records, files = read_dir(directory, schemas)
    ids = [r.zone_id for r in records]
    with engine.begin() as conn:
        if records:
            rows = [_row(r) for r in records]
            stmt = insert(Zone).values(rows)
            columns = {c: stmt.excluded[c] for c in rows[0] if c != "zone_id"}
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Zone.zone_id], set_={**columns, "loaded_at": func.now()}
                )
            )
        # Only the files just read speak for their zones; other sources' zones stay.
        removed = conn.execute(
            delete(Zone).where(Zone.source.in_(files), Zone.zone_id.not_in(ids))
        ).rowcount
    return LoadSummary(loaded=len(records), removed=removed, files=tuple(files))


def load_configured(settings: NodeSettings, schemas: SchemaSet | None = None) -> LoadSummary | None:
    """Load the node's `[zones] dir`; None (logged) when the directory does not exist."""
    directory = settings.zones.dir
    if not directory.is_dir():
        log.warning("zone directory %s does not exist: this node watches no zones", directory)
        return None
    engine = create_engine(settings.database.url)
    try:
        summary = load(engine, directory, schemas or SchemaSet())
    finally:
        engine.dispose()
    log.info(
        "zones from %s: %d loaded, %d removed (%s)",
        directory,
        summary.loaded,
        summary.removed,
        ", ".join(summary.files) or "no files",
    )
    return summary


def _zone_id(feature: object, index: int) -> str:
    """What to call a feature in messages: its id if it has a usable one, else its index."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    zone_id = props.get("id") if isinstance(props, dict) else None
    return zone_id if isinstance(zone_id, str) and zone_id else f"features[{index}]"


def _record(feature: dict[str, Any], source: str) -> tuple[ZoneRecord | None, list[str]]:
    """A schema-valid feature as a record, or the reasons it is not one."""
    props = feature["properties"]
    if "id" in feature and feature["id"] != props["id"]:
        return None, [f"Feature id {feature['id']!r} differs from properties.id"]
    geom = shape(feature["geometry"])
    if not geom.is_valid:
        return None, [f"invalid geometry: {explain_validity(geom)}"]
    return (
        ZoneRecord(
            zone_id=props["id"],
            name=props["name"],
            kind=props["kind"],
            state=props.get("state"),
            authority=props.get("authority"),
            illustrative=props["illustrative"],
            rules=props["rules"],
            source=source,
            geom=_multipolygon(geom),
        ),
        [],
    )


def _multipolygon(geom: Polygon | MultiPolygon) -> MultiPolygon:
    # One column type for every zone; exteriors counter-clockwise (RFC 7946), whatever the file.
    parts = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    return MultiPolygon([orient(p, 1.0) for p in parts])


def _duplicates(records: Iterable[ZoneRecord]) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for r in records:
        if r.zone_id in first:
            problems.append(
                Problem(r.source, r.zone_id, f"duplicate id: already defined in {first[r.zone_id]}")
            )
        else:
            first[r.zone_id] = r.source
    return problems


def _row(r: ZoneRecord) -> dict[str, Any]:
    return {
        "zone_id": r.zone_id,
        "name": r.name,
        "kind": r.kind,
        "state": r.state,
        "authority": r.authority,
        "rules": r.rules,
        "illustrative": r.illustrative,
        "source": r.source,
        "geom": from_shape(r.geom, srid=4326),
    }

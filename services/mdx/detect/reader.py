"""What the detection service reads from PostGIS: recent tracks, the vessel registry, the zones
and its own open detection incidents.

Tracks are kept in memory between cycles (`Tracks`): the first cycle reads the whole window,
every later one only the rows stored since the previous read, so that a cycle over thousands of
vessels costs the new fixes, not hours of them again (a whole window of 5,000 vessels reporting
every 10 s is about 10 million rows). Both reads thin to the first fix of each vessel in each
minute, in SQL; merging keeps that rule, so the tracks are the same as a fresh read of the
window would give.

Rows stored since a read are found by their `id` (the primary key, so a range scan), starting
after the last row received `LAG_S` before that read: a transaction that took its ids before
the read but committed after it is read the next time, for transactions shorter than LAG_S / 2.
A row read twice changes nothing.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import logging
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

import orjson
import psycopg

from mdx.core import store
from mdx.detect.geo import ZoneIndex
from mdx.detect.model import Fix, Vessel, Zone

log = logging.getLogger("mdx.detect")

LAG_S: Final = 120.0
# MMSIs of ships (MIDxxxxxx) and of craft of a parent ship (98MIDxxxx): what the track rules
# are about. Coast stations, groups, SAR aircraft, distress devices and aids to navigation
# are left out.
_VESSEL_FORM = "(left({c}, 1) BETWEEN '2' AND '7' OR left({c}, 2) = '98')"

# Per vessel, the first time of each minute from the (mmsi, observed_at) index alone (an
# index-only scan), then that one row: the window's other rows are never fetched.
_FULL = f"""
SELECT v.mmsi, r.observed_at, ST_X(r.geom), ST_Y(r.geom), r.sog, r.cog
FROM vessel_latest v
CROSS JOIN LATERAL (
  SELECT DISTINCT ON (date_trunc('minute', q.observed_at)) q.observed_at
  FROM positions q
  WHERE q.mmsi = v.mmsi AND q.observed_at > %(since)s
  ORDER BY date_trunc('minute', q.observed_at), q.observed_at
) f
CROSS JOIN LATERAL (
  SELECT p.observed_at, p.geom, p.sog, p.cog FROM positions p
  WHERE p.mmsi = v.mmsi AND p.observed_at = f.observed_at
  LIMIT 1
) r
WHERE v.observed_at > %(since)s AND {_VESSEL_FORM.format(c="v.mmsi")}
"""

_DELTA = f"""
SELECT DISTINCT ON (mmsi, date_trunc('minute', observed_at))
       mmsi, observed_at, ST_X(geom), ST_Y(geom), sog, cog
FROM positions
WHERE id > %(after)s AND observed_at > %(since)s AND {_VESSEL_FORM.format(c="mmsi")}
ORDER BY mmsi, date_trunc('minute', observed_at), observed_at
"""

# The last row received before a time, found by walking the primary key down from the top.
_LAST_ID_BEFORE = "SELECT max(id) FROM positions WHERE received_at < %s"

_VESSELS = """
SELECT v.mmsi, v.flag, v.category, coalesce(v.name, l.name), v.imo
FROM vessels v LEFT JOIN vessel_latest l USING (mmsi)
WHERE v.mmsi = ANY(%s)
"""

# Per vessel, the newest observation of the source (node and producer: a receiver, a feed, a
# partner) that reported it last: how far that source's data has arrived.
_HEARD_UNTIL = """
SELECT v.mmsi, s.until
FROM vessel_latest v
JOIN (SELECT source, max(observed_at) AS until FROM vessel_latest GROUP BY source) s
  USING (source)
"""

_ZONES_SIGNATURE = "SELECT count(*), max(loaded_at) FROM zones"
_ZONES = """
SELECT zone_id, name, kind, state, authority, illustrative, rules, ST_AsGeoJSON(geom)
FROM zones ORDER BY zone_id
"""

# Distress devices have MMSIs 970/972/974xxxxxx: a range of the (mmsi, observed_at) index.
# This node's own receptions only: a partner raises (and shares) its own distress incidents.
_DISTRESS = """
SELECT id, mmsi, observed_at, ST_X(geom), ST_Y(geom), sog, cog, nav_status, received_at
FROM positions
WHERE mmsi >= '970' AND mmsi < '975' AND left(mmsi, 3) IN ('970', '972', '974')
  AND origin = %(origin)s
  AND observed_at > %(since)s AND received_at > %(received_after)s
ORDER BY observed_at, id
"""

_LAST_KNOWN = """
SELECT mmsi, observed_at, ST_X(geom), ST_Y(geom), sog, cog FROM vessel_latest WHERE mmsi = %s
"""

# This node's detection incidents: the open ones seen lately, and any asked for by id.
_INCIDENTS = """
SELECT incident_id, version, status, data FROM incidents
WHERE origin = %(origin)s AND data ? 'detection'
  AND (%(rule)s::text IS NULL OR data->'detection'->>'rule' = %(rule)s)
  AND ((%(since)s::timestamptz IS NOT NULL AND status NOT IN ('resolved', 'closed')
        AND observed_at > %(since)s)
       OR incident_id = ANY(%(ids)s))
"""


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection whose times come back in UTC (what Fix wants, without conversion)."""
    conn = psycopg.connect(store.libpq_dsn(url), autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


_AT = attrgetter("at")


def merge(track: list[Fix], fix: Fix) -> bool:
    """Put `fix` into a time-ordered track of one fix per minute, keeping the first fix of each
    minute; False if it changed nothing."""
    if not track or fix.at > track[-1].at:
        if track and _minute(track[-1].at) == _minute(fix.at):
            return False
        track.append(fix)
        return True
    i = bisect.bisect_left(track, fix.at, key=_AT)
    minute = _minute(fix.at)
    if i > 0 and _minute(track[i - 1].at) == minute:
        return False  # an earlier fix of the same minute is kept
    if i < len(track) and _minute(track[i].at) == minute:
        if track[i].at == fix.at:
            return False
        track[i] = fix  # this one is earlier in the minute
        return True
    track.insert(i, fix)
    return True


@dataclass(slots=True)
class ReadStats:
    full: bool
    rows: int
    added: int
    vessels: int
    fixes: int
    seconds: float


@dataclass
class Tracks:
    """The recent fixes of every vessel (one per minute, time-ordered), kept between cycles."""

    window: timedelta
    tracks: dict[str, list[Fix]] = field(default_factory=dict)
    # The database's time of the last read, and the `now` it was for.
    read_at: datetime | None = None
    now: datetime | None = None

    def reset(self) -> None:
        self.tracks.clear()
        self.read_at = self.now = None

    def refresh(self, conn: psycopg.Connection[Any], now: datetime) -> ReadStats:
        """Bring the tracks up to what the database holds, for a cycle at `now`: a full read the
        first time (or when `now` goes back), otherwise only what was stored since."""
        started = time.perf_counter()
        since = now - self.window
        full = self.read_at is None or self.now is None or now < self.now
        if full:
            self.reset()
        added = rows = 0
        with conn.transaction():
            read_at = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            if full:
                # Streamed (a server-side cursor) rather than held whole, in binary, which
                # parses faster; the collector has nothing to find among millions of new fixes
                # and would look many times while they are built.
                conn.execute("SET LOCAL cursor_tuple_fraction = 1.0")
                conn.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
                stream = conn.cursor("detect_tracks", binary=True)
                stream.itersize = 20_000
                stream.execute(_FULL, {"since": since})
                collecting = gc.isenabled()
                gc.disable()
                try:
                    for mmsi, at, lon, lat, sog, cog in stream:
                        rows += 1
                        track = self.tracks.get(mmsi)
                        if track is None:
                            track = self.tracks[mmsi] = []
                        track.append(Fix(mmsi, at, lon, lat, sog, cog))
                finally:
                    stream.close()
                    if collecting:
                        gc.enable()
                for track in self.tracks.values():
                    if any(a.at > b.at for a, b in itertools.pairwise(track)):
                        track.sort(key=_AT)
                added = rows
            else:
                assert self.read_at is not None
                after = conn.execute(
                    _LAST_ID_BEFORE, (self.read_at - timedelta(seconds=LAG_S),)
                ).fetchone()
                params = {"after": (after or (None,))[0] or 0, "since": since}
                for mmsi, at, lon, lat, sog, cog in conn.cursor(binary=True).execute(
                    _DELTA, params
                ):
                    rows += 1
                    track = self.tracks.get(mmsi)
                    if track is None:
                        track = self.tracks[mmsi] = []
                    added += merge(track, Fix(mmsi, at, lon, lat, sog, cog))
        self.read_at, self.now = read_at, now
        self.trim(since)
        return ReadStats(
            full=full,
            rows=rows,
            added=added,
            vessels=len(self.tracks),
            fixes=sum(len(t) for t in self.tracks.values()),
            seconds=time.perf_counter() - started,
        )

    def trim(self, since: datetime) -> None:
        """Forget the fixes observed at or before `since`, and the vessels left without any."""
        for mmsi in list(self.tracks):
            track = self.tracks[mmsi]
            if track[0].at <= since:
                cut = bisect.bisect_right(track, since, key=_AT)
                if cut == len(track):
                    del self.tracks[mmsi]
                else:
                    del track[:cut]

    def upto(self, now: datetime) -> dict[str, Sequence[Fix]]:
        """The tracks as the rules see them at `now`: only fixes observed by then."""
        out: dict[str, Sequence[Fix]] = {}
        for mmsi, track in self.tracks.items():
            if track[-1].at <= now:
                out[mmsi] = track
            else:
                cut = bisect.bisect_right(track, now, key=_AT)
                if cut:
                    out[mmsi] = track[:cut]
        return out


def read_vessels(
    conn: psycopg.Connection[Any], mmsis: Collection[str], carriers: Collection[str] = ()
) -> dict[str, Vessel]:
    """The registry's flag, category and name of these vessels (those it knows). A vessel in
    `carriers` (MMSIs and "IMO1234567"s: the node's list of known reefers) is a reefer."""
    if not mmsis:
        return {}
    rows = conn.execute(_VESSELS, (list(mmsis),))
    return {
        mmsi: Vessel(
            mmsi=mmsi,
            flag=flag,
            category="reefer" if mmsi in carriers or f"IMO{imo}" in carriers else category,
            name=name,
        )
        for mmsi, flag, category, name, imo in rows
    }


def heard_until(conn: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Per MMSI, the time up to which the source of its latest position has delivered data."""
    return dict(conn.execute(_HEARD_UNTIL).fetchall())


def last_known(conn: psycopg.Connection[Any], mmsi: str) -> Fix | None:
    row = conn.execute(_LAST_KNOWN, (mmsi,)).fetchone()
    return Fix(*row) if row is not None else None


def watched_by(zones: Sequence[Zone], node: str) -> tuple[Zone, ...]:
    """A node's zones of interest (as its map shows them): those it is the authority for,
    its state's, and agreement zones its state is party to. Partners' areas are theirs to
    watch: raising candidates there from shared positions would only repeat their work.
    The node's state is its own area of responsibility's; without one, every zone counts."""
    states = {z.state for z in zones if z.kind == "aor" and z.authority == node and z.state}
    if not states:
        log.warning("no area of responsibility of %s among the zones: watching them all", node)
        return tuple(zones)
    return tuple(
        z for z in zones if z.authority == node or z.state in states or states & z.agreement_states
    )


@dataclass
class ZoneCache:
    """The zones table as rule zones, read again only when the table changes."""

    # The node whose zones of interest these are (None: every zone in the table).
    node: str | None = None
    zones: tuple[Zone, ...] = ()
    index: ZoneIndex = field(default_factory=lambda: ZoneIndex(()))
    # Every zone in the table, the partners' included: where the open sea is not.
    everywhere: ZoneIndex = field(default_factory=lambda: ZoneIndex(()))
    signature: tuple[Any, ...] | None = None

    def refresh(self, conn: psycopg.Connection[Any]) -> bool:
        """Reload the zones if the table changed since the last call; True if it did."""
        signature = tuple(conn.execute(_ZONES_SIGNATURE).fetchone() or ())
        if signature == self.signature:
            return False
        zones: list[Zone] = []
        for row in conn.execute(_ZONES):
            zone_id, name, kind, state, authority, illustrative, rules, geometry = row
            feature = {
                "type": "Feature",
                "geometry": orjson.loads(geometry),
                "properties": {
                    "id": zone_id,
                    "name": name,
                    "kind": kind,
                    "state": state,
                    "authority": authority,
                    "illustrative": illustrative,
                    "rules": rules,
                },
            }
            try:
                zones.append(Zone.from_feature(feature))
            except (ValueError, TypeError) as e:
                log.error("zone %s left out of detection: %s", zone_id, e)
        self.zones = watched_by(zones, self.node) if self.node else tuple(zones)
        self.index = ZoneIndex(self.zones)
        self.everywhere = ZoneIndex(tuple(zones))
        self.signature = signature
        log.info("zones loaded for detection: %d", len(self.zones))
        return True

    def by_id(self) -> dict[str, Zone]:
        return {z.id: z for z in self.zones}


@dataclass(frozen=True, slots=True)
class DistressRow:
    id: int
    mmsi: str
    at: datetime
    lon: float
    lat: float
    sog: float | None
    cog: float | None
    nav_status: int | None
    received_at: datetime


def read_distress(
    conn: psycopg.Connection[Any], origin: str, since: datetime, received_after: datetime
) -> list[DistressRow]:
    """Positions of distress devices that node `origin` received, observed after `since` and
    stored after `received_after`, in the order they were observed."""
    params = {"origin": origin, "since": since, "received_after": received_after}
    rows = conn.execute(_DISTRESS, params)
    return [DistressRow(*row) for row in rows]


_BROADCASTS = """
SELECT id, mmsi, observed_at, text FROM ais_safety_messages
WHERE msg_type = 14 AND id > %(after)s AND observed_at > %(since)s
ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An AIS safety broadcast (type 14) as ingest kept it."""

    id: int
    mmsi: str
    at: datetime
    text: str


def read_broadcasts(conn: psycopg.Connection[Any], since: datetime, after: int) -> list[Broadcast]:
    """Safety broadcasts observed after `since` with ids above `after`, in the order stored."""
    rows = conn.execute(_BROADCASTS, {"since": since, "after": after})
    return [Broadcast(*row) for row in rows]


def database_now(conn: psycopg.Connection[Any]) -> datetime:
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    at: datetime = row[0]
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Stored:
    """One of this node's detection incidents as the node holds it."""

    incident_id: uuid.UUID
    version: int
    status: str
    data: dict[str, Any]

    @property
    def closed(self) -> bool:
        return self.status in ("resolved", "closed")


def read_incidents(
    conn: psycopg.Connection[Any],
    origin: str,
    since: datetime | None,
    ids: Iterable[uuid.UUID] = (),
    rule: str | None = None,
) -> dict[uuid.UUID, Stored]:
    """This node's detection incidents (of `rule`, if given): the open ones last seen after
    `since` (none if None), and those of `ids` whatever their status."""
    params = {"origin": origin, "since": since, "ids": list(ids), "rule": rule}
    return {
        row[0]: Stored(row[0], row[1], row[2], row[3]) for row in conn.execute(_INCIDENTS, params)
    }

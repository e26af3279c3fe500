"""Writes a batch of judged messages to PostGIS in one transaction.

Hot path of ingest, so it uses psycopg directly: COPY into session-local staging tables, then
set-based inserts. `ON CONFLICT DO NOTHING` on `(source, event_id)` makes every write
idempotent, so redelivered and duplicated envelopes never make a second row.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import make_url

from mdx.ais.facts import flag_of, ship_category
from mdx.core.intake import Accepted, Rejected

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_positions (
  source text, event_id uuid, origin text, tlp text, relto text[], purpose text,
  received_via text, signature text, custody jsonb,
  mmsi text, imo text, name text, observed_at timestamptz, lon float8, lat float8,
  sog float8, cog float8, heading smallint, nav_status smallint, source_type text,
  flag text, category text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_vessels (
  source text, event_id uuid, origin text, tlp text, relto text[], purpose text,
  received_via text, signature text, custody jsonb,
  mmsi text, observed_at timestamptz, data jsonb, flag text, category text, imo text, name text,
  call_sign text, ship_type smallint, to_bow smallint, to_stern smallint, to_port smallint,
  to_starboard smallint, destination text, eta text, draught float8, ais_class text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_incidents (
  source text, event_id uuid, origin text, tlp text, relto text[], purpose text,
  received_via text, signature text, custody jsonb,
  incident_id uuid, version int, category text, status text, severity text, certainty text,
  urgency text, title text, observed_at timestamptz, location text, data jsonb, envelope jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_events (
  source text, event_id uuid, origin text, tlp text, relto text[], purpose text,
  received_via text, signature text, custody jsonb,
  incident_id uuid, kind text, number int, observed_at timestamptz, data jsonb, envelope jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_outbox (
  ord int, recipient text, kind text, source text, event_id uuid, envelope jsonb, custody jsonb,
  redacted boolean
) ON COMMIT DELETE ROWS;
"""

_MARKINGS = "source, event_id, origin, tlp, relto, purpose, received_via, signature, custody"
_POSITION_COLS = (
    f"{_MARKINGS}, mmsi, imo, name, observed_at, lon, lat, sog, cog, heading, nav_status,"
    " source_type, flag, category"
)
_STATIC_FIELDS = (
    "imo, name, call_sign, ship_type, to_bow, to_stern, to_port, to_starboard, destination, eta,"
    " draught, ais_class"
)
_STAGE_VESSEL_COLS = f"{_MARKINGS}, mmsi, observed_at, data, flag, category, {_STATIC_FIELDS}"
_VESSEL_COLS = (
    f"{_MARKINGS}, mmsi, imo, name, observed_at, geom, sog, cog, heading, nav_status, source_type"
)
_INCIDENT_COLS = (
    f"{_MARKINGS}, incident_id, version, category, status, severity, certainty, urgency,"
    " title, observed_at, location, data, envelope"
)
_EVENT_COLS = f"{_MARKINGS}, incident_id, kind, number, observed_at, data, envelope"
_OUTBOX_COLS = "recipient, kind, source, event_id, envelope, custody, redacted"

_INSERT_POSITIONS = f"""
WITH ins AS (
  INSERT INTO positions ({_VESSEL_COLS})
  SELECT {_MARKINGS}, mmsi, imo, name, observed_at, ST_SetSRID(ST_MakePoint(lon, lat), 4326),
         sog, cog, heading, nav_status, source_type
  FROM stage_positions
  ON CONFLICT DO NOTHING
  RETURNING id, {_VESSEL_COLS}
), marked AS (
  -- In the order of the unique index, as vessel_latest below: concurrent workers take the
  -- rows' locks in one order, never in a cycle.
  INSERT INTO vessel_marked_latest (mmsi, origin, tlp, relto, purpose, observed_at, position_id)
  SELECT DISTINCT ON (mmsi, origin, tlp, relto, purpose)
         mmsi, origin, tlp, relto, purpose, observed_at, id
  FROM ins ORDER BY mmsi, origin, tlp, relto, purpose, observed_at DESC, id DESC
  ON CONFLICT (mmsi, origin, tlp, relto, purpose) DO UPDATE SET
    observed_at = EXCLUDED.observed_at, position_id = EXCLUDED.position_id
  WHERE EXCLUDED.observed_at > vessel_marked_latest.observed_at
)
INSERT INTO vessel_latest ({_VESSEL_COLS})
SELECT DISTINCT ON (mmsi) {_VESSEL_COLS} FROM ins ORDER BY mmsi, observed_at DESC
ON CONFLICT (mmsi) DO UPDATE SET
  source = EXCLUDED.source, event_id = EXCLUDED.event_id, origin = EXCLUDED.origin,
  tlp = EXCLUDED.tlp, relto = EXCLUDED.relto, purpose = EXCLUDED.purpose,
  received_via = EXCLUDED.received_via, signature = EXCLUDED.signature,
  custody = EXCLUDED.custody,
  imo = COALESCE(EXCLUDED.imo, vessel_latest.imo),
  name = COALESCE(EXCLUDED.name, vessel_latest.name),
  observed_at = EXCLUDED.observed_at, geom = EXCLUDED.geom, sog = EXCLUDED.sog,
  cog = EXCLUDED.cog, heading = EXCLUDED.heading, nav_status = EXCLUDED.nav_status,
  source_type = EXCLUDED.source_type, received_at = now()
WHERE EXCLUDED.observed_at > vessel_latest.observed_at
"""

# Every vessel seen gets its registry row (flag and category from its MMSI until it reports
# static data); the row's markings are its first position's until a static report arrives.
_REGISTER_SEEN = f"""
INSERT INTO vessels ({_MARKINGS}, mmsi, flag, category, first_seen_at)
SELECT DISTINCT ON (mmsi) {_MARKINGS}, mmsi, flag, category, observed_at
FROM stage_positions s
-- Known since earlier: nothing to do. Leaving them out spares ON CONFLICT its row lock (a
-- write) per known vessel: 11% of a batch of positions, measured.
WHERE NOT EXISTS (
  SELECT 1 FROM vessels v WHERE v.mmsi = s.mmsi AND v.first_seen_at <= s.observed_at
)
ORDER BY mmsi, observed_at
ON CONFLICT (mmsi) DO UPDATE SET first_seen_at = EXCLUDED.first_seen_at
WHERE EXCLUDED.first_seen_at < vessels.first_seen_at
"""

# Static reports: kept as history, then merged into the registry field by field. Within a batch
# the newest non-null value of each field wins (AIS 24 part A names, part B types), then the
# registry keeps what a newer report does not say.
_MERGED = ",\n  ".join(
    f"(array_agg({f} ORDER BY s.observed_at DESC) FILTER (WHERE {f} IS NOT NULL))[1] AS {f}"
    for f in ("category", *_STATIC_FIELDS.split(", "))
)
_NEWEST_MARKINGS = ", ".join(f"n.{c}" for c in _MARKINGS.split(", "))
_MERGED_FIELDS = ", ".join(f"m.{f}" for f in _STATIC_FIELDS.split(", "))
_KEEP_UNSAID = ",\n  ".join(
    f"{f} = coalesce(EXCLUDED.{f}, vessels.{f})" for f in _STATIC_FIELDS.split(", ")
)
_INSERT_STATICS = f"""
WITH ins AS (
  INSERT INTO vessel_reports ({_MARKINGS}, mmsi, observed_at, data)
  SELECT {_MARKINGS}, mmsi, observed_at, data FROM stage_vessels
  ON CONFLICT DO NOTHING
  RETURNING source, event_id
), merged AS (
  SELECT s.mmsi, max(s.observed_at) AS observed_at, min(s.flag) AS flag,
  {_MERGED}
  FROM stage_vessels s JOIN ins USING (source, event_id)
  GROUP BY s.mmsi
), newest AS (
  SELECT DISTINCT ON (s.mmsi) s.* FROM stage_vessels s JOIN ins USING (source, event_id)
  ORDER BY s.mmsi, s.observed_at DESC
)
INSERT INTO vessels ({_MARKINGS}, mmsi, flag, category, first_seen_at, static_at,
                     {_STATIC_FIELDS})
SELECT {_NEWEST_MARKINGS}, m.mmsi, m.flag,
       coalesce(m.category, 'unknown'), m.observed_at, m.observed_at, {_MERGED_FIELDS}
FROM merged m JOIN newest n USING (mmsi)
ON CONFLICT (mmsi) DO UPDATE SET
  source = EXCLUDED.source, event_id = EXCLUDED.event_id, origin = EXCLUDED.origin,
  tlp = EXCLUDED.tlp, relto = EXCLUDED.relto, purpose = EXCLUDED.purpose,
  received_via = EXCLUDED.received_via, signature = EXCLUDED.signature,
  custody = EXCLUDED.custody, received_at = now(), static_at = EXCLUDED.static_at,
  category = CASE WHEN EXCLUDED.category = 'unknown' THEN vessels.category
                  ELSE EXCLUDED.category END,
  {_KEEP_UNSAID}
WHERE vessels.static_at IS NULL OR EXCLUDED.static_at >= vessels.static_at
"""

# Only versions new to incident_versions may move `incidents`, and only forward.
_INSERT_INCIDENTS = f"""
WITH ins AS (
  INSERT INTO incident_versions ({_MARKINGS}, incident_id, version, data, envelope)
  SELECT {_MARKINGS}, incident_id, version, data, envelope FROM stage_incidents
  ON CONFLICT DO NOTHING
  RETURNING source, event_id
)
INSERT INTO incidents ({_MARKINGS}, incident_id, version, category, status, severity, certainty,
                       urgency, title, observed_at, geom, data)
SELECT DISTINCT ON (s.incident_id)
  s.source, s.event_id, s.origin, s.tlp, s.relto, s.purpose, s.received_via, s.signature,
  s.custody, s.incident_id, s.version,
  s.category, s.status, s.severity, s.certainty, s.urgency, s.title, s.observed_at,
  ST_SetSRID(ST_GeomFromGeoJSON(s.location), 4326), s.data
FROM stage_incidents s JOIN ins USING (source, event_id)
ORDER BY s.incident_id, s.version DESC
ON CONFLICT (incident_id) DO UPDATE SET
  source = EXCLUDED.source, event_id = EXCLUDED.event_id, origin = EXCLUDED.origin,
  tlp = EXCLUDED.tlp, relto = EXCLUDED.relto, purpose = EXCLUDED.purpose,
  received_via = EXCLUDED.received_via, signature = EXCLUDED.signature,
  custody = EXCLUDED.custody, version = EXCLUDED.version, category = EXCLUDED.category,
  status = EXCLUDED.status,
  severity = EXCLUDED.severity, certainty = EXCLUDED.certainty, urgency = EXCLUDED.urgency,
  title = EXCLUDED.title, observed_at = EXCLUDED.observed_at, geom = EXCLUDED.geom,
  data = EXCLUDED.data, received_at = now()
WHERE EXCLUDED.version > incidents.version
"""

# Staged versions that lost to a different envelope carrying the same incident version.
_VERSION_CONFLICTS = """
SELECT s.source, s.event_id::text, v.source, v.event_id::text
FROM stage_incidents s
JOIN incident_versions v ON v.incident_id = s.incident_id AND v.version = s.version
WHERE (v.source, v.event_id) <> (s.source, s.event_id)
"""

_INSERT_EVENTS = f"""
INSERT INTO incident_events ({_EVENT_COLS}) SELECT {_EVENT_COLS} FROM stage_events
ON CONFLICT DO NOTHING
"""

# An incident belongs to its origin: an envelope from another node that would change it is
# refused (partners coordinate through SAR events instead).
_FOREIGN_CHANGES = """
DELETE FROM stage_incidents s USING incidents i
WHERE i.incident_id = s.incident_id AND i.origin <> s.origin
RETURNING s.source, s.event_id::text, i.origin
"""

# An item's outbox rows, only for items that are stored (a refused version shares nothing);
# the unique (recipient, source, event_id) makes a redelivered item share nothing twice.
_INSERT_OUTBOX = f"""
INSERT INTO outbox ({_OUTBOX_COLS})
SELECT {_OUTBOX_COLS} FROM stage_outbox s
WHERE EXISTS (SELECT 1 FROM positions p WHERE p.source = s.source AND p.event_id = s.event_id)
   OR EXISTS (SELECT 1 FROM incident_versions v
              WHERE v.source = s.source AND v.event_id = s.event_id)
   OR EXISTS (SELECT 1 FROM incident_events e
              WHERE e.source = s.source AND e.event_id = s.event_id)
   OR EXISTS (SELECT 1 FROM vessel_reports r
              WHERE r.source = s.source AND r.event_id = s.event_id)
ORDER BY s.ord
ON CONFLICT DO NOTHING
"""

_INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (topic, producer, reason, payload, digest)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING id, received_at
"""

_INSERT_SAFETY = """
INSERT INTO ais_safety_messages (producer, mmsi, msg_type, dest_mmsi, text, observed_at, raw,
                                 digest)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (digest) DO NOTHING
"""

# Channel of the NOTIFY a commit that adds to the outbox sends (LISTENed to by mdx.share).
OUTBOX_CHANNEL = "mdx_outbox"

_UPSERT_RECEIPT = """
INSERT INTO producer_receipts (producer, seq, updated_at) VALUES (%s, %s, now())
ON CONFLICT (producer) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()
WHERE EXCLUDED.seq > producer_receipts.seq
"""


@dataclass(slots=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    topic: str
    producer: str
    reason: str
    payload: bytes


@dataclass(slots=True)
class Bounced:
    """A rejected message with the bytes and topic it came with."""

    rejected: Rejected
    topic: str
    payload: bytes


def libpq_dsn(sqlalchemy_url: str) -> str:
    """The libpq connection string for a `postgresql+psycopg://` SQLAlchemy URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def connect(sqlalchemy_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(libpq_dsn(sqlalchemy_url))
    prepare(conn)
    return conn


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Create this session's staging tables (temporary, emptied at each commit)."""
    with conn.transaction():
        conn.execute(_STAGING)


@dataclass(frozen=True, slots=True)
class SafetyText:
    """An AIS safety-related text (type 12/14) as decoded, kept for the detection service."""

    producer: str
    mmsi: str
    msg_type: int
    dest_mmsi: str | None
    text: str
    observed_at: datetime
    raw: str


@dataclass(frozen=True, slots=True)
class Share:
    """One recipient of an accepted item, as the releasability policy decided it."""

    recipient: str
    envelope: dict[str, Any]  # redacted for this recipient where the policy said so
    redacted: bool = False


# Who an accepted item goes to (mdx.core.sharing builds one from the node's policy).
Router = Callable[[Accepted], Sequence[Share]]


def write_batch(
    conn: psycopg.Connection[Any],
    accepted: Sequence[Accepted],
    bounced: Sequence[Bounced],
    receipts: dict[str, int] | None = None,
    route: Router | None = None,
    safety: Sequence[SafetyText] = (),
) -> list[DeadLetterRow]:
    """Store a batch in one transaction, with the outbox rows of what it lets out; returns the
    dead letters it newly recorded."""
    positions = [_position_row(a) for a in accepted if a.kind == "position"]
    incidents_in = [a for a in accepted if a.kind == "incident"]
    events = [_event_row(a) for a in accepted if a.kind == "sar"]
    statics = [_static_row(a) for a in accepted if a.kind == "vessel"]
    outbox = [
        (
            i,
            s.recipient,
            a.kind,
            a.envelope["source"],
            a.envelope["id"],
            orjson.dumps(s.envelope).decode(),
            orjson.dumps(a.custody or []).decode(),
            s.redacted,
        )
        for i, a in enumerate(accepted)
        for s in (route(a) if route else ())
    ]
    dead: list[DeadLetterRow] = []
    with conn.transaction(), conn.cursor() as cur:
        if positions:
            with cur.copy(f"COPY stage_positions ({_POSITION_COLS}) FROM STDIN") as copy:
                for row in positions:
                    copy.write_row(row)
            cur.execute(_INSERT_POSITIONS)
            cur.execute(_REGISTER_SEEN)
        if statics:
            with cur.copy(f"COPY stage_vessels ({_STAGE_VESSEL_COLS}) FROM STDIN") as copy:
                for row in statics:
                    copy.write_row(row)
            cur.execute(_INSERT_STATICS)
        if incidents_in:
            with cur.copy(f"COPY stage_incidents ({_INCIDENT_COLS}) FROM STDIN") as copy:
                for a in incidents_in:
                    copy.write_row(_incident_row(a))
            foreign = _foreign_changes(cur, incidents_in)
            cur.execute(_INSERT_INCIDENTS)
            bounced = [*bounced, *foreign, *_version_conflicts(cur, incidents_in)]
        if events:
            with cur.copy(f"COPY stage_events ({_EVENT_COLS}) FROM STDIN") as copy:
                for row in events:
                    copy.write_row(row)
            cur.execute(_INSERT_EVENTS)
        for b in bounced:
            digest = hashlib.sha256(b.payload).digest()
            cur.execute(
                _INSERT_DEAD_LETTER,
                (b.topic, b.rejected.producer, b.rejected.reason, b.payload, digest),
            )
            inserted = cur.fetchone()
            if inserted is not None:  # None: this exact message was dead-lettered before
                dead.append(
                    DeadLetterRow(
                        inserted[0],
                        inserted[1],
                        b.topic,
                        b.rejected.producer,
                        b.rejected.reason,
                        b.payload,
                    )
                )
        if outbox:
            with cur.copy(f"COPY stage_outbox (ord, {_OUTBOX_COLS}) FROM STDIN") as copy:
                for row in outbox:
                    copy.write_row(row)
            cur.execute(_INSERT_OUTBOX)
            cur.execute(f"NOTIFY {OUTBOX_CHANNEL}")  # delivered at commit: the share service wakes
        for t in safety:
            digest = hashlib.sha256(f"{t.producer}\n{t.observed_at}\n{t.raw}".encode()).digest()
            cur.execute(
                _INSERT_SAFETY,
                (t.producer, t.mmsi, t.msg_type, t.dest_mmsi, t.text, t.observed_at, t.raw, digest),
            )
        for producer, seq in (receipts or {}).items():
            cur.execute(_UPSERT_RECEIPT, (producer, seq))
    return dead


def _foreign_changes(cur: psycopg.Cursor[Any], staged: Sequence[Accepted]) -> list[Bounced]:
    """Staged versions of another node's incident: taken out of the batch and bounced."""
    by_key = {(a.envelope["source"], a.envelope["id"]): a for a in staged}
    out = []
    for source, event_id, owner in cur.execute(_FOREIGN_CHANGES).fetchall():
        a = by_key[(source, event_id)]
        reason = (
            f"incident {a.data['incident_id']} belongs to {owner}: only its origin changes it "
            "(coordinate with SAR events instead)"
        )
        out.append(Bounced(Rejected(a.producer, reason, a.seq), a.topic, a.payload))
    return out


def _version_conflicts(cur: psycopg.Cursor[Any], staged: Sequence[Accepted]) -> list[Bounced]:
    """A second, different envelope for an incident version already stored is not silently
    dropped: it becomes a dead letter naming the envelope that holds that version."""
    by_key = {(a.envelope["source"], a.envelope["id"]): a for a in staged}
    out = []
    for source, event_id, holder_source, holder_id in cur.execute(_VERSION_CONFLICTS):
        a = by_key[(source, event_id)]
        reason = (
            f"incident {a.data['incident_id']} version {a.data['version']} is already stored "
            f"from another envelope ({holder_source} {holder_id}); raise the version"
        )
        out.append(Bounced(Rejected(a.producer, reason, a.seq), a.topic, a.payload))
    return out


# Receipts shared by several ingest workers (see mdx.core.receipts): each records the seqs it
# committed above the receipt; under a per-producer lock (held to commit, so each worker sees
# what the others committed before it), the receipt moves to the end of the run of seqs that
# starts just above it, and the seqs it covers are forgotten.
_RECORD_SEQS = """
INSERT INTO producer_seqs (producer, seq)
SELECT s.producer, s.seq FROM unnest(%s::text[], %s::bigint[]) AS s(producer, seq)
LEFT JOIN producer_receipts r USING (producer)
WHERE s.seq > coalesce(r.seq, 0)
ON CONFLICT DO NOTHING
"""
_RECEIPT_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
_RECEIPT_LOCK_SPACE = 0x6D6478  # "mdx": the first key of every receipt lock
_ADVANCE_RECEIPTS = """
WITH marks AS (
  SELECT p.producer, coalesce(r.seq, 0) AS mark
  FROM unnest(%s::text[]) AS p(producer) LEFT JOIN producer_receipts r USING (producer)
), runs AS (
  SELECT s.producer, s.seq, m.mark,
         s.seq - row_number() OVER (PARTITION BY s.producer ORDER BY s.seq) AS run
  FROM producer_seqs s JOIN marks m USING (producer)
  WHERE s.seq > m.mark
), moved AS (
  SELECT producer, max(seq) AS seq FROM runs WHERE run = mark GROUP BY producer
), covered AS (
  DELETE FROM producer_seqs s USING moved m WHERE s.producer = m.producer AND s.seq <= m.seq
)
INSERT INTO producer_receipts (producer, seq, updated_at)
SELECT producer, seq, now() FROM moved
ON CONFLICT (producer) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()
WHERE EXCLUDED.seq > producer_receipts.seq
RETURNING producer, seq
"""


def advance_receipts(
    conn: psycopg.Connection[Any], seqs: Sequence[tuple[str, int]]
) -> dict[str, int]:
    """Record committed `seqs` and move the receipts they complete; the receipts that moved.
    Call inside the transaction that commits what the seqs numbered."""
    if not seqs:
        return {}
    producers = sorted({p for p, _ in seqs})
    with conn.cursor() as cur:
        cur.execute(_RECORD_SEQS, ([p for p, _ in seqs], [s for _, s in seqs]))
        for producer in producers:  # always in the same order: no deadlock between workers
            cur.execute(_RECEIPT_LOCK, (_RECEIPT_LOCK_SPACE, producer))
        cur.execute(_ADVANCE_RECEIPTS, (producers,))
        return {producer: seq for producer, seq in cur.fetchall()}


def load_pending(conn: psycopg.Connection[Any]) -> dict[str, set[int]]:
    """Seqs committed above their receipt by workers that shared the subscription before."""
    pending: dict[str, set[int]] = {}
    with conn.transaction():
        for producer, seq in conn.execute("SELECT producer, seq FROM producer_seqs"):
            pending.setdefault(producer, set()).add(seq)
    return pending


def load_receipts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    with conn.transaction():
        rows = conn.execute("SELECT producer, seq FROM producer_receipts").fetchall()
    return {producer: seq for producer, seq in rows}


def _markings(a: Accepted) -> tuple[Any, ...]:
    e = a.envelope
    custody = orjson.dumps(a.custody).decode() if a.custody is not None else None
    return (
        e["source"],
        e["id"],
        a.origin,
        a.tlp,
        a.relto,
        e.get("purpose"),
        a.received_via,
        e.get("sig"),
        custody,
    )


def _whole(value: Any) -> int | None:
    """An integer field as an int: JSON Schema counts 10.0 as an integer, COPY into an integer
    column refuses "10.0"."""
    return None if value is None else int(value)


def _position_row(a: Accepted) -> tuple[Any, ...]:
    d = a.data
    return (
        *_markings(a),
        d["mmsi"],
        d.get("imo"),
        d.get("name"),
        d["observed_at"],
        d["lon"],
        d["lat"],
        d.get("sog"),
        d.get("cog"),
        _whole(d.get("heading")),
        _whole(d.get("nav_status")),
        d["source_type"],
        *_registry_guess(d["mmsi"]),
    )


@functools.lru_cache(maxsize=65536)
def _registry_guess(mmsi: str) -> tuple[str | None, str]:
    """Flag and category of a vessel known only by its MMSI (the same few thousand vessels
    report again and again: computed once each)."""
    return flag_of(mmsi), ship_category(None, mmsi)


def _known(category: str) -> str | None:
    # A report that does not say what the vessel is leaves the registry's category alone.
    return None if category == "unknown" else category


def _static_row(a: Accepted) -> tuple[Any, ...]:
    d = a.data
    dims = d.get("dimensions", {})
    return (
        *_markings(a),
        d["mmsi"],
        d["observed_at"],
        orjson.dumps(d).decode(),
        flag_of(d["mmsi"]),
        _known(ship_category(d.get("ship_type"), d["mmsi"])),
        d.get("imo"),
        d.get("name"),
        d.get("call_sign"),
        _whole(d.get("ship_type")),
        _whole(dims.get("to_bow")),
        _whole(dims.get("to_stern")),
        _whole(dims.get("to_port")),
        _whole(dims.get("to_starboard")),
        d.get("destination"),
        d.get("eta"),
        d.get("draught"),
        d.get("ais_class"),
    )


def _event_row(a: Accepted) -> tuple[Any, ...]:
    d = a.data
    return (
        *_markings(a),
        d["incident_id"],
        d["kind"],
        _whole(d.get("number")),
        d["observed_at"],
        orjson.dumps(d).decode(),
        orjson.dumps(a.envelope).decode(),
    )


def _incident_row(a: Accepted) -> tuple[Any, ...]:
    d = a.data
    return (
        *_markings(a),
        d["incident_id"],
        _whole(d["version"]),
        d["category"],
        d["status"],
        d.get("severity"),
        d.get("certainty"),
        d.get("urgency"),
        d["title"],
        d["observed_at"],
        orjson.dumps(d["location"]).decode(),
        orjson.dumps(d).decode(),
        orjson.dumps(a.envelope).decode(),
    )

"""The node's PostGIS tables: the one definition the migrations, ingest and api share."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _Markings:
    """Handling markings carried by every stored item (CloudEvents extension attributes)."""

    origin: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID)
    tlp: Mapped[str] = mapped_column(String(16))
    relto: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    purpose: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Provenance of a partner's item (NULL for the node's own): the node that passed it to us,
    # the origin's signature as verified, and the custody chain of re-sharing nodes.
    received_via: Mapped[str | None] = mapped_column(String(32))
    signature: Mapped[str | None] = mapped_column(Text)
    custody: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)


class Position(_Markings, Base):
    """Append-only history of vessel positions; `(source, event_id)` deduplicates."""

    __tablename__ = "positions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    mmsi: Mapped[str] = mapped_column(String(9))
    imo: Mapped[str | None] = mapped_column(String(7))
    name: Mapped[str | None] = mapped_column(String(120))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    sog: Mapped[float | None]
    cog: Mapped[float | None]
    heading: Mapped[int | None] = mapped_column(SmallInteger)
    nav_status: Mapped[int | None] = mapped_column(SmallInteger)
    source_type: Mapped[str] = mapped_column(String(24))

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        # A track, with the columns the policy reads.
        Index(
            "ix_positions_mmsi_observed_at_markings",
            "mmsi",
            "observed_at",
            postgresql_include=["id", "origin", "tlp", "relto", "purpose"],
        ),
        # A box, and the newest reports in it in order (btree_gist: migration 0011).
        Index("ix_positions_geom_id", "geom", "id", postgresql_using="gist"),
    )


class VesselLatest(_Markings, Base):
    """Latest known position per vessel, upserted when a newer observation arrives."""

    __tablename__ = "vessel_latest"
    mmsi: Mapped[str] = mapped_column(String(9), primary_key=True)
    imo: Mapped[str | None] = mapped_column(String(7))
    name: Mapped[str | None] = mapped_column(String(120))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    sog: Mapped[float | None]
    cog: Mapped[float | None]
    heading: Mapped[int | None] = mapped_column(SmallInteger)
    nav_status: Mapped[int | None] = mapped_column(SmallInteger)
    source_type: Mapped[str] = mapped_column(String(24))

    __table_args__ = (Index("ix_vessel_latest_geom", "geom", postgresql_using="gist"),)


class VesselMarkedLatest(Base):
    """Each vessel's newest position under each set of markings the policy reads: a partner's
    newest releasable position of a vessel is the newest of the few rows it may see here, where
    walking the vessel's history cost up to its every report (all of them for a vessel it may
    see none of). Upserted by ingest beside vessel_latest (mdx.core.store)."""

    __tablename__ = "vessel_marked_latest"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    mmsi: Mapped[str] = mapped_column(String(9))
    origin: Mapped[str] = mapped_column(String(32))
    tlp: Mapped[str] = mapped_column(String(16))
    relto: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    purpose: Mapped[str | None] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    position_id: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index(
            "uq_vessel_marked_latest_markings",
            "mmsi",
            "origin",
            "tlp",
            "relto",
            "purpose",
            unique=True,
            postgresql_nulls_not_distinct=True,  # no purpose is one set of markings
        ),
    )


class VesselReport(_Markings, Base):
    """Every static/voyage report as received (mdx.vessel.v1): the registry's history."""

    __tablename__ = "vessel_reports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    mmsi: Mapped[str] = mapped_column(String(9))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_vessel_reports_mmsi_observed_at", "mmsi", "observed_at"),
    )


class Vessel(_Markings, Base):
    """The vessel registry: one row per MMSI seen, static data merged field by field from
    its reports (a newer report's field wins; a field it lacks keeps the older value), under
    the markings of the latest report. Flag and category are derived (MID, AIS ship type)."""

    __tablename__ = "vessels"
    mmsi: Mapped[str] = mapped_column(String(9), primary_key=True)
    flag: Mapped[str | None] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(24))
    imo: Mapped[str | None] = mapped_column(String(7))
    name: Mapped[str | None] = mapped_column(String(120))
    call_sign: Mapped[str | None] = mapped_column(String(20))
    ship_type: Mapped[int | None] = mapped_column(SmallInteger)
    to_bow: Mapped[int | None] = mapped_column(SmallInteger)
    to_stern: Mapped[int | None] = mapped_column(SmallInteger)
    to_port: Mapped[int | None] = mapped_column(SmallInteger)
    to_starboard: Mapped[int | None] = mapped_column(SmallInteger)
    destination: Mapped[str | None] = mapped_column(String(120))
    eta: Mapped[str | None] = mapped_column(String(11))
    draught: Mapped[float | None]
    ais_class: Mapped[str | None] = mapped_column(String(1))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the latest static report was observed; NULL while only positions were seen.
    static_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_vessels_flag", "flag"),
        Index("ix_vessels_category", "category"),
        Index("ix_vessels_imo", "imo"),
    )


class SafetyMessage(Base):
    """AIS safety-related texts (types 12 and 14) as received: the detection service raises
    distress incidents from broadcasts (SART/MOB/EPIRB devices also report positions)."""

    __tablename__ = "ais_safety_messages"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    producer: Mapped[str] = mapped_column(String(64))
    mmsi: Mapped[str] = mapped_column(String(9))
    msg_type: Mapped[int] = mapped_column(SmallInteger)
    dest_mmsi: Mapped[str | None] = mapped_column(String(9))
    text: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    raw: Mapped[str] = mapped_column(Text)
    # A message delivered twice (MQTT redelivery, a replayed feed) is stored once.
    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)


class IncidentVersion(_Markings, Base):
    """Every version of every incident as received; the custody record."""

    __tablename__ = "incident_versions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(UUID)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The envelope as received (signed, for a partner's item): what re-sharing sends on.
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        UniqueConstraint("incident_id", "version"),
    )


class Incident(_Markings, Base):
    """Current state of each incident: the highest version received."""

    __tablename__ = "incidents"
    incident_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    certainty: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_observed_at_id", "observed_at", "incident_id"),
    )


# Radius queries in metres go through geography; this expression index keeps them indexed.
Index("ix_incidents_geog", func.geography(Incident.geom), postgresql_using="gist")


class IncidentEvent(_Markings, Base):
    """SAR coordination on an incident (mdx.sar.v1): requests, acknowledgements, assets, status
    updates and SITREPs, from any node that may see the incident; its timeline."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(UUID)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_incident_events_incident_id_observed_at", "incident_id", "observed_at"),
    )


class DeadLetter(Base):
    """A message that could not be accepted, kept byte for byte with the reason."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    topic: Mapped[str] = mapped_column(Text)
    producer: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # sha256(payload): a redelivery of the same bytes on the same topic is the same message.
    digest: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("topic", "digest"),)


class Outbox(Base):
    """One row per (item, permitted recipient), written in the same transaction as the item.

    The share service numbers each recipient's rows (`seq`, contiguous per stream) in `id`
    order, publishes them, and marks them delivered when the recipient's cumulative receipt
    covers them; until then it publishes them again after a timeout.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)
    custody: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    # Our own item with its personal data removed for this recipient (policy said redact).
    redacted: Mapped[bool] = mapped_column(server_default="false")
    seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("recipient", "source", "event_id"),
        UniqueConstraint("recipient", "seq"),
        Index("ix_outbox_unnumbered", "id", postgresql_where="seq IS NULL"),
        Index("ix_outbox_pending", "recipient", "seq", postgresql_where="delivered_at IS NULL"),
    )


class ShareStream(Base):
    """Each stream this node sends (to `recipient`) or receives (from `sender`): its high-water
    marks. `peer` is the partner node, `direction` 'out' or 'in'."""

    __tablename__ = "share_streams"
    peer: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    # out: last seq assigned / highest seq the recipient receipted. in: highest contiguous seq.
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    acked_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # out: the state of the bridge that carries the stream, as Mosquitto last reported it.
    connected: Mapped[bool | None]
    connected_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Append-only, hash-chained record of shares, receipts, refusals, policy and reads.

    `seq`, `prev_hash` and `hash` are set by the database's BEFORE INSERT trigger (migration
    0007), never by the writer; see mdx.core.audit.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    event: Mapped[str] = mapped_column(String(32))
    peer: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    actor: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class ProducerReceipt(Base):
    """Per producer: the highest `seq` up to which everything is committed or dead-lettered."""

    __tablename__ = "producer_receipts"
    producer: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProducerSeq(Base):
    """A seq committed above its producer's receipt by one of several ingest workers."""

    __tablename__ = "producer_seqs"
    producer: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Zone(Base):
    """A zone the node watches, loaded from its zone files (mdx.core.zones); not shared data."""

    __tablename__ = "zones"
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    # NULL only for a fishing-agreement zone: its states are rules.agreement_states.
    state: Mapped[str | None] = mapped_column(String(2))
    authority: Mapped[str | None] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    illustrative: Mapped[bool] = mapped_column(Boolean)
    # The file (name only) the zone came from: reloading a file removes what it no longer has.
    source: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_zones_geom", "geom", postgresql_using="gist"),)


class User(Base):
    """An account of this node's own people (operators): `mdx users`, POST /auth/token.
    Partner nodes are not here: they authenticate with their node key (mdx.core.fedauth)."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # viewer, operator or admin (mdx.api.roles); checked by the code that writes it.
    role: Mapped[str] = mapped_column(String(16))
    # argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by `mdx users disable`: the account can no longer log in nor use its tokens.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

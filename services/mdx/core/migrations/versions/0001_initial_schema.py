"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 20:57:50.001596
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("topic", "digest", name=op.f("uq_dead_letters_topic_digest")),
    )
    op.create_table(
        "incident_versions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("relto", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_versions")),
        sa.UniqueConstraint(
            "incident_id", "version", name=op.f("uq_incident_versions_incident_id_version")
        ),
        sa.UniqueConstraint(
            "source", "event_id", name=op.f("uq_incident_versions_source_event_id")
        ),
    )
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("certainty", sa.String(length=16), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "first_received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("relto", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "ix_incidents_geog",
        "incidents",
        [sa.literal_column("geography(geom)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(
        "ix_incidents_geom", "incidents", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "ix_incidents_observed_at_id", "incidents", ["observed_at", "incident_id"], unique=False
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("imo", sa.String(length=7), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("sog", sa.Double(), nullable=True),
        sa.Column("cog", sa.Double(), nullable=True),
        sa.Column("heading", sa.SmallInteger(), nullable=True),
        sa.Column("nav_status", sa.SmallInteger(), nullable=True),
        sa.Column("source_type", sa.String(length=24), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("relto", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_positions_source_event_id")),
    )
    op.create_index(
        "ix_positions_geom", "positions", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "ix_positions_mmsi_observed_at", "positions", ["mmsi", "observed_at"], unique=False
    )
    op.create_table(
        "producer_receipts",
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("producer", name=op.f("pk_producer_receipts")),
    )
    op.create_table(
        "vessel_latest",
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("imo", sa.String(length=7), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("sog", sa.Double(), nullable=True),
        sa.Column("cog", sa.Double(), nullable=True),
        sa.Column("heading", sa.SmallInteger(), nullable=True),
        sa.Column("nav_status", sa.SmallInteger(), nullable=True),
        sa.Column("source_type", sa.String(length=24), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("relto", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("mmsi", name=op.f("pk_vessel_latest")),
    )
    op.create_index(
        "ix_vessel_latest_geom", "vessel_latest", ["geom"], unique=False, postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_index("ix_vessel_latest_geom", table_name="vessel_latest", postgresql_using="gist")
    op.drop_table("vessel_latest")
    op.drop_table("producer_receipts")
    op.drop_index("ix_positions_mmsi_observed_at", table_name="positions")
    op.drop_index("ix_positions_geom", table_name="positions", postgresql_using="gist")
    op.drop_table("positions")
    op.drop_index("ix_incidents_observed_at_id", table_name="incidents")
    op.drop_index("ix_incidents_geom", table_name="incidents", postgresql_using="gist")
    op.drop_index("ix_incidents_geog", table_name="incidents", postgresql_using="gist")
    op.drop_table("incidents")
    op.drop_table("incident_versions")
    op.drop_table("dead_letters")

"""vessel registry and static reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:26:24.743363
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vessel_reports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.Column("received_via", sa.String(length=32), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vessel_reports")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_vessel_reports_source_event_id")),
    )
    op.create_index(
        "ix_vessel_reports_mmsi_observed_at",
        "vessel_reports",
        ["mmsi", "observed_at"],
        unique=False,
    )
    op.create_table(
        "vessels",
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("flag", sa.String(length=2), nullable=True),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("imo", sa.String(length=7), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("call_sign", sa.String(length=20), nullable=True),
        sa.Column("ship_type", sa.SmallInteger(), nullable=True),
        sa.Column("to_bow", sa.SmallInteger(), nullable=True),
        sa.Column("to_stern", sa.SmallInteger(), nullable=True),
        sa.Column("to_port", sa.SmallInteger(), nullable=True),
        sa.Column("to_starboard", sa.SmallInteger(), nullable=True),
        sa.Column("destination", sa.String(length=120), nullable=True),
        sa.Column("eta", sa.String(length=11), nullable=True),
        sa.Column("draught", sa.Double(), nullable=True),
        sa.Column("ais_class", sa.String(length=1), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("static_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("received_via", sa.String(length=32), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("mmsi", name=op.f("pk_vessels")),
    )
    op.create_index("ix_vessels_category", "vessels", ["category"], unique=False)
    op.create_index("ix_vessels_flag", "vessels", ["flag"], unique=False)
    op.create_index("ix_vessels_imo", "vessels", ["imo"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_vessels_imo", table_name="vessels")
    op.drop_index("ix_vessels_flag", table_name="vessels")
    op.drop_index("ix_vessels_category", table_name="vessels")
    op.drop_table("vessels")
    op.drop_index("ix_vessel_reports_mmsi_observed_at", table_name="vessel_reports")
    op.drop_table("vessel_reports")

"""sar coordination events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:03:40.844138
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_incident_events_source_event_id")),
    )
    op.create_index(
        "ix_incident_events_incident_id_observed_at",
        "incident_events",
        ["incident_id", "observed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_incident_events_incident_id_observed_at", table_name="incident_events")
    op.drop_table("incident_events")

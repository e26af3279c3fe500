"""sharing: outbox, streams, audit, provenance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:33:07.410990
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("peer", sa.String(length=32), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "custody",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("redacted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("recipient", "seq", name=op.f("uq_outbox_recipient_seq")),
        sa.UniqueConstraint(
            "recipient", "source", "event_id", name=op.f("uq_outbox_recipient_source_event_id")
        ),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["recipient", "seq"],
        unique=False,
        postgresql_where="delivered_at IS NULL",
    )
    op.create_index(
        "ix_outbox_unnumbered", "outbox", ["id"], unique=False, postgresql_where="seq IS NULL"
    )
    op.create_table(
        "share_streams",
        sa.Column("peer", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=True),
        sa.Column("connected_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("peer", "direction", name=op.f("pk_share_streams")),
    )
    op.add_column(
        "incident_versions",
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "incident_versions", sa.Column("received_via", sa.String(length=32), nullable=True)
    )
    op.add_column("incident_versions", sa.Column("signature", sa.Text(), nullable=True))
    op.add_column(
        "incident_versions",
        sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("incidents", sa.Column("received_via", sa.String(length=32), nullable=True))
    op.add_column("incidents", sa.Column("signature", sa.Text(), nullable=True))
    op.add_column(
        "incidents", sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("positions", sa.Column("received_via", sa.String(length=32), nullable=True))
    op.add_column("positions", sa.Column("signature", sa.Text(), nullable=True))
    op.add_column(
        "positions", sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("vessel_latest", sa.Column("received_via", sa.String(length=32), nullable=True))
    op.add_column("vessel_latest", sa.Column("signature", sa.Text(), nullable=True))
    op.add_column(
        "vessel_latest",
        sa.Column("custody", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("vessel_latest", "custody")
    op.drop_column("vessel_latest", "signature")
    op.drop_column("vessel_latest", "received_via")
    op.drop_column("positions", "custody")
    op.drop_column("positions", "signature")
    op.drop_column("positions", "received_via")
    op.drop_column("incidents", "custody")
    op.drop_column("incidents", "signature")
    op.drop_column("incidents", "received_via")
    op.drop_column("incident_versions", "custody")
    op.drop_column("incident_versions", "signature")
    op.drop_column("incident_versions", "received_via")
    op.drop_column("incident_versions", "envelope")
    op.drop_table("share_streams")
    op.drop_index("ix_outbox_unnumbered", table_name="outbox", postgresql_where="seq IS NULL")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where="delivered_at IS NULL")
    op.drop_table("outbox")
    op.drop_table("audit_log")

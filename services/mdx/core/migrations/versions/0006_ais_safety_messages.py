"""ais safety messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:45:08.210046
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ais_safety_messages",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("producer", sa.String(length=64), nullable=False),
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("msg_type", sa.SmallInteger(), nullable=False),
        sa.Column("dest_mmsi", sa.String(length=9), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ais_safety_messages")),
        sa.UniqueConstraint("digest", name=op.f("uq_ais_safety_messages_digest")),
    )


def downgrade() -> None:
    op.drop_table("ais_safety_messages")

"""producer_seqs: committed producer sequence numbers above the receipt, shared by ingest workers

With several ingest workers on one shared subscription, a producer's numbered envelopes are
spread over them; no worker alone sees the whole sequence, so the cumulative receipt is
computed in the database from the seqs every worker committed (mdx.core.receipts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 08:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "producer_seqs",
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("producer", "seq", name=op.f("pk_producer_seqs")),
    )


def downgrade() -> None:
    op.drop_table("producer_seqs")

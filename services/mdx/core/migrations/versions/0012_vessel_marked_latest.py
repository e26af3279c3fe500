"""vessel_marked_latest: each vessel's newest position under each set of markings, so that a
partner's newest releasable position of a vessel is found without walking the vessel's history

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 16:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# From the history already stored; ingest keeps the table up to date from here on.
BACKFILL = """
INSERT INTO vessel_marked_latest (mmsi, origin, tlp, relto, purpose, observed_at, position_id)
SELECT DISTINCT ON (mmsi, origin, tlp, relto, purpose)
       mmsi, origin, tlp, relto, purpose, observed_at, id
FROM positions
ORDER BY mmsi, origin, tlp, relto, purpose, observed_at DESC, id DESC
"""


def upgrade() -> None:
    op.create_table(
        "vessel_marked_latest",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("mmsi", sa.String(length=9), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("relto", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vessel_marked_latest")),
    )
    op.create_index(
        "uq_vessel_marked_latest_markings",
        "vessel_marked_latest",
        ["mmsi", "origin", "tlp", "relto", "purpose"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("uq_vessel_marked_latest_markings", table_name="vessel_marked_latest")
    op.drop_table("vessel_marked_latest")

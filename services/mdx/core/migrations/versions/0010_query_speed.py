"""query speed: a covering index (replacing the plain one) for a partner's newest releasable
position of each vessel, and no parallel workers on the tables the API reads in small pieces

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 08:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The API's reads return at most a few thousand rows through an index; launching a parallel
# worker costs more than it saves (measured: ~25 ms for a 1 ms bitmap scan on 2 cores).
_SERIAL = ("positions", "incidents", "vessel_latest")


def upgrade() -> None:
    # A vessel's history newest first with its markings: the policy's test runs on the index
    # alone, so the newest position a partner may see is found without visiting the table.
    # It replaces the plain (mmsi, observed_at) index: one index to maintain on ingest, not two.
    op.create_index(
        "ix_positions_mmsi_observed_at_markings",
        "positions",
        ["mmsi", "observed_at"],
        postgresql_include=["id", "origin", "tlp", "relto", "purpose"],
    )
    op.drop_index("ix_positions_mmsi_observed_at", table_name="positions")
    for table in _SERIAL:
        op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade() -> None:
    for table in _SERIAL:
        op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
    op.create_index("ix_positions_mmsi_observed_at", "positions", ["mmsi", "observed_at"])
    op.drop_index("ix_positions_mmsi_observed_at_markings", table_name="positions")

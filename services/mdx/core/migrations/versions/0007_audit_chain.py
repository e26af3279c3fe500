"""audit chain: seq, actor and a sha256 hash chain over audit_log, append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 03:30:00.000000

The chain is computed in the database by a BEFORE INSERT trigger, so every writer (ingest,
share, api, detect; any process) gets a chained row from a plain INSERT. A transaction-scoped
advisory lock serialises the writers: each row links to the previously committed one.
`mdx.core.audit` recomputes the same hashes in Python; the canonical text is defined in
`audit_log_hash` below and must stay in step with `mdx.core.audit.canonical_text`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# hash = sha256(prev_hash || utf8(canonical text)), the canonical text being
#   seq \n at (UTC, ISO, microseconds) \n field(event) \n field(peer) \n field(actor) \n detail
# where field(x) is '~' for NULL, else "<octet length>:<x>" (so no separator inside a value can
# shift a boundary), and detail is jsonb's own text form (canonical for a jsonb value).
HASH_FUNCTION = r"""
CREATE FUNCTION audit_log_hash(
    prev_hash bytea, seq bigint, at timestamptz, event text, peer text, actor text, detail jsonb
) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT sha256(prev_hash || convert_to(
        seq::text
        || E'\n' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || E'\n' || coalesce(octet_length(event) || ':' || event, '~')
        || E'\n' || coalesce(octet_length(peer) || ':' || peer, '~')
        || E'\n' || coalesce(octet_length(actor) || ':' || actor, '~')
        || E'\n' || detail::text,
        'UTF8'))
$$
"""

# Under READ COMMITTED each statement of the function takes a fresh snapshot, so the SELECT
# after the lock sees the row the previous holder committed. (A REPEATABLE READ writer would
# see a stale head and fail on the unique seq: safe, never a fork.)
CHAIN_FUNCTION = r"""
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    -- What Python's datetime can hold (and format), so that every row can be verified.
    IF NOT (NEW.at >= '0001-01-02 00:00+00' AND NEW.at < '9999-12-31 00:00+00') THEN
        RAISE EXCEPTION 'audit_log.at % is outside the years 1 to 9999', NEW.at;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('mdx.audit_log', 0));
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
    NEW.hash := audit_log_hash(
        NEW.prev_hash, NEW.seq, NEW.at, NEW.event, NEW.peer, NEW.actor, NEW.detail
    );
    RETURN NEW;
END
$$
"""

REFUSE_FUNCTION = r"""
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

# Rows written before the chain existed came from the share service's refusals.
BACKFILL = r"""
DO $$
DECLARE
    r record;
    n bigint := 0;
    prev bytea := decode(repeat('00', 32), 'hex');
BEGIN
    FOR r IN SELECT id FROM audit_log ORDER BY id LOOP
        n := n + 1;
        UPDATE audit_log
           SET seq = n, actor = 'share', prev_hash = prev,
               hash = audit_log_hash(prev, n, at, event, peer, 'share', detail)
         WHERE id = r.id
        RETURNING hash INTO prev;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("actor", sa.String(length=128), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.LargeBinary(), nullable=True))
    op.execute(HASH_FUNCTION)
    op.execute(BACKFILL)
    for column in ("seq", "actor", "prev_hash", "hash"):
        op.alter_column("audit_log", column, nullable=False)
    op.create_unique_constraint(op.f("uq_audit_log_seq"), "audit_log", ["seq"])
    op.execute(CHAIN_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"
    )
    op.execute(REFUSE_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_refuse_change()")
    op.execute("DROP TRIGGER audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION audit_log_chain()")
    op.drop_constraint(op.f("uq_audit_log_seq"), "audit_log", type_="unique")
    for column in ("hash", "prev_hash", "actor", "seq"):
        op.drop_column("audit_log", column)
    op.execute("DROP FUNCTION audit_log_hash(bytea, bigint, timestamptz, text, text, text, jsonb)")

"""The audit trail: chained by the database for any writer, append-only, and every edit or
deletion found by `verify` (a truncated tail or a rewritten chain against a recorded head)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import create_engine, make_url
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core import audit, migrate, store
from tests.conftest import PG_ADMIN

APPEND_ONLY_TRIGGER = "audit_log_append_only"


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(store.libpq_dsn(db), autocommit=True) as c:
        yield c


def write(conn: psycopg.Connection[Any], n: int, *, actor: str = "test") -> None:
    for i in range(n):
        audit.record(conn, audit.SHARE_SENT, actor=actor, peer="kcg", detail={"i": i})


def seqs(conn: psycopg.Connection[Any]) -> list[int]:
    return [s for (s,) in conn.execute("SELECT seq FROM audit_log ORDER BY seq").fetchall()]


def tamper(conn: psycopg.Connection[Any], *statements: str) -> None:
    """What the table's owner (a DBA, an attacker with its credentials) can do: switch the
    append-only trigger off, change rows, switch it back on."""
    with conn.transaction():
        conn.execute(f"ALTER TABLE audit_log DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
        for sql in statements:
            conn.execute(sql)
        conn.execute(f"ALTER TABLE audit_log ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")


def broken(verdict: audit.Verdict) -> tuple[bool, int | None, str | None]:
    return verdict.ok, verdict.bad_seq, verdict.reason


# -- the chain ------------------------------------------------------------------------------


def test_concurrent_writers_make_one_unbroken_chain(db: str, conn: psycopg.Connection[Any]) -> None:
    writers, rows_each = 4, 200
    failures: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with psycopg.connect(store.libpq_dsn(db), autocommit=True) as c:
                for i in range(0, rows_each, 4):  # transactions of 1 and of 3 rows, interleaved
                    audit.record(c, audit.SHARE_SENT, actor=f"w{k}", detail={"i": i})
                    with c.transaction():
                        for j in range(1, 4):
                            audit.record(c, audit.SHARE_SENT, actor=f"w{k}", detail={"i": i + j})
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    verdict = audit.verify(conn)
    assert verdict.ok and verdict.rows == writers * rows_each
    assert seqs(conn) == list(range(1, writers * rows_each + 1))
    per_writer = conn.execute(
        "SELECT actor, count(*), count(DISTINCT detail) FROM audit_log GROUP BY actor ORDER BY 1"
    ).fetchall()
    assert per_writer == [(f"w{k}", rows_each, rows_each) for k in range(writers)]
    assert verdict.head == audit.head(conn)
    assert verdict.head is not None and verdict.head.seq == writers * rows_each


def test_first_row_links_to_32_zero_bytes_and_each_to_the_one_before(
    conn: psycopg.Connection[Any],
) -> None:
    write(conn, 3)
    entries = audit.read(conn)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == bytes(32)
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:2]]
    assert all(len(e.hash) == 32 for e in entries)


@pytest.mark.parametrize("at", ["infinity", "-infinity", "10000-01-01 UTC", "0001-01-01 UTC"])
def test_times_python_cannot_verify_are_refused(conn: psycopg.Connection[Any], at: str) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="outside the years 1 to 9999"):
        conn.execute(
            "INSERT INTO audit_log (at, event, actor, detail) VALUES (%s, 'share.sent', 't', '{}')",
            (at,),
        )
    assert seqs(conn) == []


def test_writer_supplied_chain_values_are_overwritten(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO audit_log (event, actor, detail, seq, prev_hash, hash) "
        "VALUES ('share.sent', 'forger', '{}', 99, '\\x01', '\\x02')"
    )
    (entry,) = audit.read(conn)
    assert entry.seq == 1 and entry.prev_hash == bytes(32) and len(entry.hash) == 32
    assert audit.verify(conn).ok


ODD_DETAILS: list[tuple[str, Any]] = [
    ("unicode", {"text": "海上保安庁 해양경찰청 🚢 e\u0301 \u00a0 \u2028", "ключ": "значение"}),
    ("escapes", {"q": 'a "quoted" \\ back\\slash\n\t\r\b\f \u0001 \u001f /'}),
    ("nested", {"b": [1, {"z": [], "a": {}}, [[None, True, False]]], "aa": {"x": {"y": {}}}}),
    ("numbers", {"n": [0, -0.0, 1.0, 1.50, 0.1, 1e-7, 1e21, 12345678901234567890, -3]}),
    ("key order", {"bbb": 1, "a": 2, "cc": 3, "B": 4, "é": 5, "e": 6}),
    ("empty", {}),
    ("array", [1, "two", None]),
    ("scalar", "just a string"),
]
ODD_TIMES = [
    "2026-11-26 12:00:00+00",  # no microseconds
    "1999-12-31 23:59:59.999999+09",  # the day before, in UTC
    "2026-03-08 02:30:00.5-05",  # a US DST change day
    "0099-01-01 00:00:00.000001+00",  # a year of two digits
    "9999-12-30 23:59:59.999999+00",
    "2024-02-29 00:00:00.123456+14",
]


def test_python_recomputes_the_databases_hash_exactly(conn: psycopg.Connection[Any]) -> None:
    for (name, detail), at in zip(ODD_DETAILS, ODD_TIMES + ODD_TIMES, strict=False):
        audit.record(conn, audit.SHARE_SENT, actor=f"test {name}", detail=detail)
        conn.execute(
            "INSERT INTO audit_log (at, event, peer, actor, detail) VALUES (%s, %s, %s, %s, %s)",
            (at, "odd\nevent", "", "ünï\ncødé", psycopg.types.json.Jsonb(detail)),
        )
    rows = conn.execute(
        "SELECT seq, at, event, peer, actor, detail::text, prev_hash, hash FROM audit_log"
    ).fetchall()
    assert len(rows) == 2 * len(ODD_DETAILS)
    for seq, at, event, peer, actor, detail_text, prev_hash, digest in rows:
        assert (
            audit.row_hash(
                prev_hash, audit.canonical_text(seq, at, event, peer, actor, detail_text)
            )
            == digest
        )
    assert audit.verify(conn).ok


def test_the_canonical_text_names_each_field_unambiguously() -> None:
    at = datetime.fromisoformat("2026-11-26T01:02:03.000004+09:00")
    text = audit.canonical_text(7, at, "share.sent", None, "a\nb", '{"a": 1}')
    assert text == '7\n2026-11-25T16:02:03.000004Z\n10:share.sent\n~\n3:a\nb\n{"a": 1}'
    # A separator inside a value cannot move a field boundary, and NULL is not "".
    assert text != audit.canonical_text(7, at, "share.sent", "a", "b", '{"a": 1}')
    assert audit.canonical_text(1, at, "e", "", "x", "{}") != audit.canonical_text(
        1, at, "e", None, "x", "{}"
    )


# -- append-only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE audit_log SET detail = '{\"i\": 9}' WHERE seq = 1", "UPDATE"),
        ("DELETE FROM audit_log WHERE seq = 1", "DELETE"),
    ],
)
def test_update_and_delete_are_refused(
    conn: psycopg.Connection[Any], statement: str, operation: str
) -> None:
    write(conn, 2)
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(statement)
    assert str(refused.value).startswith(f"audit_log is append-only: {operation} refused")
    assert seqs(conn) == [1, 2] and audit.verify(conn).ok


# -- tampering is found ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_log SET detail = '{\"i\": 40}' WHERE seq = 5",
        "UPDATE audit_log SET detail = detail || '{\"extra\": true}' WHERE seq = 5",
        "UPDATE audit_log SET event = 'share.received' WHERE seq = 5",
        "UPDATE audit_log SET peer = 'uscg' WHERE seq = 5",
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
        "UPDATE audit_log SET at = at - interval '1 microsecond' WHERE seq = 5",
        "UPDATE audit_log SET at = 'infinity' WHERE seq = 5",
    ],
)
def test_an_edited_row_is_named(conn: psycopg.Connection[Any], edit: str) -> None:
    write(conn, 10)
    tamper(conn, edit)
    verdict = audit.verify(conn)
    reason = "timestamp out of range" if "infinity" in edit else "hash mismatch"
    assert broken(verdict) == (False, 5, f"{reason} (row edited)")
    assert verdict.rows == 4 and verdict.head is not None and verdict.head.seq == 4
    assert str(verdict) == f"audit chain broken at seq 5: {reason} (row edited)"


def test_an_edited_row_with_its_own_hash_recomputed_breaks_the_next_link(
    conn: psycopg.Connection[Any],
) -> None:
    write(conn, 10)
    tamper(
        conn,
        "UPDATE audit_log SET detail = '{\"i\": 40}' WHERE seq = 5",
        "UPDATE audit_log SET hash = audit_log_hash(prev_hash, seq, at, event, peer, actor, "
        "detail) WHERE seq = 5",
    )
    assert broken(audit.verify(conn)) == (False, 6, "prev_hash does not link")


def test_a_deleted_middle_row_is_a_gap(conn: psycopg.Connection[Any]) -> None:
    write(conn, 10)
    tamper(conn, "DELETE FROM audit_log WHERE seq = 5")
    verdict = audit.verify(conn)
    assert broken(verdict) == (False, 6, "seq gap 4 -> 6 (row deleted)")
    assert verdict.rows == 4


def test_a_deleted_first_row_is_a_gap(conn: psycopg.Connection[Any]) -> None:
    write(conn, 3)
    tamper(conn, "DELETE FROM audit_log WHERE seq = 1")
    assert broken(audit.verify(conn)) == (False, 2, "seq gap 0 -> 2 (row deleted)")


def test_a_deletion_renumbered_by_hand_does_not_link(conn: psycopg.Connection[Any]) -> None:
    write(conn, 10)
    tamper(
        conn,
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 5",  # two steps: seq is unique
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
    )
    assert seqs(conn) == list(range(1, 10))
    assert broken(audit.verify(conn)) == (False, 5, "prev_hash does not link")


def test_a_deletion_renumbered_and_relinked_by_hand_fails_its_hash(
    conn: psycopg.Connection[Any],
) -> None:
    write(conn, 10)
    tamper(
        conn,
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 5",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
        "UPDATE audit_log a SET prev_hash = b.hash FROM audit_log b WHERE b.seq = a.seq - 1 "
        "AND a.seq = 5",
    )
    assert broken(audit.verify(conn)) == (False, 5, "hash mismatch (row edited)")


REWRITE_FROM_5 = """
DO $$
DECLARE r record; prev bytea;
BEGIN
  SELECT hash INTO prev FROM audit_log WHERE seq = 4;
  FOR r IN SELECT id FROM audit_log WHERE seq >= 5 ORDER BY seq LOOP
    UPDATE audit_log SET prev_hash = prev,
      hash = audit_log_hash(prev, seq, at, event, peer, actor, detail)
    WHERE id = r.id RETURNING hash INTO prev;
  END LOOP;
END $$
"""


def test_a_chain_rewritten_by_hand_is_caught_only_against_a_recorded_head(
    conn: psycopg.Connection[Any],
) -> None:
    write(conn, 10)
    recorded = audit.verify(conn).head
    assert recorded is not None
    tamper(
        conn,
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 5",
        "UPDATE audit_log SET seq = -seq WHERE seq < 0",
        REWRITE_FROM_5,
        "INSERT INTO audit_log (event, actor, detail) VALUES ('share.sent', 'forger', '{}')",
    )
    assert audit.verify(conn).ok  # no secret in the chain: a full rewrite is self-consistent
    verdict = audit.verify(conn, expected=recorded)
    assert broken(verdict) == (
        False,
        10,
        "hash differs from the recorded head (chain rewritten)",
    )


def test_a_truncated_tail_is_caught_against_a_recorded_head(
    conn: psycopg.Connection[Any],
) -> None:
    write(conn, 8)
    earlier = audit.head(conn)
    write(conn, 2)
    recorded = audit.head(conn)
    assert earlier is not None and recorded is not None and recorded.seq == 10
    assert audit.verify(conn, expected=recorded).ok
    tamper(conn, "DELETE FROM audit_log WHERE seq > 8")
    assert audit.verify(conn).ok and audit.verify(conn).rows == 8  # alone, it cannot tell
    verdict = audit.verify(conn, expected=recorded)
    assert broken(verdict) == (False, 10, "recorded head seq 10 is gone (newest rows deleted)")
    # Rows written after a recorded head are not a fault: an older head still checks.
    assert audit.verify(conn, expected=earlier).ok


# -- writing and reading --------------------------------------------------------------------


def test_record_takes_a_sqlalchemy_connection_in_the_callers_transaction(db: str) -> None:
    engine = create_engine(db)
    try:
        with engine.begin() as sa_conn:
            audit.record(sa_conn, audit.AUTH_LOGIN, actor="user:alice", detail={"role": "admin"})
        with pytest.raises(RuntimeError), engine.begin() as sa_conn:
            audit.record(sa_conn, audit.AUTH_LOGIN, actor="user:bob", detail={})
            raise RuntimeError("the change it records failed")
        with engine.connect() as sa_conn:
            entries = audit.read(sa_conn)
            assert [(e.seq, e.event, e.actor, e.detail) for e in entries] == [
                (1, "auth.login", "user:alice", {"role": "admin"})
            ]
            assert audit.verify(sa_conn).ok
    finally:
        engine.dispose()


def test_record_refuses_an_event_outside_the_vocabulary(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="unknown audit event 'share-sent'"):
        audit.record(conn, "share-sent", actor="share", detail={})
    assert seqs(conn) == []


def test_read_pages_and_filters(conn: psycopg.Connection[Any]) -> None:
    for i in range(6):
        event = audit.SHARE_SENT if i % 2 else audit.SHARE_RECEIVED
        audit.record(conn, event, actor="share", peer="kcg", detail={"i": i})
    assert [e.seq for e in audit.read(conn, after=2, limit=3)] == [3, 4, 5]
    assert [e.seq for e in audit.read(conn, event=audit.SHARE_SENT)] == [2, 4, 6]
    assert [e.seq for e in audit.latest(conn, 2)] == [5, 6]
    assert [e.seq for e in audit.latest(conn, 2, event=audit.SHARE_RECEIVED)] == [3, 5]
    assert [e.detail for e in audit.read(conn, after=5)] == [{"i": 5}]


def test_an_empty_log_verifies(conn: psycopg.Connection[Any]) -> None:
    verdict = audit.verify(conn)
    assert (verdict.ok, verdict.rows, verdict.head) == (True, 0, None)
    assert str(verdict) == "audit chain intact: 0 rows, empty"


# -- the command ----------------------------------------------------------------------------


def mdx_audit(db: str, *args: str) -> Any:
    env = {"MDX_DATABASE__URL": db, "COLUMNS": "200"}
    return CliRunner().invoke(app, ["audit", *args, "--config", "infra/nodes/jcg.toml"], env=env)


def test_cli_verify_exit_codes_and_output(db: str, conn: psycopg.Connection[Any]) -> None:
    write(conn, 3)
    head = audit.head(conn)
    intact = mdx_audit(db, "verify")
    assert intact.exit_code == 0, intact.output
    assert intact.output == f"audit chain intact: 3 rows, head {head}\n"
    assert mdx_audit(db, "verify", "--expect-head", str(head)).exit_code == 0

    tamper(conn, "UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    result = mdx_audit(db, "verify")
    assert result.exit_code == 1
    assert result.output == "audit chain broken at seq 2: hash mismatch (row edited)\n"

    bad_head = mdx_audit(db, "verify", "--expect-head", "3:zz")
    assert bad_head.exit_code == 2 and "SEQ:HEX" in bad_head.output


def test_cli_tail_shows_the_newest_entries(db: str, conn: psycopg.Connection[Any]) -> None:
    for i in range(5):
        audit.record(conn, audit.SHARE_REFUSED, actor="share", peer=f"p{i}", detail={"n": i})
    result = mdx_audit(db, "tail", "-n", "2")
    assert result.exit_code == 0, result.output
    assert "share.refused" in result.output
    assert [p for p in ("p0", "p1", "p2", "p3", "p4") if p in result.output] == ["p3", "p4"]


# -- the migration chains what was there before ---------------------------------------------


def test_migration_chains_existing_rows() -> None:
    name = f"mdx_audit_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.ensure_database(url)
        config = migrate.alembic_config(url)
        command.upgrade(config, "0006")
        with psycopg.connect(store.libpq_dsn(url), autocommit=True) as c:
            for i in range(3):
                c.execute(
                    "INSERT INTO audit_log (event, peer, detail) VALUES ('share-refused', 'kcg', "
                    "%s)",
                    (psycopg.types.json.Jsonb({"reason": f"r{i}"}),),
                )
        command.upgrade(config, "head")
        with psycopg.connect(store.libpq_dsn(url), autocommit=True) as c:
            assert seqs(c) == [1, 2, 3]
            assert {e.actor for e in audit.read(c)} == {"share"}
            assert audit.verify(c).ok
            audit.record(c, audit.SHARE_REFUSED, actor="share", detail={})
            verdict = audit.verify(c)
            assert verdict.ok and verdict.rows == 4
        command.downgrade(config, "0006")
        with psycopg.connect(store.libpq_dsn(url), autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM audit_log").fetchone() == (4,)
            c.execute("UPDATE audit_log SET peer = 'uscg'")  # no longer append-only
    finally:
        migrate.drop_database(url)


def test_nul_from_a_hostile_caller_is_kept_as_a_visible_symbol(
    conn: psycopg.Connection[Any],
) -> None:
    # PostgreSQL cannot store U+0000: a login name carrying one must not lose the audit row.
    audit.record(
        conn,
        audit.AUTH_REFUSED,
        actor="user:ad\x00min",
        peer="\x00",
        detail={"reason": "x\x00y", "k\x00": ["\x00"]},
    )
    conn.commit()
    [entry] = audit.read(conn)
    assert (entry.actor, entry.peer) == ("user:ad\u2400min", "\u2400")
    assert entry.detail == {"reason": "x\u2400y", "k\u2400": ["\u2400"]}
    assert audit.verify(conn).ok

"""The share service's audit trail, exactly: a stored batch from a partner, its refusals, what
the policy withheld from another partner, each published batch and each receipt; and what the
policy withheld from partners when ingest stores a local producer's items."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mdx.core import audit, signing, store
from mdx.core.envelope import make_envelope
from mdx.core.keys import NodeKeys
from mdx.core.settings import NodeSettings
from mdx.ingest import service as ingest_service
from mdx.share import outbound
from mdx.share import service as share_service

JCG, KCG = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
TOPIC = "mdx/v1/share/jcg/kcg"


class FakeClient:
    """Stands in for the MQTT client: the test drives the service's steps itself."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.on_connect: Any = None
        self.on_message: Any = None

    def max_queued_messages_set(self, n: int) -> None: ...

    def max_inflight_messages_set(self, n: int) -> None: ...

    def ack_all(self, mids: list[int]) -> None: ...

    def will_set(self, *a: Any, **kw: Any) -> None: ...

    def publish(self, topic: str, payload: bytes, **kw: Any) -> None:
        self.published.append(topic)


def node_settings(
    me: str, partners: tuple[str, ...], db: str, tmp_path: Path, **sections: Any
) -> NodeSettings:
    """Node `me` on the test database, with `partners` (whose brokers it never reaches)."""
    return NodeSettings(
        node={"id": me, "default_tlp": "GREEN", "demo": True},
        database={"url": db},
        partners=[
            {
                "id": p,
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": tmp_path / f"{p}.pub",
            }
            for p in partners
        ],
        **sections,
    )


@pytest.fixture
def kcg(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> share_service.ShareService:
    """KCG's share service, re-sharing, with partners JCG (who sends) and USCG."""
    monkeypatch.setattr("mdx.core.mqtt.node_client", lambda *a, **k: FakeClient())
    settings = node_settings("kcg", ("jcg", "uscg"), db, tmp_path, sharing={"reshare": True})
    keys = NodeKeys("kcg", KCG, {"jcg": JCG.public_key(), "kcg": KCG.public_key()})
    return share_service.ShareService(settings, keys=keys)


@pytest.fixture
def conn(db: str) -> Iterator[psycopg.Connection[Any]]:
    with store.connect(db) as c:
        yield c


def item(kind: str, data: dict[str, Any], **markings: Any) -> dict[str, Any]:
    envelope = make_envelope("jcg", "patrol1", f"mdx.{kind}.v1", data, **markings)
    return signing.sign_envelope(envelope, JCG, "jcg")


def position(i: int) -> dict[str, Any]:
    data = {
        "mmsi": f"431{i:06d}",
        "lat": 34.0,
        "lon": 129.5,
        "observed_at": "2026-11-25T08:00:00Z",
        "source_type": "ais-terrestrial",
    }
    return item("position", data, tlp="GREEN")


def amber_incident() -> dict[str, Any]:
    data = {
        "incident_id": str(uuid.uuid4()),
        "version": 1,
        "category": "iuu_fishing",
        "status": "reported",
        "title": "Unlit trawler",
        "location": {"type": "Point", "coordinates": [129.21, 34.47]},
        "observed_at": "2026-11-25T08:00:00Z",
    }
    return item("incident", data, tlp="AMBER", relto=["kcg"])


def sealed(envelope: dict[str, Any], seq: int) -> bytes:
    now = datetime.now(UTC)
    return signing.seal(
        envelope,
        sender="jcg",
        recipient="kcg",
        seq=seq,
        custody=[],
        key=JCG,
        now=now,
        validity_s=600,
    )


Inbox = list[tuple[int | None, int, str, bytes]]


def inbox(messages: list[tuple[str, bytes]]) -> Inbox:
    """As the MQTT callback queues them: (mid, connection epoch, topic, payload)."""
    return [(mid, 0, topic, payload) for mid, (topic, payload) in enumerate(messages)]


def trail(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str | None, Any]]:
    with conn.transaction():
        return [(e.event, e.actor, e.peer, e.detail) for e in audit.read(conn, limit=1000)]


def test_the_share_path_writes_exactly_its_audit_rows(
    kcg: share_service.ShareService, conn: psycopg.Connection[Any]
) -> None:
    incident = amber_incident()
    batch = [
        (TOPIC, sealed(position(1), 1)),
        (TOPIC, sealed({**position(2), "tlp": "CLEAR"}, 2)),  # altered after signing: refused
        (TOPIC, sealed(incident, 3)),  # AMBER for KCG only: withheld from USCG
        (TOPIC, sealed(position(4), 4)),
        (TOPIC, orjson.dumps({"not": "a share message", "seq": 9})),  # refused, holds no place
    ]
    kcg._process(conn, inbox(batch))

    events = trail(conn)
    assert [e[:3] for e in events] == [
        ("share.received", "share", "jcg"),
        ("share.refused", "share", "jcg"),
        ("share.refused", "share", "jcg"),
        ("policy.withheld", "share", "uscg"),
    ]
    assert events[0][3] == {
        "first_seq": 1,
        "last_seq": 4,
        "count": 3,
        "kinds": {"incident": 1, "position": 2},
    }
    dead = conn.execute("SELECT id, reason FROM dead_letters ORDER BY id").fetchall()
    assert [(e[3]["dead_letter"], e[3]["reason"]) for e in events[1:3]] == dead
    assert all(e[3]["topic"] == TOPIC for e in events[1:3])
    assert events[3][3] == {
        "items": 1,
        "by_rule": {"tlp-amber-relto": 1},
        "listed": [
            {
                "kind": "incident",
                "source": incident["source"],
                "id": incident["id"],
                "rule": "tlp-amber-relto",
            }
        ],
    }

    # The same batch again: duplicates are dropped, the garbage is one dead letter already.
    kcg._process(conn, inbox(batch))
    assert len(trail(conn)) == 4

    # Outbound: the two positions go on to USCG, as one published batch, then a receipt.
    assert outbound.number(conn) == 2
    due = outbound.due(conn, kcg.keys, republish_after_s=0.0, validity_s=600, limit=100)
    assert [(s.recipient, s.seq) for s in due] == [("uscg", 1), ("uscg", 2)]
    outbound.mark_published(conn, [s.outbox_id for s in due])
    outbound.mark_published(conn, [s.outbox_id for s in due[1:]])  # republished
    assert outbound.mark_delivered(conn, "uscg", 2) == 2
    sent = {"first_seq": 1, "last_seq": 2, "count": 2, "republished": 0}
    resent = {"first_seq": 2, "last_seq": 2, "count": 1, "republished": 1}
    assert trail(conn)[4:] == [
        ("share.sent", "share", "uscg", sent),
        ("share.sent", "share", "uscg", resent),
        ("receipt.received", "share", "uscg", {"seq": 2, "covered": 2}),
    ]
    with conn.transaction():
        verdict = audit.verify(conn)
    assert verdict.ok and verdict.rows == 7


def test_a_rolled_back_batch_leaves_no_audit_rows_and_no_stale_tally(
    kcg: share_service.ShareService, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_batch = store.write_batch

    def fail_after_routing(conn: Any, accepted: Any, *_: Any, route: Any, **__: Any) -> None:
        for a in accepted:
            route(a)  # tallies what it withholds, then the transaction fails
        raise psycopg.OperationalError("the database went away")

    def fail_at_the_end(*_: Any) -> None:
        raise psycopg.OperationalError("the database went away")

    batch = inbox([(TOPIC, sealed(amber_incident(), 1))])
    for target, failing in (
        ("mdx.core.store.write_batch", fail_after_routing),
        ("mdx.share.inbound.record_seen", fail_at_the_end),
    ):
        with monkeypatch.context() as m:
            m.setattr(target, failing)
            with pytest.raises(psycopg.OperationalError):
                kcg._process(conn, batch)
        assert trail(conn) == []
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (0,)
        conn.rollback()
    assert store.write_batch is real_write_batch
    kcg._process(conn, batch)  # retried, as batches.drain does
    assert [(e[0], e[3].get("items")) for e in trail(conn)] == [
        ("share.received", None),
        ("policy.withheld", 1),
    ]


def test_ingest_writes_what_the_policy_withheld_from_a_local_producer(
    db: str, tmp_path: Path, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mdx.core.mqtt.node_client", lambda *a, **k: FakeClient())
    settings = node_settings("jcg", ("kcg", "uscg"), db, tmp_path)
    ingest = ingest_service.IngestService(settings)
    incident = amber_incident()  # AMBER, released to KCG only
    mine = make_envelope(
        "jcg", "patrol1", "mdx.incident.v1", incident["data"], tlp="AMBER", relto=["kcg"]
    )
    green = make_envelope("jcg", "patrol1", "mdx.position.v1", position(1)["data"], tlp="GREEN")
    batch = [
        ingest_service.Inbound(i, 1, ingest.epoch, f"mdx/v1/in/patrol1/{kind}", orjson.dumps(e))
        for i, (kind, e) in enumerate((("incident", mine), ("position", green)), start=1)
    ]
    with psycopg.connect(store.libpq_dsn(db), autocommit=True) as listener:
        listener.execute(f"LISTEN {store.OUTBOX_CHANNEL}")
        ingest._process(conn, batch)
        # The commit that queued the outbox rows wakes the share service: one notification.
        woken = list(listener.notifies(timeout=2.0))
    assert [n.channel for n in woken] == [store.OUTBOX_CHANNEL]

    assert [e[:3] for e in trail(conn)] == [("policy.withheld", "ingest", "uscg")]
    assert trail(conn)[0][3] == {
        "items": 1,
        "by_rule": {"tlp-amber-relto": 1},
        "listed": [
            {
                "kind": "incident",
                "source": mine["source"],
                "id": mine["id"],
                "rule": "tlp-amber-relto",
            }
        ],
    }
    recipients = conn.execute(
        "SELECT kind, recipient FROM outbox ORDER BY kind, recipient"
    ).fetchall()
    assert recipients == [("incident", "kcg"), ("position", "kcg"), ("position", "uscg")]

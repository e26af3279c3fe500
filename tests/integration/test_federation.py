"""Three sovereign nodes (JCG, KCG, USCG), each with its own broker, database and key, bridged:
what one shares reaches exactly the partners its policy allows, verified, exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from mdx.core import store
from mdx.core.envelope import make_envelope
from tests.conftest import login
from tests.integration.federation import Network, Node, build_network, positions_for
from tests.integration.harness import RawPublisher, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    for network in build_network():
        network.start()
        yield network


def publish(
    node: Node, producer: str, kind: str, data: dict[str, Any], **markings: Any
) -> dict[str, Any]:
    envelope = make_envelope(node.id, producer, f"mdx.{kind}.v1", data, **markings)
    pub = RawPublisher("127.0.0.1", node.broker_port, f"test-{uuid.uuid4().hex[:6]}")
    pub.publish_all([(f"mdx/v1/in/{producer}/{kind}", orjson.dumps(envelope))])
    pub.close()
    return envelope


def incident(**changes: Any) -> dict[str, Any]:
    return {
        "incident_id": str(uuid.uuid4()),
        "version": 1,
        "category": "iuu_fishing",
        "status": "reported",
        "title": "Unlit trawler in the agreement zone",
        "location": {"type": "Point", "coordinates": [129.21, 34.47]},
        "observed_at": "2026-11-25T08:00:00Z",
    } | changes


def has_incident(node: Node, incident_id: str) -> bool:
    return node.scalar("SELECT count(*) FROM incidents WHERE incident_id = %s", incident_id) == 1


def test_amber_for_kcg_reaches_kcg_and_never_uscg(net: Network) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    amber = incident()
    publish(
        jcg, "patrol1", "incident", amber, tlp="AMBER", relto=["kcg"], purpose="FisheriesMonitoring"
    )
    green = incident(category="sar", title="Fishing vessel taking on water")
    publish(jcg, "patrol1", "incident", green, tlp="GREEN", purpose="SAR")

    wait_for(
        lambda: has_incident(kcg, amber["incident_id"]),
        30,
        lambda: "AMBER at KCG; share log: " + jcg.log("share")[-3000:] + kcg.log("share")[-3000:],
    )
    wait_for(lambda: has_incident(uscg, green["incident_id"]), 30, "GREEN at USCG")
    wait_for(lambda: has_incident(kcg, green["incident_id"]), 30, "GREEN at KCG")
    # The GREEN one came after the AMBER one on JCG's stream to USCG: the AMBER one never will.
    assert not has_incident(uscg, amber["incident_id"])
    assert (
        jcg.scalar(
            "SELECT count(*) FROM outbox WHERE recipient = 'uscg' AND event_id IN "
            "(SELECT event_id FROM incident_versions WHERE incident_id = %s)",
            amber["incident_id"],
        )
        == 0
    )
    # Provenance at KCG: from JCG, signature verified and kept.
    assert (
        kcg.scalar(
            "SELECT origin || '/' || received_via FROM incidents WHERE incident_id = %s",
            amber["incident_id"],
        )
        == "jcg/jcg"
    )
    assert (
        str(
            kcg.scalar(
                "SELECT signature FROM incidents WHERE incident_id = %s", amber["incident_id"]
            )
        ).count(".")
        == 2
    )
    as_kcg, as_uscg = login(kcg.api, kcg.db, "viewer"), login(uscg.api, uscg.db, "viewer")
    api = httpx.get(f"{kcg.api}/api/v1/incidents/{amber['incident_id']}", headers=as_kcg).json()
    assert api["properties"]["tlp"] == "AMBER" and api["properties"]["origin"] == "jcg"
    provenance = api["properties"]["provenance"]
    assert provenance["received_via"] == "jcg" and provenance["signature_verified"] is True
    assert provenance["custody"] == []
    withheld = httpx.get(f"{uscg.api}/api/v1/incidents/{amber['incident_id']}", headers=as_uscg)
    assert withheld.status_code == 404


def test_kill_share_service_mid_stream_loses_and_duplicates_nothing(net: Network) -> None:
    jcg, kcg = net["jcg"], net["kcg"]
    producer = f"ais{uuid.uuid4().hex[:4]}"
    n = 2_000
    envelopes = [
        make_envelope(
            "jcg",
            producer,
            "mdx.position.v1",
            {
                "mmsi": f"431{i:06d}",
                "lat": 34.0 + i / 10_000,
                "lon": 129.5,
                "observed_at": "2026-11-25T08:00:00Z",
                "source_type": "ais-terrestrial",
            },
            tlp="GREEN",
        )
        for i in range(n)
    ]
    source = f"urn:mdx:jcg:{producer}"

    def at_kcg() -> int:
        return int(kcg.scalar("SELECT count(*) FROM positions WHERE source = %s", source))  # type: ignore[arg-type]

    pub = RawPublisher("127.0.0.1", jcg.broker_port, f"burst-{producer}")
    burst = threading.Thread(
        target=lambda: pub.publish_all(
            (f"mdx/v1/in/{producer}/position", orjson.dumps(e)) for e in envelopes
        )
    )
    burst.start()
    wait_for(lambda: at_kcg() >= 200, 60, lambda: f"first rows at KCG: {jcg.log('share')[-2000:]}")
    jcg.kill("share")
    assert at_kcg() < n, "the stream finished before the kill: the test proves nothing"
    jcg.start("share")
    burst.join(60)
    pub.close()
    wait_for(lambda: at_kcg() >= n, 120, lambda: f"{n} positions at KCG, have {at_kcg()}")
    assert at_kcg() == n
    assert (
        kcg.scalar("SELECT count(DISTINCT event_id) FROM positions WHERE source = %s", source) == n
    )
    wait_for(
        lambda: (
            jcg.scalar(
                "SELECT count(*) FROM outbox WHERE recipient = 'kcg' AND "
                "source = %s AND delivered_at IS NULL",
                source,
            )
            == 0
        ),
        60,
        "every row receipted",
    )


def stored_order(node: Node, source: str) -> list[str]:
    """The envelopes from `source` in the order `node` stored them."""
    return list(
        node.scalar(  # type: ignore[call-overload]
            "SELECT array_agg(event_id::text ORDER BY id) FROM positions WHERE source = %s", source
        )
    )


def stream_order(origin: Node, recipient: str, source: str) -> list[str]:
    """The envelopes from `source` in the order of `origin`'s stream to `recipient`."""
    return list(
        origin.scalar(  # type: ignore[call-overload]
            "SELECT array_agg(event_id::text ORDER BY seq) FROM outbox "
            "WHERE recipient = %s AND source = %s",
            recipient,
            source,
        )
    )


def count_from(node: Node, source: str) -> int:
    return int(node.scalar("SELECT count(*) FROM positions WHERE source = %s", source))  # type: ignore[arg-type]


def test_partner_broker_down_for_a_minute_then_everything_arrives_once(net: Network) -> None:
    """KCG's broker is down for 60 s while JCG takes in 500 positions/s: afterwards KCG has every
    one exactly once (bridge queue, republish and feed backfill overlap; dedupe absorbs it)."""
    jcg, kcg = net["jcg"], net["kcg"]
    producer = f"out{uuid.uuid4().hex[:4]}"
    source = f"urn:mdx:jcg:{producer}"
    rate, seconds = 500, 60
    envelopes = positions_for(producer, rate * seconds)
    kcg.kill("broker")
    pub = RawPublisher("127.0.0.1", jcg.broker_port, f"burst-{producer}")
    start = time.monotonic()
    for i in range(0, len(envelopes), rate // 10):  # 50 every 100 ms
        pub.publish_all(
            (f"mdx/v1/in/{producer}/position", orjson.dumps(e))
            for e in envelopes[i : i + rate // 10]
        )
        time.sleep(max(0.0, start + (i + rate // 10) / rate - time.monotonic()))
    pub.close()
    # (KCG's share service may already be pulling from JCG's feed over HTTP meanwhile.)
    kcg.start_broker()
    n = len(envelopes)
    wait_for(
        lambda: count_from(kcg, source) >= n,
        240,
        lambda: (
            f"{n} at KCG, have {count_from(kcg, source)}; "
            f"JCG backlog {jcg.scalar('SELECT count(*) FROM outbox WHERE delivered_at IS NULL')}"
        ),
    )
    assert count_from(kcg, source) == n
    assert (
        kcg.scalar("SELECT count(DISTINCT event_id) FROM positions WHERE source = %s", source) == n
    )
    # USCG's link never went down: it had everything too.
    wait_for(lambda: count_from(net["uscg"], source) >= n, 120, "USCG")
    assert count_from(net["uscg"], source) == n
    as_jcg = login(jcg.api, jcg.db, "viewer")
    health = httpx.get(f"{jcg.api}/api/v1/partners", headers=as_jcg).json()
    kcg_link = next(p for p in health["partners"] if p["id"] == "kcg")
    assert kcg_link["link"]["connected"] is True
    wait_for(
        lambda: (
            next(
                p
                for p in httpx.get(f"{jcg.api}/api/v1/partners", headers=as_jcg).json()["partners"]
                if p["id"] == "kcg"
            )["outbound"]["backlog"]
            == 0
        ),
        60,
        "backlog 0",
    )


def _key(node: Node) -> Any:
    from mdx.core import keys

    return keys.load_private(node.dir / "keys" / f"{node.id}.key")


def test_tampered_unsigned_replayed_and_misaddressed_are_refused_and_audited(net: Network) -> None:
    from datetime import UTC, datetime, timedelta

    from mdx.core import signing

    jcg, kcg = net["jcg"], net["kcg"]
    key = _key(jcg)
    now = datetime.now(UTC)
    item = signing.sign_envelope(
        make_envelope("jcg", "patrol1", "mdx.incident.v1", incident(), tlp="AMBER", relto=["kcg"]),
        key,
        "jcg",
    )

    def sealed(envelope: dict[str, Any], seq: int, **kw: Any) -> dict[str, Any]:
        args = {
            "sender": "jcg",
            "recipient": "kcg",
            "custody": [],
            "key": key,
            "now": now,
            "validity_s": 600,
        } | kw
        return orjson.loads(signing.seal(envelope, seq=seq, **args))  # type: ignore[no-any-return]

    tampered = sealed(item, 10**9 + 1)
    tampered["envelope"]["tlp"] = "CLEAR"  # on the wire, after the sender signed
    resealed = sealed({**item, "tlp": "CLEAR"}, 10**9 + 2)  # the sender altered the origin's item
    unsigned = sealed(item, 10**9 + 3)
    del unsigned["envelope"]["sig"]
    replayed = sealed(item, 10**9 + 4, now=now - timedelta(hours=2))
    elsewhere = sealed(item, 10**9 + 5, recipient="uscg")
    cases = {
        "tampered": (tampered, "share refused: transport signature"),
        "resealed": (resealed, "share refused: origin signature"),
        "unsigned": (unsigned, "share refused: schema"),
        "replayed": (replayed, "share refused: expired at"),
        "misaddressed": (elsewhere, "share refused: addressed to 'uscg', not to this node 'kcg'"),
    }
    pub = RawPublisher("127.0.0.1", kcg.broker_port, "attacker")
    pub.publish_all(("mdx/v1/share/jcg/kcg", orjson.dumps(m)) for m, _ in cases.values())
    pub.close()

    def dead(msg: dict[str, Any]) -> object:
        return kcg.scalar("SELECT reason FROM dead_letters WHERE payload = %s", orjson.dumps(msg))

    wait_for(lambda: all(dead(m) is not None for m, _ in cases.values()), 30, "5 dead letters")
    for name, (msg, reason) in cases.items():
        assert str(dead(msg)).startswith(reason), (name, dead(msg))
    assert kcg.scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'share.refused' AND "
        "detail->>'reason' LIKE 'share refused: %%' AND "
        "(detail->>'topic') = 'mdx/v1/share/jcg/kcg'"
    ) == len(cases)
    assert not has_incident(kcg, item["data"]["incident_id"])


def test_feed_serves_only_the_signed_callers_stream(net: Network) -> None:
    import time as clock

    from mdx.core import fedauth

    jcg, kcg = net["jcg"], net["kcg"]
    assert httpx.get(f"{jcg.api}/federation/v1/feed").status_code == 401
    operator = login(jcg.api, jcg.db)  # an account of jcg is not a partner
    assert httpx.get(f"{jcg.api}/federation/v1/feed", headers=operator).status_code == 403
    path = "/federation/v1/feed?since=0&limit=5"
    auth = fedauth.sign_request("GET", path, "kcg", "jcg", _key(kcg), clock.time())
    body = httpx.get(jcg.api + path, headers={"Authorization": auth}).json()
    assert body["sender"] == "jcg" and body["recipient"] == "kcg"
    assert [m["seq"] for m in body["messages"]] == list(range(1, len(body["messages"]) + 1))
    assert all(m["recipient"] == "kcg" for m in body["messages"])
    forged = fedauth.sign_request("GET", path, "kcg", "jcg", _key(jcg), clock.time())
    r = httpx.get(jcg.api + path, headers={"Authorization": forged})
    assert r.status_code == 401 and r.json()["reason"] == "bad-signature"
    assert (
        httpx.get(
            f"{jcg.api}/api/v1/partners",
            headers={
                "Authorization": fedauth.sign_request(
                    "GET", "/api/v1/partners", "kcg", "jcg", _key(kcg), clock.time()
                )
            },
        ).status_code
        == 403
    )


def test_every_marking_combination_reaches_exactly_whom_the_policy_allows(net: Network) -> None:
    """{TLP} x {relto} x {purpose} x {personal data}, shared by JCG over MQTT: KCG and USCG each
    get exactly the items `policy.decide` releases to them, redacted exactly where it says so."""
    import itertools

    from mdx.core import policy

    jcg = net["jcg"]
    settings = jcg.settings
    grid = list(
        itertools.product(
            ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"],
            [[], ["kcg"], ["uscg"], ["kcg", "uscg"]],
            [None, "SAR", "FisheriesMonitoring", "Security"],
            [False, True],
        )
    )
    expected: dict[str, dict[str, str]] = {"kcg": {}, "uscg": {}}
    personal: dict[str, bool] = {}
    pub = RawPublisher("127.0.0.1", jcg.broker_port, "grid")
    messages = []
    for tlp, relto, purpose, has_personal in grid:
        data = incident(title=f"{tlp} {relto} {purpose} {has_personal}")
        personal[data["incident_id"]] = has_personal
        if has_personal:
            data["persons"] = [{"name": "Kim Min-jun", "role": "crew"}]
        markings: dict[str, Any] = {"tlp": tlp, "relto": relto}
        if purpose:
            markings["purpose"] = purpose
        envelope = make_envelope("jcg", "grid", "mdx.incident.v1", data, **markings)
        messages.append(("mdx/v1/in/grid/incident", orjson.dumps(envelope)))
        item = policy.Marked("jcg", tlp, tuple(relto), purpose, has_personal)
        for node in expected:
            verdict = policy.decide(item, node, settings)
            if verdict.decision is not policy.Decision.WITHHOLD:
                expected[node][data["incident_id"]] = verdict.decision.value
    pub.publish_all(messages)
    pub.close()
    assert 0 < len(expected["kcg"]) < len(grid) and 0 < len(expected["uscg"]) < len(grid)

    def received(node: Node) -> dict[str, bool]:
        with psycopg.connect(store.libpq_dsn(node.db)) as conn:
            rows = conn.execute(
                "SELECT incident_id::text, data ? 'persons' FROM incidents "
                "WHERE source = 'urn:mdx:jcg:grid'"
            ).fetchall()
        return dict(rows)

    for node_id, wanted in expected.items():
        node = net[node_id]
        wait_for(
            lambda n=node, w=wanted: set(w) <= set(received(n)),
            60,
            lambda n=node, w=wanted: f"{n.id}: {len(w)} items, has {len(received(n))}",
        )
        # Nothing else is on its way: the outbox holds exactly the released items.
        assert jcg.scalar(
            "SELECT count(*) FROM outbox o JOIN incident_versions v USING (source, event_id) "
            "WHERE o.recipient = %s AND o.source = 'urn:mdx:jcg:grid'",
            node_id,
        ) == len(wanted)
        got = received(node)
        assert set(got) == set(wanted), f"leaks {set(got) - set(wanted)}"
        for incident_id, decision in wanted.items():
            # Redacted: the persons are gone; released: they are there if they were sent.
            assert got[incident_id] == (decision == "release" and personal[incident_id])


def test_sar_coordination_request_ack_sitreps_resolution_in_order_everywhere(
    net: Network,
) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    operators = {n.id: login(n.api, n.db) for n in (jcg, kcg, uscg)}
    case = httpx.post(
        f"{jcg.api}/api/v1/incidents",
        headers=operators["jcg"],
        params={"tlp": "GREEN", "purpose": "SAR"},
        json={
            "category": "sar",
            "status": "reported",
            "severity": "Severe",
            "title": "Fishing vessel flooding south of Torishima",
            "location": {"type": "Point", "coordinates": [140.31, 30.12]},
            "observed_at": "2026-11-25T08:00:00Z",
            "persons_at_risk": 8,
        },
    )
    assert case.status_code == 201, case.text
    incident_id = case.json()["id"]
    wait_for(
        lambda: has_incident(uscg, incident_id) and has_incident(kcg, incident_id),
        30,
        "the SAR case at USCG and KCG",
    )

    def step(node: Node, body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(
            f"{node.api}/api/v1/incidents/{incident_id}/sar", json=body, headers=operators[node.id]
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def events(node: Node) -> int:
        return int(
            node.scalar(  # type: ignore[arg-type]
                "SELECT count(*) FROM incident_events WHERE incident_id = %s", incident_id
            )
        )

    step(
        jcg,
        {
            "kind": "assistance-requested",
            "to": "uscg",
            "text": "Request long-range aircraft for the drift area.",
        },
    )
    wait_for(lambda: events(uscg) == 1, 30, "the request at USCG")
    step(uscg, {"kind": "acknowledged", "text": "D14 will assist."})
    step(
        uscg,
        {
            "kind": "asset-assigned",
            "asset": {"name": "CG-2315 HC-130J", "type": "aircraft", "call_sign": "RESCUE 315"},
        },
    )
    first = step(
        uscg,
        {
            "kind": "sitrep",
            "sitrep": {
                "identity": "SITREP 1 USCG D14",
                "situation": "Aircraft en route, ETA 40 min.",
                "persons_at_risk": 8,
                "coordinating_centre": "RCC Yokohama",
            },
        },
    )
    second = step(
        uscg,
        {
            "kind": "sitrep",
            "sitrep": {
                "identity": "SITREP 2 USCG D14",
                "situation": "On scene: two rafts, 7 persons, 1 missing.",
                "position": {"type": "Point", "coordinates": [140.35, 30.09]},
                "persons_at_risk": 8,
            },
        },
    )
    assert (first["number"], second["number"]) == (1, 2)
    wait_for(lambda: events(jcg) == 5 and events(kcg) == 5, 30, "every step at JCG and KCG")

    # Only the origin changes the incident: USCG cannot; JCG resolves it.
    refused = httpx.patch(
        f"{uscg.api}/api/v1/incidents/{incident_id}",
        json={"status": "closed"},
        headers=operators["uscg"],
    )
    assert refused.status_code == 409 and "only its origin" in refused.json()["detail"]
    resolved = httpx.patch(
        f"{jcg.api}/api/v1/incidents/{incident_id}",
        json={"status": "resolved", "note": "All 8 recovered."},
        headers=operators["jcg"],
    )
    assert resolved.status_code == 200, resolved.text
    wait_for(
        lambda: all(
            n.scalar("SELECT version FROM incidents WHERE incident_id = %s", incident_id) == 2
            for n in (kcg, uscg)
        ),
        30,
        "version 2",
    )

    expected = [
        ("version", "jcg", 1),
        ("assistance-requested", "jcg", None),
        ("acknowledged", "uscg", None),
        ("asset-assigned", "uscg", None),
        ("sitrep", "uscg", 1),
        ("sitrep", "uscg", 2),
        ("version", "jcg", 2),
    ]
    for node in (jcg, kcg, uscg):
        entries = httpx.get(
            f"{node.api}/api/v1/incidents/{incident_id}/timeline", headers=operators[node.id]
        ).json()["timeline"]
        got = [(e["type"], e["by"], e.get("version") or e.get("number")) for e in entries]
        assert got == expected, (node.id, entries)
        assert entries[-1]["status"] == "resolved"

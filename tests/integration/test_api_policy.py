"""Every read of the API releases exactly what the policy releases, redacted exactly when it says.

Node jcg holds a grid of incidents and positions (its own and partner kcg's) carrying every
combination of markings; partners kcg and uscg call with real MDX-Ed25519 signatures made with
keys generated here, jcg's own viewer with an access token.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from mdx.api.app import create_app
from mdx.core import intake, keys, store
from mdx.core.envelope import make_envelope
from mdx.core.fedauth import sign_request
from mdx.core.intake import Accepted, IntakePolicy
from mdx.core.policy import Decision, Marked, decide
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TOKEN_SECRET, login

INCIDENTS = "/api/v1/incidents"
VESSELS = "/api/v1/vessels"
PROBLEM = "application/problem+json"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
MMSI = "431000001"  # a track with every combination of markings
HIDDEN = "431000002"  # only positions no partner may see
NAMED = "431000003"  # a name in a RED report, then a CLEAR report without one
ABSENT = "431000009"  # never reported
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
RELTOS: tuple[tuple[str, ...], ...] = ((), ("kcg",), ("uscg",), ("kcg", "uscg"))
PURPOSES = (None, "SAR", "FisheriesMonitoring", "Security")
ORIGINS = ("jcg", "kcg")
CALLERS = ("jcg", "kcg", "uscg")
PERSONS = [{"name": "Taro Example", "role": "master", "nationality": "JP", "age": 58}]
PARTNERS = {  # as in infra/nodes/jcg.toml
    "kcg": (
        [
            "SAR",
            "Safety",
            "FisheriesMonitoring",
            "LawEnforcementMonitoring",
            "EnvironmentResponse",
            "VTM",
        ],
        False,
    ),
    "uscg": (
        ["SAR", "Safety", "LawEnforcementMonitoring", "Security", "EnvironmentResponse"],
        True,
    ),
}


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def settings_for(db: str, key_dir: Path) -> NodeSettings:
    return NodeSettings(
        node={"id": "jcg", "default_tlp": "GREEN", "signing_key": key_dir / "jcg.key"},
        auth={"token_secret": TOKEN_SECRET},
        database={"url": db},
        broker={"host": "127.0.0.1", "port": 1},
        partners=[
            {
                "id": node,
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": key_dir / f"{node}.pub",
                "purposes": purposes,
                "personal_data": personal,
            }
            for node, (purposes, personal) in PARTNERS.items()
        ],
    )


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


@pytest.fixture
def settings(db: str, tmp_path: Path, partner_keys: dict[str, Ed25519PrivateKey]) -> NodeSettings:
    return settings_for(db, tmp_path)  # jcg's own key is never created: the API needs none


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def client(settings: NodeSettings, schemas: SchemaSet) -> Iterator[TestClient]:
    with TestClient(create_app(settings, schemas)) as c:
        login(c, settings.database.url, "viewer")  # jcg's own people; partners sign instead
        yield c


class Api:
    """GETs as one caller: jcg's viewer (the client's token) or a signing partner."""

    def __init__(self, client: TestClient, keys_: dict[str, Ed25519PrivateKey], caller: str):
        self.client, self.keys, self.caller = client, keys_, caller

    def get(self, path_qs: str) -> httpx.Response:
        headers = {}
        if self.caller != "jcg":
            key = self.keys[self.caller]
            headers["Authorization"] = sign_request(
                "GET", path_qs, self.caller, "jcg", key, time.time()
            )
        r: httpx.Response = self.client.get(path_qs, headers=headers)
        return r


def accepted(
    schemas: SchemaSet, kind: str, data: dict[str, Any], origin: str, m: Marked
) -> Accepted:
    type_ = f"mdx.{kind}.v1"
    envelope = make_envelope(
        origin, "ops", type_, data, tlp=m.tlp, relto=list(m.relto), purpose=m.purpose
    )
    if origin == "kcg":  # a partner's item, as share intake will store it
        return Accepted(kind, "share", "kcg", envelope, m.tlp, list(m.relto), None)  # type: ignore[arg-type]
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=schemas)
    result = intake.accept_envelope(envelope, "ops", kind, policy)
    assert isinstance(result, Accepted), result
    return result


def save(db: str, items: list[Accepted]) -> None:
    with store.connect(db) as conn:
        store.write_batch(conn, items, [])


def markings(personal: tuple[bool, ...]) -> list[Marked]:
    grid = itertools.product(ORIGINS, TLPS, RELTOS, PURPOSES, personal)
    return [Marked(o, t, r, p, pd) for o, t, r, p, pd in grid]


@pytest.fixture
def incidents(db: str, schemas: SchemaSet) -> dict[str, Marked]:
    """320 incidents, one per combination, each observed a minute after the previous."""
    stored: dict[str, Marked] = {}
    batch = []
    for i, m in enumerate(markings((False, True))):
        incident_id = str(uuid.uuid4())
        data: dict[str, Any] = {
            "incident_id": incident_id,
            "version": 1,
            "category": "sar",
            "status": "reported",
            "title": f"case {i}",
            "location": {"type": "Point", "coordinates": [139.0, 35.0]},
            "observed_at": iso(T0 + timedelta(minutes=i)),
        }
        if m.personal_data:
            data["persons"] = PERSONS
        batch.append(accepted(schemas, "incident", data, m.origin, m))
        stored[incident_id] = m
    save(db, batch)
    return stored


def position(mmsi: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {
        "mmsi": mmsi,
        "lat": 35.0,
        "lon": 139.0 + minute / 1000,
        "sog": 10.0,
        "cog": 90.0,
        "observed_at": iso(T0 + timedelta(minutes=minute)),
        "source_type": "ais-terrestrial",
        **extra,
    }


@pytest.fixture
def positions(db: str, schemas: SchemaSet) -> dict[datetime, Marked]:
    """160 positions of one vessel, one per combination (positions hold no personal data)."""
    stored: dict[datetime, Marked] = {}
    batch = []
    for i, m in enumerate(markings((False,))):
        batch.append(accepted(schemas, "position", position(MMSI, i), m.origin, m))
        stored[T0 + timedelta(minutes=i)] = m
    for i, tlp in enumerate(("RED", "AMBER+STRICT")):
        hidden = Marked("jcg", tlp, ("kcg", "uscg"), None, False)
        batch.append(accepted(schemas, "position", position(HIDDEN, i), "jcg", hidden))
    save(db, batch)
    return stored


def released(items: dict[Any, Marked], caller: str, settings: NodeSettings) -> dict[Any, Decision]:
    verdicts = {key: decide(m, caller, settings).decision for key, m in items.items()}
    return {key: d for key, d in verdicts.items() if d is not Decision.WITHHOLD}


def as_released(feature: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """What a local operator's view of a feature becomes when released with `decision`."""
    if decision is Decision.REDACT:
        props = {k: v for k, v in feature["properties"].items() if k != "persons"}
        return {**feature, "properties": props}
    return feature


def all_pages(api: Api, first: str) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    url: str | None = first
    while url is not None:
        r = api.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        features += body["features"]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = None
        if nxt:
            parts = urlsplit(nxt[0])
            url = f"{parts.path}?{parts.query}"
    return features


# --- incidents ---------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
def test_incident_list_and_reads_release_exactly_what_the_policy_does(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    settings: NodeSettings,
    incidents: dict[str, Marked],
    caller: str,
) -> None:
    local = {f["id"]: f for f in all_pages(Api(client, partner_keys, "jcg"), INCIDENTS)}
    assert len(local) == 320
    assert all(
        ("persons" in local[i]["properties"]) == m.personal_data for i, m in incidents.items()
    )
    api = Api(client, partner_keys, caller)
    expected = released(incidents, caller, settings)
    by_time = sorted(expected, key=lambda i: local[i]["properties"]["observed_at"], reverse=True)

    listed = all_pages(api, f"{INCIDENTS}?limit=37")  # pages that do not divide the count
    assert [f["id"] for f in listed] == by_time
    assert listed == [as_released(local[i], expected[i]) for i in by_time]
    redacted = {f["id"] for f in listed if "persons" not in f["properties"]}
    with_persons = {i for i in expected if incidents[i].personal_data}
    assert redacted & with_persons == {i for i in expected if expected[i] is Decision.REDACT}
    counts = {d: list(expected.values()).count(d) for d in Decision}
    assert (
        counts
        == {
            "jcg": {Decision.RELEASE: 320, Decision.REDACT: 0, Decision.WITHHOLD: 0},
            # kcg: its own 160 never come back. Of jcg's 80 without persons: CLEAR 16, GREEN with no
            # purpose or one kcg holds 12, AMBER naming kcg 6; the same 34 with persons, redacted.
            "kcg": {Decision.RELEASE: 34, Decision.REDACT: 34, Decision.WITHHOLD: 0},
            # uscg: jcg's own CLEAR 32, GREEN 24, AMBER 12, persons included (68). kcg's, passed
            # on by jcg: only those naming no one and not limited by a purpose (unless CLEAR):
            # CLEAR 16, GREEN without purpose 4, AMBER naming uscg without purpose 2 (22).
            "uscg": {Decision.RELEASE: 90, Decision.REDACT: 0, Decision.WITHHOLD: 0},
        }[caller]
    )

    missing_id = str(uuid.uuid4())
    missing = api.get(f"{INCIDENTS}/{missing_id}")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    for incident_id in incidents:
        r = api.get(f"{INCIDENTS}/{incident_id}")
        if incident_id in expected:
            assert r.status_code == 200, r.text
            assert r.json() == as_released(local[incident_id], expected[incident_id])
        else:  # indistinguishable from an id that does not exist
            assert r.status_code == 404, (incident_id, incidents[incident_id])
            assert r.headers["content-type"] == PROBLEM
            assert r.text == missing.text.replace(missing_id, incident_id)


def test_filters_and_partner_views_compose(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    settings: NodeSettings,
    incidents: dict[str, Marked],
) -> None:
    # The origin filter cannot reach round the policy: kcg asking for its own items gets none.
    api = Api(client, partner_keys, "kcg")
    assert all_pages(api, f"{INCIDENTS}?origin=kcg") == []
    assert len(all_pages(api, f"{INCIDENTS}?origin=jcg&limit=1000")) == 68
    uscg = Api(client, partner_keys, "uscg")
    kcg_items = [f["id"] for f in all_pages(uscg, f"{INCIDENTS}?origin=kcg&limit=1000")]
    assert set(kcg_items) == {
        i for i in released(incidents, "uscg", settings) if incidents[i].origin == "kcg"
    }


# --- vessels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
def test_vessel_track_and_latest_release_exactly_what_the_policy_does(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    settings: NodeSettings,
    positions: dict[datetime, Marked],
    caller: str,
) -> None:
    api = Api(client, partner_keys, caller)
    expected = sorted(released(positions, caller, settings))
    assert set(released(positions, caller, settings).values()) <= {Decision.RELEASE}
    assert len(expected) == {"jcg": 160, "kcg": 34, "uscg": 56}[caller]

    track = api.get(f"{VESSELS}/{MMSI}/track")
    assert track.status_code == 200, track.text
    props = track.json()["properties"]
    assert [datetime.fromisoformat(t) for t in props["times"]] == expected
    assert [p["origin"] for p in props["points"]] == [positions[t].origin for t in expected]
    assert len(track.json()["geometry"]["coordinates"]) == len(expected)

    latest = api.get(f"{VESSELS}/{MMSI}")
    assert latest.status_code == 200, latest.text
    got = latest.json()["properties"]
    newest = positions[expected[-1]]
    assert datetime.fromisoformat(got["observed_at"]) == expected[-1]
    assert (got["origin"], got["tlp"], tuple(got["relto"]), got["purpose"]) == (
        newest.origin,
        newest.tlp,
        newest.relto,
        newest.purpose,
    )


@pytest.mark.parametrize("caller", ["kcg", "uscg"])
def test_a_vessel_with_nothing_releasable_is_404_like_an_unknown_one(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    positions: dict[datetime, Marked],
    caller: str,
) -> None:
    api = Api(client, partner_keys, caller)
    for suffix in ("", "/track"):
        hidden, absent = (
            api.get(f"{VESSELS}/{HIDDEN}{suffix}"),
            api.get(f"{VESSELS}/{ABSENT}{suffix}"),
        )
        assert (hidden.status_code, absent.status_code) == (404, 404)
        assert hidden.headers["content-type"] == absent.headers["content-type"] == PROBLEM
        assert hidden.text == absent.text.replace(ABSENT, HIDDEN)
    local = Api(client, partner_keys, "jcg")
    assert local.get(f"{VESSELS}/{HIDDEN}").json()["properties"]["tlp"] == "AMBER+STRICT"
    assert len(local.get(f"{VESSELS}/{HIDDEN}/track").json()["properties"]["times"]) == 2


def test_a_partner_never_sees_a_name_carried_over_from_a_withheld_report(
    client: TestClient, partner_keys: dict[str, Ed25519PrivateKey], db: str, schemas: SchemaSet
) -> None:
    red, clear = (Marked("jcg", tlp, (), None, False) for tlp in ("RED", "CLEAR"))
    save(db, [accepted(schemas, "position", position(NAMED, 0, name="SEA SECRET"), "jcg", red)])
    save(db, [accepted(schemas, "position", position(NAMED, 1), "jcg", clear)])
    local = Api(client, partner_keys, "jcg").get(f"{VESSELS}/{NAMED}").json()["properties"]
    assert (local["name"], local["tlp"]) == ("SEA SECRET", "CLEAR")
    for caller in ("kcg", "uscg"):
        seen = Api(client, partner_keys, caller).get(f"{VESSELS}/{NAMED}").json()["properties"]
        assert (seen["name"], seen["tlp"]) == (None, "CLEAR")


def test_dead_letters_are_the_nodes_own(
    client: TestClient, partner_keys: dict[str, Ed25519PrivateKey], db: str
) -> None:
    with psycopg.connect(store.libpq_dsn(db), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO dead_letters (topic, producer, reason, payload, digest)"
            " VALUES ('mdx/v1/in/a/position', 'a', 'bad', 'x', 'd')"
        )
    assert (
        len(Api(client, partner_keys, "jcg").get("/api/v1/deadletters").json()["deadletters"]) == 1
    )
    assert Api(client, partner_keys, "kcg").get("/api/v1/deadletters").json()["deadletters"] == []


# --- authentication ----------------------------------------------------------------------------

KCG_PATH = f"{INCIDENTS}?limit=5"


def _bad_headers(partner_keys: dict[str, Ed25519PrivateKey]) -> dict[str, tuple[str, str]]:
    """case -> (Authorization value for GET KCG_PATH, expected reason)."""
    kcg, now = partner_keys["kcg"], time.time()
    return {
        "malformed": ("MDX-Ed25519 node=kcg", "malformed"),
        "other-scheme": ("Basic a2NnOmtjZw==", "malformed"),  # Bearer: test_api_auth.py
        "unknown-node": (
            sign_request("GET", KCG_PATH, "rok", "jcg", Ed25519PrivateKey.generate(), now),
            "unknown-node",
        ),
        "wrong-key": (
            sign_request("GET", KCG_PATH, "kcg", "jcg", partner_keys["uscg"], now),
            "bad-signature",
        ),
        "other-recipient": (
            sign_request("GET", KCG_PATH, "kcg", "uscg", kcg, now),
            "bad-signature",
        ),
        "other-path": (
            sign_request("GET", f"{INCIDENTS}?limit=500", "kcg", "jcg", kcg, now),
            "bad-signature",
        ),
        "stale": (sign_request("GET", KCG_PATH, "kcg", "jcg", kcg, now - 301), "stale"),
        "future": (sign_request("GET", KCG_PATH, "kcg", "jcg", kcg, now + 301), "future"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed",
        "other-scheme",
        "unknown-node",
        "wrong-key",
        "other-recipient",
        "other-path",
        "stale",
        "future",
    ],
)
def test_refused_credentials_are_401_naming_the_reason(
    client: TestClient, partner_keys: dict[str, Ed25519PrivateKey], case: str
) -> None:
    value, reason = _bad_headers(partner_keys)[case]
    r = client.get(KCG_PATH, headers={"Authorization": value})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"] == "MDX-Ed25519"
    body = r.json()
    assert body["type"].endswith("/unauthorized")
    assert (body["status"], body["reason"], body["instance"]) == (401, reason, INCIDENTS)
    assert body["detail"].startswith(f"authentication failed: {reason}: ")


def test_the_same_request_signed_properly_passes(
    client: TestClient, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    r = Api(client, partner_keys, "kcg").get(KCG_PATH)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", [f"{INCIDENTS}/{uuid.UUID(int=1)}", f"{VESSELS}/{MMSI}/track"])
def test_every_read_checks_credentials(
    client: TestClient, partner_keys: dict[str, Ed25519PrivateKey], path: str
) -> None:
    stale = sign_request("GET", path, "kcg", "jcg", partner_keys["kcg"], time.time() - 3600)
    r = client.get(path, headers={"Authorization": stale})
    assert (r.status_code, r.json()["reason"]) == (401, "stale")


def test_api_starts_without_key_files_and_refuses_partners_it_has_no_key_for(
    db: str, tmp_path: Path, schemas: SchemaSet
) -> None:
    kcg = keys.generate(tmp_path / "kcg.key")  # uscg.pub and jcg.key do not exist
    with TestClient(create_app(settings_for(db, tmp_path), schemas)) as client:
        api = Api(client, {"kcg": kcg, "uscg": Ed25519PrivateKey.generate()}, "kcg")
        assert api.get(INCIDENTS).status_code == 200
        api.caller = "uscg"
        r = api.get(INCIDENTS)
        assert (r.status_code, r.json()["reason"]) == (401, "unknown-node")


def test_a_report_through_the_api_audits_what_the_policy_withholds_from_whom(
    client: TestClient, settings: NodeSettings
) -> None:
    login(client, settings.database.url, "operator")
    report = {
        "category": "iuu_fishing",
        "status": "reported",
        "title": "Trawler without AIS",
        "location": {"type": "Point", "coordinates": [129.2, 34.4]},
        "observed_at": iso(datetime.now(UTC) - timedelta(minutes=5)),
    }
    marks = {"tlp": "AMBER", "relto": "kcg", "purpose": "FisheriesMonitoring"}
    r = client.post("/api/v1/incidents", json=report, params=marks)
    assert r.status_code == 201, r.text
    with psycopg.connect(settings.database.url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT actor, peer, detail FROM audit_log WHERE event = 'policy.withheld'"
        ).fetchall()
    # Released to KCG (an outbox row); withheld from USCG, which is not in relto.
    [(actor, peer, detail)] = rows
    assert (actor, peer, detail["items"]) == ("api", "uscg", 1)
    assert [(e["kind"], e["rule"], e["source"]) for e in detail["listed"]] == [
        ("incident", "tlp-amber-relto", "urn:mdx:jcg:api")
    ]

"""Who may call the API and what each may do: login, tokens, roles, the session cookie, the
write rate limit, the token key a node starts with, and a partner that cannot reach what is
withheld from it through any route. Real PostGIS; partners sign with keys generated here."""

from __future__ import annotations

import base64
import json
import re
import stat
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event
from starlette.routing import Mount

from mdx.api import contracts, tokens
from mdx.api.app import create_app
from mdx.api.token_key import InsecureSecret
from mdx.core import store
from mdx.core.auth_settings import AuthSettings
from mdx.core.fedauth import sign_request
from mdx.core.policy import Marked
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TEST_PASSWORD, TOKEN_SECRET, login
from tests.integration.test_api_policy import (
    PARTNERS,
    T0,
    accepted,
    iso,
    position,
    save,
    settings_for,
)

INCIDENTS = "/api/v1/incidents"
PROBLEM = "application/problem+json"
# Everything an anonymous caller may reach; any other route must answer it 401.
PUBLIC_ROUTES = {
    ("POST", "/auth/token"),
    ("POST", "/auth/logout"),
    ("GET", "/healthz"),
    ("GET", "/map"),  # a redirect to /map/, the map's static files
    # FastAPI's OpenAPI document and its two viewers.
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    # The published contracts: the JSON Schemas and the AsyncAPI document.
    *{("GET", r.path) for r in contracts.router.routes if isinstance(r, APIRoute)},
}
WITHHELD_MMSI = "431000077"
PATH_VALUES = {
    "incident_id": str(uuid.UUID(int=7)),
    "mmsi": "431000001",
    "zone_id": "jp-eez",
    # OGC API - Features: an incident, by its id.
    "collection_id": "incidents",
    "feature_id": str(uuid.UUID(int=7)),
}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    from mdx.core import keys

    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


def node_settings_with(
    db: str, tmp_path: Path, *, burst: int = 30, per_minute: float = 60.0
) -> NodeSettings:
    """jcg with partners kcg and uscg, a real node (demo false) with the tests' token key."""
    base = settings_for(db, tmp_path)
    auth = AuthSettings(
        token_secret=SecretStr(TOKEN_SECRET), write_burst=burst, writes_per_minute=per_minute
    )
    return base.model_copy(update={"auth": auth})


@pytest.fixture
def app(
    db: str, tmp_path: Path, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> FastAPI:
    return create_app(node_settings_with(db, tmp_path), schemas)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def as_role(anonymous: TestClient, db: str, role: str) -> dict[str, str]:
    header = login(anonymous, db, role)
    anonymous.headers.pop("Authorization")  # the fixture's client stays anonymous
    return header


def signed(method: str, path_qs: str, caller: str, keys_: dict[str, Ed25519PrivateKey]) -> Any:
    return {
        "Authorization": sign_request(method, path_qs, caller, "jcg", keys_[caller], time.time())
    }


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app, as the app itself lists them."""
    return sorted(
        (method, r.path)
        for r in iter_route_contexts(app.routes)
        if r.path is not None and r.methods
        for method in r.methods
        if method != "HEAD"
    )


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def incident(**fields: Any) -> dict[str, Any]:
    return {
        "category": "sar",
        "status": "reported",
        "title": "Person in the water",
        "location": {"type": "Point", "coordinates": [139.0, 35.0]},
        "observed_at": iso(T0),
        **fields,
    }


def audit_rows(db: str, event: str) -> list[tuple[str, Any]]:
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        rows = conn.execute(
            "SELECT actor, detail FROM audit_log WHERE event = %s ORDER BY seq", (event,)
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


# -- nobody gets in without credentials --------------------------------------------------------


def test_every_route_but_the_public_ones_needs_credentials(
    app: FastAPI, anonymous: TestClient
) -> None:
    """Enumerated from the app, so a route added later cannot escape."""
    all_routes = routes(app)
    assert set(PUBLIC_ROUTES) <= set(all_routes)
    guarded = [r for r in all_routes if r not in PUBLIC_ROUTES]
    assert len(guarded) >= 17
    for method, path in guarded:
        body = {} if method in ("POST", "PATCH", "PUT") else None
        r = anonymous.request(method, concrete(path), json=body)
        problem = assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer realm="mdx"', (method, path)
        assert problem["reason"] == "no-credentials", (method, path)
    # Besides routes, only the map's static files are mounted (its data calls are routes).
    mounts = [r.path for r in iter_route_contexts(app.routes) if isinstance(r.route, Mount)]
    assert mounts == ["/map"]


def test_the_public_routes_answer_anyone(anonymous: TestClient) -> None:
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200
    assert anonymous.post("/auth/logout").status_code == 204
    assert anonymous.get("/map/").status_code in (200, 404)  # 404: web assets not built
    # /docs offers the OAuth2 password flow (its Authorize button).
    schemes = anonymous.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/token"


# -- roles ---------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write(anonymous: TestClient, db: str) -> None:
    viewer = as_role(anonymous, db, "viewer")
    operator = as_role(anonymous, db, "operator")
    assert anonymous.get(INCIDENTS, headers=viewer).status_code == 200
    body = assert_problem(anonymous.post(INCIDENTS, json=incident(), headers=viewer), 403)
    assert body["detail"].startswith("role viewer may not write")
    made = anonymous.post(INCIDENTS, json=incident(), headers=operator)
    assert made.status_code == 201, made.text
    url = made.headers["location"]
    assert_problem(anonymous.patch(url, json={"status": "responding"}, headers=viewer), 403)
    assert_problem(anonymous.post(f"{url}/sar", json={"kind": "status"}, headers=viewer), 403)
    assert anonymous.patch(url, json={"status": "responding"}, headers=operator).status_code == 200
    assert anonymous.get(url, headers=viewer).json()["properties"]["version"] == 2


def test_only_an_admin_manages_accounts_and_reads_the_audit_trail(
    anonymous: TestClient, db: str, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    viewer, operator = as_role(anonymous, db, "viewer"), as_role(anonymous, db, "operator")
    admin = as_role(anonymous, db, "admin")
    new = {"name": "duty-officer", "role": "operator", "password": "a long passphrase"}
    for path in ("/api/v1/admin/users", "/api/v1/admin/audit"):
        for who in (viewer, operator, signed("GET", path, "kcg", partner_keys)):
            assert_problem(anonymous.get(path, headers=who), 403)
        assert anonymous.get(path, headers=admin).status_code == 200
    assert_problem(anonymous.post("/api/v1/admin/users", json=new, headers=operator), 403)
    assert anonymous.post("/api/v1/admin/users", json=new, headers=admin).status_code == 201
    assert_problem(anonymous.post("/api/v1/admin/users", json=new, headers=admin), 409)
    listed = anonymous.get("/api/v1/admin/users", headers=admin).json()
    assert {(a["name"], a["role"]) for a in listed} == {
        ("duty-officer", "operator"),
        ("test-viewer", "viewer"),
        ("test-operator", "operator"),
        ("test-admin", "admin"),
    }
    form = {"username": "duty-officer", "password": "a long passphrase"}
    assert anonymous.post("/auth/token", data=form).status_code == 200


def test_the_audit_endpoint_pages_and_filters_by_event(anonymous: TestClient, db: str) -> None:
    admin = as_role(anonymous, db, "admin")
    for _ in range(2):
        anonymous.post("/auth/token", data={"username": "nobody", "password": "wrong password"})
    url = "/api/v1/admin/audit"
    refused = anonymous.get(url, params={"event": "auth.refused"}, headers=admin).json()
    assert [(e["event"], e["actor"]) for e in refused["entries"]] == [
        ("auth.refused", "user:nobody")
    ] * 2
    first = anonymous.get(url, params={"limit": 1}, headers=admin).json()
    assert len(first["entries"]) == 1
    rest = anonymous.get(url, params={"after": first["last_seq"]}, headers=admin).json()
    assert rest["entries"][0]["seq"] == first["last_seq"] + 1
    assert rest["entries"][0]["prev_hash"] == first["entries"][0]["hash"]
    assert_problem(anonymous.get(url, params={"event": "made.up"}, headers=admin), 400)


# -- tokens ----------------------------------------------------------------------------------


def _token(key: bytes, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "test-operator",
        "role": "operator",
        "node": "jcg",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="HS256")


def test_bad_tokens_are_401_naming_the_reason(anonymous: TestClient, db: str) -> None:
    good = as_role(anonymous, db, "operator")["Authorization"].removeprefix("Bearer ")
    header, payload, signature = good.split(".")
    # The same token with its role raised to admin, its signature kept.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised = base64.urlsafe_b64encode(json.dumps({**claims, "role": "admin"}).encode())
    raised = raised.rstrip(b"=").decode()
    key = TOKEN_SECRET.encode()
    cases = {
        "expired": (_token(key, iat=int(time.time()) - 3600, exp=int(time.time()) - 1), "expired"),
        "tampered": (f"{header}.{raised}.{signature}", "bad-signature"),
        "wrong key": (_token(b"another key of at least thirty-two bytes"), "bad-signature"),
        "other node": (_token(key, node="kcg"), "other-node"),
        "alg none": (jwt.encode({"sub": "test-operator"}, None, algorithm="none"), "malformed"),
        "garbage": ("not-a-token", "malformed"),
    }
    assert anonymous.get(INCIDENTS, headers={"Authorization": f"Bearer {good}"}).is_success
    for case, (token, reason) in cases.items():
        r = anonymous.get(INCIDENTS, headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(r, 401)
        assert body["reason"] == reason, case
        assert r.headers["www-authenticate"] == 'Bearer realm="mdx", error="invalid_token"'


def test_a_token_carries_its_claims_and_expires_after_the_ttl(
    anonymous: TestClient, db: str
) -> None:
    token = as_role(anonymous, db, "viewer")["Authorization"].removeprefix("Bearer ")
    claims = tokens.verify(TOKEN_SECRET.encode(), token, "jcg")
    assert (claims.sub, claims.role, claims.node) == ("test-viewer", "viewer", "jcg")
    assert claims.exp - claims.iat == 1800
    assert re.fullmatch(r"[0-9a-f]{32}", claims.jti)


def test_a_disabled_account_is_refused_at_once(anonymous: TestClient, db: str) -> None:
    viewer = as_role(anonymous, db, "viewer")
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        conn.execute("UPDATE users SET disabled_at = now() WHERE name = 'test-viewer'")
    body = assert_problem(anonymous.get(INCIDENTS, headers=viewer), 401)
    assert body["reason"] == "account-disabled"
    form = {"username": "test-viewer", "password": TEST_PASSWORD}
    assert_problem(anonymous.post("/auth/token", data=form), 401)


# -- partners --------------------------------------------------------------------------------


def test_a_partner_signature_cannot_be_passed_off_as_another_partner(
    anonymous: TestClient, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    as_kcg = signed("GET", INCIDENTS, "kcg", partner_keys)["Authorization"]
    assert anonymous.get(INCIDENTS, headers={"Authorization": as_kcg}).status_code == 200
    as_uscg = as_kcg.replace("node=kcg", "node=uscg")
    r = anonymous.get(INCIDENTS, headers={"Authorization": as_uscg})
    assert (r.status_code, r.json()["reason"]) == (401, "bad-signature")
    # Nor as an operator of this node, with the signature in a Bearer header.
    r = anonymous.get(INCIDENTS, headers={"Authorization": f"Bearer {as_kcg}"})
    assert (r.status_code, r.json()["reason"]) == (401, "malformed")


def test_a_partner_writes_nothing(
    anonymous: TestClient, partner_keys: dict[str, Ed25519PrivateKey], db: str
) -> None:
    r = anonymous.post(
        INCIDENTS, json=incident(), headers=signed("POST", INCIDENTS, "kcg", partner_keys)
    )
    assert assert_problem(r, 403)["detail"].startswith("role partner may not write")
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (0,)


@pytest.fixture
def withheld(db: str, schemas: SchemaSet) -> dict[str, str]:
    """An incident (with a SAR step) and a vessel jcg holds for USCG only: kcg must not see
    them anywhere. Also one incident and vessel released to kcg, to show the routes work."""
    ids = {"withheld": str(uuid.uuid4()), "released": str(uuid.uuid4())}
    only_uscg = Marked("jcg", "AMBER", ("uscg",), None, False)
    for_kcg = Marked("jcg", "AMBER", ("kcg",), None, False)
    items = []
    for (name, marked), mmsi in zip(
        ((("withheld", only_uscg)), ("released", for_kcg)),
        (WITHHELD_MMSI, "431000078"),
        strict=True,
    ):
        data = {"incident_id": ids[name], "version": 1, **incident(title=name)}
        items.append(accepted(schemas, "incident", data, "jcg", marked))
        items.append(accepted(schemas, "position", position(mmsi, 1), "jcg", marked))
        ids[f"{name}_mmsi"] = mmsi
    save(db, items)
    return ids


def test_a_partner_cannot_reach_a_withheld_item_through_any_route(
    app: FastAPI,
    anonymous: TestClient,
    db: str,
    partner_keys: dict[str, Ed25519PrivateKey],
    withheld: dict[str, str],
) -> None:
    """Every GET route of the app, enumerated from it: by id, the withheld item is a 404 like
    one that does not exist; in lists it is absent; the released one is there."""
    nobody = str(uuid.UUID(int=99))
    absent = {"incident_id": nobody, "feature_id": nobody, "mmsi": "431000099", "zone_id": "nope"}
    mine = {
        "incident_id": withheld["withheld"],
        "feature_id": withheld["withheld"],
        "mmsi": withheld["withheld_mmsi"],
    }
    theirs = {
        "incident_id": withheld["released"],
        "feature_id": withheld["released"],
        "mmsi": withheld["released_mmsi"],
    }
    seen_by_id = 0
    for method, path in routes(app):
        if method != "GET" or (method, path) in PUBLIC_ROUTES or path == "/api/v1/stream":
            continue  # the stream: tests/integration/test_stream.py (a partner's stream)
        params = re.findall(r"\{(\w+)\}", path)

        def get(values: dict[str, str], path: str = path) -> httpx.Response:
            url = re.sub(
                r"\{(\w+)\}", lambda m: values.get(m.group(1), PATH_VALUES[m.group(1)]), path
            )
            return anonymous.get(url, headers=signed("GET", url, "kcg", partner_keys))

        if {"incident_id", "feature_id", "mmsi"} & set(params):
            hidden, missing, released = get(mine), get(absent), get(theirs)
            assert hidden.status_code == missing.status_code == 404, path
            assert hidden.json()["type"] == missing.json()["type"], path
            assert released.status_code == 200, (path, released.text)
            seen_by_id += 1
        else:
            r = get({})
            text = r.text
            assert withheld["withheld"] not in text and WITHHELD_MMSI not in text, path
    # incidents/{id}, its timeline, vessels/{mmsi} and its track, their CISE forms, and the
    # OGC API item (zones have no markings).
    assert seen_by_id == 7
    listed = anonymous.get(INCIDENTS, headers=signed("GET", INCIDENTS, "kcg", partner_keys))
    assert {f["id"] for f in listed.json()["features"]} == {withheld["released"]}
    vessels = anonymous.get(
        "/api/v1/vessels", headers=signed("GET", "/api/v1/vessels", "kcg", partner_keys)
    )
    assert {f["id"] for f in vessels.json()["features"]} == {withheld["released_mmsi"]}


# -- the session cookie ------------------------------------------------------------------------


def test_the_login_cookie_serves_reads_and_same_origin_writes_only(
    anonymous: TestClient, db: str
) -> None:
    as_role(anonymous, db, "operator")
    form = {"username": "test-operator", "password": TEST_PASSWORD}
    r = anonymous.post("/auth/token", data=form)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("mdx_session_jcg=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert r.headers["cache-control"] == "no-store"
    assert anonymous.get(INCIDENTS).status_code == 200  # the cookie alone
    assert anonymous.get("/auth/me").json() == {
        "name": "test-operator",
        "role": "operator",
        "node": "jcg",
    }
    # A write with only the cookie must come from this origin: no Origin, another one: 403.
    assert_problem(anonymous.post(INCIDENTS, json=incident()), 403)
    other = {"Origin": "http://127.0.0.1:8102"}
    body = assert_problem(anonymous.post(INCIDENTS, json=incident(), headers=other), 403)
    assert body["type"].endswith("/cross-origin")
    same = {"Origin": "http://testserver"}
    assert anonymous.post(INCIDENTS, json=incident(), headers=same).status_code == 201
    anonymous.post("/auth/logout")
    assert_problem(anonymous.get(INCIDENTS), 401)


# -- login and rate limits -------------------------------------------------------------------


def test_failed_logins_look_alike_and_are_throttled_per_name(
    db: str, tmp_path: Path, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    settings = node_settings_with(db, tmp_path, burst=3, per_minute=1.0)
    with TestClient(create_app(settings, schemas)) as c:
        as_role(c, db, "operator")

        def attempt(name: str, password: str) -> httpx.Response:
            return c.post("/auth/token", data={"username": name, "password": password})

        answers = [attempt(n, "wrong password!") for n in ("test-operator", "no-such-user")]
        for r in answers:
            assert_problem(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert answers[0].json() == answers[1].json()
        assert answers[0].json()["detail"] == (
            "authentication failed: refused: invalid username or password"
        )
        for _ in range(2):
            assert attempt("test-operator", "still wrong").status_code == 401
        # The 4th within the minute, even with the right password, waits: brute force stalls.
        throttled = attempt("test-operator", TEST_PASSWORD)
        assert_problem(throttled, 429)
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert attempt("no-such-user", "x" * 12).status_code == 401  # 2nd failure for that name
    refused = audit_rows(db, "auth.refused")
    assert [actor for actor, _ in refused] == [
        "user:test-operator",
        "user:no-such-user",
        "user:test-operator",
        "user:test-operator",
        "user:test-operator",
        "user:no-such-user",
    ]
    assert refused[4][1] == {"reason": "too many failed logins"}
    logins = audit_rows(db, "auth.login")
    assert [(a, d["role"]) for a, d in logins] == [("user:test-operator", "operator")]


def test_writes_are_limited_to_exactly_the_burst_per_caller(
    db: str, tmp_path: Path, schemas: SchemaSet, partner_keys: dict[str, Ed25519PrivateKey]
) -> None:
    settings = node_settings_with(db, tmp_path, burst=3, per_minute=0.5)
    with TestClient(create_app(settings, schemas)) as c:
        operator, admin = as_role(c, db, "operator"), as_role(c, db, "admin")
        statuses = [
            c.post(INCIDENTS, json=incident(), headers=operator).status_code for _ in range(5)
        ]
        assert statuses == [201, 201, 201, 429, 429]
        limited = c.post(INCIDENTS, json=incident(), headers=operator)
        body = assert_problem(limited, 429)
        assert body["type"].endswith("/too-many-requests")
        assert limited.headers["retry-after"] == "120"  # one token at 0.5 a minute
        # Per caller: another account still has its own three.
        assert c.post(INCIDENTS, json=incident(), headers=admin).status_code == 201
        # Reads are not limited.
        assert all(c.get(INCIDENTS, headers=operator).status_code == 200 for _ in range(5))
    with psycopg.connect(store.libpq_dsn(db)) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (4,)


# -- the token key a node starts with ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "no API token secret: set MDX_AUTH__TOKEN_SECRET"),
        ("changeme", "MDX_AUTH__TOKEN_SECRET is a published default value"),
        ("replace-me-with-at-least-32-random-bytes", "is a published default value"),
        ("short but not a default", "MDX_AUTH__TOKEN_SECRET has 23 bytes; it needs at least 32"),
    ],
)
def test_a_real_node_refuses_to_start_with_a_weak_token_key(
    db: str, tmp_path: Path, secret: str | None, message: str
) -> None:
    settings = NodeSettings(
        node={"id": "jcg", "demo": False},
        database={"url": db},
        auth={"token_secret": secret, "token_secret_file": tmp_path / "never.secret"},
    )
    with pytest.raises(InsecureSecret, match=re.escape(message)):
        create_app(settings)
    assert not (tmp_path / "never.secret").exists()


def test_a_demo_node_makes_its_own_key_once_readable_by_its_user_only(
    db: str, tmp_path: Path, schemas: SchemaSet
) -> None:
    path = tmp_path / "var" / "api-token.secret"
    settings = NodeSettings(
        node={"id": "jcg", "demo": True}, database={"url": db}, auth={"token_secret_file": path}
    )
    with TestClient(create_app(settings, schemas)) as c:
        header = login(c, db, "viewer")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes().strip()
    assert len(key) >= 32
    # Restarted, the node keeps its key: the token it issued still works.
    with TestClient(create_app(settings, schemas)) as c:
        assert c.get(INCIDENTS, headers=header).status_code == 200
    assert path.read_bytes().strip() == key


# -- the audit trail of restricted reads -----------------------------------------------------


def test_reads_of_restricted_items_are_audited_once_per_request_with_their_ids(
    anonymous: TestClient,
    db: str,
    partner_keys: dict[str, Ed25519PrivateKey],
    withheld: dict[str, str],
    schemas: SchemaSet,
) -> None:
    green = {"incident_id": str(uuid.uuid4()), "version": 1, **incident(title="green")}
    save(db, [accepted(schemas, "incident", green, "jcg", Marked("jcg", "GREEN", (), None, False))])
    viewer = as_role(anonymous, db, "viewer")
    anonymous.get(INCIDENTS, headers=viewer)
    anonymous.get(f"{INCIDENTS}/{green['incident_id']}", headers=viewer)  # not restricted
    anonymous.get(f"{INCIDENTS}/{withheld['released']}", headers=signed(
        "GET", f"{INCIDENTS}/{withheld['released']}", "kcg", partner_keys))  # fmt: skip
    anonymous.get(f"/api/v1/vessels/{WITHHELD_MMSI}/track", headers=viewer)
    rows = audit_rows(db, "read.restricted")
    assert [(actor, d["path"], d["kind"], d["ids"]) for actor, d in rows] == [
        (
            "user:test-viewer",
            INCIDENTS,
            "incident",
            sorted([withheld["withheld"], withheld["released"]]),
        ),
        ("node:kcg", f"{INCIDENTS}/{withheld['released']}", "incident", [withheld["released"]]),
        ("user:test-viewer", f"/api/v1/vessels/{WITHHELD_MMSI}/track", "vessel", [WITHHELD_MMSI]),
    ]


def test_a_read_takes_one_connection_for_the_callers_account_its_rows_and_its_audit_row(
    app: FastAPI, anonymous: TestClient, db: str, withheld: dict[str, str]
) -> None:
    viewer = as_role(anonymous, db, "viewer")
    engine = app.state.resources.engine
    checkouts: list[object] = []

    def count(*_: object) -> None:
        checkouts.append(_)

    event.listen(engine, "checkout", count)
    try:
        pages = [
            anonymous.get(INCIDENTS, headers=viewer),
            anonymous.get("/ogcapi/collections/incidents/items", headers=viewer),
        ]
    finally:
        event.remove(engine, "checkout", count)
    assert [r.status_code for r in pages] == [200, 200]
    assert len(checkouts) == 2
    assert engine.pool.checkedout() == 0  # given back before the answer went out
    rows = audit_rows(db, "read.restricted")
    assert [(actor, d["path"]) for actor, d in rows] == [
        ("user:test-viewer", INCIDENTS),
        ("user:test-viewer", "/ogcapi/collections/incidents/items"),
    ]


def test_expired_tokens_stop_working(anonymous: TestClient, db: str) -> None:
    as_role(anonymous, db, "viewer")
    claims = tokens.issue(
        sub="test-viewer",
        role="viewer",
        node="jcg",
        ttl_s=60,
        now=time.time() - timedelta(minutes=2).total_seconds(),
    )
    token = tokens.encode(TOKEN_SECRET.encode(), claims)
    body = assert_problem(
        anonymous.get(INCIDENTS, headers={"Authorization": f"Bearer {token}"}), 401
    )
    assert body["reason"] == "expired"


# -- mdx users -------------------------------------------------------------------------------


def test_mdx_users_add_list_disable(db: str, anonymous: TestClient) -> None:
    from typer.testing import CliRunner

    from mdx.cli.main import app as cli

    runner = CliRunner()
    env = {"MDX_NODE__ID": "jcg", "MDX_DATABASE__URL": db, "MDX_USER_PASSWORD": TEST_PASSWORD}
    added = runner.invoke(cli, ["users", "add", "watch-1", "--role", "operator"], env=env)
    assert added.exit_code == 0, added.output
    again = runner.invoke(cli, ["users", "add", "watch-1", "--role", "admin"], env=env)
    assert (again.exit_code, again.stderr.strip()) == (1, "account 'watch-1' exists")
    weak = runner.invoke(
        cli, ["users", "add", "watch-2"], env={**env, "MDX_USER_PASSWORD": "short"}
    )
    assert weak.exit_code == 1 and "at least 12 characters" in weak.stderr
    listed = runner.invoke(cli, ["users", "list"], env=env)
    assert listed.exit_code == 0 and re.search(r"watch-1\s+.\s+operator\s+.*active", listed.stdout)
    form = {"username": "watch-1", "password": TEST_PASSWORD}
    assert anonymous.post("/auth/token", data=form).json()["role"] == "operator"
    assert runner.invoke(cli, ["users", "disable", "watch-1"], env=env).exit_code == 0
    assert_problem(anonymous.post("/auth/token", data=form), 401)
    assert runner.invoke(cli, ["users", "disable", "nobody"], env=env).exit_code == 1
    # The password never appears as an argument: it is read from the environment or a prompt.
    prompted = runner.invoke(
        cli,
        ["users", "add", "watch-3"],
        env={k: v for k, v in env.items() if k != "MDX_USER_PASSWORD"},
        input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n",
    )
    assert prompted.exit_code == 0, prompted.output
    form = {"username": "watch-3", "password": TEST_PASSWORD}
    assert anonymous.post("/auth/token", data=form).json()["role"] == "viewer"

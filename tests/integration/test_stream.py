"""GET /api/v1/stream over a real uvicorn server and a real PostGIS: events arrive, resume
exactly after a cursor, and a partner streams only what the policy releases."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from mdx.api import accounts, stream
from mdx.api.app import create_app
from mdx.core import intake, keys, store
from mdx.core.envelope import make_envelope
from mdx.core.fedauth import sign_request
from mdx.core.intake import Accepted, IntakePolicy
from mdx.core.policy import Decision, Marked, decide
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TEST_PASSWORD, TOKEN_SECRET, free_port, login

STREAM = "/api/v1/stream"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
CURSOR = re.compile(r"^i\d+p\d+$")
PARTNERS = ("kcg", "uscg")


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


@pytest.fixture
def settings(db: str, tmp_path: Path, partner_keys: dict[str, Ed25519PrivateKey]) -> NodeSettings:
    return NodeSettings(
        node={"id": "jcg", "default_tlp": "GREEN"},
        auth={"token_secret": TOKEN_SECRET},
        database={"url": db},
        broker={"host": "127.0.0.1", "port": 1},
        partners=[
            {
                "id": node,
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": tmp_path / f"{node}.pub",
                "purposes": ["SAR", "Safety"],
                "personal_data": False,
            }
            for node in PARTNERS
        ],
    )


@pytest.fixture
def base_url(
    settings: NodeSettings, schemas: SchemaSet, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A real uvicorn serving the app in a thread; keepalives often, so reads never stall."""
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.2)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, schemas),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    _viewer[url] = login(url, settings.database.url, "viewer")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


# base URL -> the Authorization header of the node's own viewer (set by `base_url`).
_viewer: dict[str, dict[str, str]] = {}


def signed(
    base_url: str, path_qs: str, caller: str | None, keys_: dict[str, Ed25519PrivateKey]
) -> dict[str, str]:
    """A partner's signature, or (caller None) jcg's own viewer's token."""
    if caller is None:
        return dict(_viewer[base_url])
    auth = sign_request("GET", path_qs, caller, "jcg", keys_[caller], time.time())
    return {"Authorization": auth}


class Sse:
    """One open stream, parsed into (event, id, data) triples."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.preamble: list[str] = []  # fields seen outside events: retry, comments

    def take(self, count: int, timeout: float) -> list[tuple[str, str, dict[str, Any]]]:
        """Up to `count` events, waiting at most `timeout` s (keepalives keep lines coming)."""
        events: list[tuple[str, str, dict[str, Any]]] = []
        fields: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            line = next(self.lines)
            if line == "":
                if "event" in fields:
                    events.append((fields["event"], fields["id"], orjson.loads(fields["data"])))
                fields = {}
            elif line.startswith(":") or line.startswith("retry:"):
                self.preamble.append(line)
            else:
                name, _, value = line.partition(": ")
                fields[name] = value
        return events


@contextmanager
def connect(
    base_url: str,
    query: str = "",
    caller: str | None = None,
    keys_: dict[str, Ed25519PrivateKey] | None = None,
    last_event_id: str | None = None,
) -> Iterator[Sse]:
    path_qs = f"{STREAM}?{query}" if query else STREAM
    headers = signed(base_url, path_qs, caller, keys_ or {})
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with (
        httpx.Client(base_url=base_url, timeout=5) as client,
        client.stream("GET", path_qs, headers=headers) as r,
    ):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield Sse(r)


def get(base_url: str, path: str, caller: str | None = None, keys_: Any = None) -> Any:
    r = httpx.get(base_url + path, headers=signed(base_url, path, caller, keys_ or {}), timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def accepted(
    schemas: SchemaSet, kind: str, data: dict[str, Any], tlp: str = "GREEN", relto: Any = ()
) -> Accepted:
    envelope = make_envelope("jcg", "ops", f"mdx.{kind}.v1", data, tlp=tlp, relto=list(relto))
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=schemas)
    result = intake.accept_envelope(envelope, "ops", kind, policy)
    assert isinstance(result, Accepted), result
    return result


def save(db: str, items: list[Accepted]) -> None:
    with store.connect(db) as conn:
        store.write_batch(conn, items, [])


def incident(schemas: SchemaSet, title: str, **markings: Any) -> tuple[str, Accepted]:
    incident_id = str(uuid.uuid4())
    data = {
        "incident_id": incident_id,
        "version": 1,
        "category": "sar",
        "status": "reported",
        "title": title,
        "location": {"type": "Point", "coordinates": [139.0, 35.0]},
        "observed_at": T0.isoformat(),
    }
    return incident_id, accepted(schemas, "incident", data, **markings)


def position(schemas: SchemaSet, mmsi: str, minute: int) -> Accepted:
    data = {
        "mmsi": mmsi,
        "lat": 35.0,
        "lon": 139.0 + minute / 1000,
        "sog": 10.0,
        "cog": 90.0,
        "observed_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "source_type": "ais-terrestrial",
    }
    return accepted(schemas, "position", data)


def test_an_incident_stored_after_connecting_arrives_as_its_feature(
    base_url: str, db: str, schemas: SchemaSet
) -> None:
    old_id, old = incident(schemas, "before connecting")
    save(db, [old])
    with connect(base_url) as sse:
        new_id, new = incident(schemas, "after connecting")
        save(db, [new])
        events = sse.take(2, timeout=2)
        assert len(events) == 1, events  # the one stored before connecting is not news
        kind, cursor, data = events[0]
        assert kind == "incident"
        assert CURSOR.match(cursor), cursor
        assert data["id"] == new_id
        assert data == get(base_url, f"/api/v1/incidents/{new_id}")
        assert sse.preamble[0] == "retry: 1000"
        assert ": keepalive" in sse.preamble
    # since_start replays what was stored before, in storage order.
    with connect(base_url, "since_start=true") as sse:
        assert [e[2]["id"] for e in sse.take(2, timeout=2)] == [old_id, new_id]


def test_resuming_after_a_cursor_sends_exactly_what_came_after(
    base_url: str, db: str, schemas: SchemaSet
) -> None:
    with connect(base_url) as sse:
        first = [incident(schemas, f"first {i}") for i in range(3)]
        for _, item in first:  # one batch each: three separate events
            save(db, [item])
        events = sse.take(3, timeout=3)
    assert [e[2]["id"] for e in events] == [i for i, _ in first]
    last = events[-1][1]
    later = [incident(schemas, f"later {i}") for i in range(2)]
    for _, item in later:
        save(db, [item])
    with connect(base_url, last_event_id=last) as sse:
        resumed = sse.take(3, timeout=1.5)  # asks for one more than expected: none may come
    assert [e[2]["id"] for e in resumed] == [i for i, _ in later]
    # The query parameter does the same for clients that cannot set headers.
    with connect(base_url, f"last_event_id={events[1][1]}") as sse:
        again = sse.take(4, timeout=1.5)
    assert [e[2]["id"] for e in again] == [first[2][0]] + [i for i, _ in later]


def test_positions_arrive_as_vessel_features(base_url: str, db: str, schemas: SchemaSet) -> None:
    with connect(base_url, "kinds=position") as sse:
        save(db, [position(schemas, "431000001", 5), position(schemas, "431000002", 0)])
        _, item = incident(schemas, "not asked for")
        save(db, [item])
        events = sse.take(3, timeout=1.5)
    assert sorted(e[2]["id"] for e in events) == ["431000001", "431000002"]
    for kind, _, data in events:
        assert kind == "position"
        assert data == get(base_url, f"/api/v1/vessels/{data['id']}")


def test_a_partner_streams_only_what_the_policy_releases(
    base_url: str,
    db: str,
    schemas: SchemaSet,
    settings: NodeSettings,
    partner_keys: dict[str, Ed25519PrivateKey],
) -> None:
    for_uscg_id, for_uscg = incident(schemas, "for uscg", tlp="AMBER", relto=["uscg"])
    for_kcg_id, for_kcg = incident(schemas, "for kcg", tlp="AMBER", relto=["kcg"])
    assert decide(Marked("jcg", "AMBER", ("kcg",), None, False), "kcg", settings).decision is (
        Decision.RELEASE
    )
    assert decide(Marked("jcg", "AMBER", ("uscg",), None, False), "kcg", settings).decision is (
        Decision.WITHHOLD
    )
    with (
        connect(base_url, "since_start=true", "kcg", partner_keys) as kcg,
        connect(base_url, "since_start=true", "uscg", partner_keys) as uscg,
    ):
        save(db, [for_uscg])
        save(db, [for_kcg])
        to_kcg = kcg.take(2, timeout=1.5)
        to_uscg = uscg.take(2, timeout=1.5)
    assert [e[2]["id"] for e in to_kcg] == [for_kcg_id]
    assert [e[2]["id"] for e in to_uscg] == [for_uscg_id]
    path = f"/api/v1/incidents/{for_kcg_id}"
    assert to_kcg[0][2] == get(base_url, path, "kcg", partner_keys)


def test_a_bad_cursor_is_a_400(base_url: str) -> None:
    headers = {**_viewer[base_url], "Last-Event-ID": "nonsense"}
    r = httpx.get(f"{base_url}{STREAM}", headers=headers, timeout=5)
    assert r.status_code == 400, r.text


def test_the_map_streams_with_its_session_cookie_and_nobody_without(base_url: str) -> None:
    assert httpx.get(f"{base_url}{STREAM}", timeout=5).status_code == 401
    with httpx.Client(base_url=base_url, timeout=5) as client:
        form = {"username": "test-viewer", "password": TEST_PASSWORD}
        assert client.post("/auth/token", data=form).status_code == 200
        # The cookie only, as the map's EventSource sends it (it cannot set headers).
        with client.stream("GET", STREAM) as r:
            assert r.status_code == 200
            assert next(r.iter_lines()) == "retry: 1000"


# --- how long a stream lives -------------------------------------------------------------------


def _seconds_until_closed(base_url: str, header: dict[str, str], then: Any = None) -> float:
    """Open a stream, run `then()` once it is open, and time how long until the server ends it
    (a read timeout of 10 s fails the test instead of hanging)."""
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{base_url}/api/v1/stream", headers=header) as r,
    ):
        assert r.status_code == 200
        started = time.monotonic()
        if then is not None:
            then()
        for _ in r.iter_lines():
            pass
        return time.monotonic() - started


def test_a_stream_ends_within_seconds_of_its_account_being_disabled(
    base_url: str, settings: NodeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "ACCOUNT_CHECK_S", 0.5)
    header = login(base_url, settings.database.url, "operator")
    engine = create_engine(settings.database.url)

    def disable() -> None:
        with engine.begin() as conn:
            assert accounts.disable(conn, "test-operator")

    try:
        assert _seconds_until_closed(base_url, header, disable) < 3
    finally:
        engine.dispose()
    # And it cannot come back: the reconnect is refused.
    assert httpx.get(f"{base_url}/api/v1/stream", headers=header, timeout=10).status_code == 401


def test_a_stream_ends_after_its_longest_life(
    base_url: str, settings: NodeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app holds the settings object it was made with: shorten its streams' life.
    monkeypatch.setattr(settings.api, "stream_max_s", 1.0)
    header = login(base_url, settings.database.url, "viewer")
    assert 0.9 < _seconds_until_closed(base_url, header) < 4

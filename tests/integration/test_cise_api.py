"""/api/v1/cise against a real PostGIS: each document validates against the published CISE
XSDs, holds exactly the items the releasability policy releases to the caller (jcg's own viewer
with a token, partners kcg and uscg with MDX-Ed25519 signed requests), redacted as it says."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from lxml import etree

from mdx.api.app import create_app
from mdx.cise import mapping, xsd
from mdx.core import intake, keys, store
from mdx.core.envelope import make_envelope
from mdx.core.fedauth import sign_request
from mdx.core.intake import Accepted, IntakePolicy
from mdx.core.policy import Decision, Marked, decide
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from tests.conftest import TOKEN_SECRET, login

BASE = "/api/v1/cise"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
INCIDENT_NS = "{" + mapping.NS["incident"] + "}"
PERSONS = [{"name": "Taro Example", "role": "master", "nationality": "JP"}]
PARTNERS = {  # what each partner is registered for, as in infra/nodes/jcg.toml
    "kcg": (["SAR", "Safety", "FisheriesMonitoring", "EnvironmentResponse"], False),
    "uscg": (["SAR", "Safety", "LawEnforcementMonitoring", "EnvironmentResponse"], True),
}
SUSPECT = {"mmsi": "412416873", "name": "MIN SHI YU 05821", "flag": "CN", "role": "suspect"}
# name -> (category, tlp, relto, purpose, extra data); observed one minute apart, in this order.
INCIDENTS: dict[str, tuple[str, str, tuple[str, ...], str | None, dict[str, Any]]] = {
    "sar": ("sar", "GREEN", (), "SAR", {"severity": "Severe", "urgency": "Immediate"}),
    "iuu": ("iuu_fishing", "AMBER", ("kcg",), "FisheriesMonitoring", {"vessels": [SUSPECT]}),
    "oil": ("pollution", "CLEAR", (), None, {}),
    "smuggling": ("smuggling", "AMBER", ("uscg",), "LawEnforcementMonitoring", {}),
    "persons": ("sar", "GREEN", (), "SAR", {"persons": PERSONS}),
    "piracy": ("piracy_robbery", "RED", (), None, {}),
}
# mmsi -> (tlp, relto, AIS ship type)
VESSELS = {
    "431000001": ("GREEN", (), 30),  # fishing
    "440000002": ("AMBER", ("uscg",), 70),  # cargo, released to uscg only
    "338000003": ("CLEAR", (), 80),  # tanker
}


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def partner_keys(tmp_path: Path) -> dict[str, Ed25519PrivateKey]:
    return {node: keys.generate(tmp_path / f"{node}.key") for node in PARTNERS}


@pytest.fixture
def settings(db: str, tmp_path: Path, partner_keys: dict[str, Ed25519PrivateKey]) -> NodeSettings:
    return NodeSettings(
        node={"id": "jcg", "default_tlp": "GREEN", "signing_key": tmp_path / "jcg.key"},
        auth={"token_secret": TOKEN_SECRET},
        database={"url": db},
        broker={"host": "127.0.0.1", "port": 1},
        partners=[
            {
                "id": node,
                "broker_port": 1,
                "api_url": "http://127.0.0.1:1",
                "public_key": tmp_path / f"{node}.pub",
                "purposes": purposes,
                "personal_data": personal,
            }
            for node, (purposes, personal) in PARTNERS.items()
        ],
    )


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


def judged(
    schemas: SchemaSet,
    kind: str,
    data: dict[str, Any],
    tlp: str,
    relto: tuple[str, ...],
    purpose: str | None,
) -> Accepted:
    envelope = make_envelope(
        "jcg", "ops", f"mdx.{kind}.v1", data, tlp=tlp, relto=list(relto), purpose=purpose
    )
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=schemas)
    result = intake.accept_envelope(envelope, "ops", kind, policy)
    assert isinstance(result, Accepted), result
    return result


@pytest.fixture
def stored(db: str, schemas: SchemaSet) -> dict[str, tuple[str, Marked]]:
    """name -> (incident id, markings) of the incidents stored at jcg; and the vessels."""
    found: dict[str, tuple[str, Marked]] = {}
    batch = []
    for i, (name, (category, tlp, relto, purpose, extra)) in enumerate(INCIDENTS.items()):
        incident_id = str(uuid.uuid4())
        data = {
            "incident_id": incident_id,
            "version": 1,
            "category": category,
            "status": "reported",
            "title": f"{name} <case> & co",
            "location": {"type": "Point", "coordinates": [129.0 + i / 10, 34.5]},
            "observed_at": iso(T0 + timedelta(minutes=i)),
            **extra,
        }
        batch.append(judged(schemas, "incident", data, tlp, relto, purpose))
        found[name] = (incident_id, Marked("jcg", tlp, relto, purpose, "persons" in extra))
    for i, (mmsi, (tlp, relto, ship_type)) in enumerate(VESSELS.items()):
        when = iso(T0 + timedelta(minutes=i))
        static = {"mmsi": mmsi, "name": f"SHIP {i}", "ship_type": ship_type, "call_sign": f"C{i}",
                  "observed_at": when, "source_type": "ais-terrestrial"}  # fmt: skip
        fix = {"mmsi": mmsi, "lat": 35.0, "lon": 139.0 + i / 10, "sog": 8.0, "cog": 45.0,
               "nav_status": 0, "observed_at": when, "source_type": "ais-terrestrial"}  # fmt: skip
        batch.append(judged(schemas, "vessel", static, tlp, relto, None))
        batch.append(judged(schemas, "position", fix, tlp, relto, None))
    with store.connect(db) as conn:
        store.write_batch(conn, batch, [])
    return found


@pytest.fixture
def client(settings: NodeSettings, schemas: SchemaSet) -> Iterator[TestClient]:
    with TestClient(create_app(settings, schemas)) as c:
        login(c, settings.database.url, "viewer")
        yield c


class Caller:
    """GETs as jcg's viewer (the client's token) or as a partner node signing its requests."""

    def __init__(self, client: TestClient, keys_: dict[str, Ed25519PrivateKey], node: str):
        self.client, self.keys, self.node = client, keys_, node

    def get(self, path_qs: str) -> httpx.Response:
        headers = {}
        if self.node != "jcg":
            key = self.keys[self.node]
            headers["Authorization"] = sign_request(
                "GET", path_qs, self.node, "jcg", key, time.time()
            )
        response: httpx.Response = self.client.get(path_qs, headers=headers)
        return response

    def document(self, path_qs: str) -> etree._Element:
        """The 200 answer, checked against the XSDs (whole message, then each entity alone)."""
        r = self.get(path_qs)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/xml")
        root = etree.fromstring(r.content)
        xsd.message_schema().assertValid(root)
        for entity in entities(root):
            assert entity.get("{http://www.w3.org/2001/XMLSchema-instance}type")
            alone = etree.fromstring(etree.tostring(entity))
            alone.tag = etree.QName(alone).localname
            xsd.entity_schema().assertValid(alone)
        return root


def entities(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.find("Payload") if etree.QName(e).namespace is not None]


def ids(root: etree._Element) -> list[str]:
    return [e.findtext("Identifier/UUID") for e in entities(root)]


def released(
    stored: dict[str, tuple[str, Marked]], node: str, settings: NodeSettings
) -> dict[str, Decision]:
    verdicts = {name: decide(m, node, settings).decision for name, (_, m) in stored.items()}
    return {name: d for name, d in verdicts.items() if d is not Decision.WITHHOLD}


# -- incidents ------------------------------------------------------------------------------


def test_the_local_viewer_gets_every_incident_as_its_subtype(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
) -> None:
    root = Caller(client, partner_keys, "jcg").document(f"{BASE}/incidents")
    newest_first = [stored[name][0] for name in reversed(INCIDENTS)]
    assert ids(root) == newest_first
    assert [etree.QName(e).localname for e in entities(root)] == [
        "LawInfringementIncident",  # piracy
        "MaritimeSafetyIncident",  # persons
        "LawInfringementIncident",  # smuggling
        "PollutionIncident",
        "LawInfringementIncident",  # iuu
        "MaritimeSafetyIncident",  # sar
    ]
    assert root.findtext("Payload/InformationSensitivity") == "Red"
    assert root.findtext("Payload/IsPersonalData") == "true"
    assert root.findtext("Payload/Purpose") == "NonSpecified"
    assert root.findtext("Priority") == "High"
    assert root.findtext("Sender/ServiceID") == "jcg.incident.push.provider"
    iuu = entities(root)[4]
    assert iuu.findtext("ImpliedRiskRel/Risk/RiskType") == "IllegalFishing"
    assert iuu.findtext("ImpliedRiskRel/Risk/InvolvedObjectRel/Object/MMSI") == "412416873"
    assert iuu.findtext("Metadata/Abstract") == "iuu <case> & co"


@pytest.mark.parametrize("node", ["kcg", "uscg"])
def test_a_partner_gets_exactly_what_the_policy_releases_to_it(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
    settings: NodeSettings,
    node: str,
) -> None:
    expected = released(stored, node, settings)
    root = Caller(client, partner_keys, node).document(f"{BASE}/incidents?limit=50")
    assert ids(root) == [stored[name][0] for name in reversed(INCIDENTS) if name in expected]
    # The grid, spelled out: AMBER goes to its relto only, RED to nobody, persons redacted for
    # the partner that is not registered for personal data.
    by_node = {
        "kcg": ["persons", "oil", "iuu", "sar"],
        "uscg": ["persons", "smuggling", "oil", "sar"],
    }
    assert [n for n in reversed(INCIDENTS) if n in expected] == by_node[node]
    personal = expected["persons"] is Decision.RELEASE
    assert personal == (node == "uscg")
    assert root.findtext("Payload/IsPersonalData") == ("true" if personal else "false")
    names = [e.findtext("InvolvedAgentRel/Agent/FullName") for e in entities(root)]
    assert names == [("Taro Example" if personal else None), None, None, None]
    assert root.findtext("Payload/InformationSensitivity") == "Amber"
    degrees = [e.findtext("Metadata/InformationSensitivityDegree") for e in entities(root)]
    assert degrees == [
        {"oil": "White", "persons": "Green", "sar": "Green"}.get(name, "Amber")
        for name in by_node[node]
    ]


def test_an_amber_item_not_released_to_a_partner_is_never_in_its_export(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
) -> None:
    kcg = Caller(client, partner_keys, "kcg")
    smuggling_id = stored["smuggling"][0]  # AMBER, releasable to uscg only
    listed = kcg.document(f"{BASE}/incidents")
    assert smuggling_id not in ids(listed)
    assert smuggling_id.encode() not in etree.tostring(listed)
    r = kcg.get(f"{BASE}/incidents/{smuggling_id}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert smuggling_id in r.json()["detail"]
    # ... while uscg, named in its relto and registered for its purpose, reads it.
    one = Caller(client, partner_keys, "uscg").document(f"{BASE}/incidents/{smuggling_id}")
    assert ids(one) == [smuggling_id]
    assert one.findtext("Payload/InformationSensitivity") == "Amber"
    assert one.findtext("Payload/Purpose") == "LawEnforcementMonitoring"
    (entity,) = entities(one)
    assert entity.findtext("LawInfringementIncidentType") == "SmugglingInOtherMaterial"
    assert entity.findtext("ImpliedRiskRel/Risk/RiskType") == "Smuggling"


def test_one_incident_carries_its_own_markings(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
) -> None:
    iuu_id = stored["iuu"][0]
    root = Caller(client, partner_keys, "kcg").document(f"{BASE}/incidents/{iuu_id}")
    assert [root.findtext(f"Payload/{n}") for n in ("InformationSensitivity", "Purpose")] == [
        "Amber",
        "FisheriesMonitoring",
    ]
    assert Caller(client, partner_keys, "uscg").get(f"{BASE}/incidents/{iuu_id}").status_code == 404
    oil = Caller(client, partner_keys, "uscg").document(f"{BASE}/incidents/{stored['oil'][0]}")
    assert oil.findtext("Payload/InformationSensitivity") == "White"
    assert oil.findtext("Payload/Purpose") == "NonSpecified"


def test_limit_takes_the_newest(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
) -> None:
    root = Caller(client, partner_keys, "jcg").document(f"{BASE}/incidents?limit=2")
    assert ids(root) == [stored["piracy"][0], stored["persons"][0]]


@pytest.mark.parametrize(
    "path_qs",
    [
        "/incidents?limit=0",
        "/incidents?limit=5001",
        "/incidents?limit=x",
        "/vessels?category=trawler",
        "/vessels?flag=JPN",
        "/vessels?limit=0",
        "/vessels/12345",
    ],
)
def test_a_bad_parameter_is_a_problem(client: TestClient, path_qs: str) -> None:
    r = client.get(BASE + path_qs)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"


def test_a_malformed_or_unknown_id(client: TestClient, stored: dict[str, Any]) -> None:
    assert client.get(f"{BASE}/incidents/not-a-uuid").status_code == 400
    assert client.get(f"{BASE}/incidents/{uuid.uuid4()}").status_code == 404


# -- vessels --------------------------------------------------------------------------------


def test_vessels_as_cise_vessels_for_each_caller(
    client: TestClient,
    partner_keys: dict[str, Ed25519PrivateKey],
    stored: dict[str, tuple[str, Marked]],
) -> None:
    def mmsis(node: str, query: str = "") -> list[str]:
        root = Caller(client, partner_keys, node).document(f"{BASE}/vessels{query}")
        return [e.findtext("MMSI") for e in entities(root)]

    assert mmsis("jcg") == ["338000003", "440000002", "431000001"]  # newest position first
    assert mmsis("uscg") == ["338000003", "440000002", "431000001"]
    assert mmsis("kcg") == ["338000003", "431000001"]  # the AMBER one is for uscg only
    assert mmsis("jcg", "?category=fishing,tanker") == ["338000003", "431000001"]
    assert mmsis("jcg", "?category=cargo") == ["440000002"]
    assert mmsis("jcg", "?flag=jp,us") == ["338000003", "431000001"]  # flags from the MIDs
    assert mmsis("kcg", "?flag=KR") == []  # 440: Korea's, and AMBER for uscg only
    assert mmsis("jcg", "?limit=1") == ["338000003"]
    kcg = Caller(client, partner_keys, "kcg")
    assert kcg.get(f"{BASE}/vessels/440000002").status_code == 404
    one = kcg.document(f"{BASE}/vessels/431000001")
    (vessel,) = entities(one)
    assert vessel.findtext("Name") == "SHIP 0"
    assert vessel.findtext("CallSign") == "C0"
    assert vessel.findtext("ShipType") == "FishingVessel"
    assert vessel.findtext("NavigationalStatus") == "UnderWayUsingEngine"
    assert vessel.findtext("LocationRel/Location/Geometry/Longitude") == "139"
    assert vessel.findtext("LocationRel/PeriodOfTime/StartTime") == "09:00:00Z"
    assert one.findtext("Payload/InformationSensitivity") == "Green"


def test_the_openapi_declares_xml(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/incidents", "/incidents/{incident_id}", "/vessels", "/vessels/{mmsi}"):
        content = paths[BASE + path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["application/xml"], path
        assert content["application/xml"]["schema"] == {"type": "string"}

"""The published contracts: each JSON Schema served at the path of its `$id`, byte for byte as
its file; the index of them; the AsyncAPI document as YAML and JSON, whose payload references
resolve to schemas this node serves. No login needed: contracts are public."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

from mdx.api.app import create_app
from mdx.core.schemas import ID_BASE, SCHEMA_DIR, SchemaSet
from tests.integration.test_api import settings_for

SCHEMA_FILES = sorted(SCHEMA_DIR.rglob("*.schema.json"))


@pytest.fixture
def anonymous(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db))) as c:
        yield c


def test_there_are_schemas_to_serve() -> None:
    assert len(SCHEMA_FILES) == len(SchemaSet().ids) >= 11


@pytest.mark.parametrize("file", SCHEMA_FILES, ids=lambda f: f.name)
def test_each_schema_is_served_at_its_id_path_as_written(anonymous: TestClient, file: Any) -> None:
    written = file.read_bytes()
    schema_id = json.loads(written)["$id"]
    path = urlsplit(schema_id).path
    assert path == "/schemas/" + file.relative_to(SCHEMA_DIR).as_posix()
    r = anonymous.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/schema+json"
    assert r.content == written
    assert r.json()["$id"] == schema_id


def test_the_index_lists_every_schema_and_the_asyncapi_document(anonymous: TestClient) -> None:
    r = anonymous.get("/schemas/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    ids = sorted(json.loads(f.read_bytes())["$id"] for f in SCHEMA_FILES)
    assert [s["id"] for s in body["schemas"]] == ids
    for entry in body["schemas"]:
        assert entry["href"] == urlsplit(entry["id"]).path
        assert anonymous.get(entry["href"]).json() == json.loads(
            (SCHEMA_DIR / entry["id"].removeprefix(ID_BASE)).read_bytes()
        )
        assert entry["title"]
    assert [a["href"] for a in body["asyncapi"]] == ["/asyncapi.yaml", "/asyncapi.json"]


def test_unknown_schemas_are_not_found(anonymous: TestClient) -> None:
    for path in (
        "/schemas/nothing/v1/nothing.schema.json",
        "/schemas/incident/v2/incident.schema.json",
    ):
        r = anonymous.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"


def external_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                yield value
            else:
                yield from external_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from external_refs(item)


def test_the_asyncapi_document_is_served_and_its_payloads_resolve(anonymous: TestClient) -> None:
    r = anonymous.get("/asyncapi.yaml")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/yaml"
    served = yaml.safe_load(r.text)
    as_json = anonymous.get("/asyncapi.json")
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == served
    assert served["asyncapi"] == "3.0.0"

    # The same document as the file but for where its payload schemas are (the file sits
    # beside them in schemas/; served from the root, they are under /schemas/).
    written = yaml.safe_load((SCHEMA_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert {k: v for k, v in served.items() if k != "components"} == {
        k: v for k, v in written.items() if k != "components"
    }
    written_refs = list(external_refs(written))
    served_refs = list(external_refs(served))
    assert len(served_refs) == len(written_refs) >= 8
    base = "http://testserver/asyncapi.yaml"
    for written_ref, served_ref in zip(written_refs, served_refs, strict=True):
        target = urljoin(base, served_ref)
        assert target == urljoin("http://testserver/schemas/asyncapi.yaml", written_ref)
        got = anonymous.get(urlsplit(target).path)
        assert got.status_code == 200, target
        assert got.json()["$id"] == ID_BASE + written_ref.removeprefix("./")

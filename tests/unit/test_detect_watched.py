"""A node's detection watches its own zones of interest, the same ones its map shows."""

from __future__ import annotations

import json
from pathlib import Path

from mdx.detect.model import Zone
from mdx.detect.reader import watched_by

ZONES = Path(__file__).resolve().parents[2] / "infra" / "zones"


def shipped() -> list[Zone]:
    return [
        Zone.from_feature(feature)
        for path in sorted(ZONES.glob("*.geojson"))
        for feature in json.loads(path.read_text())["features"]
    ]


def test_each_node_watches_its_own_zones_and_its_agreements() -> None:
    zones = shipped()
    watched = {node: {z.id for z in watched_by(zones, node)} for node in ("jcg", "kcg", "uscg")}
    assert watched == {
        "jcg": {
            "jcg-aor",
            "jp-eez-sea-of-japan",
            "jp-eez-pacific",
            "jp-mpa-kerama",
            "jp-kr-provisional-zone",
        },
        "kcg": {
            "kcg-aor",
            "kr-eez-east-sea",
            "kr-eez-yellow-sea",
            "kr-mpa-jeju-munseom",
            "jp-kr-provisional-zone",
            "kr-cn-provisional-measures-zone",
        },
        "uscg": {"uscg-aor"},
    }


def test_a_node_without_an_area_of_its_own_watches_every_zone() -> None:
    zones = shipped()
    assert len(watched_by(zones, "pcg")) == len(zones) == 11

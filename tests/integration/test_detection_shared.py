"""Raw AIS at JCG -> registry -> detection -> a candidate incident shared to KCG with its
evidence, under JCG's policy (GREEN, purpose FisheriesMonitoring: KCG is registered for it,
USCG is not)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mdx.core import zones
from mdx.sim.ais import ForeignFishing, build
from tests.integration.federation import Network, build_network
from tests.integration.harness import RawPublisher, wait_for

pytestmark = pytest.mark.slow

TRAWLER = "412701001"  # CN flag (MID 412) inside the Japanese EEZ-like zone


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    for network in build_network():
        # The zones JCG watches, as `mdx node run` loads them at start.
        zones.load_configured(network["jcg"].settings)
        network.start(services=("ingest", "share", "api", "detect"))
        yield network


def test_foreign_fishing_detected_at_jcg_reaches_kcg_with_its_evidence(net: Network) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    scenario = build(
        "jcg",
        {
            "foreign_fishing": ForeignFishing(
                TRAWLER, "MIN JIN YU 07011", "jp-eez-sea-of-japan", (32.85, 128.45), heading=20
            )
        },
        now=int(time.time()),
        history_h=2,
    )
    lines = [line for message in scenario.history() for line in message.lines]
    publisher = RawPublisher("127.0.0.1", jcg.broker_port, "test-ais")
    publisher.publish_all(
        [
            ("mdx/v1/in/rx1/ais", "\n".join(lines[i : i + 50]).encode())
            for i in range(0, len(lines), 50)
        ]
    )
    publisher.close()

    sql = (
        "SELECT count(*) FROM incidents WHERE data->'detection'->>'rule' = 'foreign_fishing'"
        " AND data->'vessels' @> %s::jsonb"
    )
    vessel = f'[{{"mmsi": "{TRAWLER}"}}]'
    wait_for(lambda: jcg.scalar(sql, vessel) == 1, 90, lambda: jcg.log("detect")[-3000:])
    wait_for(lambda: kcg.scalar(sql, vessel) == 1, 60, lambda: kcg.log("share")[-3000:])
    evidence = kcg.scalar(
        "SELECT jsonb_array_length(data->'detection'->'evidence') FROM incidents"
        " WHERE data->'vessels' @> %s::jsonb",
        vessel,
    )
    assert isinstance(evidence, int) and evidence >= 10
    origin = kcg.scalar("SELECT origin FROM incidents WHERE data->'vessels' @> %s::jsonb", vessel)
    assert origin == "jcg"
    # USCG is not registered at JCG for fisheries monitoring: it never gets the candidate.
    time.sleep(3)
    assert uscg.scalar(sql, vessel) == 0
    # The flag and category the rule judged by are in JCG's registry, from the AIS itself.
    assert jcg.scalar("SELECT flag FROM vessels WHERE mmsi = %s", TRAWLER) == "CN"
    assert jcg.scalar("SELECT category FROM vessels WHERE mmsi = %s", TRAWLER) == "fishing"

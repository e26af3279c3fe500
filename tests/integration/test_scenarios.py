"""Every shipped scenario (scenarios/*.yaml) passes against a demo network of real nodes: JCG,
KCG and USCG with their brokers bridged, their databases, ingest, share, api and detect, each
marking unmarked items as its demo config does (USCG: AMBER). The
outage scenario takes KCG's broker away and brings it back. `mdx scenario run` itself is run
as a user would: a network file, a JUnit report, its exit status."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mdx.core import mqtt, zones
from mdx.scenario import model, runner
from mdx.scenario.network import NodeAccess
from tests.conftest import TEST_PASSWORD, login
from tests.integration.federation import Network, Node, build_network

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    for network in build_network(demo_markings=True):
        zones.load_configured(network["jcg"].settings)  # what JCG's detection watches
        network.start(services=("ingest", "share", "api", "detect"))
        for n in network.nodes.values():
            login(n.api, n.db)  # the account test-operator, which the scenarios read as
        yield network


def access(n: Node) -> NodeAccess:
    return NodeAccess(
        id=n.id,
        broker_host="127.0.0.1",
        broker_port=n.broker_port,
        api=n.api,
        username="test-operator",
        password=TEST_PASSWORD,
        producer=lambda pid: mqtt.credentials(n.settings, pid),
        down=lambda: n.stop("broker"),
        up=n.start_broker,
    )


def test_five_stories_are_shipped() -> None:
    assert [p.name for p in SHIPPED] == [
        "iuu-sighting-amber.yaml",
        "malformed-feed.yaml",
        "partner-outage-catch-up.yaml",
        "sar-case-uscg-assists.yaml",
        "transshipment-detected.yaml",
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_passes_against_the_demo_network(net: Network, path: Path) -> None:
    scenario = model.load(path)
    outcome = runner.run(scenario, {nid: access(n) for nid, n in net.nodes.items()})
    failed = [(r.name, r.detail) for r in outcome.results if not r.passed]
    assert failed == []
    # Every step done and every expectation decided, each once.
    names = sorted(r.name for r in outcome.results)
    steps = sorted(f"step {i} at {s.at:g} s" for i, s in enumerate(scenario.steps, 1))
    assert names == sorted([*steps, *(e.name for e in scenario.expect)])


def test_the_command_reports_a_failure_by_name_in_junit(net: Network, tmp_path: Path) -> None:
    """A scenario whose expectation is wrong (USCG would see an AMBER item released to KCG
    only) fails, and the report names that expectation; the others pass."""
    jcg = net["jcg"]
    text = (ROOT / "scenarios" / "iuu-sighting-amber.yaml").read_text()
    wrong = text.replace("name: USCG never sees it", "name: USCG sees it").replace(
        '    incident: "{{id:sighting}}"\n    absent: true\n', '    incident: "{{id:sighting}}"\n'
    )
    assert wrong.count("absent: true") == 1  # the broker's absence stays as shipped
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(wrong)
    network = tmp_path / "network.yaml"
    network.write_text(
        "nodes:\n"
        + "".join(
            f"  {n.id}:\n    config: {n.config}\n"
            f"    operator: {{username: test-operator, password: {TEST_PASSWORD}}}\n"
            for n in net.nodes.values()
        )
    )
    junit = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "mdx.cli.main", "scenario", "run", str(scenario),
         "--network", str(network), "--junit", str(junit)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("6", "1")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["USCG sees it"]
    assert "not within 30 s" in done.stdout
    assert jcg.healthy()

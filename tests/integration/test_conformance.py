"""The conformance kit (`mdx conformance`) against real nodes: our own node passes every check
it can run, and a node whose api leaks AMBER fails exactly the releasability check. And what
the kit sends and writes without a node: the contract's examples it publishes, its JUnit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mdx.conformance import examples
from mdx.conformance.report import Result, Status, exit_code, write_junit
from mdx.core.schemas import SCHEMA_DIR, SchemaSet
from tests.conftest import login
from tests.integration.federation import Network, Node, build_network
from tests.integration.harness import wait_for

PRODUCER = "conformance"
PASSING = {
    "intake.valid-examples",
    "intake.invalid-examples",
    "releasability.released",
    "releasability.no-leak",
    "signatures.verify-target",
    "signatures.accept-valid",
    "signatures.refuse-forged",
    "signatures.refuse-misaddressed",
    "replay.share-dedupe",
    "replay.intake-dedupe",
    "ogcapi.conformance",
    "ogcapi.core",
    "ogcapi.geojson",
    "ogcapi.oas30",
    "ogcapi.queryables",
    "ogcapi.filter",
}
# Classes our node declares that the kit has no check for.
SKIPPED = {"ogcapi.advanced-comparison-operators", "ogcapi.basic-spatial-functions"}


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    """JCG running with a producer account for the kit; KCG only as an identity (its key and
    the bridge certificate JCG's CA issued it), so nothing but the kit speaks as KCG."""
    for network in build_network(("jcg", "kcg")):
        jcg = network["jcg"]
        with jcg.config.open("a") as f:
            f.write(f'[[producers]]\nid = "{PRODUCER}"\n')
        jcg.start_broker()
        for service in ("ingest", "share", "api"):
            jcg.start(service)
        wait_for(jcg.healthy, 90, lambda j=jcg: f"JCG healthy; api log: {j.log('api')[-3000:]}")
        yield network


def kit(net: Network, junit: Path) -> subprocess.CompletedProcess[str]:
    jcg, kcg = net["jcg"], net["kcg"]
    password = (jcg.security_dir / "secrets" / PRODUCER).read_text().strip()
    bridge = kcg.security_dir / "pki" / "partners"
    return subprocess.run(
        [
            sys.executable, "-m", "mdx.cli.main", "conformance",
            "--api", jcg.api, "--target", "jcg", "--as", "kcg",
            "--key", str(kcg.dir / "keys" / "kcg.key"),
            "--target-key", str(jcg.dir / "keys" / "jcg.pub"),
            "--broker", f"mqtt://{PRODUCER}:{password}@127.0.0.1:{jcg.broker_port}",
            "--tls-broker", f"mqtts://127.0.0.1:{jcg.tls_port}",
            "--cert", str(bridge / "jcg.crt"), "--cert-key", str(bridge / "jcg.key"),
            "--ca", str(bridge / "jcg-ca.crt"),
            "--viewer-token", login(jcg.api, jcg.db, "viewer")["Authorization"].split()[1],
            "--timeout", "20", "--junit", str(junit),
        ],
        capture_output=True, text=True, timeout=150, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def outcomes(junit: Path) -> dict[str, set[str]]:
    """check id -> pass, fail or skip, as the kit's JUnit report says."""
    found: dict[str, set[str]] = {"pass": set(), "fail": set(), "skip": set()}
    for case in ET.parse(junit).getroot().iter("testcase"):
        check = f"{case.get('classname')}.{case.get('name')}"
        if case.find("failure") is not None:
            found["fail"].add(check)
        elif case.find("skipped") is not None:
            found["skip"].add(check)
        else:
            found["pass"].add(check)
    return found


@pytest.mark.slow
def test_our_node_passes_every_check(net: Network, tmp_path: Path) -> None:
    done = kit(net, tmp_path / "kit.xml")
    assert done.returncode == 0, done.stdout + done.stderr
    got = outcomes(tmp_path / "kit.xml")
    assert got == {"pass": PASSING, "fail": set(), "skip": SKIPPED}, done.stdout
    assert f"{len(PASSING)} passed, 0 failed, {len(SKIPPED)} skipped" in done.stdout


@pytest.mark.slow
def test_a_node_leaking_amber_fails_no_leak(net: Network, tmp_path: Path) -> None:
    jcg = net["jcg"]
    leaky(jcg)
    try:
        done = kit(net, tmp_path / "kit.xml")
    finally:
        jcg.stop("api")
        jcg.start("api")
        wait_for(jcg.healthy, 60, "JCG's own api again")
    assert done.returncode == 1, done.stdout + done.stderr
    got = outcomes(tmp_path / "kit.xml")
    assert got["fail"] == {"releasability.no-leak"}, done.stdout
    assert got["pass"] == PASSING - {"releasability.no-leak"}
    assert "AMBER for other-node by id" in done.stdout


def leaky(node: Node) -> None:
    """Replace `node`'s api by one whose policy releases every AMBER item to every partner."""
    node.stop("api")
    log = (node.dir / "api.log").open("ab")
    node.procs["api"] = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.leaky_api", "api", "run",
         "--config", str(node.config)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_for(node.healthy, 60, lambda: f"the leaky api; log: {node.log('api')[-3000:]}")


def example_files(verdict: str) -> int:
    kinds = (*examples.KINDS, "envelope")
    return sum(
        len(list((SCHEMA_DIR / k / "v1" / "examples" / verdict).glob("*.json"))) for k in kinds
    )


def test_the_examples_the_kit_publishes_keep_their_verdicts() -> None:
    """Made new for the target (ids, source, markings), each valid example is still valid and
    each invalid one still breaks the schema."""
    schemas = SchemaSet()
    valid = examples.valid("jcg", PRODUCER)
    invalid = list(examples.invalid("jcg", PRODUCER))
    assert len(valid) == example_files("valid") and len(invalid) == example_files("invalid")
    assert [e.name for e in valid if schemas.validate_envelope(e.envelope)] == []
    assert [e.name for e in invalid if not schemas.validate_envelope(e.envelope)] == []
    assert {e.envelope["source"] for e in valid} == {f"urn:mdx:jcg:{PRODUCER}"}
    assert len({e.envelope["id"] for e in valid}) == len(valid)
    incident = next(e for e in valid if e.kind == "incident").envelope["data"]["incident_id"]
    assert {e.envelope["data"]["incident_id"] for e in valid if e.kind == "sar"} == {incident}


def test_junit_names_each_check_and_why(tmp_path: Path) -> None:
    results = [
        Result("intake.valid-examples", Status.PASS, "25 receipted"),
        Result("releasability.no-leak", Status.FAIL, "RED by id"),
        Result("replay.share-dedupe", Status.SKIP, "no token"),
    ]
    write_junit(results, "jcg", tmp_path / "kit.xml")
    assert outcomes(tmp_path / "kit.xml") == {
        "pass": {"intake.valid-examples"},
        "fail": {"releasability.no-leak"},
        "skip": {"replay.share-dedupe"},
    }
    suite = ET.parse(tmp_path / "kit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "mdx-conformance-jcg"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    assert suite.find("testcase/failure").get("message") == "RED by id"  # type: ignore[union-attr]
    assert exit_code(results) == 1 and exit_code([results[0], results[2]]) == 0

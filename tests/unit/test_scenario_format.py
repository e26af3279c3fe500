"""The scenario and network file formats: what they accept, and the errors that say what is
wrong with what they refuse; the placeholders that make a file repeatable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mdx.scenario import model, network
from mdx.scenario.template import Template

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_every_shipped_scenario_loads_with_its_steps_and_expectations() -> None:
    loaded = {p.stem: model.load(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
    counts = {name: (len(s.steps), len(s.expect)) for name, s in loaded.items()}
    assert counts == {
        "iuu-sighting-amber": (1, 5),
        "malformed-feed": (5, 4),
        "partner-outage-catch-up": (2, 3),
        "sar-case-uscg-assists": (4, 3),
        "transshipment-detected": (1, 3),
    }
    assert loaded["partner-outage-catch-up"].nodes == {"jcg", "kcg", "uscg"}
    assert loaded["transshipment-detected"].deadline == 180


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: x\nsteps: []\nexpect: []\n", "steps: List should have at least 1 item"),
        (
            "name: x\nsteps:\n  - {node: jcg, producer: p}\n"
            "expect:\n  - {name: e, node: jcg, within: 5, track: '1'}\n",
            "steps/0: needs exactly one of: publish, positions, ais, raw, outage",
        ),
        (
            "name: x\nsteps:\n  - {node: jcg, producer: p, raw: x, colour: red}\n"
            "expect:\n  - {name: e, node: jcg, within: 5, track: '1'}\n",
            "steps/0/raw/colour: Extra inputs are not permitted",
        ),
        (
            "name: x\nsteps:\n  - {node: jcg, producer: p, raw: x}\n"
            "expect:\n  - {name: e, node: jcg, within: 0, track: '1'}\n",
            "expect/0/track/within: Input should be greater than 0",
        ),
        (
            "name: x\nsteps:\n  - node: jcg\n    producer: p\n    ais: {kind: encounter,"
            " zone: z, anchor: [1, 2], mmsi: '431000001', name: n}\n"
            "expect:\n  - {name: e, node: jcg, within: 5, track: '1'}\n",
            "an encounter needs other_mmsi and other_name",
        ),
        ("name: [unclosed\n", "while parsing"),
    ],
)
def test_a_bad_scenario_is_refused_saying_where_and_what(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(model.ScenarioError) as e:
        model.load(write(tmp_path, text))
    assert says in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "s.yaml"))


def test_placeholders_hold_for_a_run_and_change_between_runs() -> None:
    one, two = Template(), Template()
    text = "{{id:a}} {{id:a}} {{id:b}} {{mmsi:v:431}} {{mmsi:v}}"
    first = one.render(text).split()
    assert first[0] == first[1] != first[2]
    assert re.fullmatch(r"431\d{6}", first[3]) and first[3] == first[4]
    assert one.render(text).split() == first  # the same run: the same values
    assert two.render(text).split()[0] != first[0]  # another run: new ones
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert one.render({"t": ["{{now}}", "{{now-90}}"]}, at) == {
        "t": ["2026-11-26T12:00:00.000Z", "2026-11-26T11:58:30.000Z"]
    }
    with pytest.raises(ValueError, match="an MMSI needs its MID"):
        Template().render("{{mmsi:new}}")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "nodes:\n  a: {operator: {username: u, password: p}}\n",
            "a node needs its config file, or both broker and api",
        ),
        (
            "nodes:\n  a: {broker: 'mqtt://h:1', api: 'http://h', down: [x],"
            " operator: {username: u, password: p}}\n",
            "down and up go together",
        ),
    ],
)
def test_a_bad_network_file_is_refused_saying_what(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(network.NetworkError, match=says):
        network.load(write(tmp_path, text))


def test_a_network_file_reaches_a_node_without_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "op.secret").write_text("s3cret\n")
    monkeypatch.setenv("OPS1_PASSWORD", "pw")
    nodes = network.load(
        write(
            tmp_path,
            "nodes:\n  b:\n    broker: mqtt://broker.b.example:11883\n"
            "    api: https://b.example/\n"
            "    operator: {username: scenario, password_file: op.secret}\n"
            "    producers: {ops1: {password_env: OPS1_PASSWORD}}\n",
        )
    )
    b = nodes["b"]
    assert (b.broker_host, b.broker_port, b.api) == ("broker.b.example", 11883, "https://b.example")
    assert (b.username, b.password) == ("scenario", "s3cret")
    creds = b.producer("ops1")
    assert (creds.username, creds.password) == ("ops1", "pw")
    with pytest.raises(network.NetworkError, match="no password for producer 'sim'"):
        b.producer("sim")
    assert b.down is None and b.up is None


def test_a_node_config_without_the_identity_s_password_says_which(tmp_path: Path) -> None:
    config = tmp_path / "n.toml"
    config.write_text(
        '[node]\nid = "jcg"\ndemo = true\n[broker]\nport = 1883\n'
        f'security_dir = "{tmp_path / "security"}"\n[database]\nurl = "postgresql+psycopg://x"\n'
        "[api]\nport = 8123\n"
    )
    (tmp_path / "net.yaml").write_text(
        f"nodes:\n  jcg:\n    config: {config}\n    operator: {{username: u, password: p}}\n"
    )
    jcg = network.load(tmp_path / "net.yaml")["jcg"]
    assert (jcg.broker_port, jcg.api) == (1883, "http://127.0.0.1:8123")
    with pytest.raises(network.NetworkError, match="jcg: no password for MQTT identity 'recorder'"):
        jcg.producer("recorder")

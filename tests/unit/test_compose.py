"""docker-compose.yml, its image and its broker config stay in step with the local set-up.

The compose file runs the three-node demo network: per node (jcg, kcg, uscg) a database, a
broker bridged to the partners' brokers, the one-shot bridges and migrate services, ingest,
share, api and a simulator; plus one `keys` service for the three nodes' signing keys.

No Docker engine is needed: the compose file is read with PyYAML and compared with what the
local set-up uses (infra/nodes/*.toml, the `mdx` commands, the Mosquitto policy in
infra/mosquitto/conf.d/, the bridges `mdx bridge config` renders). The containers read
infra/nodes/docker/*.toml, which must be the same nodes with compose addresses.
`docker compose config` runs too where the compose plugin exists.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from sqlalchemy import make_url
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core import keys
from mdx.core.settings import NodeSettings, load_settings
from mdx.node import bridges
from mdx.node import broker as local_broker
from mdx.node.security import BrokerAuth

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NODE_CONFIGS = ROOT / "infra/nodes"
DOCKER_NODE_CONFIGS = NODE_CONFIGS / "docker"
POLICY = ROOT / "infra/mosquitto/conf.d/mdx.conf"
DOCKER_MOSQUITTO = ROOT / "infra/mosquitto/docker/mosquitto.conf"
DOCKERIGNORE = ROOT / ".dockerignore"
DEMO = ROOT / "infra/scripts/demo.sh"

NODES = ("jcg", "kcg", "uscg")

# Where the repository sits inside the mdx image (the Dockerfile's WORKDIR).
APP_DIR = PurePosixPath("/app")
# Where the node configs look for the signing keys (var/keys/, relative to the working dir).
KEYS_DIR = APP_DIR / "var/keys"
# Where the eclipse-mosquitto image reads its config and keeps its data.
MOSQUITTO_CONF = "/mosquitto/config/mosquitto.conf"
MOSQUITTO_CONF_D = "/mosquitto/config/conf.d"
MOSQUITTO_BRIDGES = "/mosquitto/config/bridges"
MOSQUITTO_DATA = "/mosquitto/data"
# The container ports of the images: PostgreSQL's and Mosquitto's listener (mosquitto.conf).
DB_PORT = 5432

# The services of one node, by role (the service is named `<node>-<role>`).
ROLES = (
    "db",
    "bridges",
    "broker",
    "migrate",
    "ingest",
    "share",
    "api",
    "detect",
    "cot",
    "sim",
    "ais",
)
MDX_ROLES = {"bridges", "migrate", "ingest", "share", "api", "detect", "cot", "sim", "ais"}
# One-shot: the services that wait for them need them to have completed.
ONCE_ROLES = {"bridges", "migrate"}
# migrate and bridges run once; sim is a load generator nothing waits for.
HEALTHCHECKED_ROLES = {"db", "broker", "ingest", "share", "api"}
# The services that sign or verify (mdx.core.keys): they mount the keys.
SIGNING_ROLES = {"share", "api"}
# The services that read their MQTT password from the node's security folder, which the demo
# keeps in the keys volume (read-only), and the one that generates them there (writable).
MQTT_ROLES = {"ingest", "share", "api", "detect", "sim", "ais"}
SECRETS_WRITER = "bridges"
# Where the broker reads what `mdx mqtt prepare` writes (beside bridges.conf).
MOSQUITTO_AUTH = "/mosquitto/config/bridges/auth"
# The network-wide one-shot that creates every node's signing key.
KEYS = "keys"
# Run through `sh -c` (several commands or a redirection); every other mdx service is `mdx ...`.
SHELL_ROLES = {"bridges", "migrate"}

# depends_on per role: another role of the same node, or KEYS.
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
READY = {
    "broker": "service_healthy",
    "db": "service_healthy",
    "migrate": "service_completed_successfully",
}
EXPECTED_DEPENDS_ON = {
    "db": {},
    # It writes the broker's passwords, ACL and TLS files from the node's security folder.
    "bridges": {KEYS: "service_completed_successfully"},
    "broker": {"bridges": "service_completed_successfully"},
    "migrate": {"db": "service_healthy"},
    "ingest": READY,
    "share": {**READY, KEYS: "service_completed_successfully"},
    "api": {**READY, KEYS: "service_completed_successfully"},
    "detect": READY,
    # It reads the database and serves TLS with the node's CA from the keys volume.
    "cot": {"migrate": "service_completed_successfully", KEYS: "service_completed_successfully"},
    "sim": {"broker": "service_healthy", "ingest": "service_started"},
    "ais": {"broker": "service_healthy", "ingest": "service_started"},
}
# The simulators, as `make demo` runs them locally (infra/scripts/demo.sh).
SIM_SEEDS = {"jcg": "1", "kcg": "2", "uscg": "3"}
SIM_RATE = "10"
# What the image must hold at /app (same relative path as in the repository).
IMAGE_PATHS = ("pyproject.toml", "services", "schemas", "infra/nodes", "infra/zones")
# Published on the host's loopback only: IP:HOST_PORT:CONTAINER_PORT.
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:(\d+):(\d+)")


def service_name(node: str, role: str) -> str:
    return role if role == KEYS else f"{node}-{role}"


def node_and_role(name: str) -> tuple[str, str]:
    """(node, role) of a node's service; ("", "keys") for the keys service."""
    if name == KEYS:
        return "", KEYS
    node, role = name.rsplit("-", 1)
    return node, role


SERVICES = {KEYS} | {service_name(n, r) for n in NODES for r in ROLES}
MDX_SERVICES = {KEYS} | {service_name(n, r) for n in NODES for r in MDX_ROLES}
ONCE = {KEYS} | {service_name(n, r) for n in NODES for r in ONCE_ROLES}
HEALTHCHECKED = {service_name(n, r) for n in NODES for r in HEALTHCHECKED_ROLES}
SHELL_SERVICES = {KEYS} | {service_name(n, r) for n in NODES for r in SHELL_ROLES}


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = spec["services"]
    return found


def settings_with(config: Path, env: Mapping[str, str]) -> NodeSettings:
    """`config` as a process with exactly `env` (and none of this process's MDX_*) reads it."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("MDX_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        return load_settings(config)


@pytest.fixture(scope="module")
def local() -> dict[str, NodeSettings]:
    """The local set-up's nodes (infra/nodes/<node>.toml)."""
    return {n: settings_with(NODE_CONFIGS / f"{n}.toml", {}) for n in NODES}


@pytest.fixture(scope="module")
def docker() -> dict[str, NodeSettings]:
    """The same nodes as the containers read them (infra/nodes/docker/<node>.toml)."""
    return {n: settings_with(DOCKER_NODE_CONFIGS / f"{n}.toml", {}) for n in NODES}


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(source, target, read_only) of each volume entry, short or long syntax."""
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            yield entry["source"], entry["target"], bool(entry.get("read_only", False))
        else:
            source, target, *mode = entry.split(":")
            yield source, target, "ro" in ",".join(mode).split(",")


def mounted_at(service: Mapping[str, Any], target: str | PurePosixPath) -> tuple[str, bool]:
    """(source, read_only) of what `service` mounts at `target`."""
    [found] = [(s, ro) for s, t, ro in mounts(service) if t == str(target)]
    return found


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def ports(service: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) of each published port; each must be loopback only."""
    found = []
    for entry in service.get("ports", []):
        match = LOOPBACK_PORT.fullmatch(str(entry))
        assert match, f"{entry!r} is not published as 127.0.0.1:HOST:CONTAINER"
        found.append((int(match[1]), int(match[2])))
    return found


def config_directives(text: str) -> list[tuple[str, str]]:
    """A Mosquitto config's (directive, value) lines in order, comments and blanks left out."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.append((key, value.strip()))
    return found


def directives(text: str) -> dict[str, list[str]]:
    """A Mosquitto config: directive -> its values, in order."""
    found: dict[str, list[str]] = {}
    for key, value in config_directives(text):
        found.setdefault(key, []).append(value)
    return found


def repo_path(container_path: str | PurePosixPath) -> Path:
    """A path in the mdx image as the file of the repository it comes from."""
    return ROOT / PurePosixPath(container_path).relative_to(APP_DIR)


def in_app(relative: Path) -> PurePosixPath:
    """Where a path of a node config (relative to the working directory /app) is in the image."""
    assert not relative.is_absolute(), relative
    return APP_DIR / relative.as_posix()


def steps(service: Mapping[str, Any]) -> list[list[str]]:
    """The commands a service runs: its `mdx` command, or each command of its `sh -c` line
    (`a && b`), with `mdx` first where it is one and redirections kept as tokens."""
    command = service["command"]
    assert isinstance(command, list), "exec form, no shell of Compose's in between"
    if "entrypoint" not in service:
        return [["mdx", *command]]
    assert service["entrypoint"] == ["sh", "-c"]
    [line] = command
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            found.append([])
        else:
            assert token not in (";", "|", "||", "&"), f"only `a && b` chains: {line}"
            found[-1].append(token)
    return found


def mdx_args(step: list[str]) -> list[str]:
    """The arguments of an `mdx` command, without any redirection after them."""
    assert step[0] == "mdx", step
    return step[1 : step.index(">")] if ">" in step else step[1:]


def config_of(step: list[str]) -> Path:
    """The repository file an `mdx ... --config /app/...` command reads."""
    args = mdx_args(step)
    return repo_path(args[args.index("--config") + 1])


def service_config(service: Mapping[str, Any]) -> Path:
    [config] = {config_of(s) for s in steps(service) if s[0] == "mdx"}
    return config


def service_settings(service: Mapping[str, Any]) -> NodeSettings:
    """The settings an mdx service runs with: its --config file and its environment."""
    return settings_with(service_config(service), environment(service))


# --- the services and how they start ------------------------------------------------------


def test_the_network_s_services_exist_exactly(spec: dict[str, Any]) -> None:
    assert set(spec["services"]) == SERVICES
    assert "version" not in spec  # obsolete in the Compose Specification


def test_every_node_has_a_local_and_a_docker_config() -> None:
    assert {p.stem for p in NODE_CONFIGS.glob("*.toml")} == set(NODES)
    assert {p.stem for p in DOCKER_NODE_CONFIGS.glob("*.toml")} == set(NODES)


def test_healthchecks_are_where_something_waits_for_them(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert ("healthcheck" in service) == (name in HEALTHCHECKED), name
        if name in HEALTHCHECKED:
            check = service["healthcheck"]
            assert not check.get("disable", False), name
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_depends_on(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for other, how in depends.items():
            assert other in services, f"{name} depends on unknown {other}"
            assert how["condition"] in CONDITIONS, (name, other)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[other], (name, other)
            if how["condition"] == "service_completed_successfully":
                assert services[other]["restart"] == "no", (name, other)
        node, role = node_and_role(name)
        expected = {
            service_name(node, other): condition
            for other, condition in EXPECTED_DEPENDS_ON.get(role, {}).items()
        }
        assert {k: v["condition"] for k, v in depends.items()} == expected, name


def test_restart_policies(services: dict[str, dict[str, Any]]) -> None:
    # "no" must be quoted in YAML: unquoted it is the boolean false.
    for name in ONCE:
        assert services[name]["restart"] == "no", name
    for name in SERVICES - ONCE:
        assert services[name]["restart"] == "unless-stopped", name


def test_compose_interpolation_is_escaped(spec: dict[str, Any]) -> None:
    """Compose replaces `$NAME` in values; a literal `$` (as in $SYS) must be written `$$`."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    for text in strings(spec):
        # The one variable meant for Compose to fill: the demo operator's password.
        text = re.sub(r"\$\{MDX_DEMO_PASSWORD:-[^}$]+\}", "", text)
        assert "$" not in text.replace("$$", ""), text


# --- files on the host ----------------------------------------------------------------------


def test_bind_mounted_paths_exist_and_volumes_are_declared(
    spec: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    binds = 0
    used = set()
    for name, service in services.items():
        for source, target, _ in mounts(service):
            if is_bind(source):
                binds += 1
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in (spec.get("volumes") or {}), f"{name}: undeclared {source}"
                used.add(source)
            assert target.startswith("/"), (name, target)
    assert binds == 2 * len(NODES)  # each broker's mosquitto.conf and the policy folder
    assert used == set(spec["volumes"]), "a declared volume that nothing mounts"


def test_each_node_keeps_its_data_in_its_own_volumes(
    services: dict[str, dict[str, Any]],
) -> None:
    owners: dict[str, set[str]] = {}
    for name, service in services.items():
        for source, _, _ in mounts(service):
            if not is_bind(source):
                owners.setdefault(source, set()).add(node_and_role(name)[0])
    for volume, nodes in owners.items():
        if volume != KEYS:
            assert len(nodes) == 1, f"{volume} is shared by {nodes}"
            assert volume.startswith(f"{next(iter(nodes))}-"), volume


def test_mdx_services_use_the_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    images = set()
    for name in MDX_SERVICES:
        service = services[name]
        build = service["build"]
        assert build["context"] == "."
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
        if name in SHELL_SERVICES:
            assert service["entrypoint"] == ["sh", "-c"], name
        else:
            assert "entrypoint" not in service, f"{name}: the image's entrypoint `mdx` is needed"
        images.add(service["image"])
    assert len(images) == 1
    for node in NODES:
        assert "build" not in services[f"{node}-db"]
        assert "build" not in services[f"{node}-broker"]


# --- the same nodes as the local set-up ---------------------------------------------------


def identity(settings: NodeSettings) -> dict[str, Any]:
    """What makes a node that node, whatever the network it runs on: everything but the
    addresses (broker, database and api host and port, the partners' broker and api)."""
    found = settings.model_dump(mode="json")
    # Where the broker listens and keeps its files (security_dir: in the keys volume).
    broker = ("host", "port", "data_dir", "tls_port", "security_dir")
    addresses = {"broker": broker, "api": ("host", "port")}
    for section, fields in addresses.items():
        for field in fields:
            del found[section][field]
    url = make_url(found["database"].pop("url"))
    found["database"] = (url.drivername, url.username, url.password, url.database)
    for partner in found["partners"]:
        for field in ("broker_host", "broker_port", "broker_tls_port", "api_url"):
            del partner[field]
    return found


@pytest.mark.parametrize("node", NODES)
def test_docker_config_is_the_local_node(
    node: str, local: dict[str, NodeSettings], docker: dict[str, NodeSettings]
) -> None:
    """Same id, name, key, default TLP, partners with their purposes and personal data."""
    mine, theirs = docker[node], local[node]
    assert mine.node.id == node
    assert [p.id for p in mine.partners] == [p.id for p in theirs.partners]
    for ours, local_partner in zip(mine.partners, theirs.partners, strict=True):
        assert ours.purposes == local_partner.purposes, (node, ours.id)
        assert ours.personal_data == local_partner.personal_data, (node, ours.id)
    assert mine.node.default_tlp == theirs.node.default_tlp
    assert identity(mine) == identity(theirs)


@pytest.mark.parametrize("node", NODES)
def test_docker_config_addresses_compose_services(
    node: str, services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    settings = docker[node]
    [(_, broker_port)] = ports(services[f"{node}-broker"])
    assert (settings.broker.host, settings.broker.port) == (f"{node}-broker", broker_port)
    url = make_url(settings.database.url)
    assert (url.host, url.port) == (f"{node}-db", DB_PORT)
    for partner in settings.partners:
        broker = f"{partner.id}-broker"
        assert partner.broker_host == broker and broker in services, (node, partner.id)
        [(_, partner_broker_port)] = ports(services[broker])
        assert partner.broker_port == partner_broker_port, (node, partner.id)
        # The bridges dial the partner's TLS listener, which the compose network alone reaches.
        assert partner.broker_tls_port == docker[partner.id].broker.tls_port, (node, partner.id)
        assert str(partner.broker_tls_port) in directives(DOCKER_MOSQUITTO.read_text())["listener"]
        api = urlsplit(partner.api_url)
        assert api.scheme == "http"
        assert api.hostname == f"{partner.id}-api" and api.hostname in services
        [(_, partner_api_port)] = ports(services[api.hostname])
        assert api.port == partner_api_port == docker[partner.id].api.port, (node, partner.id)


@pytest.mark.parametrize("node", NODES)
def test_broker_host_port_is_the_local_broker_s(
    node: str,
    services: dict[str, dict[str, Any]],
    local: dict[str, NodeSettings],
    docker: dict[str, NodeSettings],
) -> None:
    assert ports(services[f"{node}-broker"]) == [
        (local[node].broker.port, docker[node].broker.port)
    ]


@pytest.mark.parametrize("node", NODES)
def test_api_host_port_is_the_local_api_s(
    node: str,
    services: dict[str, dict[str, Any]],
    local: dict[str, NodeSettings],
    docker: dict[str, NodeSettings],
) -> None:
    service = services[f"{node}-api"]
    [(host_port, container_port)] = ports(service)
    assert host_port == local[node].api.port
    settings = service_settings(service)
    # In a container the api must listen on all interfaces for the published port to reach it.
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", container_port)
    assert docker[node].api.port == container_port


def test_host_ports_are_distinct(services: dict[str, dict[str, Any]]) -> None:
    published = [host for service in services.values() for host, _ in ports(service)]
    # Each node's broker and api, and its CoT server's TCP and TLS ports.
    assert len(published) == len(set(published)) == 4 * len(NODES)


@pytest.mark.parametrize("node", NODES)
def test_cot_host_ports_are_the_local_cot_server_s(
    node: str,
    services: dict[str, dict[str, Any]],
    local: dict[str, NodeSettings],
    docker: dict[str, NodeSettings],
) -> None:
    service = services[f"{node}-cot"]
    expected = {(local[node].cot.tcp_port,) * 2, (local[node].cot.tls_port,) * 2}
    assert set(ports(service)) == expected
    assert service_settings(service).cot.host == "0.0.0.0"
    assert (docker[node].cot.tcp_port, docker[node].cot.tls_port) == (
        local[node].cot.tcp_port,
        local[node].cot.tls_port,
    )


@pytest.mark.parametrize("node", NODES)
def test_db_is_not_published(node: str, services: dict[str, dict[str, Any]]) -> None:
    assert ports(services[f"{node}-db"]) == []


@pytest.mark.parametrize("node", NODES)
def test_db_role_and_database_are_those_of_the_node_config(
    node: str, services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    url = make_url(docker[node].database.url)
    service = services[f"{node}-db"]
    env = environment(service)
    assert env["POSTGRES_USER"] == url.username
    assert env["POSTGRES_PASSWORD"] == url.password
    assert env["POSTGRES_DB"] == url.database
    kind, command = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    # `$$` is Compose's escape: the shell in the container expands the image's variables.
    words = shlex.split(command.replace("$$", "$"))
    assert words[0] == "pg_isready"
    assert words[words.index("-h") + 1] == "127.0.0.1"  # TCP: the real server, see the file
    assert words[words.index("-U") + 1] == "$POSTGRES_USER"
    assert words[words.index("-d") + 1] == "$POSTGRES_DB"


@pytest.mark.parametrize("name", sorted(MDX_SERVICES - {KEYS}))
def test_mdx_services_reach_their_node_s_db_and_broker_by_service_name(
    name: str, services: dict[str, dict[str, Any]], local: dict[str, NodeSettings]
) -> None:
    """Read the config as the service does (a misspelt MDX_* variable would be ignored)."""
    node, _ = node_and_role(name)
    settings = service_settings(services[name])
    assert settings.node.id == node
    url = make_url(settings.database.url)
    assert (url.host, url.port) == (f"{node}-db", DB_PORT), name
    home = make_url(local[node].database.url)
    assert (url.drivername, url.username, url.password, url.database) == (
        home.drivername,
        home.username,
        home.password,
        home.database,
    ), name
    [(_, broker_port)] = ports(services[f"{node}-broker"])
    assert (settings.broker.host, settings.broker.port) == (f"{node}-broker", broker_port), name


@pytest.mark.parametrize("node", NODES)
def test_api_healthcheck_asks_healthz_on_the_api_port(
    node: str, services: dict[str, dict[str, Any]]
) -> None:
    service = services[f"{node}-api"]
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{service_settings(service).api.port}/healthz" in test[3]


@pytest.mark.parametrize(
    "name", sorted(service_name(n, r) for n in NODES for r in ("ingest", "share"))
)
def test_connection_healthcheck_reads_the_service_s_config(
    name: str, services: dict[str, dict[str, Any]]
) -> None:
    service = services[name]
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], f"{name} healthcheck", "exec")
    [config] = test[4:]
    assert repo_path(config) == service_config(service)


# --- keys ---------------------------------------------------------------------------------


def test_keys_service_creates_every_node_s_key(
    services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    service = services[KEYS]
    commands = [s for s in steps(service) if mdx_args(s)[:2] == ["keys", "init"]]
    assert [config_of(s) for s in commands] == [DOCKER_NODE_CONFIGS / f"{n}.toml" for n in NODES]
    volume, read_only = mounted_at(service, KEYS_DIR)
    assert not is_bind(volume) and not read_only
    for node in NODES:
        key = in_app(docker[node].node.signing_key)
        assert key.parent == KEYS_DIR, node
        assert in_app(keys.public_path(docker[node].node.signing_key)).parent == KEYS_DIR


def test_keys_service_links_every_pair_of_partners(
    services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    """`mdx pki link` per pair: each node's CA, and each bridge's certificate from the
    partner's CA, in each node's security folder in the keys volume."""
    links = [s for s in steps(services[KEYS]) if mdx_args(s)[:2] == ["pki", "link"]]
    linked = set()
    for step in links:
        node = config_of(step).stem
        partner = repo_path(mdx_args(step)[-1]).stem
        assert docker[partner].partner(node) is not None, (node, partner)
        linked.add(frozenset((node, partner)))
    pairs = {frozenset((n, p.id)) for n in NODES for p in docker[n].partners}
    assert linked == pairs and len(links) == len(pairs)
    for node in NODES:
        assert in_app(docker[node].broker.security_dir).is_relative_to(KEYS_DIR), node


@pytest.mark.parametrize("node", NODES)
def test_mqtt_services_mount_the_keys_read_only(
    node: str, services: dict[str, dict[str, Any]]
) -> None:
    """Their MQTT passwords are in the node's security folder; only `<node>-bridges`, which
    generates them (`mdx mqtt prepare`), may write there."""
    volume, _ = mounted_at(services[KEYS], KEYS_DIR)
    for role in MQTT_ROLES:
        assert mounted_at(services[f"{node}-{role}"], KEYS_DIR) == (volume, True), role
    assert mounted_at(services[f"{node}-{SECRETS_WRITER}"], KEYS_DIR) == (volume, False)


@pytest.mark.parametrize("node", NODES)
def test_signing_services_mount_the_keys_read_only(
    node: str, services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    volume, _ = mounted_at(services[KEYS], KEYS_DIR)
    # Every partner's public key is one that the keys service writes (a node's `.pub`).
    written = {in_app(keys.public_path(docker[n].node.signing_key)) for n in NODES}
    for partner in docker[node].partners:
        assert in_app(partner.public_key) in written, (node, partner.id)
    for role in SIGNING_ROLES:
        assert mounted_at(services[f"{node}-{role}"], KEYS_DIR) == (volume, True), role
    # The CoT server's TLS: the node's CA and its server certificate.
    assert mounted_at(services[f"{node}-cot"], KEYS_DIR) == (volume, True)
    for role in MDX_ROLES - SIGNING_ROLES - MQTT_ROLES - {SECRETS_WRITER, "cot"}:
        assert all(t != str(KEYS_DIR) for _, t, _ in mounts(services[f"{node}-{role}"])), role


# --- the brokers and their bridges ----------------------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_broker_mounts_its_config_the_shared_policy_and_its_bridges(
    node: str, services: dict[str, dict[str, Any]]
) -> None:
    service = services[f"{node}-broker"]
    conf_source, conf_ro = mounted_at(service, MOSQUITTO_CONF)
    assert (COMPOSE.parent / conf_source).resolve() == DOCKER_MOSQUITTO
    assert conf_ro
    policy_source, policy_ro = mounted_at(service, MOSQUITTO_CONF_D)
    # The very folder the local set-up includes.
    assert (COMPOSE.parent / policy_source).resolve() == local_broker.POLICY_DIR == POLICY.parent
    assert policy_ro
    data_source, _ = mounted_at(service, MOSQUITTO_DATA)
    assert not is_bind(data_source)
    bridges_source, bridges_ro = mounted_at(service, MOSQUITTO_BRIDGES)
    assert not is_bind(bridges_source)
    assert bridges_ro


@pytest.mark.parametrize("node", NODES)
def test_broker_bridges_are_rendered_from_the_node_s_docker_config(
    node: str, services: dict[str, dict[str, Any]]
) -> None:
    """`<node>-bridges` writes the broker's authentication files (`mdx mqtt prepare`) and
    `mdx bridge config` into the volume the broker includes."""
    service = services[f"{node}-bridges"]
    volume, _ = mounted_at(services[f"{node}-broker"], MOSQUITTO_BRIDGES)
    [prepare, render, move] = steps(service)
    assert mdx_args(prepare)[:2] == ["mqtt", "prepare"]
    assert config_of(prepare) == DOCKER_NODE_CONFIGS / f"{node}.toml"
    assert "--shared" in prepare  # readable by the broker's own user in its container
    assert render[render.index("--files") + 1] == f"{MOSQUITTO_AUTH}/partners"
    assert mdx_args(render)[:2] == ["bridge", "config"]
    assert config_of(render) == DOCKER_NODE_CONFIGS / f"{node}.toml"
    [written] = render[render.index(">") + 1 :]
    # The broker sees this volume at MOSQUITTO_BRIDGES: the auth files at MOSQUITTO_AUTH.
    out = PurePosixPath(prepare[prepare.index("--out") + 1])
    assert out == PurePosixPath(written).parent / "auth"
    assert PurePosixPath(MOSQUITTO_AUTH) == PurePosixPath(MOSQUITTO_BRIDGES) / "auth"
    assert move[0] == "mv" and move[1] == written
    final = PurePosixPath(move[2])
    assert final.suffix == ".conf"  # Mosquitto's include_dir reads *.conf files only
    assert PurePosixPath(written).suffix != ".conf"  # never half a file in the config
    assert PurePosixPath(written).parent == final.parent
    assert mounted_at(service, final.parent) == (volume, False)


@pytest.mark.parametrize("node", NODES)
def test_bridges_reach_the_partners_brokers_by_service_name(
    node: str,
    services: dict[str, dict[str, Any]],
    local: dict[str, NodeSettings],
    docker: dict[str, NodeSettings],
) -> None:
    """What the bridges service renders: a bridge per partner of the local node, addressed to
    the partner's broker service; otherwise the very bridges the local set-up runs."""
    [_, render, _] = steps(services[f"{node}-bridges"])
    files = render[render.index("--files") + 1]
    args = [*mdx_args(render)[:2], "--config", str(config_of(render)), "--files", files]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rendered = config_directives(result.output)
    addresses = [value for key, value in rendered if key == "address"]
    assert len(addresses) == len(local[node].partners)
    for address, partner in zip(addresses, local[node].partners, strict=True):
        host, port = address.rsplit(":", 1)
        assert host == f"{partner.id}-broker" and host in services, (node, address)
        assert services[host]["image"].startswith("eclipse-mosquitto:"), host
        # The partner broker's TLS listener (mosquitto.conf), where bridges authenticate.
        assert int(port) == docker[partner.id].broker.tls_port, (node, address)
        assert port in directives(DOCKER_MOSQUITTO.read_text())["listener"], (node, address)
    at_home = config_directives(bridges.render(local[node], Path(files)))
    assert [k for k, _ in rendered] == [k for k, _ in at_home]
    assert [kv for kv in rendered if kv[0] != "address"] == [
        kv for kv in at_home if kv[0] != "address"
    ]


def test_docker_mosquitto_conf(services: dict[str, dict[str, Any]]) -> None:
    conf = directives(DOCKER_MOSQUITTO.read_text())
    for node in NODES:
        [(_, container_port)] = ports(services[f"{node}-broker"])
        # All interfaces of the container: the published password listener, then TLS.
        assert conf["listener"] == [str(container_port), "8883"]
    assert conf["allow_anonymous"] == ["false"]
    for key in ("password_file", "acl_file", "cafile", "certfile", "keyfile", "crlfile"):
        [path] = conf[key]
        assert PurePosixPath(path).parent == PurePosixPath(MOSQUITTO_AUTH), key
    assert conf["include_dir"] == [MOSQUITTO_CONF_D, MOSQUITTO_BRIDGES]
    assert conf["log_dest"] == ["stdout"]
    [location] = conf["persistence_location"]
    assert location.endswith("/")  # Mosquitto appends the file name to it as it is
    for node in NODES:
        service = services[f"{node}-broker"]
        data_targets = [
            t for s, t, _ in mounts(service) if not is_bind(s) and t != MOSQUITTO_BRIDGES
        ]
        assert [t for t in data_targets if PurePosixPath(location).is_relative_to(t)] == [
            MOSQUITTO_DATA
        ]


def test_bridges_are_included_last() -> None:
    """A bridge `connection` section runs to the end of the config: any setting after the
    bridges' include would configure the last bridge instead of the broker."""
    assert config_directives(DOCKER_MOSQUITTO.read_text())[-1] == (
        "include_dir",
        MOSQUITTO_BRIDGES,
    )


def test_policy_is_only_in_the_shared_file() -> None:
    policy = directives(POLICY.read_text())
    assert policy["persistence"] == ["true"]
    assert "max_queued_messages" in policy
    assert "connection" not in policy  # bridges come after the policy, never inside it
    docker_conf = directives(DOCKER_MOSQUITTO.read_text())
    assert not set(docker_conf) & set(policy)


def test_docker_conf_sets_what_the_local_set_up_renders(
    tmp_path: Path, local: dict[str, NodeSettings]
) -> None:
    """Same directives as `mdx node run` writes (values differ: paths, listener address; the
    bridges come in through the last include). `user` is left out: the local set-up adds
    `user root` where Mosquitto's own user cannot reach its folder; the image runs Mosquitto as
    its own user."""
    extra = bridges.render(local["jcg"])
    auth = BrokerAuth(tmp_path / "auth", local["jcg"].broker.tls_port)
    rendered = local_broker.render_config(18831, tmp_path, auth, extra=extra).read_text()
    globals_ = config_directives(rendered.removesuffix(extra))
    docker_conf = directives(DOCKER_MOSQUITTO.read_text())
    assert set(docker_conf) == {k for k, _ in globals_} - {"user"}
    assert docker_conf["allow_anonymous"] == [v for k, v in globals_ if k == "allow_anonymous"]


@pytest.mark.parametrize("node", NODES)
def test_broker_healthcheck_subscribes_to_the_broker(
    node: str, services: dict[str, dict[str, Any]]
) -> None:
    """Without credentials: healthy is CONNACK 135 (not authorized), the exit code
    mosquitto_sub returns for it (measured with Mosquitto 2.0.11's client)."""
    kind, script = services[f"{node}-broker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    sub, check = (part.strip() for part in script.split(";"))
    words = shlex.split(sub)
    assert words[0] == "mosquitto_sub"
    assert words[words.index("-p") + 1] == "1883"
    assert words[words.index("-V") + 1] == "5"
    assert "-u" not in words and "-P" not in words
    assert words[words.index("-t") + 1] == "$$SYS/broker/version"  # $SYS once unescaped
    assert "-W" in words  # gives up instead of hanging until the healthcheck's timeout
    assert check == "[ $$? -eq 135 ]"


# --- the mdx commands ---------------------------------------------------------------------


def mdx_steps(services: dict[str, dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    for name in sorted(MDX_SERVICES):
        for step in steps(services[name]):
            if step[0] == "mdx":
                yield name, step


def test_every_mdx_service_runs_mdx(services: dict[str, dict[str, Any]]) -> None:
    for name in MDX_SERVICES:
        assert any(s[0] == "mdx" for s in steps(services[name])), name
    for name, step in mdx_steps(services):
        node, _ = node_and_role(name)
        if node:
            assert config_of(step) == DOCKER_NODE_CONFIGS / f"{node}.toml", name


def test_command_is_an_mdx_subcommand(services: dict[str, dict[str, Any]]) -> None:
    for name, step in mdx_steps(services):
        config = config_of(step)
        args = [str(repo_path(a)) if a.startswith(f"{APP_DIR}/") else a for a in mdx_args(step)]

        result = CliRunner().invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (name, result.output)

        # --help stops before the values are checked: parse them as the command would.
        # (Typer may bring its own Click: groups are told by their `commands`, not by class.)
        leaf: Any = typer.main.get_command(app)
        rest = list(args)
        while isinstance(getattr(leaf, "commands", None), dict):
            assert rest and rest[0] in leaf.commands, f"{name}: no mdx command {step}"
            leaf = leaf.commands[rest.pop(0)]
        with leaf.make_context(name, rest) as ctx:
            assert Path(ctx.params["config"]) == config


@pytest.mark.parametrize("node", NODES)
def test_migrate_loads_the_zones_the_image_carries(
    node: str, services: dict[str, dict[str, Any]], docker: dict[str, NodeSettings]
) -> None:
    """`mdx node run` loads the zones at start; in compose the one-shot migrate does it, then
    creates the operator account the map signs in with (its password from the environment)."""
    migrate, account = steps(services[f"{node}-migrate"])
    assert mdx_args(migrate)[:2] == ["db", "migrate"] and "--zones" in mdx_args(migrate)
    config = ["--config", f"/app/infra/nodes/docker/{node}.toml"]
    assert mdx_args(account) == [
        "users",
        "add",
        "operator",
        "--role",
        "operator",
        "--reset",
        *config,
    ]
    assert mdx_args(migrate)[-2:] == config
    env = services[f"{node}-migrate"]["environment"]
    assert env["MDX_USER_PASSWORD"].startswith("${MDX_DEMO_PASSWORD:-")
    zones_dir = docker[node].zones.dir
    assert not zones_dir.is_absolute()  # taken from the working directory, /app
    assert zones_dir.as_posix() in IMAGE_PATHS
    assert sorted((ROOT / zones_dir).glob("*.geojson")), zones_dir


@pytest.mark.parametrize("node", NODES)
def test_sim_is_the_local_demo_s(node: str, services: dict[str, dict[str, Any]]) -> None:
    [step] = steps(services[f"{node}-sim"])
    args = mdx_args(step)
    assert args[0] == "sim"
    assert args[args.index("--producer") + 1] == "sim"
    assert args[args.index("--seed") + 1] == SIM_SEEDS[node]
    assert args[args.index("--rate") + 1] == SIM_RATE


def test_local_demo_runs_the_same_nodes_and_simulators() -> None:
    text = DEMO.read_text()
    match = re.search(r"^NODES=\((.*)\)$", text, re.M)
    assert match and match[1].split() == list(NODES)
    assert f"--rate {SIM_RATE}" in text
    assert "--producer sim" in text


# --- the image ----------------------------------------------------------------------------


def all_stages(services: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the mdx services' Dockerfile, continuations joined."""
    build = services["jcg-ingest"]["build"]
    text = (COMPOSE.parent / build["context"] / build["dockerfile"]).read_text()
    found = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            found.append((instruction.upper(), rest.strip()))
    return found


def dockerfile(services: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The final stage (the image the services run): from its FROM on."""
    instructions = all_stages(services)
    last = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[last:]


def copied(instructions: list[tuple[str, str]]) -> list[tuple[str, PurePosixPath]]:
    """(source in the context, where its content lands in the image) of each COPY source."""
    workdir = PurePosixPath("/")
    found = []
    for instruction, rest in instructions:
        if instruction == "WORKDIR":
            workdir = workdir / rest
        elif instruction == "COPY" and "--from=" not in rest:  # only what the context sends
            *sources, dest = [w for w in rest.split() if not w.startswith("--")]
            into_dir = dest.endswith("/") or len(sources) > 1
            for source in sources:
                for match in sorted(ROOT.glob(source)) or [ROOT / source]:
                    relative = match.relative_to(ROOT).as_posix()
                    if match.is_dir() or not into_dir:
                        found.append((relative, workdir / dest))
                    else:
                        found.append((relative, workdir / dest / match.name))
    return found


def test_dockerfile_base_matches_requires_python(services: dict[str, dict[str, Any]]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    match = re.fullmatch(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"])
    assert match
    froms = [rest for instruction, rest in dockerfile(services) if instruction == "FROM"]
    assert froms == [f"python:{match[1]}-slim"]


def test_the_image_carries_the_map_built_in_its_own_stage(
    services: dict[str, dict[str, Any]],
) -> None:
    stages = all_stages(services)
    assert [rest for i, rest in stages if i == "FROM"] == [
        "node:20-slim AS web",
        "python:3.11-slim",
    ]
    web = stages[: [i for i, _ in stages].index("FROM", 1)]
    assert ("RUN", "npm ci --no-audit --no-fund --loglevel=error && node build.mjs") in web
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    sources = [source for source, _ in copied(web)]
    assert sources == ["web/package.json", "web/package-lock.json", "web/build.mjs"]
    for source in sources:
        assert (ROOT / source).is_file(), source
        assert not dockerignore_excludes(source, patterns), source
    assert (
        "COPY",
        "--from=web /build/services/mdx/api/static/map/vendor ./services/mdx/api/static/map/vendor",
    ) in dockerfile(services)


def test_dockerfile_lays_out_the_repository_at_app(services: dict[str, dict[str, Any]]) -> None:
    instructions = dockerfile(services)
    assert [rest for i, rest in instructions if i == "WORKDIR"] == [str(APP_DIR)]
    sources = copied(instructions)
    for source, _ in sources:
        assert (ROOT / source).exists() or any(c in source for c in "*?["), source

    def lands_at(path: str) -> PurePosixPath | None:
        for source, target in sources:
            if path == source or source == "." or path.startswith(f"{source}/"):
                return target / PurePosixPath(path).relative_to(source)
        return None

    for path in IMAGE_PATHS:
        assert lands_at(path) == APP_DIR / path, path
    # the node configs the compose commands name
    for name, step in mdx_steps(services):
        config = config_of(step).relative_to(ROOT).as_posix()
        assert lands_at(config) == APP_DIR / config, name


def test_dockerfile_installs_editable_as_root_and_runs_as_a_user(
    services: dict[str, dict[str, Any]],
) -> None:
    instructions = dockerfile(services)
    runs = [rest for i, rest in instructions if i == "RUN"]
    # Editable: mdx finds schemas/ next to its sources (services/mdx/core/schemas.py).
    assert any(re.search(r"pip install\b[^&;|]*\s(-e|--editable)\s+\.(\s|$)", r) for r in runs)
    users = [rest for i, rest in instructions if i == "USER"]
    assert users, "the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    [entrypoint] = [rest for i, rest in instructions if i == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["mdx"]


def test_image_gives_its_user_the_folders_its_volumes_mount_on(
    services: dict[str, dict[str, Any]],
) -> None:
    """A new named volume starts as a copy of the image's folder, owner included: where the
    folder is missing, the volume is root's and the services' user cannot write to it."""
    instructions = dockerfile(services)
    runs = " && ".join(rest for i, rest in instructions if i == "RUN")
    user = [rest for i, rest in instructions if i == "USER"][-1].split(":")[0]
    var = APP_DIR / "var"
    targets = {t for name in MDX_SERVICES for s, t, _ in mounts(services[name]) if not is_bind(s)}
    assert str(KEYS_DIR) in targets
    for target in targets:
        assert PurePosixPath(target).is_relative_to(var), target
        assert re.search(rf"mkdir -p\b[^&;|]*\s{re.escape(target)}(\s|$)", runs), target
    assert re.search(rf"chown -R {user}(:\S+)? {re.escape(str(var))}(\s|$)", runs)


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or a folder above it decides."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        if pattern.startswith("**/"):
            out, i = "(.*/)?", 3
        while i < len(pattern):
            if pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        compiled = regex(pattern.removeprefix("!").strip("/"))
        if any(compiled.fullmatch(p) for p in prefixes):
            excluded = not negated
    return excluded


def test_dockerignore_sends_what_the_image_copies_and_nothing_local(
    services: dict[str, dict[str, Any]],
) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    for source, _ in copied(dockerfile(services)):
        if (ROOT / source).exists():
            assert not dockerignore_excludes(source, patterns), source
    for path in (
        "services/mdx/cli/main.py",
        "schemas/envelope/v1/envelope.schema.json",
        *(f"infra/nodes/docker/{n}.toml" for n in NODES),
        "infra/zones/aor.geojson",
    ):
        assert not dockerignore_excludes(path, patterns), path
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/jcg/mosquitto/mosquitto.db",
        "var/keys/jcg.key",
        "services/mdx/__pycache__",
        "services/mdx/cli/main.pyc",
        "services/mdx.egg-info/PKG-INFO",
    ):
        assert dockerignore_excludes(path, patterns), path


# --- Docker's own reading -------------------------------------------------------------------


def test_docker_compose_config_accepts_the_file() -> None:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        pytest.skip("no docker CLI here: `docker compose config` cannot check the file")
    probe = subprocess.run(
        [docker_cli, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin: `docker compose config` not run")
    # `config` parses, validates and interpolates the file without a Docker engine.
    result = subprocess.run(
        [docker_cli, "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

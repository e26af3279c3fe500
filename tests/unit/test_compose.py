"""docker-compose.yml, its image and its broker config stay in step with the local set-up.

No Docker engine is needed: the compose file is read with PyYAML and compared with what the
local set-up uses (infra/nodes/jcg.toml, the `mdx` commands, the Mosquitto policy in
infra/mosquitto/conf.d/). `docker compose config` runs too where the compose plugin exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import pytest
import typer
import yaml
from sqlalchemy import make_url
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core.settings import NodeSettings, load_settings
from mdx.node import broker as local_broker

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NODE_CONFIG = ROOT / "infra/nodes/jcg.toml"
POLICY = ROOT / "infra/mosquitto/conf.d/mdx.conf"
DOCKER_MOSQUITTO = ROOT / "infra/mosquitto/docker/mosquitto.conf"
DOCKERIGNORE = ROOT / ".dockerignore"

# Where the repository sits inside the mdx image (the Dockerfile's WORKDIR).
APP_DIR = PurePosixPath("/app")
# Where the eclipse-mosquitto image reads its config and keeps its data.
MOSQUITTO_CONF = "/mosquitto/config/mosquitto.conf"
MOSQUITTO_CONF_D = "/mosquitto/config/conf.d"
MOSQUITTO_DATA = "/mosquitto/data"

MDX_SERVICES = {"migrate", "ingest", "api", "sim"}
SERVICES = {"db", "broker", *MDX_SERVICES}
# migrate runs once (others wait for its completion); sim is a load generator nothing waits for.
HEALTHCHECKED = {"db", "broker", "ingest", "api"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
EXPECTED_DEPENDS_ON = {
    "db": {},
    "broker": {},
    "migrate": {"db": "service_healthy"},
    "ingest": {
        "broker": "service_healthy",
        "db": "service_healthy",
        "migrate": "service_completed_successfully",
    },
    "api": {
        "broker": "service_healthy",
        "db": "service_healthy",
        "migrate": "service_completed_successfully",
    },
    "sim": {"broker": "service_healthy", "ingest": "service_started"},
}
# What the image must hold at /app (same relative path as in the repository).
IMAGE_PATHS = ("pyproject.toml", "services", "schemas", "infra/nodes")
# Published on the host's loopback only: IP:HOST_PORT:CONTAINER_PORT.
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:(\d+):(\d+)")


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


def settings_with(env: Mapping[str, str]) -> NodeSettings:
    """jcg.toml as a process with exactly `env` (and none of this process's MDX_*) reads it."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("MDX_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        return load_settings(NODE_CONFIG)


@pytest.fixture(scope="module")
def node() -> NodeSettings:
    return settings_with({})


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


def config_directives(path: Path) -> dict[str, list[str]]:
    """Mosquitto config: directive -> its values, in order (comments and blanks left out)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.setdefault(key, []).append(value.strip())
    return found


def repo_path(container_path: str) -> Path:
    """A path in the mdx image as the file of the repository it comes from."""
    return ROOT / PurePosixPath(container_path).relative_to(APP_DIR)


# --- the services and how they start ------------------------------------------------------


def test_the_node_s_services_exist_exactly(spec: dict[str, Any]) -> None:
    assert set(spec["services"]) == SERVICES
    assert "version" not in spec  # obsolete in the Compose Specification


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
        assert {k: v["condition"] for k, v in depends.items()} == EXPECTED_DEPENDS_ON[name]


def test_restart_policies(services: dict[str, dict[str, Any]]) -> None:
    # "no" must be quoted in YAML: unquoted it is the boolean false.
    assert services["migrate"]["restart"] == "no"
    for name in SERVICES - {"migrate"}:
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
        assert "$" not in text.replace("$$", ""), text


# --- files on the host ----------------------------------------------------------------------


def test_bind_mounted_paths_exist_and_volumes_are_declared(
    spec: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    binds = 0
    for name, service in services.items():
        for source, target, _ in mounts(service):
            if is_bind(source):
                binds += 1
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in (spec.get("volumes") or {}), f"{name}: undeclared {source}"
            assert target.startswith("/"), (name, target)
    assert binds == 2


def test_mdx_services_use_the_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    images = set()
    for name in MDX_SERVICES:
        service = services[name]
        build = service["build"]
        assert build["context"] == "."
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
        assert "entrypoint" not in service, f"{name}: the image's entrypoint `mdx` is needed"
        images.add(service["image"])
    assert len(images) == 1
    assert "build" not in services["db"]
    assert "build" not in services["broker"]


# --- the same configuration as the local set-up --------------------------------------------


def test_broker_host_port_is_the_local_broker_s(
    services: dict[str, dict[str, Any]], node: NodeSettings
) -> None:
    assert ports(services["broker"]) == [(node.broker.port, 1883)]


def test_api_host_port_is_the_local_api_s(
    services: dict[str, dict[str, Any]], node: NodeSettings
) -> None:
    [(host_port, container_port)] = ports(services["api"])
    assert host_port == node.api.port
    assert environment(services["api"])["MDX_API__PORT"] == str(container_port)
    assert environment(services["api"])["MDX_API__HOST"] == "0.0.0.0"


def test_db_is_not_published(services: dict[str, dict[str, Any]]) -> None:
    assert ports(services["db"]) == []


def test_db_role_and_database_are_those_of_the_node_config(
    services: dict[str, dict[str, Any]], node: NodeSettings
) -> None:
    url = make_url(node.database.url)
    env = environment(services["db"])
    assert env["POSTGRES_USER"] == url.username
    assert env["POSTGRES_PASSWORD"] == url.password
    assert env["POSTGRES_DB"] == url.database
    test = services["db"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    assert test[test.index("-U") + 1] == url.username
    assert test[test.index("-d") + 1] == url.database


def test_mdx_services_reach_db_and_broker_by_service_name(
    services: dict[str, dict[str, Any]], node: NodeSettings
) -> None:
    local = make_url(node.database.url)
    [(_, broker_port)] = ports(services["broker"])
    for name in MDX_SERVICES:
        env = environment(services[name])
        url = make_url(env["MDX_DATABASE__URL"])
        assert (url.host, url.port) == ("db", 5432), name
        assert url.drivername == local.drivername, name
        assert (url.username, url.password, url.database) == (
            local.username,
            local.password,
            local.database,
        ), name
        assert env["MDX_BROKER__HOST"] == "broker", name
        assert env["MDX_BROKER__PORT"] == str(broker_port), name


@pytest.mark.parametrize("name", sorted(MDX_SERVICES))
def test_the_overrides_reach_the_settings(name: str, services: dict[str, dict[str, Any]]) -> None:
    """A misspelt MDX_* variable would be ignored silently: read jcg.toml as the service does."""
    env = environment(services[name])
    settings = settings_with(env)
    assert settings.node.id == "jcg"
    assert settings.database.url == env["MDX_DATABASE__URL"]
    assert (settings.broker.host, settings.broker.port) == ("broker", 1883)
    if name == "api":
        [(_, container_port)] = ports(services["api"])
        assert (settings.api.host, settings.api.port) == ("0.0.0.0", container_port)


def test_api_healthcheck_asks_healthz_on_the_api_port(
    services: dict[str, dict[str, Any]],
) -> None:
    test = services["api"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    port = environment(services["api"])["MDX_API__PORT"]
    assert f"http://127.0.0.1:{port}/healthz" in test[3]


# --- the broker ---------------------------------------------------------------------------


def test_broker_mounts_its_config_and_the_shared_policy(
    services: dict[str, dict[str, Any]],
) -> None:
    found = {target: (source, ro) for source, target, ro in mounts(services["broker"])}
    conf_source, conf_ro = found[MOSQUITTO_CONF]
    assert (COMPOSE.parent / conf_source).resolve() == DOCKER_MOSQUITTO
    assert conf_ro
    policy_source, policy_ro = found[MOSQUITTO_CONF_D]
    # The very folder the local set-up includes.
    assert (COMPOSE.parent / policy_source).resolve() == local_broker.POLICY_DIR == POLICY.parent
    assert policy_ro
    data_source, _ = found[MOSQUITTO_DATA]
    assert not is_bind(data_source)


def test_docker_mosquitto_conf(services: dict[str, dict[str, Any]]) -> None:
    conf = config_directives(DOCKER_MOSQUITTO)
    [(_, container_port)] = ports(services["broker"])
    assert conf["listener"] == [str(container_port)]  # all interfaces of the container
    assert conf["include_dir"] == [MOSQUITTO_CONF_D]
    assert conf["log_dest"] == ["stdout"]
    [location] = conf["persistence_location"]
    assert location.endswith("/")  # Mosquitto appends the file name to it as it is
    data_targets = [t for s, t, _ in mounts(services["broker"]) if not is_bind(s)]
    assert [t for t in data_targets if PurePosixPath(location).is_relative_to(t)] == [
        MOSQUITTO_DATA
    ]


def test_policy_is_only_in_the_shared_file() -> None:
    policy = config_directives(POLICY)
    assert policy["persistence"] == ["true"]
    assert "max_queued_messages" in policy
    docker = config_directives(DOCKER_MOSQUITTO)
    assert not set(docker) & set(policy)


def test_docker_conf_sets_what_the_local_set_up_renders(tmp_path: Path) -> None:
    """Same directives as `mdx broker run` writes (values differ: paths, listener address).
    `user` is left out: the local set-up adds `user root` where Mosquitto's own user cannot
    reach its folder; the image runs Mosquitto as its own user."""
    local = config_directives(local_broker.render_config(18831, tmp_path))
    docker = config_directives(DOCKER_MOSQUITTO)
    assert set(docker) == set(local) - {"user"}
    assert docker["allow_anonymous"] == local["allow_anonymous"]


def test_broker_healthcheck_subscribes_to_the_broker(
    services: dict[str, dict[str, Any]],
) -> None:
    test = services["broker"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "mosquitto_sub"]
    assert test[test.index("-p") + 1] == "1883"
    assert test[test.index("-t") + 1] == "$$SYS/broker/version"  # $SYS once Compose unescapes
    assert "-W" in test  # gives up instead of hanging until the healthcheck's timeout


# --- the mdx commands ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MDX_SERVICES))
def test_command_is_an_mdx_subcommand(name: str, services: dict[str, dict[str, Any]]) -> None:
    command = services[name]["command"]
    assert isinstance(command, list), f"{name}: exec form, no shell in between"
    config = command[command.index("--config") + 1]
    assert repo_path(config) == NODE_CONFIG
    args = [str(repo_path(a)) if a.startswith(f"{APP_DIR}/") else a for a in command]

    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output

    # --help stops before the values are checked: parse them as the command would.
    # (Typer may bring its own Click: groups are told by their `commands`, not by class.)
    leaf: Any = typer.main.get_command(app)
    rest = list(args)
    while isinstance(getattr(leaf, "commands", None), dict):
        assert rest and rest[0] in leaf.commands, f"{name}: no mdx command {command}"
        leaf = leaf.commands[rest.pop(0)]
    with leaf.make_context(name, rest) as ctx:
        assert Path(ctx.params["config"]) == NODE_CONFIG


def test_sim_rate(services: dict[str, dict[str, Any]]) -> None:
    command = services["sim"]["command"]
    assert command[command.index("--rate") + 1] == "20"


# --- the image ----------------------------------------------------------------------------


def dockerfile(services: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the mdx services' Dockerfile, continuations joined."""
    build = services["ingest"]["build"]
    text = (COMPOSE.parent / build["context"] / build["dockerfile"]).read_text()
    found = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            found.append((instruction.upper(), rest.strip()))
    return found


def copied(instructions: list[tuple[str, str]]) -> list[tuple[str, PurePosixPath]]:
    """(source in the context, where its content lands in the image) of each COPY source."""
    workdir = PurePosixPath("/")
    found = []
    for instruction, rest in instructions:
        if instruction == "WORKDIR":
            workdir = workdir / rest
        elif instruction == "COPY":
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
    # the node config the compose commands name
    config = NODE_CONFIG.relative_to(ROOT).as_posix()
    assert lands_at(config) == APP_DIR / config


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
        NODE_CONFIG.relative_to(ROOT).as_posix(),
    ):
        assert not dockerignore_excludes(path, patterns), path
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/jcg/mosquitto/mosquitto.db",
        "services/mdx/__pycache__",
        "services/mdx/cli/main.pyc",
        "services/mdx.egg-info/PKG-INFO",
    ):
        assert dockerignore_excludes(path, patterns), path


# --- Docker's own reading -------------------------------------------------------------------


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here: `docker compose config` cannot check the file")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin: `docker compose config` not run")
    # `config` parses, validates and interpolates the file without a Docker engine.
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

"""The shape of the repository: where things live, and who may import whom.

Services talk to each other only through the database and the broker, never by importing
each other; shared code lives in mdx.core, which imports no service. Engines, clients and
settings are built in an app factory or `main`, never at import time.
"""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "services" / "mdx"
SERVICES = ("ingest", "api", "sim", "feed", "detect")
SERVICE_PACKAGES = ("mdx.ingest", "mdx.api", "mdx.sim", "mdx.node", "mdx.cli")
# Calls that read settings or open connections; dotted names after resolving imports.
IMPORT_TIME_FORBIDDEN = (
    "create_engine",
    "create_async_engine",
    "load_settings",
    "NodeSettings",
    "mqtt.client.Client",
    "psycopg.connect",
)


def _package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1])


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an import statement anywhere in `source` may load (lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from mdx import api` imports the module mdx.api.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def forbidden_imports(source: str, package: str, own: str | None) -> set[str]:
    return {
        module
        for module in imported_modules(source, package)
        for service in SERVICE_PACKAGES
        if service != own and _within(module, service)
    }


def calls_at_import(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of forbidden calls that run when the module is imported.

    Function bodies (and lambda bodies) run later; decorators, default values and class
    bodies run at import, so they are searched.
    """
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def dotted(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return aliases.get(expr.id, expr.id)
        if isinstance(expr, ast.Attribute):
            head = dotted(expr.value)
            return f"{head}.{expr.attr}" if head else None
        return None

    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            runs_now: list[ast.AST] = [*node.args.defaults, *node.args.kw_defaults]
            if not isinstance(node, ast.Lambda):
                runs_now += node.decorator_list
            for child in runs_now:
                if child is not None:
                    visit(child)
            return
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name and any(name == f or name.endswith("." + f) for f in IMPORT_TIME_FORBIDDEN):
                found.append((node.lineno, name))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _sources(folder: Path) -> Iterator[Path]:
    return iter(sorted(folder.rglob("*.py")))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# -- the checkers catch what they look for --------------------------------------------------


def test_import_checker_sees_every_form_of_import() -> None:
    source = """
import mdx.api.app
from mdx import sim
from mdx.core import intake
from ..node import supervisor
def later():
    from mdx.cli.main import app
    import mdx.ingest as ingest
"""
    found = forbidden_imports(source, "mdx.api", "mdx.api")
    assert found == {
        "mdx.sim",
        "mdx.node",
        "mdx.node.supervisor",
        "mdx.cli.main",
        "mdx.cli.main.app",  # could be a module, so it counts
        "mdx.ingest",
    }
    assert (
        forbidden_imports("from . import cursor\nfrom .deps import Db\n", "mdx.api", "mdx.api")
        == set()
    )
    assert forbidden_imports("import mdx.apifoo\n", "mdx.core", None) == set()


def test_import_time_checker_finds_calls_outside_function_bodies() -> None:
    source = """
import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy import create_engine as ce
from mdx.core.settings import NodeSettings, load_settings
engine = ce("postgresql://")
class Service:
    client = mqtt.Client()
def handler(settings=NodeSettings()):
    conn = psycopg.connect("")
    return load_settings("x.toml")
@register(load_settings("y.toml"))
def other():
    return lambda: create_engine("sqlite://")
"""
    assert calls_at_import(source) == [
        (6, "sqlalchemy.create_engine"),
        (8, "paho.mqtt.client.Client"),
        (9, "mdx.core.settings.NodeSettings"),
        (12, "mdx.core.settings.load_settings"),
    ]


# -- the repository -------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service: str) -> None:
    files = list(_sources(PACKAGE / service))
    assert len(files) >= 2, f"mdx.{service} has no modules to check"
    own = f"mdx.{service}"
    offences = {
        _rel(path): sorted(bad)
        for path in files
        if (bad := forbidden_imports(path.read_text(encoding="utf-8"), _package_of(path), own))
    }
    assert offences == {}


def test_core_imports_no_service() -> None:
    files = list(_sources(PACKAGE / "core"))
    assert len(files) >= 10
    offences = {
        _rel(path): sorted(bad)
        for path in files
        if (bad := forbidden_imports(path.read_text(encoding="utf-8"), _package_of(path), None))
    }
    assert offences == {}


def test_nothing_reads_settings_or_connects_at_import_time() -> None:
    files = list(_sources(PACKAGE))
    assert len(files) >= 30
    offences = {
        _rel(path): found
        for path in files
        if (found := calls_at_import(path.read_text(encoding="utf-8")))
    }
    assert offences == {}


@pytest.mark.parametrize("folder", ["services", "schemas", "infra", "tests"])
def test_top_level_folders(folder: str) -> None:
    assert (ROOT / folder).is_dir()


@pytest.mark.parametrize("name", ["pyproject.toml", "Makefile"])
def test_top_level_files(name: str) -> None:
    path = ROOT / name
    assert path.is_file() and path.stat().st_size > 0


def test_ci_entrypoint_is_an_executable_script() -> None:
    run = ROOT / ".ci" / "run"
    assert run.is_file()
    mode = run.stat().st_mode
    assert mode & stat.S_IXUSR and os.access(run, os.X_OK)
    assert run.read_text(encoding="utf-8").startswith("#!")


def test_readme_gives_the_test_command() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")  # pyproject.toml names it
    assert "make test" in text  # .ci/run runs "the README's test command"


def test_docker_compose_defines_services() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    assert isinstance(doc.get("services"), dict) and doc["services"]

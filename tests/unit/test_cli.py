"""The `mdx` command: every command has working help, and `mdx validate` judges files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core.schemas import SCHEMA_DIR

LEAVES = {
    "node run",
    "ingest run",
    "api run",
    "broker run",
    "db migrate",
    "db reset",
    "keys init",
    "share run",
    "bridge config",
    "sim",
    "sim-ais",
    "validate",
    "zones load",
    "zones check",
    "feed run",
    "detect run",
    "pki init",
    "pki issue",
    "pki revoke",
    "pki renew",
    "pki csr",
    "pki sign",
    "pki accept",
    "pki link",
    "mqtt prepare",
    "mqtt acl",
    "audit verify",
    "audit tail",
    "users add",
    "users list",
    "users disable",
    "cot serve",
    "cot run",
    "bench ingest",
    "bench queries",
    "scenario run",
    "conformance",
    "record",
    "replay",
}
VALID_ENVELOPE = SCHEMA_DIR / "envelope/v1/examples/valid/incident-amber-strict.json"


def _is_group(command: Any) -> bool:
    # typer >= 0.20 ships its own click; a group is whatever has subcommands.
    return isinstance(getattr(command, "commands", None), dict)


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if _is_group(command):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        assert _is_group(command)
        command = command.commands[name]
    return command


ROOT = typer.main.get_command(app)
ALL = list(_walk(ROOT))


def _plain(text: str) -> str:
    """Help text without the box drawing and line wrapping of rich."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_the_leaf_commands_are_exactly_these() -> None:
    leaves = {" ".join(path) for path in ALL if path and not _is_group(_command(path))}
    assert leaves == LEAVES
    groups = {" ".join(path) for path in ALL if path and _is_group(_command(path))}
    assert groups == {
        "node",
        "ingest",
        "api",
        "broker",
        "db",
        "keys",
        "share",
        "bridge",
        "zones",
        "feed",
        "detect",
        "pki",
        "mqtt",
        "audit",
        "users",
        "cot",
        "bench",
        "scenario",
    }


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "mdx")
def test_help_works_and_states_the_purpose(runner: CliRunner, path: tuple[str, ...]) -> None:
    command = _command(path)
    purpose = (command.help or "").strip()
    assert purpose, f"{' '.join(path) or 'mdx'} has no help text"
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    first_sentence = _plain(purpose).split(". ")[0].rstrip(".")
    assert first_sentence in _plain(result.output)


@pytest.mark.parametrize(
    "group",
    ["node", "ingest", "api", "broker", "db", "keys", "share", "bridge", "zones", "feed", "detect"],
)
def test_a_group_without_a_subcommand_shows_its_help(runner: CliRunner, group: str) -> None:
    result = runner.invoke(app, [group])
    assert re.search(rf"Usage: \S+ {group} \[OPTIONS\] COMMAND", _plain(result.output))
    assert result.exit_code == 2  # no_args_is_help: help, with the exit code of a usage error


def test_an_unknown_command_fails(runner: CliRunner) -> None:
    result = runner.invoke(app, ["launch-missiles"])
    assert result.exit_code == 2


# -- mdx validate ---------------------------------------------------------------------------


def test_validate_a_valid_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(VALID_ENVELOPE)])
    assert result.exit_code == 0, result.output
    assert _plain(result.stderr) == f"{VALID_ENVELOPE} valid"


def test_validate_every_valid_envelope_example_at_once(runner: CliRunner) -> None:
    files = sorted((SCHEMA_DIR / "envelope/v1/examples/valid").glob("*.json"))
    assert len(files) >= 3
    result = runner.invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count(" valid\n") == len(files)


def _invalid(tmp_path: Path) -> Path:
    envelope = json.loads(VALID_ENVELOPE.read_text(encoding="utf-8"))
    envelope["data"]["location"]["coordinates"] = [127.9, 95.0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(envelope), encoding="utf-8")
    return path


def test_validate_an_invalid_envelope_exits_1_and_names_the_path(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = _invalid(tmp_path)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    out = _plain(result.stderr)
    assert out.startswith(f"{bad} /data/location/coordinates/1: 95.0 is greater than the maximum")
    assert " valid" not in out
    assert out.count(str(bad)) == 1  # one violation, one line


def test_validate_a_mix_exits_1_and_reports_each(runner: CliRunner, tmp_path: Path) -> None:
    bad = _invalid(tmp_path)
    result = runner.invoke(app, ["validate", str(VALID_ENVELOPE), str(bad)])
    assert result.exit_code == 1
    out = _plain(result.stderr)
    assert f"{VALID_ENVELOPE} valid" in out
    assert f"{bad} /data/location/coordinates/1:" in out


def test_validate_a_missing_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2


def test_validate_prints_the_violated_pattern_verbatim(runner: CliRunner, tmp_path: Path) -> None:
    envelope = json.loads(VALID_ENVELOPE.read_text(encoding="utf-8"))
    envelope["source"] = "URN:MDX:JCG:X"
    path = tmp_path / "bad-source.json"
    path.write_text(json.dumps(envelope), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "^urn:mdx:[a-z][a-z0-9-]{1,31}:" in _plain(result.stderr)


def test_validate_reports_a_file_that_is_not_json(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "not-json.json"
    path.write_text("{nope", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), str(VALID_ENVELOPE)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert str(path) in result.stderr
    assert f"{VALID_ENVELOPE} valid" in _plain(result.stderr)

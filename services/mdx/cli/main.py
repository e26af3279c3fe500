"""The `mdx` command: run a node or one of its services, migrate, simulate, validate."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console

from mdx.cli.audit import app as audit_app
from mdx.cli.bench import app as bench_app
from mdx.cli.cot import cot_app
from mdx.cli.options import ConfigOption, settings_of
from mdx.cli.pki import mqtt_app, pki_app
from mdx.cli.scenario import scenario_app
from mdx.cli.users import users_app
from mdx.conformance.cli import conformance
from mdx.core.settings import NodeSettings
from mdx.record import commands as record_commands
from mdx.sim.ais_cli import sim_ais

if TYPE_CHECKING:
    from mdx.core.zones import ZoneError

app = typer.Typer(help="mdx: Maritime Domain eXchange node tools.", no_args_is_help=True)
node_app = typer.Typer(help="Run a whole node (broker, ingest, api).", no_args_is_help=True)
ingest_app = typer.Typer(help="The ingest service (MQTT -> PostGIS).", no_args_is_help=True)
api_app = typer.Typer(help="The HTTP API service.", no_args_is_help=True)
broker_app = typer.Typer(help="The node's own Mosquitto.", no_args_is_help=True)
db_app = typer.Typer(help="The node's PostGIS database.", no_args_is_help=True)
keys_app = typer.Typer(help="The node's Ed25519 signing key.", no_args_is_help=True)
share_app = typer.Typer(help="The share service (partner links).", no_args_is_help=True)
bridge_app = typer.Typer(help="Mosquitto bridges to the partners.", no_args_is_help=True)
detect_app = typer.Typer(
    help="Behaviour detection: candidate incidents from vessel traffic.", no_args_is_help=True
)
feed_app = typer.Typer(help="AIS TCP feeds (NMEA lines -> the broker).", no_args_is_help=True)
zones_app = typer.Typer(help="The zones the node watches (infra/zones).", no_args_is_help=True)
for sub, name in (
    (node_app, "node"),
    (ingest_app, "ingest"),
    (api_app, "api"),
    (broker_app, "broker"),
    (db_app, "db"),
    (keys_app, "keys"),
    (share_app, "share"),
    (bridge_app, "bridge"),
    (zones_app, "zones"),
    (feed_app, "feed"),
    (detect_app, "detect"),
    (pki_app, "pki"),
    (mqtt_app, "mqtt"),
):
    app.add_typer(sub, name=name)
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(cot_app, name="cot")
app.add_typer(bench_app, name="bench")
app.command("conformance")(conformance)
app.add_typer(scenario_app, name="scenario")

console = Console(stderr=True)


_settings = settings_of


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


@node_app.command("run")
def node_run(
    config: ConfigOption = None,
    own_broker: Annotated[bool, typer.Option(help="Start the node's own Mosquitto.")] = True,
) -> None:
    """Run a whole node from its config file: broker, migrations, zones, ingest and api."""
    from mdx.core.zones import ZoneError
    from mdx.node import supervisor

    _logging()
    if config is None:
        raise typer.BadParameter("a node needs its config file", param_hint="--config")
    _refuse_weak_api_key(_settings(config))
    try:
        supervisor.run(_settings(config), config, own_broker=own_broker)
    except ZoneError as e:
        _print_zone_problems(e)
        console.print("the node did not start: fix the zone files", style="red")
        raise typer.Exit(1) from None


def _refuse_weak_api_key(settings: NodeSettings) -> None:
    """Before anything starts: the api would refuse the key, and be restarted for ever."""
    from mdx.api.token_key import InsecureSecret, token_key

    try:
        token_key(settings)
    except InsecureSecret as e:
        console.print(f"the node did not start: {e}", markup=False, style="red")
        raise typer.Exit(1) from None


@ingest_app.command("run")
def ingest_run(config: ConfigOption = None) -> None:
    """Subscribe to the node's inbound topics and store what arrives."""
    from mdx.ingest.main import serve

    _logging()
    serve(_settings(config))


@share_app.command("run")
def share_run(config: ConfigOption = None) -> None:
    """Publish the outbox to partners and take in what they share, verified."""
    from mdx.share.main import serve

    _logging()
    serve(_settings(config))


@bridge_app.command("config")
def bridge_config(
    config: ConfigOption = None,
    files: Annotated[
        Path | None,
        typer.Option(help="Where the broker finds the bridges' certificates (`mdx mqtt prepare`)."),
    ] = None,
) -> None:
    """Print the Mosquitto bridge configuration for this node's partners."""
    from mdx.node import bridges

    typer.echo(bridges.render(_settings(config), files), nl=False)


@api_app.command("run")
def api_run(config: ConfigOption = None) -> None:
    """Serve the REST API (OpenAPI at /docs)."""
    from mdx.api.main import serve

    _logging()
    serve(_settings(config))


@broker_app.command("run")
def broker_run(config: ConfigOption = None) -> None:
    """Run the node's Mosquitto in the foreground with the project's configuration."""
    from mdx.node import broker, security

    settings = _settings(config)
    auth = security.prepare(settings)  # passwords, ACL and TLS: never an anonymous broker
    proc = broker.start(settings.broker.port, settings.broker.data_dir, auth, settings.broker.host)
    console.print(f"mosquitto on {settings.broker.host}:{settings.broker.port}")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()


@db_app.command("migrate")
def db_migrate(
    config: ConfigOption = None,
    with_zones: Annotated[
        bool,
        typer.Option(
            "--zones",
            help="Then load the node's zone files ([zones] dir), as `mdx node run` does.",
        ),
    ] = False,
) -> None:
    """Create the database and PostGIS if missing, and apply every migration."""
    from mdx.core import migrate, zones

    settings = _settings(config)
    migrate.upgrade(settings.database.url)
    console.print(f"database migrated: {settings.database.url}")
    if with_zones:
        try:
            summary = zones.load_configured(settings)
        except zones.ZoneError as e:
            _print_zone_problems(e)
            raise typer.Exit(1) from None
        if summary is None:
            message = f"no zone directory {settings.zones.dir}: no zones loaded"
        else:
            message = f"zones: {summary.loaded} loaded, {summary.removed} removed"
        console.print(message, markup=False, soft_wrap=True)


@db_app.command("reset")
def db_reset(
    config: ConfigOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop the node's database and everything in it, then migrate a new one."""
    from mdx.core import migrate

    url = _settings(config).database.url
    if not yes:
        typer.confirm(f"Delete every item in {url}?", abort=True)
    migrate.drop_database(url)
    migrate.upgrade(url)
    console.print(f"database reset: {url}")


ZoneDir = Annotated[
    Path,
    typer.Argument(exists=True, file_okay=False, help="A folder of zone files (*.geojson)."),
]


@zones_app.command("load")
def zones_load(
    config: ConfigOption = None,
    directory: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            file_okay=False,
            help="A folder of zone files (*.geojson); default: the config's [zones] dir.",
        ),
    ] = None,
) -> None:
    """Check the zone files and store their zones in the node's database, all or nothing."""
    from sqlalchemy import create_engine

    from mdx.core import zones
    from mdx.core.schemas import SchemaSet

    settings = _settings(config)
    folder = directory or settings.zones.dir
    engine = create_engine(settings.database.url)
    try:
        summary = zones.load(engine, folder, SchemaSet())
    except zones.ZoneError as e:
        _print_zone_problems(e)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(
        f"{folder}: {summary.loaded} zones loaded, {summary.removed} removed "
        f"({', '.join(summary.files) or 'no files'})",
        markup=False,
        soft_wrap=True,
    )


@zones_app.command("check")
def zones_check(directory: ZoneDir) -> None:
    """Check zone files without a database: the schema, the geometry and unique ids."""
    from mdx.core import zones
    from mdx.core.schemas import SchemaSet

    try:
        records, files = zones.read_dir(directory, SchemaSet())
    except zones.ZoneError as e:
        _print_zone_problems(e)
        raise typer.Exit(1) from None
    console.print(
        f"{directory}: {len(records)} zones in {len(files)} files, all valid",
        markup=False,
        soft_wrap=True,
        style="green",
    )


def _print_zone_problems(error: ZoneError) -> None:
    for problem in error.problems:
        console.print(str(problem), markup=False, soft_wrap=True, style="red")


@keys_app.command("init")
def keys_init(config: ConfigOption = None) -> None:
    """Create the node's signing key (and its .pub beside it) unless it exists."""
    from mdx.core import keys

    path = _settings(config).node.signing_key
    if path.exists():
        keys.load_private(path)  # refuses a file that is not an Ed25519 key
        console.print(f"signing key exists: {path}")
        return
    keys.generate(path)
    console.print(f"created {path} and {keys.public_path(path)}")


@detect_app.command("run")
def detect_run(config: ConfigOption = None) -> None:
    """Raise and update candidate incidents (going dark, encounters, foreign fishing,
    loitering, distress) from the positions the node holds, as producer `detect`."""
    from mdx.detect.service import serve

    _logging()
    serve(_settings(config))


@feed_app.command("run")
def feed_run(
    producer: Annotated[
        str,
        typer.Option(
            help="Producer id: the [[feeds]] entry to run; lines go to mdx/v1/in/PRODUCER/ais."
        ),
    ],
    config: ConfigOption = None,
    connect: Annotated[
        str | None,
        typer.Option(help="host:port of a feed to dial (instead of the entry's address)."),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(help="host:port to listen on for senders (instead of the entry's address)."),
    ] = None,
) -> None:
    """Forward one AIS TCP feed's NMEA lines to the node's broker, batched, at QoS 1."""
    from mdx.feed.config import select_feed
    from mdx.feed.service import run

    _logging()
    settings = _settings(config)
    try:
        feed = select_feed(settings.feeds, producer, connect=connect, listen=listen)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--producer/--connect/--listen") from None
    run(settings, feed)


# Raw AIS traffic (NMEA) for the demo and benchmarks; see mdx.sim.ais_cli.
app.command("sim-ais")(sim_ais)
# Record what a node receives, replay it (mdx.record, docs/record-replay.md).
app.command("record")(record_commands.record)
app.command("replay")(record_commands.replay)


@app.command()
def sim(
    config: ConfigOption = None,
    rate: Annotated[float, typer.Option(help="Position reports per second.")] = 20.0,
    duration: Annotated[float, typer.Option(help="Seconds to run; 0 = until stopped.")] = 0.0,
    vessels: Annotated[int, typer.Option(help="Number of simulated vessels.")] = 60,
    producer: Annotated[str, typer.Option(help="Producer id used in topics and source.")] = "sim",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 1,
) -> None:
    """Publish realistic traffic for a node as a producer would (with receipts)."""
    from mdx.sim.run import run

    _logging()
    settings = _settings(config)
    stats = run(
        settings, rate=rate, duration=duration, vessels=vessels, producer=producer, seed=seed
    )
    console.print(stats)


@app.command()
def validate(
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="Envelope JSON files.")
    ],
) -> None:
    """Check envelope files against the common schemas; exit 1 if any is invalid."""
    from mdx.core.schemas import SchemaSet

    schemas = SchemaSet()
    bad = 0
    for path in files:
        try:
            reasons = [str(v) for v in schemas.validate_envelope(orjson.loads(path.read_bytes()))]
        except orjson.JSONDecodeError as e:
            reasons = [f"not JSON: {e}"]
        for reason in reasons:
            # Rules quote patterns like [a-z]: print them verbatim, not as rich markup.
            console.print(f"{path} {reason}", markup=False, soft_wrap=True, style="red")
        if not reasons:
            console.print(f"{path} valid", markup=False, soft_wrap=True, style="green")
        bad += bool(reasons)
    raise typer.Exit(1 if bad else 0)


if __name__ == "__main__":
    app()

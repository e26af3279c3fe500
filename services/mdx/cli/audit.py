"""`mdx audit`: verify the audit trail's hash chain and show its newest entries."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mdx.cli.options import ConfigOption, settings_of

if TYPE_CHECKING:
    from mdx.core.audit import Head

app = typer.Typer(help="The audit trail (hash-chained audit_log).", no_args_is_help=True)


def _database_url(config: Path | None) -> str:
    return settings_of(config).database.url


def _head(text: str | None) -> Head | None:
    from mdx.core.audit import Head

    if text is None:
        return None
    try:
        return Head.parse(text)
    except ValueError:
        raise typer.BadParameter("expected SEQ:HEX, as `mdx audit verify` prints it") from None


@app.command("verify")
def verify(
    config: ConfigOption = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="SEQ:HEX",
            help="A head recorded earlier: also catches the newest rows deleted or the chain "
            "rewritten.",
        ),
    ] = None,
) -> None:
    """Recompute every hash of the chain: exit 0 if intact (printing the head), 1 if not."""
    from mdx.core import audit, store  # imported here: keeps `mdx --help` fast

    expected = _head(expect_head)
    with store.connect(_database_url(config)) as conn:
        verdict = audit.verify(conn, expected=expected)
    typer.echo(str(verdict))
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("tail")
def tail(
    config: ConfigOption = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many entries.")] = 20,
    event: Annotated[str | None, typer.Option(help="Only this event, e.g. share.sent.")] = None,
) -> None:
    """Show the newest entries, oldest first."""
    from mdx.core import audit, store

    with store.connect(_database_url(config)) as conn:
        entries = audit.latest(conn, count, event=event)
    table = Table("seq", "at (UTC)", "event", "actor", "peer", "detail", "hash")
    for e in entries:
        table.add_row(
            str(e.seq),
            e.at.astimezone(UTC).isoformat(timespec="microseconds"),
            e.event,
            e.actor,
            e.peer or "",
            str(e.detail),
            e.hash.hex()[:12],
        )
    Console().print(table)

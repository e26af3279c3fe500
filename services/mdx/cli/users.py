"""`mdx users`: the node's operator accounts (add, list, disable).

The password of `add` comes from MDX_USER_PASSWORD when set (scripts, the demo), else from a
prompt that does not echo it; it is never an argument, which would leave it in the shell's
history and in `ps`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mdx.cli.options import ConfigOption as Config
from mdx.cli.options import settings_of

PASSWORD_ENV = "MDX_USER_PASSWORD"

users_app = typer.Typer(help="The node's operator accounts (API logins).", no_args_is_help=True)
console = Console(stderr=True)


_settings = settings_of


def _password() -> str:
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Account name: a-z 0-9 . _ -, from a letter.")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    config: Config = None,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="If the account exists: new password and role, enabled."),
    ] = False,
) -> None:
    """Create an account (password from MDX_USER_PASSWORD or a prompt)."""
    from sqlalchemy import create_engine

    from mdx.api import accounts

    engine = create_engine(_settings(config).database.url)
    try:
        with engine.begin() as conn:
            accounts.add(conn, name, role, _password(), replace=reset)
    except accounts.AccountError as e:
        console.print(str(e), markup=False, style="red")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"account {name} ({role}) {'set' if reset else 'created'}", markup=False)


@users_app.command("list")
def list_(config: Config = None) -> None:
    """List the accounts with their role and state."""
    from sqlalchemy import create_engine

    from mdx.api import accounts

    engine = create_engine(_settings(config).database.url)
    try:
        with engine.connect() as conn:
            found = accounts.listing(conn)
    finally:
        engine.dispose()
    table = Table("name", "role", "created", "state")
    for a in found:
        state = "active" if a.active else f"disabled {a.disabled_at:%Y-%m-%d %H:%M}"
        table.add_row(a.name, a.role, f"{a.created_at:%Y-%m-%d %H:%M}", state)
    Console().print(table)


@users_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The account to disable.")],
    config: Config = None,
) -> None:
    """Disable an account: it cannot log in, and its tokens stop working at once."""
    from sqlalchemy import create_engine

    from mdx.api import accounts

    engine = create_engine(_settings(config).database.url)
    try:
        with engine.begin() as conn:
            found = accounts.disable(conn, name)
    finally:
        engine.dispose()
    if not found:
        console.print(f"no account {name}", markup=False, style="red")
        raise typer.Exit(1)
    console.print(f"account {name} disabled", markup=False)

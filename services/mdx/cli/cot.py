"""`mdx cot`: Cursor-on-Target for TAK clients (mdx.cot), the node's picture over TCP and TLS."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from mdx.cli.options import ConfigOption, settings_of

cot_app = typer.Typer(
    help="Cursor-on-Target: the node's incidents and vessels for TAK clients.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@cot_app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Stream the node's incidents and vessels to TAK clients until stopped. Plain TCP on the
    config's cot tcp_port serves the node's own network; TLS on its tls_port asks for a client
    certificate from the node's CA (`mdx pki issue`)."""
    from mdx.cot.server import serve as run_server
    from mdx.node.pki import PkiError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = settings_of(config)
    if not (settings.cot.tcp_port or settings.cot.tls_port):
        raise typer.BadParameter("[cot] sets neither tcp_port nor tls_port", param_hint="--config")
    try:
        run_server(settings)
    except (PkiError, OSError) as e:
        console.print(f"the CoT server did not start: {e}", markup=False, style="red")
        raise typer.Exit(1) from None


# `mdx node run` starts every service as `mdx <service> run`.
cot_app.command("run", hidden=True)(serve)

"""`mdx conformance`: check a node against the common contract, as one of its partners."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mdx.conformance.report import exit_code, print_report, write_junit
from mdx.conformance.run import run_all
from mdx.conformance.target import MqttEndpoint, Target
from mdx.core import keys
from mdx.core.mqtt import Credentials

_NODE = r"^[a-z][a-z0-9-]{1,31}$"


def conformance(
    api: Annotated[str, typer.Option(help="The target's API, e.g. http://127.0.0.1:8101.")],
    target: Annotated[str, typer.Option(help="The target's node id, e.g. jcg.")],
    as_node: Annotated[
        str,
        typer.Option(
            "--as", help="The checking identity: a node registered as a partner at the target."
        ),
    ],
    key: Annotated[
        Path | None,
        typer.Option(help="The checking identity's Ed25519 private key (PEM): signs API reads."),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            envvar="MDX_CONFORMANCE_BROKER",
            help="A producer account on the target's broker, mqtt://NAME:PASSWORD@HOST:PORT "
            "(intake, releasability and replay checks; the password percent-encoded).",
        ),
    ] = None,
    tls_broker: Annotated[
        str | None,
        typer.Option(
            help="The target's TLS listener, mqtts://HOST:PORT, reached with --cert (share "
            "message checks)."
        ),
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option(help="The client certificate the target's CA issued to --as's bridge."),
    ] = None,
    cert_key: Annotated[Path | None, typer.Option(help="The key of --cert.")] = None,
    ca: Annotated[Path | None, typer.Option(help="The target's CA certificate.")] = None,
    target_key: Annotated[
        Path | None,
        typer.Option(help="The target's Ed25519 public key (PEM): checks what it signs."),
    ] = None,
    purposes: Annotated[
        str | None,
        typer.Option(
            help="The purposes --as is registered for at the target, comma-separated: adds "
            "a purpose case to the releasability checks."
        ),
    ] = None,
    viewer_token: Annotated[
        str | None,
        typer.Option(
            envvar="MDX_CONFORMANCE_VIEWER_TOKEN",
            help="A bearer token of a viewer account on the target: lets the kit see how "
            "often the target stored what the checking identity sent it (replay.share-dedupe).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each receipt or dead letter.")
    ] = 30.0,
    junit: Annotated[Path | None, typer.Option(help="Also write the results as JUnit XML.")] = None,
) -> None:
    """Check a node (ours or a partner's) against the common contract, as partner --as: intake
    of the contract's examples, releasability, signatures, replays, OGC API. A check whose
    credentials are not given is skipped with the reason. Exit 1 if any check fails.

    The kit writes on --as's share stream to the target: run it while --as's own node is not
    streaming to the target (docs/conformance.md)."""
    console = Console()
    for name, value in (("--target", target), ("--as", as_node)):
        if not re.fullmatch(_NODE, value):
            raise typer.BadParameter(f"{value!r} is not a node id", param_hint=name)
    try:
        # The TLS listener takes the identity from the certificate's CN (bridge-{as}).
        tls = Credentials(f"bridge-{as_node}", None, ca, cert, cert_key) if cert else None
        t = Target(
            node=target,
            me=as_node,
            api=api,
            key=keys.load_private(key) if key else None,
            target_key=keys.load_public(target_key) if target_key else None,
            producer=MqttEndpoint.parse(broker) if broker else None,
            partner=MqttEndpoint.parse(tls_broker, tls) if tls_broker else None,
            purposes=[p.strip() for p in purposes.split(",") if p.strip()] if purposes else None,
            viewer_token=viewer_token,
            timeout=timeout,
        )
    except (ValueError, keys.KeyError_) as e:
        console.print(f"mdx conformance: {e}", style="red", markup=False)
        raise typer.Exit(2) from None
    results = run_all(t)
    print_report(results, target, console)
    if junit is not None:
        write_junit(results, target, junit)
    raise typer.Exit(exit_code(results))

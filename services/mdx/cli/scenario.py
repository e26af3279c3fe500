"""`mdx scenario run`: scripted stories against the demo network or any configured nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mdx.scenario import model, network, report, runner

scenario_app = typer.Typer(
    help="Scenarios: scripted publishes and what must (or must not) be seen where, and when.",
    no_args_is_help=True,
)


@scenario_app.command("run")
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario files (YAML, docs/scenarios.md).")],
    network_file: Annotated[
        Path | None,
        typer.Option(
            "--network",
            help="The nodes and how to reach them (YAML); default: the demo network of make demo.",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Also write the results as JUnit XML here.")
    ] = None,
) -> None:
    """Run each scenario; a table per scenario, exit status 1 if any check failed."""
    console = Console()
    try:
        scenarios = [model.load(f) for f in files]
        nodes = network.load(network_file) if network_file else network.demo()
    except (model.ScenarioError, network.NetworkError) as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(2) from None
    outcomes = []
    for s in scenarios:
        console.print(f"[bold]{s.name}[/] (up to {s.deadline:g} s)")
        try:
            outcome = runner.run(s, nodes)
        except network.NetworkError as e:
            console.print(f"[red]{e}[/]")
            raise typer.Exit(2) from None
        report.print_outcome(console, outcome)
        outcomes.append(outcome)
    if junit:
        report.junit(outcomes, junit)
        console.print(f"wrote {junit}")
    failed = [o.scenario for o in outcomes if not o.passed]
    if failed:
        console.print(f"[red]{len(failed)} of {len(outcomes)} scenarios failed: {failed}[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(outcomes)} scenarios passed[/]")

"""`mdx bench`: benchmarks against a real node; figures to bench/results/ (JSON, Markdown, PNG)."""

from __future__ import annotations

import typer

from mdx.bench import ingest, queries

app = typer.Typer(
    help="Benchmarks against a real node, beside the machine's raw limits in the same run.",
    no_args_is_help=True,
)
app.command("ingest")(ingest.command)
app.command("queries")(queries.command)

"""A scenario run's report: a table on the terminal, and JUnit XML for CI (one testsuite per
scenario, one testcase per step and expectation; a failure carries what was seen)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from mdx.core import junit as junit_xml
from mdx.scenario.runner import Outcome


def table(outcome: Outcome) -> Table:
    verdict = "[green]passed[/]" if outcome.passed else "[red]FAILED[/]"
    t = Table(title=f"{outcome.scenario}: {verdict} in {outcome.seconds:.1f} s")
    t.add_column("check")
    t.add_column("result")
    t.add_column("at s", justify="right")
    t.add_column("detail", overflow="fold")
    for r in sorted(outcome.results, key=lambda r: r.seconds):
        t.add_row(
            r.name, "[green]pass[/]" if r.passed else "[red]FAIL[/]", f"{r.seconds:.1f}", r.detail
        )
    return t


def print_outcome(console: Console, outcome: Outcome) -> None:
    console.print(table(outcome))


def junit(outcomes: list[Outcome], path: Path) -> None:
    """One testsuite per scenario, one testcase per step and expectation."""
    junit_xml.write(
        path,
        [
            junit_xml.Suite(
                o.scenario,
                [
                    junit_xml.Case(
                        o.scenario, r.name, "pass" if r.passed else "fail", r.detail, r.seconds
                    )
                    for r in o.results
                ],
                o.seconds,
            )
            for o in outcomes
        ],
    )

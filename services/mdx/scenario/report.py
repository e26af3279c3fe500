"""A scenario run's report: a table on the terminal, and JUnit XML for CI (one testsuite per
scenario, one testcase per step and expectation; a failure carries what was seen)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

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
    suites = ET.Element("testsuites")
    for o in outcomes:
        failures = sum(not r.passed for r in o.results)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=o.scenario,
            tests=str(len(o.results)),
            failures=str(failures),
            errors="0",
            time=f"{o.seconds:.3f}",
        )
        for r in o.results:
            case = ET.SubElement(
                suite, "testcase", classname=o.scenario, name=r.name, time=f"{r.seconds:.3f}"
            )
            if r.passed:
                ET.SubElement(case, "system-out").text = r.detail
            else:
                ET.SubElement(case, "failure", message=r.detail[:500]).text = r.detail
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)

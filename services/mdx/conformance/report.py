"""Check results and the report: a rich table on the terminal, optionally JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mdx.core import junit


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Result:
    """One check's outcome and why, in one line (what was expected, what was seen)."""

    check: str  # e.g. intake.valid-examples
    status: Status
    reason: str


def passed(check: str, reason: str) -> Result:
    return Result(check, Status.PASS, reason)


def failed(check: str, reason: str) -> Result:
    return Result(check, Status.FAIL, reason)


def skipped(check: str, reason: str) -> Result:
    return Result(check, Status.SKIP, reason)


_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.SKIP: "yellow"}


def print_report(results: Sequence[Result], target: str, console: Console) -> None:
    table = Table(title=f"mdx conformance of {target}", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("why", overflow="fold")
    for r in results:
        table.add_row(r.check, f"[{_STYLE[r.status]}]{r.status}[/]", r.reason)
    console.print(table)
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    console.print(
        f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
        f"{counts[Status.SKIP]} skipped",
        style="bold red" if counts[Status.FAIL] else "bold green",
    )


def write_junit(results: Sequence[Result], target: str, path: Path) -> None:
    """One testcase per check (classname: its group), a skip or failure carrying its reason."""
    cases = [
        junit.Case(
            r.check.partition(".")[0],
            r.check.partition(".")[2] or r.check,
            r.status.value,
            r.reason,
        )
        for r in results
    ]
    junit.write(path, [junit.Suite(f"mdx-conformance-{target}", cases)])


def exit_code(results: Sequence[Result]) -> int:
    return 1 if any(r.status is Status.FAIL for r in results) else 0

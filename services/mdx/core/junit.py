"""JUnit XML, the report format CI systems read: the scenario runner's and the conformance
kit's results, one testsuite per run, one testcase per check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree as ET


@dataclass(frozen=True, slots=True)
class Case:
    classname: str
    name: str
    status: Literal["pass", "fail", "skip"]
    detail: str  # why it failed or was skipped; what was seen when it passed
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    cases: Sequence[Case]
    seconds: float = 0.0


def write(path: Path, suites: Sequence[Suite]) -> None:
    root = ET.Element("testsuites")
    for s in suites:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=s.name,
            tests=str(len(s.cases)),
            failures=str(sum(c.status == "fail" for c in s.cases)),
            skipped=str(sum(c.status == "skip" for c in s.cases)),
            errors="0",
            time=f"{s.seconds:.3f}",
        )
        for c in s.cases:
            case = ET.SubElement(
                suite, "testcase", classname=c.classname, name=c.name, time=f"{c.seconds:.3f}"
            )
            if c.status == "fail":
                ET.SubElement(case, "failure", message=c.detail[:500]).text = c.detail
            elif c.status == "skip":
                ET.SubElement(case, "skipped", message=c.detail[:500])
            else:
                ET.SubElement(case, "system-out").text = c.detail
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

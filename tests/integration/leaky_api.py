"""A deliberately broken node's api service, for the conformance kit's test: its releasability
policy lets every AMBER item out to every partner, whoever its `relto` names. Run as
`python -m tests.integration.leaky_api api run --config FILE` in place of `mdx api run`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from mdx.api import visibility
from mdx.core import policy

_tlp_withholds = policy._tlp_withholds
_released = visibility._released


def _leaky_tlp(item: policy.Marked, recipient: str, is_partner: bool) -> str | None:
    return None if item.tlp == "AMBER" else _tlp_withholds(item, recipient, is_partner)


def _leaky_released(table: Any, recipient: str, settings: Any) -> Any:
    return or_(_released(table, recipient, settings), table.c.tlp == "AMBER")


policy._tlp_withholds = _leaky_tlp
visibility._released = _leaky_released

if __name__ == "__main__":
    from mdx.cli.main import app

    app()

"""Who is asking, and what they may see: the one place every read passes through.

`visible` is the releasability policy (`mdx.core.policy.decide`) written as a SQL condition, so
lists, pagination and single reads filter in the database; `shown` then applies the policy's
redaction to each row that comes back. Pages PostgreSQL writes redact in SQL instead
(`redacted_for`, `personal_data`), and `check_shown` judges their rows' markings again by the
policy. This node's own accounts see everything it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Row,
    Select,
    String,
    and_,
    any_,
    false,
    func,
    literal,
    or_,
    true,
)

from mdx.core import policy
from mdx.core.policy import PERSONAL_FIELDS, Decision, Marked
from mdx.core.settings import NodeSettings

# A select and a row of any columns (SQLAlchemy 2.1 types them per column).
AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]
S = TypeVar("S", bound=AnySelect)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated party behind a request: one of this node's accounts (`node` None) or a
    partner node, with the settings of this node that the policy judges it by."""

    node: str | None = None
    settings: NodeSettings | None = None
    # The account name or the partner's node id (rate limits and the audit trail).
    subject: str = ""
    # viewer, operator, admin or partner (mdx.api.roles).
    role: str = "partner"
    # The access token's `jti`, for the audit trail (None for a partner's signed request).
    token_id: str | None = None
    # When the access token expires (Unix time; None for a partner's signed request).
    expires_at: float | None = None

    @property
    def local(self) -> bool:
        return self.node is None or (
            self.settings is not None and self.node == self.settings.node.id
        )


def policy_key(who: Caller) -> tuple[Any, ...]:
    """All that `visible` and `redacted_for` read of `who`: callers with equal keys are shown
    the same rows the same way (so SQL built for one serves the other)."""
    if who.local:
        return ("local",)
    if who.settings is None or who.node is None:
        return ("nobody",)
    partner = who.settings.partner(who.node)
    registered = (tuple(partner.purposes), partner.personal_data) if partner else None
    return ("partner", who.settings.node.id, who.node, registered)


def visible(query: S, table: FromClause, who: Caller) -> S:
    """`query` restricted to the rows of `table` that the policy releases to `who`."""
    if who.local:
        return query
    if who.settings is None or who.node is None or "tlp" not in table.c:
        # Nothing to judge by, or rows without markings (dead letters): a partner sees none.
        return query.where(false())
    return query.where(_released(table, who.node, who.settings))


def _released(table: FromClause, recipient: str, settings: NodeSettings) -> ColumnElement[bool]:
    """SQL for `policy.decide(row, recipient, settings) != WITHHOLD` (recipient not the holder);
    tests/integration/test_api_policy.py checks the two agree on every combination."""
    c = table.c
    partner = settings.partner(recipient)
    purpose_ok = or_(c.purpose.is_(None), c.purpose.in_(partner.purposes if partner else []))
    # Positions name no one; an incident does when its `persons` list is not empty.
    personal = personal_data(c) if "data" in c and "category" in c else false()
    reshare_ok = or_(
        c.origin == settings.node.id,
        and_(~personal, or_(c.purpose.is_(None), c.tlp == "CLEAR")),
    )
    return and_(
        c.origin != recipient,
        reshare_ok,
        or_(
            c.tlp == "CLEAR",  # public: no purpose restriction
            and_(c.tlp == "GREEN", true() if partner else false(), purpose_ok),
            and_(
                c.tlp == "AMBER",
                true() if partner else false(),
                literal(recipient, String) == any_(c.relto),
                purpose_ok,
            ),
        ),
    )


def shown(row: AnyRow, data: dict[str, Any], who: Caller) -> dict[str, Any]:
    """`data` of a row `visible` let through, redacted when the policy says so for `who`."""
    if who.local:
        return data
    if who.settings is None or who.node is None:
        raise RuntimeError("a partner caller without the node's settings")
    verdict = policy.decide(policy.marked_from_row(row), who.node, who.settings)
    if verdict.decision is Decision.WITHHOLD:
        # `visible` and `decide` disagree: a bug, and failing loudly is the only safe answer.
        raise RuntimeError(f"row released by SQL but withheld by policy ({verdict.rule})")
    return policy.redact(data) if verdict.decision is Decision.REDACT else data


def personal_data(c: Any) -> ColumnElement[bool]:
    """SQL for `policy.personal_data_of(row.data)` over the columns `c` of an incidents-like
    table: a personal field (a list) that is not empty."""
    return or_(
        *[func.coalesce(func.jsonb_array_length(c.data[name]), 0) > 0 for name in PERSONAL_FIELDS]
    )


def redacted_for(who: Caller) -> bool:
    """Whether the policy shows `who` an item with personal data without it (REDACT): for a
    partner not registered to receive personal data."""
    if who.local:
        return False
    partner = who.settings.partner(who.node) if who.settings and who.node else None
    return not (partner is not None and partner.personal_data)


def check_shown(rows: Sequence[AnyRow], who: Caller, redacted: bool | None) -> None:
    """Rows that `visible` released and SQL wrote for a partner (`redacted`: with personal data
    left out where the row's `personal` is true; None: no personal data shown at all), judged
    again by `policy.decide` on each distinct set of markings, as `shown` judges each row.
    A disagreement is a bug, and failing loudly is the only safe answer."""
    if who.local:
        return
    if who.settings is None or who.node is None:
        raise RuntimeError("a partner caller without the node's settings")
    judged: set[tuple[Any, ...]] = set()
    for row in rows:
        relto = tuple(row.relto or ())
        key = (row.origin, row.tlp, relto, row.purpose, row.personal)
        if key in judged:
            continue
        judged.add(key)
        marked = Marked(row.origin, row.tlp, relto, row.purpose, bool(row.personal))
        verdict = policy.decide(marked, who.node, who.settings)
        if verdict.decision is Decision.WITHHOLD:
            raise RuntimeError(f"row released by SQL but withheld by policy ({verdict.rule})")
        if redacted is not None and (verdict.decision is Decision.REDACT) != (
            redacted and bool(row.personal)
        ):
            raise RuntimeError(f"SQL redaction disagrees with the policy ({verdict.rule})")

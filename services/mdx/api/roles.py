"""Who may do what: the four roles of the API and what each allows.

This node's people have an account with one of `ACCOUNT_ROLES`; a partner node is always
`partner` (it authenticates with its node key, never with an account) and reads only what the
releasability policy releases to it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything this node holds
    OPERATOR = "operator"  # + reports incidents, changes their status, SAR steps
    ADMIN = "admin"  # + accounts and the audit trail
    PARTNER = "partner"  # a partner node: reads what the policy releases to it


ACCOUNT_ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
_WRITERS = frozenset({Role.OPERATOR, Role.ADMIN})


def may_write(role: str) -> bool:
    return role in _WRITERS


def may_administer(role: str) -> bool:
    return role == Role.ADMIN

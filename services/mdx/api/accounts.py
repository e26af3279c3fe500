"""Operator accounts (the `users` table): create, list, disable, and check a login.

Passwords are hashed with argon2id (argon2-cffi's defaults, the RFC 9106 second recommended
option); only the hash is stored. A login for a name that does not exist, is disabled or has
a wrong password costs the same argon2 work and gives the same answer, so neither the reply
nor its timing tells which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from mdx.api.roles import ACCOUNT_ROLES
from mdx.core.db import User

NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 12

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so an unknown name takes as long as a known one.
    return _hasher.hash("not a password of anyone: only here to spend the same time")


class AccountError(ValueError):
    """A name, role or password that cannot be accepted; the message says why."""


class AccountExists(AccountError):
    """`add` without `replace` for a name that is taken."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def check_new(name: str, role: str, password: str) -> None:
    if not NAME.match(name):
        raise AccountError(f"name {name!r}: 2-64 of a-z 0-9 . _ -, starting with a letter")
    if role not in ACCOUNT_ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ACCOUNT_ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")


def add(conn: Connection, name: str, role: str, password: str, *, replace: bool = False) -> None:
    """Create an account; with `replace`, an existing one gets this role and password and is
    enabled again. Raises AccountError for a bad value or (without `replace`) a taken name."""
    check_new(name, role, password)
    values = {"name": name, "role": role, "password_hash": _hasher.hash(password)}
    statement = insert(User).values(values)
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=[User.name],
            set_={"role": role, "password_hash": values["password_hash"], "disabled_at": None},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[User.name])
    # RETURNING, not rowcount: SQLAlchemy reports -1 for this statement.
    if conn.execute(statement.returning(User.name)).first() is None:
        raise AccountExists(f"account {name!r} exists")


def listing(conn: Connection) -> list[Account]:
    rows = conn.execute(select(*_COLUMNS).order_by(User.name)).all()
    return [Account(*row) for row in rows]


def disable(conn: Connection, name: str) -> bool:
    """Disable an account (its tokens stop working at once); False if there is no such one."""
    found = conn.execute(
        update(User)
        .where(User.name == name)
        .values(disabled_at=func.coalesce(User.disabled_at, func.now()))
        .returning(User.name)
    )
    return found.first() is not None


def find(conn: Connection, name: str) -> Account | None:
    row = conn.execute(select(*_COLUMNS).where(User.name == name)).first()
    return Account(*row) if row is not None else None


def active(conn: Connection, name: str) -> Account | None:
    """The account `name` if it exists and is enabled."""
    account = find(conn, name)
    return account if account is not None and account.active else None


def check_login(conn: Connection, name: str, password: str) -> Account | None:
    """The account, if `name` is an enabled account and `password` is its password."""
    # A name no account can have (NUL, say, which PostgreSQL refuses) is simply unknown.
    row = (
        conn.execute(select(*_COLUMNS, User.password_hash).where(User.name == name)).first()
        if NAME.match(name)
        else None
    )
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    account = Account(row.name, row.role, row.created_at, row.disabled_at)
    return account if account.active else None


_COLUMNS = (User.name, User.role, User.created_at, User.disabled_at)

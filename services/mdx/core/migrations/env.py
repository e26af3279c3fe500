"""Alembic environment: migrates the database named by the `sqlalchemy.url` option."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from mdx.core.db import Base

# PostGIS's own tables are not ours to manage.
_POSTGIS_TABLES = {"spatial_ref_sys"}


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "table" and name in _POSTGIS_TABLES)


def run() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=_include,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run()

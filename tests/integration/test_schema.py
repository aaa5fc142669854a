"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL: a
model changed without its migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from redress.db.models import TRIGRAM_INDEXES, Base


def _compared(name: str | None, kind: str, _parent: object) -> bool:
    # The trigram indexes depend on pg_trgm being available (migration 0016).
    return not (kind == "index" and name in TRIGRAM_INDEXES)


def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "include_name": _compared}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []

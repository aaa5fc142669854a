"""Alembic environment: migrates the database named by DATABASE_URL (or the -x url=...)."""

from __future__ import annotations

from alembic import context

from redress.db.models import Base
from redress.db.session import make_engine
from redress.settings import Settings

config = context.config


def _database_url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.attributes.get("database_url")
        or Settings.from_env().database_url
    )


def run_migrations_online() -> None:
    engine = make_engine(_database_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

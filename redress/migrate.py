"""Applies the Alembic migrations to a database, from code as well as from the command line."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from redress.settings import REPO_ROOT


def upgrade(database_url: str, revision: str = "head") -> None:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)

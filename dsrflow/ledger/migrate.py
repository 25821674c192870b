"""Bring a ledger database to the schema this version of dsrflow expects."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect

from dsrflow.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, bound to ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (a new database gets the whole schema).

    Raises:
        ConfigError: The database has ledger tables but no migration history (made by a
            pre-release dsrflow): it cannot be upgraded safely.
    """
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    if tables and "alembic_version" not in tables and "requests" in tables:
        raise ConfigError(
            f"ledger {engine.url.render_as_string(hide_password=True)} was created by a "
            "pre-release dsrflow without migrations; move it aside and start a new ledger"
        )
    with engine.begin() as conn:
        command.upgrade(config(conn), "head")

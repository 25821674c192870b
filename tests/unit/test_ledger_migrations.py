"""The ledger schema comes from migrations, and the migrations match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

import dsrflow.tlog.models  # noqa: F401 - the log tables are part of the schema
from dsrflow.errors import ConfigError
from dsrflow.ledger import Ledger
from dsrflow.ledger.models import Base


def test_migrations_produce_exactly_the_models(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    with ledger.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diff == [], "a model changed without a migration: add one (see docs/operations.md)"
    assert version == "0013"


def test_reopening_a_ledger_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url, migrate=True).audit("staff:ann", "view", "dsr-1")
    again = Ledger(url, migrate=True)
    assert again.upgraded is not None and again.upgraded.before == again.upgraded.after
    assert [e.action for e in Ledger(url).audit_entries()] == ["view"]


def test_transparency_log_tables_refuse_rewrites(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    with ledger.engine.begin() as conn:
        conn.execute(text("INSERT INTO tlog_leaves (idx, leaf, request_id, appended_at) "
                          "VALUES (0, x'00', 'r', '2026-01-01')"))  # fmt: skip
    for sql in ("UPDATE tlog_leaves SET request_id = 'x'", "DELETE FROM tlog_leaves"):
        with pytest.raises(DatabaseError, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(sql))


def test_pre_migration_ledger_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with create_engine(f"sqlite:///{path}").begin() as conn:
        conn.execute(text("CREATE TABLE requests (id TEXT PRIMARY KEY)"))
    with pytest.raises(ConfigError, match="pre-release dsrflow without migrations"):
        Ledger(f"sqlite:///{path}", migrate=True)

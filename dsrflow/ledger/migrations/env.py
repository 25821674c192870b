"""Alembic environment: runs on the connection the ledger hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

import dsrflow.tlog.models  # noqa: F401 - registers the transparency-log tables
from dsrflow.ledger.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

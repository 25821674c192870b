"""Adversarial: a driver error must not carry a person's name, whatever SQLSTATE it claims.

A PostgreSQL trigger's ``RAISE`` text is free text its author wrote. The redaction trusted the
primary message of every SQLSTATE in a "names objects only" class (42, 55, ...), and a trigger
may pick any of them with ``USING ERRCODE``: ``insufficient_privilege`` (42501) put the
customer's name in the store's error, hence in the ledger, the logs and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dsrflow.adapters.sdk import AdapterContext, AdapterError, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from tests.fixtures.databases import PG_ADMIN

CANARY = "Quentin Canaryfield"
SUBJECT = "quentin.c@example.org"


@pytest.fixture
def guarded(pg_schema: str, tmp_path: Path) -> Iterator[SqlAdapter]:
    engine = create_engine(PG_ADMIN)
    s = pg_schema
    with engine.begin() as conn:
        ddl = f'CREATE TABLE "{s}".customers (id int PRIMARY KEY, email text, name text)'
        conn.execute(text(ddl))
        conn.execute(
            text(
                f'CREATE FUNCTION "{s}".guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
                "RAISE EXCEPTION 'customer % is under legal hold', OLD.name "
                "USING ERRCODE = 'insufficient_privilege'; END $$"
            )
        )
        conn.execute(
            text(
                f'CREATE TRIGGER guard BEFORE DELETE ON "{s}".customers '
                f'FOR EACH ROW EXECUTE FUNCTION "{s}".guard()'
            )
        )
        conn.execute(
            text(f'INSERT INTO "{s}".customers VALUES (1, :e, :n)'), {"e": SUBJECT, "n": CANARY}
        )
    engine.dispose()
    cfg: dict[str, Any] = {
        "connection": {"url": PG_ADMIN.replace("+psycopg", ""), "schema": s},
        "collections": {"customers": {"identities": {"email": "email"}, "erase": "delete"}},
    }
    adapter = SqlAdapter.create(SqlConfig.model_validate(cfg), AdapterContext("shop", tmp_path, {}))
    yield adapter
    adapter.close()


def test_trigger_raise_with_a_trusted_sqlstate_does_not_leak_the_name(
    guarded: SqlAdapter,
) -> None:
    with pytest.raises(AdapterError) as caught:
        guarded.erase(Subject.of([Identity("email", SUBJECT)]))
    message = str(caught.value)
    assert "42501" in message  # the class and code are kept: a person can still act on it
    assert "Canaryfield" not in message
    assert "legal hold" not in message  # the trigger author's free text is dropped whole

"""Adversarial: PostgreSQL column types the residual sweep must search, not skip in silence.

``CREATE DOMAIN email AS citext CHECK (...)`` is the textbook way to type an e-mail column on
PostgreSQL. The sweep decided by the reflected type class alone, a DOMAIN is none of
String/Text/JSON/ARRAY, so the column was neither searched nor named in ``not_swept``: her
address in an unmapped table typed by a domain left the sweep clean.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from tests.fixtures.databases import PG_ADMIN

SUBJECT = "mia.park@example.org"
STORED = "Mia.Park@Example.org"

# table -> (DDL of its one column, the SQL that stores her address in it)
UNMAPPED = {
    "dom_varchar": ('e "{s}".email_v', ":v"),
    "dom_citext": ('e "{s}".email_ci', ":v"),
    "ci": ("e citext", ":v"),
    "padded": ("e char(60)", ":v"),
    "docs": ("doc jsonb", ":j"),
    "tags": ("t varchar(80)[]", "ARRAY[:v]"),
}


@pytest.fixture
def adapter(pg_schema: str, tmp_path: Path) -> Iterator[SqlAdapter]:
    s = pg_schema
    engine = create_engine(PG_ADMIN)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS citext"))
        conn.execute(text(f'CREATE DOMAIN "{s}".email_v AS varchar(120)'))
        conn.execute(text(f"CREATE DOMAIN \"{s}\".email_ci AS citext CHECK (VALUE LIKE '%@%')"))
        conn.execute(text(f'CREATE TABLE "{s}".customers (id int PRIMARY KEY, email text)'))
        conn.execute(text(f'INSERT INTO "{s}".customers VALUES (1, :v)'), {"v": SUBJECT})
        for table, (column, value) in UNMAPPED.items():
            conn.execute(
                text(f'CREATE TABLE "{s}".{table} (id int PRIMARY KEY, {column.format(s=s)})')
            )
            conn.execute(
                text(f'INSERT INTO "{s}".{table} VALUES (1, {value})'),
                {"v": STORED, "j": json.dumps({"email": STORED})},
            )
    engine.dispose()
    cfg = SqlConfig.model_validate(
        {
            "connection": {"url": PG_ADMIN.replace("+psycopg", ""), "schema": s},
            "collections": {"customers": {"identities": {"email": "email"}, "erase": "delete"}},
        }
    )
    a = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
    yield a
    a.close()


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_every_unmapped_text_like_column_is_a_hit_or_named(adapter: SqlAdapter) -> None:
    subject = Subject.of([Identity("email", SUBJECT)])
    assert adapter.erase(subject).affected == 1
    report = adapter.sweep(subject, SweepBudget())
    hit = {h.location.split(".")[0] for h in report.hits}
    skipped = {n.split(".")[0].split(":")[0] for n in report.not_swept}
    for table in UNMAPPED:
        assert table in hit or table in skipped, f"{table}: neither searched-and-hit nor named"
    assert {"dom_varchar", "dom_citext"} <= hit

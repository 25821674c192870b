"""Adversarial: a real store's table and column names must not break its own evidence.

The record schema allows sweep locations of printable ASCII without spaces, but the sweep
reports ``table.column`` as the database spells it. A PostgreSQL column ``"E-Mail Adresse"``
or a table ``käufer`` (legal identifiers, common in legacy schemas) made the erasure's record
fail the schema: the request completed, and its bundle could never verify.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from dsrflow.evidence.records import sweep_record
from dsrflow.evidence.schemas import SWEEP
from dsrflow.verify.schema import validate
from tests.fixtures.databases import PG_ADMIN

SUBJECT = "mia.park@example.org"


def test_sweep_locations_with_spaces_and_umlauts_fit_the_record_schema(
    pg_schema: str, tmp_path: Path
) -> None:
    s = pg_schema
    engine = create_engine(PG_ADMIN)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE "{s}".customers (id int PRIMARY KEY, email text)'))
        conn.execute(
            text(f'CREATE TABLE "{s}".kontakte (id int PRIMARY KEY, "E-Mail Adresse" text)')
        )
        conn.execute(text(f'CREATE TABLE "{s}"."käufer" (id int PRIMARY KEY, email varchar(80))'))
        conn.execute(text(f'INSERT INTO "{s}".customers VALUES (1, :v)'), {"v": SUBJECT})
        conn.execute(text(f'INSERT INTO "{s}"."käufer" VALUES (1, :v)'), {"v": SUBJECT})
    engine.dispose()
    cfg = SqlConfig.model_validate(
        {
            "connection": {"url": PG_ADMIN.replace("+psycopg", ""), "schema": s},
            "collections": {
                "customers": {"identities": {"email": "email"}, "erase": "delete"},
                "kaeufer": {
                    "table": "käufer",
                    "identities": {"email": "email"},
                    "erase": {"strategy": "keep", "basis": "Art. 17(3)(b): tax law"},
                },
            },
        }
    )
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
    try:
        subject = Subject.of([Identity("email", SUBJECT)])
        adapter.erase(subject)
        report = adapter.sweep(subject, SweepBudget())
    finally:
        adapter.close()
    assert "kontakte.E-Mail Adresse" in report.searched
    assert [x.location for x in report.excluded] == ["käufer.email"]
    rec = sweep_record(replace(report, checked_at=datetime.now(UTC)))
    validate(rec, SWEEP, {"$defs": {}})  # raised SchemaError: $.searched[...] not in the form
    # One-to-one: the names stay readable and distinct.
    assert "kontakte.E-Mail%20Adresse" in rec["searched"]
    assert rec["excluded"][0]["location"] == "k%C3%A4ufer.email"

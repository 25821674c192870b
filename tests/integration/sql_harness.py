"""A conformance harness for the SQL adapter on any of its three engines.

The schema is declared once with SQLAlchemy Core so the same tables exist on SQLite, PostgreSQL
and MariaDB: customers (identity, deleted), orders (anonymised: FK nulled, note HMAC'd), events
(deleted; the large subject lives here), invoices (kept for tax law).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
)

from dsrflow.adapters.sdk import AdapterContext, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.adapters.testing import Harness, Seeded
from dsrflow.domain import Identity

HMAC_ENV = "TEST_SQL_HMAC_KEY"


def schema(name: str | None) -> MetaData:
    meta = MetaData(schema=name)
    Table("customers", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("email", String(100)), Column("name", String(100)),
          Column("restricted", Boolean))  # fmt: skip
    Table("orders", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer, ForeignKey("customers.id")),
          Column("note", String(100)), Column("amount", Integer))  # fmt: skip
    Table("events", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer), Column("payload", String(100)))  # fmt: skip
    Table("invoices", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer), Column("total", Integer))  # fmt: skip
    return meta


COLLECTIONS: dict[str, Any] = {
    "customers": {
        "identities": {"email": "email"},
        "provides": {"id": "customer_id"},
        "erase": "delete",
        "rectify": {"full_name": "name"},
        "restrict": {"column": "restricted", "value": True},
    },
    "orders": {
        "references": {"customer_id": "customers.id"},
        "erase": {
            "strategy": "anonymize",
            "fields": {"customer_id": None, "note": {"hmac": {"key_env": HMAC_ENV}}},
        },
    },
    "events": {"references": {"customer_id": "customers.id"}, "erase": "delete"},
    "invoices": {
        "references": {"customer_id": "customers.id"},
        "erase": {"strategy": "keep", "basis": "Art. 17(3)(b): tax law", "until": "2036-12-31"},
    },
}


class SqlHarness(Harness):
    """Seeds subjects through SQLAlchemy Core on a URL the adapter also uses."""

    batch_size = 50
    rectify_changes = {"full_name": "Rectified Name"}

    def __init__(self, url: str, schema_name: str | None, base_dir: Path) -> None:
        self.url = url
        self.meta = schema(schema_name)
        self.engine = create_engine(url)
        self.meta.create_all(self.engine)
        self.ids = itertools.count(1)
        conn: dict[str, Any] = {"url": url.replace("+psycopg", "").replace("+pymysql", "")}
        if schema_name:
            conn["schema"] = schema_name
        cfg = SqlConfig.model_validate(
            {"connection": conn, "collections": COLLECTIONS, "batch_size": self.batch_size}
        )
        self.adapter = SqlAdapter.create(
            cfg, AdapterContext("conformance", base_dir, {HMAC_ENV: "test-key"})
        )

    def table(self, name: str) -> Table:
        return self.meta.tables[f"{self.meta.schema}.{name}" if self.meta.schema else name]

    def _customer(self, conn: Any, tag: str, marker: str) -> tuple[int, str]:
        cid = next(self.ids)
        email = f"{tag}-{cid}@example.com"
        conn.execute(insert(self.table("customers")).values(
            id=cid, email=email, name=f"Name {marker}", restricted=False))  # fmt: skip
        return cid, email

    def seed(self, tag: str) -> Seeded:
        seeded = Seeded(Subject({}), 0)
        marker = seeded.marker
        with self.engine.begin() as conn:
            cid, email = self._customer(conn, tag, marker)
            for _ in range(2):
                conn.execute(insert(self.table("orders")).values(
                    id=next(self.ids), customer_id=cid, note=marker, amount=5))  # fmt: skip
            conn.execute(insert(self.table("events")).values(
                id=next(self.ids), customer_id=cid, payload=marker))  # fmt: skip
            conn.execute(insert(self.table("invoices")).values(
                id=next(self.ids), customer_id=cid, total=10))  # fmt: skip
        subject = Subject.of([Identity("email", email), Identity("customer_id", str(cid))])
        # customer + 2 orders + event + invoice; after erasure only the kept invoice is found
        return Seeded(subject, records=5, kept=1, marker=marker)

    def seed_large(self, n: int) -> Seeded:
        seeded = Seeded(Subject({}), 0)
        with self.engine.begin() as conn:
            cid, email = self._customer(conn, "large", seeded.marker)
            first = next(self.ids)
            conn.execute(insert(self.table("events")), [
                {"id": first + i, "customer_id": cid, "payload": seeded.marker}
                for i in range(n)
            ])  # fmt: skip
            self.ids = itertools.count(first + n)
        subject = Subject.of([Identity("email", email), Identity("customer_id", str(cid))])
        return Seeded(subject, records=n + 1, marker=seeded.marker)

    def close(self) -> None:
        self.adapter.close()
        self.engine.dispose()

"""Plans that follow the database, pointer rules and the dry run, on real SQLite, PostgreSQL and
MariaDB (issue 8, items 4-6).

One shop on every engine: customers (with a self-reference, ``referrer_id``), orders and
addresses, each with a named foreign key to customers. Mia is the subject; Noah was referred by
her; Ola is unrelated. Every claim "nothing changed" compares a full dump of every table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from dsrflow.adapters.sdk import AdapterContext, PermanentAdapterError, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.catalog import yamlpos
from dsrflow.domain import Identity
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN, engines

DSRFLOW = [sys.executable, "-m", "dsrflow.cli.main"]
MIA = Subject.of([Identity("email", "mia@example.org")])

CUSTOMERS = {
    "identities": {"email": "email"},
    "provides": {"id": "customer_id"},
    "pointers": {"referrer_id": {"to": "customers.id", "set": None}},
    "erase": "delete",
}
ADDRESSES = {"references": {"customer_id": "customers.id"}, "erase": "delete"}
ORDERS = {"references": {"customer_id": "customers.id"}, "erase": "delete"}
# orders is missing: its foreign key blocks the delete of Mia's customer row.
UNDECLARED = {"customers": CUSTOMERS, "addresses": ADDRESSES}
DECLARED = {"customers": CUSTOMERS, "addresses": ADDRESSES, "orders": ORDERS}


def schema(name: str | None) -> MetaData:
    meta = MetaData(schema=name)
    prefix = f"{name}." if name else ""
    Table("customers", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("email", String(100)), Column("name", String(100)),
          Column("referrer_id", Integer),
          ForeignKeyConstraint(["referrer_id"], [f"{prefix}customers.id"],
                               name="fk_customers_referrer"))  # fmt: skip
    Table("orders", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer), Column("note", String(100)),
          ForeignKeyConstraint(["customer_id"], [f"{prefix}customers.id"],
                               name="fk_orders_customer"))  # fmt: skip
    Table("addresses", meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer), Column("line1", String(100)),
          ForeignKeyConstraint(["customer_id"], [f"{prefix}customers.id"],
                               name="fk_addresses_customer"))  # fmt: skip
    return meta


@dataclass
class Shop:
    url: str  # SQLAlchemy URL with the test driver
    schema: str | None
    meta: MetaData
    engine: Engine
    base: Path

    def table(self, name: str) -> Table:
        return self.meta.tables[f"{self.schema}.{name}" if self.schema else name]

    def connection(self) -> dict[str, Any]:
        conn: dict[str, Any] = {"url": self.url.replace("+psycopg", "").replace("+pymysql", "")}
        if self.schema:
            conn["schema"] = self.schema
        return conn

    def adapter(self, collections: dict) -> SqlAdapter:
        cfg = SqlConfig.model_validate(
            {"connection": self.connection(), "collections": collections}
        )
        return SqlAdapter.create(cfg, AdapterContext("shop", self.base, {}))

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table, in key order: equal dumps mean nothing changed."""
        with self.engine.connect() as conn:
            return {
                name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
                for name, t in sorted(self.meta.tables.items())
            }


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'shop.db'}", None
    elif request.param == "postgres":
        url, name = PG_ADMIN, request.getfixturevalue("pg_schema")
    else:
        db = request.getfixturevalue("mariadb_database")
        url, name = MARIADB_ADMIN.rsplit("/", 1)[0] + f"/{db}", None
    meta = schema(name)
    engine = create_engine(url)
    meta.create_all(engine)
    s = Shop(url, name, meta, engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(insert(s.table("customers")), [
            {"id": 1, "email": "mia@example.org", "name": "Mia", "referrer_id": None},
            {"id": 2, "email": "noah@example.net", "name": "Noah", "referrer_id": 1},
            {"id": 3, "email": "ola@example.com", "name": "Ola", "referrer_id": None},
        ])  # fmt: skip
        conn.execute(insert(s.table("orders")), [
            {"id": 10, "customer_id": 1, "note": "mia's"},
            {"id": 11, "customer_id": 2, "note": "noah's"},
        ])  # fmt: skip
        conn.execute(insert(s.table("addresses")), [
            {"id": 100, "customer_id": 1, "line1": "1 Mia Road"},
            {"id": 101, "customer_id": 3, "line1": "3 Ola Street"},
        ])  # fmt: skip
    yield s
    engine.dispose()


def test_undeclared_foreign_key_is_named_and_erasure_changes_nothing(shop: Shop) -> None:
    adapter = shop.adapter(UNDECLARED)
    report = adapter.check_connection()
    failed = [(c.name, c.detail) for c in report.checks if not c.ok]
    assert failed == [(
        "fk fk_orders_customer",
        "orders.customer_id -> customers.id blocks delete of customers "
        "(orders is not in the catalog)",
    )]  # fmt: skip
    before = shop.dump()
    with pytest.raises(PermanentAdapterError) as exc:
        adapter.erase(MIA)
    message = str(exc.value)
    assert "nothing was changed" in message and "fk_orders_customer" in message
    assert "1 row of orders points at the subject's customers rows" in message
    assert "mia" not in message.lower()
    assert shop.dump() == before  # not half-erased: addresses and the pointer are intact
    adapter.close()


def test_every_blocking_key_is_named_in_one_line(shop: Shop) -> None:
    """Without the pointer rule, Noah's referrer_id blocks too: both constraints, one line."""
    without_pointer = {k: v for k, v in CUSTOMERS.items() if k != "pointers"}
    adapter = shop.adapter({"customers": without_pointer, "addresses": ADDRESSES})
    before = shop.dump()
    with pytest.raises(PermanentAdapterError) as exc:
        adapter.erase(MIA)
    message = str(exc.value)
    assert "\n" not in message and message.count("FOREIGN KEY") == 2
    assert "fk_customers_referrer: customers.referrer_id -> customers.id blocks" in message
    assert "1 row of customers points at the subject's customers rows" in message
    assert "fk_orders_customer" in message
    assert shop.dump() == before
    adapter.close()


def test_cascade_into_an_uncovered_table_is_named_and_refused(shop: Shop) -> None:
    """visits cascades on delete of customers and is not in the catalog: a FAIL, and Mia's
    erasure (she has a visit) is refused rather than silently deleting uncounted rows."""
    prefix = f"{shop.schema}." if shop.schema else ""
    Table("visits", shop.meta, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("customer_id", Integer),
          ForeignKeyConstraint(["customer_id"], [f"{prefix}customers.id"],
                               name="fk_visits_customer", ondelete="CASCADE"))  # fmt: skip
    shop.meta.create_all(shop.engine)
    with shop.engine.begin() as conn:
        conn.execute(insert(shop.table("visits")).values(id=1, customer_id=1))
    adapter = shop.adapter(DECLARED)
    failed = [(c.name, c.detail) for c in adapter.check_connection().checks if not c.ok]
    assert failed == [(
        "fk fk_visits_customer",
        "visits.customer_id -> customers.id cascades (ON DELETE CASCADE) from customers into "
        "visits (visits is not in the catalog)",
    )]  # fmt: skip
    before = shop.dump()
    with pytest.raises(PermanentAdapterError, match="1 row of visits points at the subject's"):
        adapter.erase(MIA)
    assert shop.dump() == before
    adapter.close()


def test_declared_foreign_keys_order_the_erasure(shop: Shop) -> None:
    adapter = shop.adapter(DECLARED)
    report = adapter.check_connection()
    assert report.ok, report.checks
    [fks] = [c for c in report.checks if c.name == "foreign keys"]
    # the self-reference is covered by the pointer rule, the others by the declared references
    assert fks.detail.startswith("3 into the catalog's tables, each covered")
    order = adapter.plan().erase_order()
    assert order.index("orders") < order.index("customers")
    assert order.index("addresses") < order.index("customers")
    before = shop.dump()
    receipt = adapter.erase(MIA)
    counts = {
        c.collection: (c.action, c.matched, c.affected, c.residual) for c in receipt.collections
    }
    assert counts == {
        "customers.referrer_id": ("unlink", 1, 1, 0),
        "customers": ("delete", 1, 1, 0),
        "addresses": ("delete", 1, 1, 0),
        "orders": ("delete", 1, 1, 0),
    }
    assert receipt.matched == 3  # Noah's pointer row is not Mia's: not in the totals
    after = shop.dump()
    # Mia's rows are gone; Noah's row differs from before only in its pointer to her.
    assert after[_name(shop, "customers")] == [
        (2, "noah@example.net", "Noah", None),
        (3, "ola@example.com", "Ola", None),
    ]
    assert after[_name(shop, "orders")] == [r for r in before[_name(shop, "orders")] if r[0] != 10]
    assert after[_name(shop, "addresses")] == [
        r for r in before[_name(shop, "addresses")] if r[0] != 100
    ]
    assert adapter.verify(MIA).matched == 0
    adapter.close()


def test_her_own_rows_pointing_at_each_other_are_deleted_together(shop: Shop) -> None:
    """Mia's second account was referred by her first. Both go; only Noah's row is unlinked
    (InnoDB checks a self-reference row by row: the pointer between her rows is cleared first)."""
    with shop.engine.begin() as conn:
        conn.execute(insert(shop.table("customers")).values(
            id=4, email="mia@example.org", name="Mia 2", referrer_id=1))  # fmt: skip
    adapter = shop.adapter(DECLARED)
    receipt = adapter.erase(MIA)
    counts = {c.collection: (c.matched, c.affected) for c in receipt.collections}
    assert counts["customers.referrer_id"] == (1, 1) and counts["customers"] == (2, 2)
    assert shop.dump()[_name(shop, "customers")] == [
        (2, "noah@example.net", "Noah", None),
        (3, "ola@example.com", "Ola", None),
    ]
    adapter.close()


def test_pointer_rows_are_never_in_access(shop: Shop) -> None:
    adapter = shop.adapter(DECLARED)
    records = list(adapter.access(MIA))
    assert sorted((r.collection, r.data["id"]) for r in records) == [
        ("addresses", 100), ("customers", 1), ("orders", 10),
    ]  # fmt: skip
    assert all("noah" not in str(r.data.get("email", "")) for r in records)
    adapter.close()


def test_erase_dry_run_reports_and_rolls_back(shop: Shop) -> None:
    adapter = shop.adapter(DECLARED)
    before = shop.dump()
    assert adapter.supports_dry_run
    receipt = adapter.erase(MIA, dry_run=True)
    assert {c.collection: c.affected for c in receipt.collections} == {
        "customers.referrer_id": 1, "customers": 1, "addresses": 1, "orders": 1,
    }  # fmt: skip
    assert all(c.residual == 0 for c in receipt.collections)
    assert shop.dump() == before
    adapter.close()


@pytest.mark.parametrize("collections", [DECLARED, UNDECLARED], ids=["declared", "undeclared"])
def test_store_dry_run_changes_nothing(shop: Shop, collections: dict) -> None:
    adapter = shop.adapter(collections)
    before = shop.dump()
    report = adapter.dry_run_store(MIA, erase=True)
    assert report.resolved == ["customer_id (1 value)"]
    assert dict(report.access)["customers"] == 1
    if collections is DECLARED:
        assert report.refused is None and report.fk_problems == []
        assert {c.collection: c.affected for c in report.erase or []}["customers"] == 1
        assert any(s.startswith("DELETE FROM") for s in report.statements)
    else:
        assert report.erase is None and "fk_orders_customer" in (report.refused or "")
        assert report.fk_problems == [
            "fk fk_orders_customer: orders.customer_id -> customers.id blocks delete of "
            "customers (orders is not in the catalog)"
        ]
        assert not report.ok
    assert not any("mia@example.org" in s for s in report.statements)
    assert shop.dump() == before
    adapter.close()


def test_stores_test_cli_dry_run(shop: Shop) -> None:
    """The person's command: prints counts, the FK problem and statement shapes; changes nothing."""
    catalog = {"version": 1, "stores": {"shop": {
        "adapter": "sql", "connection": shop.connection(), "collections": UNDECLARED}}}  # fmt: skip
    (shop.base / "dsrflow.yaml").write_text(yamlpos.dump(catalog))
    before = shop.dump()
    env = {**os.environ, "DSRFLOW_STATE_DIR": str(shop.base),
           "DSRFLOW_CATALOG": str(shop.base / "dsrflow.yaml")}  # fmt: skip
    subprocess.run([*DSRFLOW, "ledger", "upgrade"], env=env, cwd=shop.base, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    r = subprocess.run(
        [*DSRFLOW, "stores", "test", "shop", "--subject", "email=Mia@Example.org", "--erase"],
        capture_output=True, text=True, env=env, cwd=shop.base, timeout=120,
    )  # fmt: skip
    output = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in output, output
    assert "FAIL shop: fk fk_orders_customer: orders.customer_id -> customers.id blocks" in output
    assert "access     customers: 1 row" in output and "access     addresses: 1 row" in output
    assert "FAIL erase: store 'shop': erasure refused, nothing was changed" in output
    assert "statements (templates, no values):" in output and "SELECT" in output
    assert "mia@example.org" not in output.lower() and "1 Mia Road" not in output
    assert shop.dump() == before


def _name(shop: Shop, table: str) -> str:
    return f"{shop.schema}.{table}" if shop.schema else table

"""The SQL adapter on SQLite files (no service needed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dsrflow.adapters.sdk import (
    AdapterContext,
    PermanentAdapterError,
    RetryableAdapterError,
    Subject,
)
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity


def make(tmp_path: Path, collections: dict, url: str = "sqlite:///db.sqlite", **conn) -> SqlAdapter:
    cfg = SqlConfig.model_validate({"connection": {"url": url, **conn}, "collections": collections})
    return SqlAdapter.create(cfg, AdapterContext("teststore", tmp_path, {}))


def subject(**kinds: str) -> Subject:
    return Subject.of([Identity(k, v) for k, v in kinds.items()])


@pytest.fixture
def shop(demo_dir: Path) -> SqlAdapter:
    import yaml

    raw = yaml.safe_load((demo_dir / "catalog.yaml").read_text())["stores"]["shop"]
    cfg = SqlConfig.model_validate({k: raw[k] for k in ("connection", "collections")})
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", demo_dir, {}))
    yield adapter
    adapter.close()


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_access_streams_every_reachable_row(shop: SqlAdapter) -> None:
    recs = list(shop.access(subject(email="alice@example.com")))
    by = {}
    for r in recs:
        by.setdefault(r.collection, []).append(r.data)
    assert [c["id"] for c in by["customers"]] == [1]
    assert sorted(o["id"] for o in by["orders"]) == [100, 101, 103]
    assert sorted((i["order_id"], i["line_no"]) for i in by["order_items"]) == [
        (100, 1), (100, 2), (101, 1), (103, 1),
    ]  # fmt: skip
    assert "alice" not in repr(recs[0])  # records never print their values


def test_resolve_identities(shop: SqlAdapter) -> None:
    assert shop.resolve_identities(subject(email="bob@example.com")) == [
        Identity("customer_id", "2")
    ]


def test_erase_verify_idempotent_and_others_untouched(shop: SqlAdapter, demo_dir: Path) -> None:
    db = demo_dir / "stores" / "shop.db"
    others = rows(db, "SELECT * FROM orders WHERE id NOT IN (100, 101, 103) ORDER BY id")
    alice = subject(email="alice@example.com", customer_id="1")
    receipt = shop.erase(alice)
    assert receipt.matched == 10 and receipt.affected == 6
    counts = {
        c.collection: (c.action, c.matched, c.affected, c.residual) for c in receipt.collections
    }
    assert counts == {
        "customers": ("delete", 1, 1, 0), "addresses": ("delete", 2, 2, 0),
        "orders": ("anonymize", 3, 3, 0), "order_items": ("keep", 4, 0, None),
    }  # fmt: skip
    assert shop.verify(alice).matched == 0
    assert rows(db, "SELECT customer_id, shipping_name FROM orders WHERE id = 100") == [
        (None, None)
    ]
    assert rows(db, "SELECT * FROM orders WHERE id NOT IN (100, 101, 103) ORDER BY id") == others
    again = shop.erase(alice)
    assert again.affected == 0 and shop.verify(alice).matched == 0
    assert receipt.operation_digest.startswith("sha256:")


def test_unknown_subject_matches_nothing(shop: SqlAdapter) -> None:
    nobody = subject(email="nobody@example.com")
    assert list(shop.access(nobody)) == []
    assert shop.erase(nobody).matched == 0


def test_verify_sees_residual(shop: SqlAdapter, demo_dir: Path) -> None:
    carol = subject(email="carol@example.com")
    assert shop.verify(carol).matched == 3  # customer, address, order
    shop.erase(carol)
    with sqlite3.connect(demo_dir / "stores" / "shop.db") as conn:
        conn.execute("INSERT INTO customers VALUES (9, 'carol@example.com', 'C', NULL, 'x', 0)")
    assert shop.verify(carol).matched == 1


FK_SCHEMA = """
CREATE TABLE address (id INTEGER PRIMARY KEY, street TEXT);
CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT,
                       address_id INTEGER REFERENCES address(id));
CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id INTEGER REFERENCES customer(id));
INSERT INTO address VALUES (1, 'one'), (2, 'two');
INSERT INTO customer VALUES (1, 'a@x.io', 1), (2, 'b@x.io', 2);
INSERT INTO orders VALUES ('o1', 1), ('o2', 2), ('o3', 1);
"""


def test_parent_holding_foreign_key_is_erased_first(tmp_path: Path) -> None:
    """customer.address_id -> address.id with a real FK: the customer row must go before the
    address, yet the address is found through the customer. Values are read up front."""
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(FK_SCHEMA)
    adapter = make(tmp_path, {
        "customer": {"identities": {"email": "email"}},
        "address": {"references": {"id": "customer.address_id"}},
        "orders": {"references": {"customer_id": "customer.id"}},
    })  # fmt: skip
    receipt = adapter.erase(subject(email="a@x.io"))
    assert {c.collection: c.affected for c in receipt.collections} == {
        "customer": 1, "address": 1, "orders": 2,
    }  # fmt: skip
    assert rows(tmp_path / "db.sqlite", "SELECT id FROM address") == [(2,)]
    assert rows(tmp_path / "db.sqlite", "SELECT id FROM orders") == [("o2",)]


def test_names_come_from_reflection_not_from_sql(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(FK_SCHEMA)
    adapter = make(tmp_path, {"evil": {"table": "customer; DROP TABLE orders; --",
                                       "identities": {"email": "email"}}})  # fmt: skip
    with pytest.raises(PermanentAdapterError, match="teststore"):
        adapter.erase(subject(email="a@x.io"))
    bad_col = make(tmp_path, {"customer": {"identities": {"email) OR 1=1 --": "email"}}})
    with pytest.raises(PermanentAdapterError, match="has no column"):
        list(bad_col.access(subject(email="a@x.io")))
    assert len(rows(tmp_path / "db.sqlite", "SELECT * FROM orders")) == 3


def test_check_connection_reports_each_check(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(FK_SCHEMA)
    ok = make(tmp_path, {"customer": {"identities": {"email": "email"}},
                         "orders": {"references": {"customer_id": "customer.id"}}}
              ).check_connection()  # fmt: skip
    assert ok.ok and [c.name for c in ok.checks] == [
        "connect", "schema", "foreign keys", "privileges:customer", "privileges:orders",
        "index:customer.email",
    ]  # fmt: skip
    # Without orders, its (unnamed) foreign key blocks the delete of customer rows.
    partial = make(tmp_path, {"customer": {"identities": {"email": "email"}}}).check_connection()
    assert not partial.ok and [(c.name, c.ok) for c in partial.checks if not c.ok] == [
        ("fk (unnamed)", False)
    ]
    missing = make(tmp_path, {"customers": {"identities": {"email": "email"}}}).check_connection()
    assert not missing.ok and "customers" in missing.checks[-1].detail


def test_unreachable_database_is_an_error_naming_the_store(tmp_path: Path) -> None:
    adapter = make(tmp_path, {"t": {"identities": {"email": "email"}}},
                   url="sqlite:///no/such/dir/db.sqlite")  # fmt: skip
    with pytest.raises((PermanentAdapterError, RetryableAdapterError), match="teststore"):
        list(adapter.access(subject(email="a@x.io")))


def test_error_messages_carry_no_personal_data(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE);"
                           "CREATE TABLE u (t_id INTEGER NOT NULL REFERENCES t(id), note TEXT);"
                           "INSERT INTO t VALUES (1, 'secret.person@x.io');"
                           "INSERT INTO u VALUES (1, 'n');")  # fmt: skip
    # u references t but the catalog forgot u: deleting t violates the FK.
    adapter = make(tmp_path, {"t": {"identities": {"email": "email"}}})
    with pytest.raises(PermanentAdapterError) as exc:
        adapter.erase(subject(email="secret.person@x.io"))
    assert "secret.person" not in str(exc.value) and "FOREIGN KEY" in str(exc.value)
    assert rows(tmp_path / "db.sqlite", "SELECT count(*) FROM t") == [(1,)]  # rolled back


def test_check_connection_names_every_broken_collection(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(FK_SCHEMA)
    report = make(tmp_path, {
        "customer": {"identities": {"email": "email", "phone": "phone"}},
        "gone": {"identities": {"email": "email"}},
        "orders": {"references": {"customer_id": "customer.id"}},
    }).check_connection()  # fmt: skip
    by = {c.name: (c.ok, c.detail) for c in report.checks}
    assert by["schema:customer"] == (False, "store 'teststore': collection customer: table "
                                            "customer has no column 'phone'")  # fmt: skip
    assert not by["schema:gone"][0] and "gone" in by["schema:gone"][1]
    assert by["schema:orders"][0]

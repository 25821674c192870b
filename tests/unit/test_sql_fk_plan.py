"""SQL catalog rules and plans on SQLite files (no service): pointer rules, foreign-key checks,
widening references, and the item-9 regressions (issue 8)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import AdapterContext, PermanentAdapterError, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.catalog import load_catalog, yamlpos
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import Identity
from dsrflow.errors import ConfigError

SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT,
                        referrer_id INTEGER REFERENCES customers(id));
CREATE TABLE visits (id INTEGER PRIMARY KEY,
                     customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                     shipping_address_id INTEGER, note TEXT);
CREATE TABLE addresses (id INTEGER PRIMARY KEY, line1 TEXT);
CREATE TABLE gift_cards (id INTEGER PRIMARY KEY, buyer TEXT,
                         recipient_id INTEGER REFERENCES customers(id));
INSERT INTO customers VALUES (1, 'mia@example.org', 'Mia', NULL),
                             (2, NULL, 'Noah', 1),
                             (3, 'ola@example.com', 'Ola', 1);
INSERT INTO orders VALUES (10, 1, 100, 'x'), (11, 3, 100, 'y');
INSERT INTO addresses VALUES (100, 'shared street');
INSERT INTO gift_cards VALUES (7, 'someone', 1);
"""
MIA = Subject.of([Identity("email", "mia@example.org")])
CUSTOMERS = {"identities": {"email": "email"}, "erase": "delete",
             "pointers": {"referrer_id": {"to": "customers.id", "set": None}}}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(SCHEMA)
    return tmp_path / "db.sqlite"


def make(tmp_path: Path, collections: dict) -> SqlAdapter:
    cfg = SqlConfig.model_validate(
        {"connection": {"url": "sqlite:///db.sqlite"}, "collections": collections}
    )
    return SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


CATALOG = """\
version: 1
stores:
  shop:
    adapter: sql
    connection: {{url: "sqlite:///db.sqlite"}}
    collections:
      customers:
        identities: {{email: email}}
{extra}
"""


def load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "dsrflow.yaml"
    path.write_text(CATALOG.format(extra=extra))
    return load_catalog(path, AdapterRegistry.from_entry_points())


def errors(tmp_path: Path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, extra)
    return str(exc.value).splitlines()


# -- item 9 regressions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("keep", "'keep' needs a legal basis: write {strategy: keep, basis: ...}"),
        ("shred", "erase must be 'delete', or a mapping {strategy: delete | anonymize | keep"),
        ("anonymize", "'anonymize' needs fields: write {strategy: anonymize, fields: ...}"),
    ],
)
def test_erase_shorthand_says_what_is_allowed(tmp_path: Path, value: str, expected: str) -> None:
    [line] = errors(tmp_path, f"        erase: {value}")
    assert line.startswith(f"{tmp_path / 'dsrflow.yaml'}:9: stores.shop.collections.customers")
    assert expected in line and "EraseSpec" not in line


def test_postgres_scheme_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "dsrflow.yaml"
    path.write_text(CATALOG.format(extra="").replace("sqlite:///db.sqlite", "postgres://u@h/db"))
    with pytest.raises(ConfigError, match=r"dsrflow.yaml:5: stores.shop.connection: .*use "
                       r"postgresql:// \(SQLAlchemy does not accept postgres://\)"):  # fmt: skip
        load_catalog(path, AdapterRegistry.from_entry_points())


def test_postgres_scheme_in_url_env_is_refused_with_the_fix(tmp_path: Path) -> None:
    cfg = SqlConfig.model_validate(
        {
            "connection": {"url_env": "SHOP_URL"},
            "collections": {"t": {"identities": {"email": "email"}}},
        }
    )
    env = {"SHOP_URL": "postgres://u@127.0.0.1:1/db"}
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, env))
    with pytest.raises(PermanentAdapterError, match="store 'shop': connection URL: use postgresql"):
        list(adapter.access(MIA))


def test_basis_and_until_of_anonymize_reach_the_receipt(db: Path) -> None:
    adapter = make(db.parent, {
        "customers": {"identities": {"email": "email"}, "erase": {
            "strategy": "anonymize", "fields": {"name": None, "email": None},
            "basis": "Art. 17(3)(b): tax law", "until": "2034-12-31"}},
    })  # fmt: skip
    [count] = adapter.erase(MIA).collections
    assert (count.action, count.basis, count.until) == (
        "anonymize",
        "Art. 17(3)(b): tax law",
        "2034-12-31",
    )


def test_basis_on_delete_is_refused(tmp_path: Path) -> None:
    [line] = errors(tmp_path, "        erase: {strategy: delete, basis: x}")
    assert "'basis' and 'until' apply to strategies 'keep' and 'anonymize'" in line


def test_parent_column_typo_is_blamed_on_the_referencing_collection(
    db: Path, tmp_path: Path
) -> None:
    cat = load(tmp_path, "      orders:\n        references: {customer_id: customers.idd}")
    pool = AdapterPool(cat, AdapterRegistry.from_entry_points(), {})  # type: ignore[arg-type]
    by = {c.name: c for c in pool.get("shop").check_connection().checks}
    pool.close()
    assert by["schema:customers"].ok
    assert not by["schema:orders"].ok
    assert by["schema:orders"].detail == (
        f"{tmp_path / 'dsrflow.yaml'}:10: store 'shop': collection orders: reference "
        "customer_id -> customers.idd: table customers has no column 'idd'"
    )


def test_online_column_error_names_the_catalog_line(db: Path, tmp_path: Path) -> None:
    cat = load(tmp_path, "      orders:\n        references: {customer_id: customers.id}\n"
                         "        erase: {strategy: anonymize, fields: {notes: null}}")  # fmt: skip
    pool = AdapterPool(cat, AdapterRegistry.from_entry_points(), {})  # type: ignore[arg-type]
    with pytest.raises(PermanentAdapterError) as exc:
        pool.get("shop").erase(MIA)
    pool.close()
    assert str(exc.value).startswith(f"{tmp_path / 'dsrflow.yaml'}:11: store 'shop': collection")
    assert "table orders has no column 'notes'" in str(exc.value)


def test_column_spelled_two_ways_is_refused_offline(tmp_path: Path) -> None:
    # Alone, 'ID' cannot be checked offline (the table may spell it so): it loads.
    load(tmp_path, "      orders:\n        references: {customer_id: customers.ID}")
    [line] = errors(tmp_path, "        provides: {id: customer_id}\n      orders:\n"
                              "        references: {customer_id: customers.ID}")  # fmt: skip
    assert (
        "collection orders: column 'ID' of table customers is spelled 'id' in collection "
        "customers; names must match the table's exactly" in line
    )


def test_padded_column_name_is_refused_offline(tmp_path: Path) -> None:
    [line] = errors(tmp_path, '        provides: {"id ": customer_id}')
    assert "stores.shop.collections.customers" in line and "spaces at its ends" in line


def test_stores_test_counts_tables_not_collections(db: Path) -> None:
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "customer_names": {"table": "customers", "identities": {"email": "email"},
                           "erase": {"strategy": "anonymize", "fields": {"name": None}}},
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"references": {"customer_id": "customers.id"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    })  # fmt: skip
    by = {c.name: c for c in adapter.check_connection().checks}
    assert by["schema"].detail == "5 collections on 4 tables, declared columns exist"
    assert by["privileges:gifts"].detail == "unlink recipient_id"  # no DELETE needed


# -- pointer rules ---------------------------------------------------------------------------


def test_pointer_rules_are_validated(tmp_path: Path) -> None:
    [line] = errors(tmp_path, "        pointers: {referrer_id: {to: clients.id}}")
    assert "pointer referrer_id -> unknown 'clients'" in line
    [line] = errors(tmp_path, "        pointers: {referrer_id: {to: customers}}")
    assert "'to': 'customers' must be 'collection.column'" in line
    [line] = errors(tmp_path, "        pointers: {referrer_id: {to: customers.id, value: 0}}")
    assert "pointers.referrer_id.value: unknown field" in line
    [line] = errors(tmp_path, "      orders:\n        references: {customer_id: customers.id}\n"
                              "        pointers: {customer_id: {to: customers.id}}")  # fmt: skip
    assert "column customer_id is both a reference" in line


def test_pointer_rows_of_others_are_unlinked_not_erased(db: Path) -> None:
    """Noah (NULL e-mail) and Ola point at Mia; a gift card's recipient is Mia. Their rows lose
    only the pointer; none is in her access, none counts as hers."""
    before = rows(db, "SELECT id, email, name FROM customers WHERE id != 1")
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"references": {"customer_id": "customers.id"},
                   "erase": {"strategy": "anonymize", "fields": {"customer_id": None}}},
        "gifts": {"table": "gift_cards",
                  "pointers": {"recipient_id": {"to": "customers.id", "set": 0}}},
    })  # fmt: skip
    assert sorted(r.collection for r in adapter.access(MIA)) == ["customers", "orders"]
    with sqlite3.connect(db) as conn:  # a re-point target that satisfies the foreign key
        conn.execute("INSERT INTO customers VALUES (0, NULL, 'deleted customer', NULL)")
    receipt = adapter.erase(MIA)
    counts = {c.collection: (c.action, c.matched, c.affected) for c in receipt.collections}
    assert counts["customers.referrer_id"] == ("unlink", 2, 2)
    assert counts["gifts.recipient_id"] == ("unlink", 1, 1)
    assert "gifts" not in counts  # a pointer-only collection is never erased
    assert receipt.matched == 2  # her customer row and her order
    assert rows(db, "SELECT referrer_id FROM customers WHERE id IN (2, 3)") == [(None,), (None,)]
    assert rows(db, "SELECT id, email, name FROM customers WHERE id NOT IN (0, 1)") == before
    assert rows(db, "SELECT buyer, recipient_id FROM gift_cards") == [("someone", 0)]


# -- foreign keys ------------------------------------------------------------------------------


def test_cascade_into_uncovered_table_is_a_failure_and_refused_when_it_would_fire(
    db: Path,
) -> None:
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "orders": {"references": {"customer_id": "customers.id"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    })  # fmt: skip
    failed = [c.detail for c in adapter.check_connection().checks if not c.ok]
    assert failed == [
        "visits.customer_id -> customers.id cascades (ON DELETE CASCADE) from customers into "
        "visits (visits is not in the catalog)"
    ]
    ola = Subject.of([Identity("email", "ola@example.com")])
    adapter.erase(ola)  # she has no visits: nothing would cascade, her erasure runs
    assert rows(db, "SELECT id FROM customers") == [(1,), (2,)]
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO visits VALUES (5, 1)")
    before = dump(db)
    with pytest.raises(PermanentAdapterError, match="1 row of visits points at the subject's"):
        adapter.erase(MIA)
    assert dump(db) == before


def test_kept_child_without_clearing_its_key_blocks(db: Path) -> None:
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"references": {"customer_id": "customers.id"},
                   "erase": {"strategy": "keep", "basis": "Art. 17(3)(b)"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    })  # fmt: skip
    failed = [(c.name, c.detail) for c in adapter.check_connection().checks if not c.ok]
    assert failed == [("fk (unnamed)", "orders.customer_id -> customers.id blocks delete of "
                       "customers (orders keeps its rows and their customer_id)")]  # fmt: skip


def test_child_found_otherwise_than_through_the_key_is_a_failure(db: Path) -> None:
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"identities": {"note": "email"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    })  # fmt: skip
    failed = [c.detail for c in adapter.check_connection().checks if not c.ok]
    assert failed == [
        "orders.customer_id -> customers.id blocks delete of customers (orders is not found "
        "through customer_id -> customers.id: rows that point at the subject's customers rows "
        "without matching her otherwise would be left pointing)"
    ]
    before = dump(db)
    with pytest.raises(PermanentAdapterError, match="1 row of orders points at the subject's"):
        adapter.erase(MIA)  # order 10 is hers by customer_id, but its note is no e-mail of hers
    assert dump(db) == before


def test_reference_through_a_shared_pointer_is_flagged(db: Path) -> None:
    adapter = make(db.parent, {
        "customers": CUSTOMERS,
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"references": {"customer_id": "customers.id"},
                   "erase": {"strategy": "anonymize", "fields": {"customer_id": None}}},
        "addresses": {"references": {"id": "orders.shipping_address_id"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    })  # fmt: skip
    report = adapter.check_connection()
    assert report.ok
    [warn] = [c for c in report.checks if c.warning]
    assert warn.name == "reference addresses.id"
    assert warn.detail.startswith(
        "addresses.id = orders.shipping_address_id widens matching: orders.shipping_address_id "
        "is not unique, so other people's orders rows can point at the same addresses row"
    )
    # For Mia: her order's address 100 is Ola's delivery address too.
    before = dump(db)
    dry = adapter.dry_run_store(MIA, erase=False)
    assert dry.shared == [
        "reference addresses.id: 1 addresses row of the subject's also pointed at by other "
        "people's orders rows"
    ]
    assert dump(db) == before


def test_foreign_key_cycle_is_reported(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.executescript(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, email TEXT, b_id INTEGER REFERENCES b(id));"
            "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));"
        )
    adapter = make(tmp_path, {"a": {"identities": {"email": "email"}},
                              "b": {"references": {"a_id": "a.id"}}})  # fmt: skip
    by = {c.name: c for c in adapter.check_connection().checks}
    assert not by["erase order"].ok and "no erasure order satisfies the foreign keys" in (
        by["erase order"].detail
    )


def test_stores_test_prints_warn_and_passes(db: Path) -> None:
    """Through the CLI: a widening reference is a WARN line, not a failure."""
    from tests.fixtures.cli import invoke

    collections = {
        "customers": CUSTOMERS,
        "visits": {"references": {"customer_id": "customers.id"}},
        "orders": {"references": {"customer_id": "customers.id"},
                   "erase": {"strategy": "anonymize", "fields": {"customer_id": None}}},
        "addresses": {"references": {"id": "orders.shipping_address_id"}},
        "gifts": {"table": "gift_cards", "pointers": {"recipient_id": {"to": "customers.id"}}},
    }  # fmt: skip
    catalog = {"version": 1, "stores": {"shop": {
        "adapter": "sql", "connection": {"url": "sqlite:///db.sqlite"},
        "collections": collections}}}  # fmt: skip
    (db.parent / "dsrflow.yaml").write_text(yamlpos.dump(catalog))
    env = {"DSRFLOW_STATE_DIR": str(db.parent), "DSRFLOW_CATALOG": str(db.parent / "dsrflow.yaml")}
    assert invoke("ledger", "upgrade", env=env).returncode == 0
    before = dump(db)
    r = invoke("stores", "test", "shop", "--subject", "email=mia@example.org", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARN shop: reference addresses.id: addresses.id = orders.shipping_address_id" in (
        r.stdout
    )
    assert "WARN reference addresses.id: 1 addresses row of the subject's also pointed at" in (
        r.stdout
    )
    assert "FAIL" not in r.stdout and "mia@" not in r.stdout
    assert dump(db) == before


def test_an_outage_while_reading_the_schema_stays_retryable(tmp_path: Path) -> None:
    """Schema problems are permanent; a store that is down is not (its erasure is retried)."""
    from dsrflow.adapters.sdk import RetryableAdapterError

    cfg = SqlConfig.model_validate(
        {
            "connection": {"url": "postgresql://u@127.0.0.1:1/db"},
            "collections": {"t": {"identities": {"email": "email"}}},
        }
    )
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
    with pytest.raises(RetryableAdapterError, match="store 'shop'"):
        adapter.erase(MIA)

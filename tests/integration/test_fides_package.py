"""Must show (issue 12): the access package for ``customer-1@example.com`` over the Fides sample
data set in PostgreSQL holds exactly her rows of every table reachable from her (the golden is
derived by SQL here, independently of the adapter), nothing of any other subject, and the
processing information imported from the Fides dataset's ``data_categories``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import Subject
from dsrflow.artifacts import ArtifactStore, _json_default
from dsrflow.catalog import load_catalog
from dsrflow.catalog.fides import import_fides, render, sql_reflector
from dsrflow.catalog.pool import AdapterPool
from dsrflow.crypto.keystore import KeyStore
from dsrflow.domain import Identity
from dsrflow.ledger import Ledger
from tests.fixtures.packages import open_package, package_json
from tests.integration.test_fides_sample import SAMPLE, load_postgres

pytestmark = pytest.mark.postgres

EMAIL = "customer-1@example.com"
DATASET = SAMPLE / "postgres_example_test_dataset.yml"

# Her rows, following the dataset's identities and references as the Fides graph does: the
# identity tables by e-mail, the tables referencing customer.id from her customer row, order
# items from her orders, products from those items, and every address her customer row, her
# orders (shipping) and her cards (billing) point to. Address 2 is Jill's home, where John
# shipped an order: it is reachable from him, so it is his shipping address in the package.
GOLDEN_SQL = {
    "customer": "SELECT * FROM customer WHERE email = :e",
    "employee": "SELECT * FROM employee WHERE email = :e",
    "report": "SELECT * FROM report WHERE email = :e",
    "visit": "SELECT * FROM visit WHERE email = :e",
    "service_request": """SELECT * FROM service_request WHERE email = :e OR alt_email = :e
        OR employee_id IN (SELECT id FROM employee WHERE email = :e)""",
    "login": "SELECT * FROM login WHERE customer_id IN (SELECT id FROM customer WHERE email = :e)",
    "orders": "SELECT * FROM orders WHERE customer_id IN "
              "(SELECT id FROM customer WHERE email = :e)",
    "payment_card": "SELECT * FROM payment_card WHERE customer_id IN "
                    "(SELECT id FROM customer WHERE email = :e)",
    "order_item": """SELECT * FROM order_item WHERE order_id IN (SELECT o.id FROM orders o
        JOIN customer c ON c.id = o.customer_id WHERE c.email = :e)""",
    "product": """SELECT * FROM product WHERE id IN (SELECT i.product_id FROM order_item i
        JOIN orders o ON o.id = i.order_id JOIN customer c ON c.id = o.customer_id
        WHERE c.email = :e)""",
    "address": """SELECT * FROM address WHERE
        id IN (SELECT address_id FROM customer WHERE email = :e)
        OR id IN (SELECT address_id FROM employee WHERE email = :e)
        OR id IN (SELECT o.shipping_address_id FROM orders o JOIN customer c
                  ON c.id = o.customer_id WHERE c.email = :e)
        OR id IN (SELECT p.billing_address_id FROM payment_card p JOIN customer c
                  ON c.id = p.customer_id WHERE c.email = :e)""",
}  # fmt: skip

# Other people's identifiers and names, from every table that holds them.
OTHERS_SQL = """
SELECT email FROM customer WHERE email <> :e UNION SELECT name FROM customer WHERE email <> :e
UNION SELECT email FROM employee UNION SELECT name FROM employee
UNION SELECT email FROM visit WHERE email <> :e UNION SELECT email FROM report
UNION SELECT email FROM service_request WHERE email <> :e
"""


def as_json(row: dict[str, Any]) -> str:
    """A row as the package writes it (dates ISO, decimals as text), canonical."""
    return json.dumps(json.loads(json.dumps(row, default=_json_default)), sort_keys=True)


def golden(url: str) -> tuple[dict[str, list[str]], set[str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        want = {}
        for table, sql in GOLDEN_SQL.items():
            rows = [as_json(dict(r._mapping)) for r in conn.execute(text(sql), {"e": EMAIL})]
            if rows:
                want[table] = sorted(rows)
        others = {r[0] for r in conn.execute(text(OTHERS_SQL), {"e": EMAIL}) if r[0]}
    engine.dispose()
    return want, others


@pytest.fixture
def package(pg_database: str, tmp_path: Path) -> tuple[zipfile.ZipFile, str]:
    url = load_postgres(pg_database)
    plain = url.replace("+psycopg", "")
    conn = {"url": plain}
    reflect = sql_reflector("shop", conn, {}, tmp_path)
    data, notes = import_fides(DATASET, conn, "shop", reflect)
    (tmp_path / "dsrflow.yaml").write_text(render(data, DATASET.name, notes))
    registry = AdapterRegistry.from_entry_points()
    catalog = load_catalog(tmp_path / "dsrflow.yaml", registry)
    pool = AdapterPool(catalog, registry, {})
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    artifacts = ArtifactStore(tmp_path / "artifacts", KeyStore(ledger, b"k" * 32))
    try:
        records = pool.get("shop").access(Subject.of([Identity("email", EMAIL)]))
        sheet = catalog.stores["shop"].common.processing.sheet()
        n = artifacts.stage_records("fides-1", "shop", records, sheet=sheet)
        manifest = {"request_id": "fides-1", "request_type": "access",
                    "stores": {"shop": {"status": "done", "records": n}}}  # fmt: skip
        path = artifacts.assemble_package("fides-1", {"shop": n}, manifest)
        yield open_package(artifacts, path), url
    finally:
        pool.close()
        ledger.close()


def test_customer_1_package_holds_exactly_her_rows_and_the_fides_categories(
    package: tuple[zipfile.ZipFile, str],
) -> None:
    zf, url = package
    want, others = golden(url)
    data = package_json(zf)  # schema-valid
    (shop,) = data["stores"]
    got = {c["collection"]: sorted(as_json(r) for r in c["records"]) for c in shop["collections"]}
    assert got.keys() == want.keys()
    for table in want:  # table by table, so a failure names the table
        assert got[table] == want[table], table
    assert set(want) >= {"customer", "address", "orders", "order_item", "login", "visit"}

    everything = "".join(zf.read(n).decode() for n in zf.namelist())
    assert EMAIL in everything
    leaked = sorted(o for o in others if o in everything)
    assert not leaked, f"other subjects' data in the package: {leaked}"
    assert len(others) >= 8  # the check had something to find

    fides = yaml.safe_load(DATASET.read_text())["dataset"][0]["collections"]
    for coll in shop["collections"]:
        spec = next(c for c in fides if c["name"] == coll["collection"])
        fields = {f["name"]: f["data_categories"] for f in spec["fields"]
                  if f.get("data_categories")}  # fmt: skip
        assert coll["processing"]["field_categories"] == fields, coll["collection"]
        cats = sorted({c for cs in fields.values() for c in cs})
        assert coll["processing"]["data_categories"] == cats
    index = zf.read("report/index.html").decode()
    assert "user.contact.email" in index and "user.financial" in everything

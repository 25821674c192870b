"""The Fides sample data set, imported with `dsrflow catalog import-fides`, on real PostgreSQL and
MariaDB: access returns every row reachable from the subject, erasure changes exactly those rows
per the imported policy, and every other row of every table (dataset or not) stays as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select, text

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import Subject
from dsrflow.catalog import load_catalog
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import Identity
from tests.fixtures.databases import engines

SAMPLE = Path(__file__).parent.parent / "fixtures" / "fides_sample"
DSRFLOW = [sys.executable, "-m", "dsrflow.cli.main"]

# Rows reachable from each subject through the dataset's identities and references, by key.
CUSTOMER_1 = {
    "address": {(1,), (2,)},  # her home and billing address, and address 2 she shipped an order to
    "customer": {(1,)},
    "login": {(i,) for i in range(1, 7)},
    "orders": {("ord_aaa-aaa",), ("ord_ccc-ccc",), ("ord_ddd-ddd",)},
    "order_item": {("ord_aaa-aaa", 1), ("ord_ccc-ccc", 1), ("ord_ccc-ccc", 2), ("ord_ddd-ddd", 1)},
    "payment_card": {("pay_aaa-aaa",)},
    "product": {(1,), (2,)},
    "service_request": {("ser_aaa-aaa",)},
    "visit": {("customer-1@example.com",)},
}
JANE_PG = {
    "address": {(4,)},
    "customer": {(3,)},
    "login": {(8,)},
    "orders": {("ord_ddd-eee",)},
    "payment_card": {("pay_ccc-ccc",)},
}
KEY_WIDTH = {"order_item": 2}  # rows are identified by their first N columns


def key(table: str, row: dict[str, Any]) -> tuple:
    return tuple(list(row.values())[: KEY_WIDTH.get(table, 1)])


def load_postgres(db: str) -> str:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql((SAMPLE / "postgres_sample.sql").read_text())
    engine.dispose()
    return url


def load_mariadb(db: str) -> str:
    url = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
    engine = create_engine(url)
    skip = re.compile(r"^\s*(CREATE USER|GRANT|FLUSH|CREATE DATABASE|USE)\b", re.I)
    with engine.begin() as conn:
        for name in ("mariadb_example_schema.sql", "mariadb_example_data.sql"):
            script = re.sub(r"--[^\n]*", "", (SAMPLE / name).read_text())
            for stmt in script.split(";"):
                if stmt.strip() and not skip.match(stmt):
                    conn.execute(text(stmt))
    engine.dispose()
    return url


def snapshot(url: str, schemas: list[str | None]) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, per schema-qualified table name."""
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for schema in schemas:
            meta = MetaData(schema=schema)
            meta.reflect(conn)
            for name, table in meta.tables.items():
                rows = [dict(r._mapping) for r in conn.execute(select(table))]
                out[name] = sorted(rows, key=repr)
    engine.dispose()
    return out


def expected_after(
    before: dict[str, list[dict]], reach: dict[str, set], policy: dict[str, Any]
) -> dict[str, list[dict]]:
    """Apply the imported policy to exactly the reachable rows; everything else is unchanged.

    Tables outside the dataset (loyalty, backup_schema.*) have no policy and must not change.
    """
    after = {}
    for table, rows in before.items():
        spec = policy["collections"].get(table, {}).get("erase")
        new = []
        for row in rows:
            if spec is None or key(table, row) not in reach.get(table, set()):
                new.append(row)
            elif spec == "delete":
                continue
            elif spec["strategy"] == "anonymize":
                new.append({**row, **dict.fromkeys(spec["fields"])})
            else:
                new.append(row)
        after[table] = sorted(new, key=repr)
    return after


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, "DSRFLOW_STATE_DIR": str(cwd), **(env or {})}
    r = subprocess.run([*DSRFLOW, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                       env=full_env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r.stdout


@pytest.fixture(params=engines("postgres", "mariadb"))
def fides_store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "postgres":
        db = request.getfixturevalue("pg_database")
        url, dataset, schemas = load_postgres(db), "postgres_example_test_dataset.yml", [
            None, "backup_schema"]  # fmt: skip
    else:
        db = request.getfixturevalue("mariadb_database")
        url, dataset, schemas = load_mariadb(db), "mariadb_example_test_dataset.yml", [None]
    plain = url.replace("+psycopg", "").replace("+pymysql", "")
    catalog = tmp_path / "dsrflow.yaml"
    run_cli("catalog", "import-fides", str(SAMPLE / dataset), "--url", plain, "--store", "shop",
            "--out", str(catalog), cwd=tmp_path)  # fmt: skip
    assert "OK, 1 stores" in " ".join(run_cli("catalog", "validate", cwd=tmp_path,
                                     env={"DSRFLOW_CATALOG": str(catalog)}).split())  # fmt: skip
    cat = load_catalog(catalog, AdapterRegistry.from_entry_points())
    pool = AdapterPool(cat, AdapterRegistry.from_entry_points(), {})
    yield {"backend": request.param, "url": url, "schemas": schemas,
           "adapter": pool.get("shop"), "policy": cat.raw["stores"]["shop"]}  # fmt: skip
    pool.close()


def subject(email: str) -> Subject:
    return Subject.of([Identity("email", email)])


def check_access(adapter: Any, who: Subject, reach: dict[str, set]) -> None:
    got: dict[str, set] = {}
    for rec in adapter.access(who):
        got.setdefault(rec.collection, set()).add(key(rec.collection, rec.data))
    assert got == {t: rows for t, rows in reach.items() if rows}


def check_erasure(store: dict[str, Any], who: Subject, reach: dict[str, set]) -> None:
    adapter, url, schemas = store["adapter"], store["url"], store["schemas"]
    before = snapshot(url, schemas)
    receipt = adapter.erase(who)
    assert receipt.matched == sum(len(v) for v in reach.values())
    after = snapshot(url, schemas)
    want = expected_after(before, reach, store["policy"])
    assert after.keys() == want.keys()
    for table in want:  # table by table, so a failure names the table
        assert after[table] == want[table], f"table {table} changed unexpectedly"
    assert adapter.verify(who).matched == 0
    assert adapter.erase(who).affected == 0
    assert snapshot(url, schemas) == after


def test_customer_1_access_and_erasure(fides_store: dict[str, Any]) -> None:
    who = subject("customer-1@example.com")
    check_access(fides_store["adapter"], who, CUSTOMER_1)
    check_erasure(fides_store, who, CUSTOMER_1)


def test_jane_access_and_erasure(fides_store: dict[str, Any]) -> None:
    who = subject("jane@example.com")
    if fides_store["backend"] == "mariadb":  # the MariaDB variant has no Jane: nothing matches
        assert list(fides_store["adapter"].access(who)) == []
        before = snapshot(fides_store["url"], fides_store["schemas"])
        assert fides_store["adapter"].erase(who).matched == 0
        assert snapshot(fides_store["url"], fides_store["schemas"]) == before
        return
    check_access(fides_store["adapter"], who, JANE_PG)
    check_erasure(fides_store, who, JANE_PG)

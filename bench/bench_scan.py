"""``dsrflow scan`` of a 1,000,000-row PostgreSQL table: the cost stays within the budget.

    nice .venv/bin/python -m bench.bench_scan [--rounds 3]

One unmapped table of 1,000,000 rows (an e-mail, a valid-Luhn card and a note per row) next to
a mapped one. Each round scans the store with the default budget (``DSRFLOW_SCAN_*``: 1000
sampled rows per table, 200,000 rows and 120 s per store, 10 s per statement) and checks the
result (the table is unmapped with ``email`` and ``payment_card``; rows read within the
budget); for scale it also times one full sequential read of the table (``count(*)``), what a
scan without sampling would cost at least. The result goes to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sqlalchemy import text

from bench._pg import engine, scratch_database
from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import AdapterContext
from dsrflow.catalog import load_catalog
from dsrflow.discovery.report import Budget
from dsrflow.discovery.sqlscan import scan_sql_store
from dsrflow.settings import ScanSettings

ROWS = 1_000_000


def setup(db: str) -> None:
    with engine(db).begin() as conn:
        conn.execute(text("CREATE TABLE known (id int PRIMARY KEY, email text)"))
        conn.execute(
            text("CREATE TABLE signups (id bigint PRIMARY KEY, email text, card text, note text)")
        )
        # 4111 1111 1111 1111 is a valid Luhn number: every row carries a card.
        fill = (
            "INSERT INTO signups SELECT g, 'user' || g || '@example.org', '4111111111111111',"
            " 'signed up from the spring campaign' FROM generate_series(1, :n) g"
        )
        conn.execute(text(fill), {"n": ROWS})
    with engine(db).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE signups"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    s = ScanSettings()
    budget = Budget(max_rows=s.max_rows, max_seconds=s.max_seconds, sample_rows=s.sample_rows,
                    statement_timeout_s=s.statement_timeout_s)  # fmt: skip
    with scratch_database("bench_scan") as db:
        setup(db)
        folder = Path(f"/tmp/{db}")
        folder.mkdir(exist_ok=True)
        catalog_path = folder / "dsrflow.yaml"
        catalog_path.write_text(
            "version: 1\nstores:\n  big:\n    adapter: sql\n"
            f'    connection: {{url: "postgresql://postgres@127.0.0.1:5432/{db}"}}\n'
            "    collections:\n      known:\n        identities: {email: email}\n"
        )
        catalog = load_catalog(catalog_path, AdapterRegistry.from_entry_points())
        entry = catalog.stores["big"]
        ctx = AdapterContext("big", folder, {})
        took, read = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            report = scan_sql_store(entry, ctx, budget, min_confidence=s.min_confidence)
            took.append(time.perf_counter() - start)
            (signups,) = [t for t in report.tables if t.table == "signups"]
            assert signups.status == "unmapped", signups
            assert set(signups.unmapped_classes()) >= {"email", "payment_card"}
            assert report.budget is not None
            assert report.budget.rows_read <= budget.max_rows
            assert report.budget.seconds <= budget.max_seconds
            read.append(report.budget.rows_read)
        with engine(db).connect() as conn:
            start = time.perf_counter()
            conn.execute(text("SELECT count(*) FROM signups")).scalar()
            full = time.perf_counter() - start
        catalog_path.unlink()
        folder.rmdir()
    print(f"table: {ROWS} rows; budget: {budget.sample_rows} sampled rows per table, "
          f"{budget.max_rows} rows / {budget.max_seconds:g} s per store")  # fmt: skip
    print(f"scan: median {statistics.median(took):.3f} s over {rounds} rounds "
          f"(min {min(took):.3f}, max {max(took):.3f}); rows read {sorted(set(read))}")  # fmt: skip
    print(f"one full sequential read (count(*)) for scale: {full:.3f} s")


if __name__ == "__main__":
    main()

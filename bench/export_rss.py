"""Peak memory of exporting 1,000,000 rows of one subject from PostgreSQL.

    .venv/bin/python -m bench.export_rss [--rows 1000000]

Runs the real access path in a fresh child process: ``SqlAdapter.access`` streams the rows
(server-side cursor, ``batch_size`` rows per fetch) into ``ArtifactStore.stage_records``, which
encrypts them as JSON lines into the request's staging file, exactly as the ``access_store``
activity does, then assembles the access package from it (``ArtifactStore.assemble_package``:
the JSON, one CSV, the paged HTML report) as ``assemble_access_package`` does. The child
reports its peak RSS (``ru_maxrss``) after each step and, for comparison, the RSS it had after
importing everything and before the export started. Result in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from sqlalchemy import text

from bench._pg import engine, scratch_database

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from dsrflow.adapters.sdk import Subject
from bench._pg import adapter
from dsrflow.artifacts import ArtifactStore
from dsrflow.crypto.keystore import KeyStore, load_kek
from dsrflow.domain import Identity
from dsrflow.ledger import Ledger

db, work = sys.argv[1], Path(sys.argv[2])
a = adapter(db, {"customers": {"identities": {"email": "email"}},
                 "events": {"references": {"customer_id": "customers.id"}}})
ledger = Ledger(f"sqlite:///{work / 'ledger.db'}", migrate=True)
store = ArtifactStore(work / "artifacts", KeyStore(ledger, load_kek(work / "keys", {})))
a.plan()  # connect and reflect before measuring the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
subject = Subject.of([Identity("email", "big@example.com")])
n = store.stage_records("dsr-bench-export", "db", a.access(subject))
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
size = sum(p.stat().st_size for p in (work / "artifacts").rglob("*.enc"))
start = time.perf_counter()
manifest = {"request_id": "dsr-bench-export", "request_type": "access",
            "stores": {"db": {"status": "done", "records": n}}}
pkg = store.assemble_package("dsr-bench-export", {"db": n}, manifest)
assembled = time.perf_counter() - start
print(json.dumps({"records": n, "baseline_kib": base, "peak_kib": peak, "seconds": took,
                  "staged_bytes": size, "package_seconds": assembled,
                  "package_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "package_bytes": pkg.stat().st_size}))
"""


def setup(db: str, rows: int) -> None:
    with engine(db).begin() as conn:
        conn.execute(text("CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'big@example.com'), "
                          "(2, 'other@example.com')"))  # fmt: skip
        conn.execute(text(
            "CREATE TABLE events (id bigserial PRIMARY KEY, customer_id int REFERENCES customers,"
            " kind text, payload text, amount numeric(10,2), created timestamptz DEFAULT now())"
        ))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO events (customer_id, kind, payload, amount) SELECT CASE WHEN g <= {rows}"
            " THEN 1 ELSE 2 END, 'page_view', md5(g::text) || md5((g * 7)::text), g % 1000"
            f" FROM generate_series(1, {rows + 10_000}) g"))  # fmt: skip
        conn.execute(text("CREATE INDEX events_customer ON events (customer_id)"))
    with engine(db).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE events"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database("bench_export") as db, tempfile.TemporaryDirectory() as work:
        setup(db, args.rows)
        out = subprocess.run([sys.executable, "-c", CHILD, db, work], capture_output=True,
                             text=True, check=True)  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"records exported: {result['records']:,} (the events and the one customer row)")
    print(f"RSS after imports/connect: {result['baseline_kib'] / 1024:.0f} MiB")
    print(f"peak RSS during export:    {result['peak_kib'] / 1024:.0f} MiB (limit 300 MiB)")
    staged = result["staged_bytes"] / 2**20
    print(f"time: {result['seconds']:.1f} s; staged (encrypted) {staged:.0f} MiB")
    rate = result["records"] / result["package_seconds"]
    print(
        f"package (JSON, CSV, HTML report): {result['package_seconds']:.1f} s "
        f"(~{rate:,.0f} records/s), {result['package_bytes'] / 2**20:.0f} MiB encrypted"
    )
    print(
        f"peak RSS including the package: {result['package_peak_kib'] / 1024:.0f} MiB "
        "(limit 300 MiB)"
    )


if __name__ == "__main__":
    main()

"""The residual sweep of a 1,000,000-row PostgreSQL table, with and without an expression index
on lower(trim(email)), next to the erasure of the same subject, side by side in one run.

    nice .venv/bin/python -m bench.bench_sweep [--rounds 5]

Three schemas hold the same table (1,000,000 rows, 100,000 subjects with 10 rows each,
interleaved across the table): ``plain`` has only its primary key; ``indexed`` also has an
index on ``lower(trim(email))`` (what the sweep compares) and on ``email``; ``mixed`` has the
expression index but a second, unindexed text column (``source``), which the sweep must search
too. Each round takes a fresh subject and times, in alternating order, the sweep of each schema,
then the SQL adapter's erasure of the subject from ``indexed`` (what an erasure activity runs).
Every run checks its result (10 hits, complete; 10 rows erased). Prints each schema's scan node,
medians and the ratios; the result goes to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from sqlalchemy import text

from bench._pg import engine, scratch_database, timed
from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity

ROWS, SUBJECTS = 1_000_000, 100_000
TABLE = (
    "CREATE TABLE {s}.signups (id bigserial PRIMARY KEY, email varchar(254) NOT NULL,"
    " created timestamptz DEFAULT now(){extra})"
)
SCHEMAS = {"plain": "", "indexed": "", "mixed": ", source varchar(40) DEFAULT 'web'"}


def setup(db: str) -> None:
    with engine(db).begin() as conn:
        for schema, extra in SCHEMAS.items():
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(TABLE.format(s=schema, extra=extra)))
            conn.execute(text(
                f"INSERT INTO {schema}.signups (email) SELECT 'user' || (g % {SUBJECTS})"
                f" || '@example.org' FROM generate_series(1, {ROWS}) g"))  # fmt: skip
        conn.execute(text("CREATE INDEX signups_ci ON indexed.signups (lower(trim(email)))"))
        conn.execute(text("CREATE INDEX signups_email ON indexed.signups (email)"))
        conn.execute(text("CREATE INDEX signups_ci ON mixed.signups (lower(trim(email)))"))
    with engine(db).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for schema in SCHEMAS:
            conn.execute(text(f"VACUUM ANALYZE {schema}.signups"))


def sql_adapter(db: str, schema: str) -> SqlAdapter:
    cfg = SqlConfig.model_validate({
        "connection": {"url": f"postgresql://postgres@127.0.0.1:5432/{db}", "schema": schema},
        "collections": {"signups": {"identities": {"email": "email"}}},
    })  # fmt: skip
    return SqlAdapter.create(cfg, AdapterContext("bench", Path("."), {}))


def plan_of(db: str, schema: str) -> str:
    """How PostgreSQL runs the sweep's predicate on one schema (its scan node)."""
    where = "lower(trim(email)) IN ('user1@example.org')"
    if SCHEMAS[schema]:
        where += " OR lower(trim(source)) IN ('user1@example.org')"
    sql = f"EXPLAIN SELECT count(*) FROM {schema}.signups WHERE {where}"
    with engine(db).connect() as conn:
        lines = [row[0] for row in conn.execute(text(sql))]
    scans = [line.strip().lstrip("-> ") for line in lines if "Scan" in line]
    return scans[0].split("  (")[0] if scans else lines[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with scratch_database("bench_sweep") as db:
        setup(db)
        plain = sql_adapter(db, "plain")
        indexed = sql_adapter(db, "indexed")
        mixed = sql_adapter(db, "mixed")
        times: dict[str, list[float]] = {
            "sweep_plain": [], "sweep_indexed": [], "sweep_mixed": [], "erase": []
        }  # fmt: skip
        budget = SweepBudget()

        def sweep(a, subject: Subject) -> None:  # type: ignore[no-untyped-def]
            report = a.sweep(subject, budget, after="erasure")
            assert report.hit_count == ROWS // SUBJECTS and report.complete, report.not_swept

        def erase(subject: Subject) -> None:
            receipt = indexed.erase(subject)
            assert receipt.affected == ROWS // SUBJECTS, receipt.affected

        warm = Subject.of([Identity("email", "user999@example.org")])
        sweep(plain, warm)  # warm-up: reflection, connection pools, buffer cache
        sweep(indexed, warm)
        sweep(mixed, warm)
        for i in range(args.rounds):
            subject = Subject.of([Identity("email", f"user{1000 + i}@example.org")])
            order = [
                ("sweep_plain", lambda s=subject: sweep(plain, s)),
                ("sweep_indexed", lambda s=subject: sweep(indexed, s)),
                ("sweep_mixed", lambda s=subject: sweep(mixed, s)),
                ("erase", lambda s=subject: erase(s)),
            ]
            # the erase goes last either way: the sweeps must still find the subject
            if i % 2:
                order[:3] = order[2::-1]
            for name, fn in order:
                times[name].append(timed(fn))
        plans = {s: plan_of(db, s) for s in SCHEMAS}
        for a in (plain, indexed, mixed):
            a.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rows per table: {ROWS:,}; rows per subject: {ROWS // SUBJECTS}; rounds: {args.rounds}")
    for schema, plan in plans.items():
        print(f"plan {schema:8s} {plan}")
    for name, values in times.items():
        print(f"{name:14s} median {med[name] * 1000:8.1f} ms  "
              f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")  # fmt: skip
    print(f"ratio sweep_plain/erase:         {med['sweep_plain'] / med['erase']:.2f}")
    print(f"ratio sweep_indexed/erase:       {med['sweep_indexed'] / med['erase']:.2f}")
    print(f"ratio sweep_mixed/erase:         {med['sweep_mixed'] / med['erase']:.2f}")
    print(f"ratio sweep_plain/sweep_indexed: {med['sweep_plain'] / med['sweep_indexed']:.1f}")


if __name__ == "__main__":
    main()

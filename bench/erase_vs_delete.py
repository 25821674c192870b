"""Erasing one subject's 20,000 rows in a 1,000,000-row PostgreSQL table: the SQL adapter against
one hand-written set-based DELETE of the same kind of rows, side by side in one run.

    .venv/bin/python -m bench.erase_vs_delete [--rounds 6]

50 customers own 20,000 rows each, interleaved across the table (customer_id = n % 50 + 1), with
an index on customer_id. Each round erases two fresh customers, one by each method, alternating
which goes first; the table only shrinks by 2% per round. The adapter runs exactly what an
erasure activity runs: a probe for "more than one batch?", the DELETE, an in-transaction residual
count, commit. It runs twice: with the default batch_size (50,000: one statement here) and with
batch_size 5,000 (keys read once, 4 DELETEs by key array, 4 heartbeats). Prints medians and the
ratios; the result goes to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics

from sqlalchemy import text

from bench._pg import adapter, engine, scratch_database, timed
from dsrflow.adapters.sdk import Subject
from dsrflow.domain import Identity

ROWS, SUBJECTS = 1_000_000, 50


def setup(db: str) -> None:
    with engine(db).begin() as conn:
        conn.execute(text(
            "CREATE TABLE events (id bigserial PRIMARY KEY, customer_id int NOT NULL,"
            " kind text, payload text, created timestamptz DEFAULT now())"))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO events (customer_id, kind, payload) SELECT g % {SUBJECTS} + 1,"
            f" 'view', md5(g::text) FROM generate_series(1, {ROWS}) g"))  # fmt: skip
        conn.execute(text("CREATE INDEX events_customer ON events (customer_id)"))
    with engine(db).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE events"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with scratch_database("bench_erase") as db:
        setup(db)
        eng = engine(db)
        coll = {"events": {"identities": {"customer_id": "customer_id"}}}
        default = adapter(db, coll)  # batch_size 50,000: this subject is one statement
        batched = adapter(db, coll, batch_size=5_000)  # forced: 4 statements, 4 heartbeats
        times: dict[str, list[float]] = {"hand": [], "adapter": [], "adapter_batched": []}
        customers = iter(range(1, SUBJECTS + 1))

        def hand(c: int) -> None:
            with eng.begin() as conn:
                n = conn.execute(text("DELETE FROM events WHERE customer_id = :c"), {"c": c})
                assert n.rowcount == ROWS // SUBJECTS

        def via(a, c: int) -> None:  # type: ignore[no-untyped-def]
            r = a.erase(Subject.of([Identity("customer_id", str(c))]))
            assert r.affected == ROWS // SUBJECTS and r.collections[0].residual == 0

        for i in range(args.rounds):
            order = [("hand", hand), ("adapter", lambda c: via(default, c)),
                     ("adapter_batched", lambda c: via(batched, c))]  # fmt: skip
            for name, fn in order if i % 2 == 0 else order[::-1]:
                c = next(customers)
                times[name].append(timed(lambda fn=fn, c=c: fn(c)))
        default.close()
        batched.close()
        eng.dispose()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rows in table: {ROWS:,}; rows per subject: {ROWS // SUBJECTS:,}; rounds: {args.rounds}")
    for name, values in times.items():
        print(f"{name:14s} median {med[name] * 1000:8.1f} ms  "
              f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")  # fmt: skip
    print(f"ratio adapter/hand (default, one statement): {med['adapter'] / med['hand']:.2f}")
    ratio = med["adapter_batched"] / med["hand"]
    print(f"ratio adapter/hand (batch_size 5,000):       {ratio:.2f}")


if __name__ == "__main__":
    main()

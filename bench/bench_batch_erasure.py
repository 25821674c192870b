"""Batch erasure of 1,000 and 10,000 subjects in one PostgreSQL table against one hand-written
set-based DELETE of the same kind of rows, side by side in one run.

    .venv/bin/python -m bench.bench_batch_erasure [--sizes 1000 10000] [--workflow 1000]

Table ``events``: 500,000 rows of other customers plus 3 rows for each subject, interleaved,
index on ``customer_id``, ``VACUUM ANALYZE``d. For each size, two disjoint sets of subjects with
the same rows: one erased by hand (``DELETE FROM events WHERE customer_id = ANY(:ids)``, one
statement, commit), the other by the batch's store work exactly as the ``erase_batch`` activity
runs it (``temporalio.testing.ActivityEnvironment``): per chunk of 1,000 subjects, open each
member's sealed identities with its own key, one ``DELETE ... RETURNING`` per collection,
a per-member receipt journaled in the ledger inside the transaction, the in-transaction residual
``GROUP BY``, commit, then ``verify_many``. The order alternates between sizes.

``--workflow N`` also runs the whole path for N subjects: the Temporal dev server, a worker,
``SubmitBatch`` (N request workflows, one batch workflow), until every request has completed
with its evidence bundle; it reports the wall time and the batch's ``erase_batch`` time read
from the batch workflow's history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench._pg import engine, scratch_database, timed
from dsrflow.batches import CHUNK_SIZE as CHUNK

OTHER_ROWS, ROWS_EACH = 500_000, 3


def setup(db: str, subjects: int) -> None:
    """Other customers 1..50,000 (10 rows each); subjects from 1,000,000 on, 3 rows each."""
    with engine(db).begin() as conn:
        conn.execute(text(
            "CREATE TABLE events (id bigserial PRIMARY KEY, customer_id int NOT NULL,"
            " kind text, payload text)"))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO events (customer_id, kind, payload) SELECT g % 50000 + 1, 'view',"
            f" md5(g::text) FROM generate_series(1, {OTHER_ROWS}) g"))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO events (customer_id, kind, payload) SELECT 1000000 + g % {subjects},"
            f" 'view', md5(g::text)"
            f" FROM generate_series(0, {subjects * ROWS_EACH - 1}) g"))  # fmt: skip
        conn.execute(text("CREATE INDEX events_customer ON events (customer_id)"))
    with engine(db).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE events"))


def runtime(db: str, state: Path, address: str | None) -> Any:
    from dsrflow.runtime import Runtime
    from dsrflow.settings import Settings

    catalog = state / "catalog.yaml"
    state.mkdir(parents=True, exist_ok=True)
    catalog.write_text(f"""version: 1
policies:
  erasure: {{identity_verification: false, approval: false}}
identity_kinds:
  customer_id: {{match: exact}}
stores:
  events:
    adapter: sql
    connection: {{url: "postgresql://postgres@127.0.0.1:5432/{db}"}}
    collections:
      events: {{identities: {{customer_id: customer_id}}, erase: delete}}
""")
    env = {**os.environ, "DSRFLOW_STATE_DIR": str(state), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ENV_FILE": os.devnull, "DSRFLOW_LOG_LEVEL": "warning",
           "DSRFLOW_TASK_QUEUE": f"bench-{os.getpid()}"}  # fmt: skip
    if address:
        env["DSRFLOW_TEMPORAL_ADDRESS"] = address
    return Runtime(Settings.load(env), env, migrate_ledger=True)


def store_work(rt: Any, customers: list[int]) -> Callable[[], None]:
    """What the batch runs for these subjects: ``erase_batch`` per chunk (the default size)."""
    from temporalio.testing import ActivityEnvironment

    from dsrflow.activities.batch import BatchActivities, seal
    from dsrflow.batches import BatchChunkInput, SealedMember
    from dsrflow.catalog.pool import AdapterPool
    from dsrflow.domain import Identity
    from dsrflow.ledger.batch_answers import BatchAnswers

    pool = AdapterPool(rt.catalog, rt.registry, rt.env)
    answers = BatchAnswers(rt.ledger)
    acts = BatchActivities(pool, rt.keystore, journal=rt.journal, answers=answers)
    pool.get("events").plan()  # type: ignore[attr-defined]  # reflected once per worker: warm
    members = []
    for c in customers:  # sealed by each member request before it signals the batch: not timed
        rid = f"dsr-bench-{c}"
        members.append(SealedMember(rid, seal(rt.keystore, rid, [Identity("customer_id", str(c))])))
    env = ActivityEnvironment()

    def run() -> None:
        for start in range(0, len(members), CHUNK):
            chunk = BatchChunkInput("batch-bench", "events", members[start : start + CHUNK])
            result = env.run(acts.erase_batch, chunk)
            assert result.kept and not result.fallback

    def check() -> None:
        """Every member's kept answer: her rows erased, none left (after the timing)."""
        for m in members:
            kept = answers.kept(m.request_id, "events")
            assert kept is not None and kept.receipt.affected == ROWS_EACH
            assert kept.verification.residual == 0

    run.check = check  # type: ignore[attr-defined]
    return run


async def whole_path(rt: Any, customers: list[int]) -> tuple[float, float]:
    """Submit a batch through the service on a real Temporal dev server; wall and store time."""
    from dsrflow.domain import DsrInput, DsrResult, Identity, RequestType
    from dsrflow.service.batch import SubmitBatch
    from dsrflow.service.intake import new_request_id
    from dsrflow.service.principal import Principal

    client = await rt.client()
    now = datetime.now(UTC)
    members = [
        DsrInput(new_request_id(now), RequestType.ERASURE, [Identity("customer_id", str(c))], now)
        for c in customers
    ]
    use_case = SubmitBatch(rt)
    principal = Principal.of("staff:bench", ["admin"])
    async with rt.worker(client):
        start = time.perf_counter()
        done = await use_case.run(principal, members, quiet_s=5.0)
        await asyncio.gather(*(
            client.get_workflow_handle(r, result_type=DsrResult).result()
            for r in done.request_ids))  # fmt: skip
        wall = time.perf_counter() - start
        store = 0.0
        for batch_id in done.batch_ids:
            history = await client.get_workflow_handle(batch_id).fetch_history()
            started: dict[int, float] = {}
            for e in history.events:
                at = e.event_time.ToDatetime().timestamp()
                if e.HasField("activity_task_started_event_attributes"):
                    started[e.activity_task_started_event_attributes.scheduled_event_id] = at
                if e.HasField("activity_task_completed_event_attributes"):
                    attrs = e.activity_task_completed_event_attributes
                    store += at - started[attrs.scheduled_event_id]
    return wall, store


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workflow", type=int, default=0, help="Also run N through Temporal.")
    args = parser.parse_args()
    biggest = max(args.sizes)
    total = 2 * sum(args.sizes) + args.workflow
    results = []
    server = None
    if args.workflow:
        from dsrflow.devserver import DevServer

        server = DevServer(Path(tempfile.mkdtemp()), port=_free_port(), ui_port=None,
                           ephemeral=True)  # fmt: skip
        server.start()
    try:
        flow = run_all(args, total, results, server.address if server else None)
    finally:
        if server is not None:
            server.stop()
    print_results(args, total, biggest, results, flow)


def run_all(args: Any, total: int, results: list[Any], address: str | None) -> Any:
    """Set up the table, run every size side by side, then the whole path if asked."""
    with scratch_database("bench_batch") as db, tempfile.TemporaryDirectory() as tmp:
        setup(db, total)
        rt = runtime(db, Path(tmp) / "state", address)
        eng = engine(db)
        next_id = iter(range(1_000_000, 1_000_000 + total))
        for i, n in enumerate(args.sizes):
            mine = [next(next_id) for _ in range(n)]
            theirs = [next(next_id) for _ in range(n)]
            batch = store_work(rt, mine)

            def hand(ids: list[int] = theirs) -> None:
                with eng.begin() as conn:
                    r = conn.execute(text("DELETE FROM events WHERE customer_id = ANY(:ids)"),
                                     {"ids": ids})  # fmt: skip
                    assert r.rowcount == len(ids) * ROWS_EACH

            order = [("hand", hand), ("batch", batch)]
            times = {}
            for name, fn in order if i % 2 == 0 else order[::-1]:
                times[name] = timed(fn)
            batch.check()  # type: ignore[attr-defined]
            results.append((n, times["hand"], times["batch"]))
        flow = None
        if args.workflow:
            ids = [next(next_id) for _ in range(args.workflow)]
            flow = asyncio.run(whole_path(rt, ids))
        eng.dispose()
        rt.ledger.close()
    return flow


def print_results(args: Any, total: int, biggest: int, results: list[Any], flow: Any) -> None:
    """The side-by-side lines for docs/benchmarks.md."""
    rows = OTHER_ROWS + ROWS_EACH * total
    print(
        f"rows in table: {rows:,}; rows per subject: {ROWS_EACH}; chunk: {CHUNK} (max {biggest:,})"
    )
    for n, hand_s, batch_s in results:
        print(f"{n:>6,} subjects  hand DELETE {hand_s * 1000:8.1f} ms   batch store work "
              f"{batch_s * 1000:8.1f} ms   ratio {batch_s / hand_s:6.2f}")  # fmt: skip
    if flow is not None:
        wall, store = flow
        print(f"whole path, {args.workflow:,} subjects: {wall:.1f} s wall "
              f"({wall / args.workflow * 1000:.0f} ms per subject); erase_batch activities "
              f"{store * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()

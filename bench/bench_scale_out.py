"""Two workers against one: the same batch of erasures completed by one ``dsrflow worker``
process, then by two on the same task queue, side by side in one run.

    nice .venv/bin/python -m bench.bench_scale_out [--requests 40] [--stores 4] [--rounds 2]

One Temporal dev server persisting to a SQLite file (as ``dsrflow dev`` runs it), one ledger
(SQLite), one catalog of K SQLite stores (``--stores``; two tables each, every subject's rows
seeded, erasures without gates) and one task queue for the whole run. Each round runs the two
variants, alternating which goes first: fresh ``dsrflow worker`` subprocesses (one, or two)
start and poll the queue; then this process submits M erasures (``--requests``, fresh subjects
per batch; ``--concurrency`` submissions at a time through ``RequestClient``) and waits for
every result. Measured per batch, from the first submission to the last result: wall time, the
CPU seconds (``/proc/<pid>/stat``) of each worker and of the server. The workers stop after
each batch. Checked: every request completed, no erased subject's rows are left in any store
(and no one else's were erased), and from the histories which worker ran each activity
(``ActivityTaskStarted`` identity ``<pid>@<host>``): a batch's activities ran on its own
workers only, and with two workers on both. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._kit import (
    activity_identities,
    bench_runtime,
    bounded,
    cpu_s,
    email,
    left_over,
    seed,
    start_workers,
)


@dataclass
class Batch:
    workers: int
    round: int
    wall: float = 0.0
    worker_cpu: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    activities: list[int] = field(default_factory=list)  # started per worker, in start order


async def one_batch(
    rt: Any, rc: Any, n_workers: int, subjects: range, server_pid: int, args: argparse.Namespace,
    folder: Path, r: int,
) -> Batch:  # fmt: skip
    from dsrflow.domain import DsrInput, Identity, RequestType

    logs = [folder / f"round{r}-{n_workers}w-{i}.log" for i in range(n_workers)]
    workers = await start_workers(rt, logs)
    out = Batch(n_workers, r)
    rids = [f"scale-{r}-{n_workers}w-{i}" for i in subjects]
    try:
        pids = [w.proc.pid for w in workers]

        def submit(rid: str, i: int) -> Any:
            ident = [Identity("email", email(i))]
            return lambda: rc.submit(DsrInput(rid, RequestType.ERASURE, ident, datetime.now(UTC)))

        async def finished(rid: str) -> None:
            result = await asyncio.wait_for(rc.handle(rid).result(), args.finish)
            if str(result.status) != "completed":
                raise SystemExit(f"{rid}: ended {result.status} ({result.reason})")

        c0, s0, t0 = [cpu_s(p) for p in pids], cpu_s(server_pid), time.perf_counter()
        await bounded([submit(rid, i) for rid, i in zip(rids, subjects, strict=True)],
                      args.concurrency)  # fmt: skip
        await asyncio.gather(*(finished(rid) for rid in rids))
        out.wall = time.perf_counter() - t0
        out.worker_cpu = [cpu_s(p) - c for p, c in zip(pids, c0, strict=True)]
        out.server_cpu = cpu_s(server_pid) - s0
    finally:
        for w in workers:
            w.stop()
    ran = await activity_identities(rc.client, rids)
    by_pid: dict[int, int] = {}
    for identity, count in ran.items():
        pid = int(identity.split("@", 1)[0])
        by_pid[pid] = by_pid.get(pid, 0) + count
    if set(by_pid) - set(pids):
        raise SystemExit(f"round {r}: activities ran on other workers: {ran}, ours {pids}")
    out.activities = [by_pid.get(p, 0) for p in pids]
    if not all(out.activities):
        raise SystemExit(f"round {r}, {n_workers} workers: not all ran activities: {ran}")
    return out


async def run(args: argparse.Namespace) -> list[Batch]:
    from dsrflow.requests_client import RequestClient
    from tests.fixtures.stack import start_dev_server

    work = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    m, k = args.requests, args.stores
    subjects = 2 * args.rounds * m
    catalog = seed(work, k, subjects, gates=False)
    server = start_dev_server(work / "temporal", ui_port=None)  # SQLite file, as `dsrflow dev`
    queue = f"bench-scale-{os.getpid()}"
    rt = bench_runtime(server, work, catalog, queue)
    batches: list[Batch] = []
    try:
        assert server.proc is not None
        rc = RequestClient(await rt.client(), queue)
        counter = iter(range(0, subjects, m))
        for r in range(args.rounds):
            for n_workers in (1, 2) if r % 2 == 0 else (2, 1):
                first = next(counter)
                b = await one_batch(rt, rc, n_workers, range(first, first + m), server.proc.pid,
                                    args, work, r)  # fmt: skip
                batches.append(b)
                print(f"round {r + 1}, {n_workers} worker(s): {b.wall:.1f} s, worker CPU "
                      f"{' + '.join(f'{c:.1f}' for c in b.worker_cpu)} s, "
                      f"activities {' / '.join(map(str, b.activities))}", flush=True)  # fmt: skip
    finally:
        rt.ledger.close()
        server.stop()
    remaining = left_over(work, k, subjects)
    if remaining:
        raise SystemExit(f"{remaining} subject rows left after the erasures")
    return batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40, help="erasures per batch (M)")
    parser.add_argument("--stores", type=int, default=4, help="SQLite stores in the catalog (K)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both variants")
    parser.add_argument("--concurrency", type=int, default=16, help="submissions at once")
    parser.add_argument("--finish", type=float, default=900, help="most seconds per result")
    args = parser.parse_args()
    if min(args.requests, args.stores, args.rounds) < 1:
        raise SystemExit("--requests, --stores and --rounds must be at least 1")
    load0 = os.getloadavg()
    batches = asyncio.run(run(args))
    loads = " / ".join(" ".join(f"{x:.2f}" for x in la) for la in (load0, os.getloadavg()))
    m = args.requests
    print(f"\n{m} erasures per batch, K = {args.stores} stores, {args.rounds} rounds "
          f"(order alternating), {os.cpu_count()} CPUs, load average at start / end "
          f"{loads}\n")  # fmt: skip
    print("| workers | round | wall (s) | requests/s | CPU per worker (s) | worker CPU per request "
          "(ms) | server CPU per request (ms) | activities per worker |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for b in batches:
        print(
            f"| {b.workers} | {b.round + 1} | {b.wall:.1f} | {m / b.wall:.2f} "
            f"| {' + '.join(f'{c:.1f}' for c in b.worker_cpu)} "
            f"| {1000 * sum(b.worker_cpu) / m:.0f} | {1000 * b.server_cpu / m:.0f} "
            f"| {' / '.join(map(str, b.activities))} |"
        )
    one = [b for b in batches if b.workers == 1]
    two = [b for b in batches if b.workers == 2]
    wall1, wall2 = sum(b.wall for b in one), sum(b.wall for b in two)
    wcpu1 = sum(sum(b.worker_cpu) for b in one)
    wcpu2 = sum(sum(b.worker_cpu) for b in two)
    scpu1, scpu2 = sum(b.server_cpu for b in one), sum(b.server_cpu for b in two)
    print(
        f"\ntotals over the rounds: wall {wall1:.1f} s (one) vs {wall2:.1f} s (two); "
        f"throughput two/one {wall1 / wall2:.2f}x; worker CPU {wcpu1:.1f} s vs {wcpu2:.1f} s "
        f"({wcpu2 / wcpu1:.2f}x); server CPU {scpu1:.1f} s vs {scpu2:.1f} s "
        f"({scpu2 / scpu1:.2f}x); all {2 * args.rounds * m} requests completed, stores checked"
    )


if __name__ == "__main__":
    main()

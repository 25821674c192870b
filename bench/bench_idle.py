"""What open requests cost while nothing happens: N requests waiting for a person, one worker.

    nice .venv/bin/python -m bench.bench_idle [--requests 1000] [--window 60] [--concurrency 16]

Two variants in one run, each on a fresh Temporal dev server persisting to a SQLite file (as
``dsrflow dev`` runs it) and one fresh ``dsrflow worker`` subprocess over a catalog of one
SQLite store whose erasures need identity verification and approval: the baseline with no
request, then N erasures (submitted ``--concurrency`` at a time through ``RequestClient``), each
stopped at its first gate, waiting for a person to verify the subject's identity. Once the
ledger shows all N waiting and ``--settle`` seconds passed, the script measures over an idle
window (``--window`` seconds) the worker's and the server's RSS (``/proc/<pid>/status``
VmRSS, at the start and the end of the window) and the CPU seconds they used in it
(``/proc/<pid>/stat``), the baseline the same way. The worker's reconciler loop is off in both
(``DSRFLOW_RECONCILE_INTERVAL_S=0``): one of its rounds (every 5 minutes by default: a
describe and a status query per open request) is measured on its own after the window, from
this process. At the end it checks that all N requests are still open and waiting: the ledger
(status ``awaiting_verification``), Temporal (N running workflows) and the status query of a
sample of them (answered by the worker from the workflow's state). Results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._kit import Usage, bench_runtime, bounded, cpu_s, email, seed, start_workers

WAITING = "awaiting_verification"


@dataclass
class Idle:
    requests: int
    submit_s: float = 0.0
    waiting_s: float = 0.0  # from the first submission until the ledger showed all waiting
    worker: tuple[Usage, Usage] | None = None  # start and end of the window
    server: tuple[Usage, Usage] | None = None
    reconcile: tuple[float, float, float] | None = None  # wall, worker CPU, server CPU
    checked: str = ""


async def until_waiting(rt: Any, n: int, seconds: float) -> None:
    """Until the ledger shows ``n`` requests waiting for identity verification (bounded)."""
    deadline = time.monotonic() + seconds
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = rt.ledger.request_counts()[0]
        if seen.get(WAITING, 0) == n:
            return
        await asyncio.sleep(1)
    raise SystemExit(f"after {seconds:.0f} s the ledger shows {seen}, not {n} {WAITING}")


async def still_open(rt: Any, client: Any, rc: Any, n: int) -> str:
    """Check that all ``n`` requests are open and waiting: ledger, Temporal, status query."""
    by_status = rt.ledger.request_counts()[0]
    if by_status.get(WAITING, 0) != n or sum(by_status.values()) != n:
        raise SystemExit(f"ledger after the window: {by_status}, expected {n} {WAITING}")
    running = (await client.count_workflows('ExecutionStatus="Running"')).count
    if running != n:
        raise SystemExit(f"Temporal after the window: {running} running workflows, not {n}")
    sample = random.sample(range(n), min(n, 20))
    for i in sample:
        view = await rc.status(f"idle-{i:05d}")
        if str(view.status) != WAITING:
            raise SystemExit(f"idle-{i:05d}: status query says {view.status}")
    return (
        f"ledger {n} {WAITING}, Temporal {running} running, "
        f"status query {len(sample)}/{len(sample)} sampled {WAITING}"
    )


async def variant(n: int, args: argparse.Namespace, work: Path) -> Idle:
    from dsrflow.domain import DsrInput, Identity, RequestType
    from dsrflow.reconciler import Reconciler
    from dsrflow.requests_client import RequestClient
    from tests.fixtures.stack import start_dev_server

    folder = work / f"open-{n}"
    server = start_dev_server(folder / "temporal", ui_port=None)  # SQLite file, as `dsrflow dev`
    queue = f"bench-idle-{n}"
    rt = bench_runtime(
        server, folder, seed(folder, 1, n, gates=True), queue, DSRFLOW_RECONCILE_INTERVAL_S="0"
    )
    out = Idle(n)
    try:
        assert server.proc is not None
        spid = server.proc.pid
        (worker,) = await start_workers(rt, [folder / "worker.log"])
        wpid = worker.proc.pid
        try:
            client = await rt.client()
            rc = RequestClient(client, queue)

            def submit(i: int) -> Any:
                ident = [Identity("email", email(i))]
                return lambda: rc.submit(
                    DsrInput(f"idle-{i:05d}", RequestType.ERASURE, ident, datetime.now(UTC))
                )

            t0 = time.monotonic()
            await bounded([submit(i) for i in range(n)], args.concurrency)
            out.submit_s = time.monotonic() - t0
            await until_waiting(rt, n, args.wait)
            out.waiting_s = time.monotonic() - t0
            await asyncio.sleep(args.settle)  # the last projections and task completions
            w0, s0 = Usage.of(wpid), Usage.of(spid)
            await asyncio.sleep(args.window)
            out.worker, out.server = (w0, Usage.of(wpid)), (s0, Usage.of(spid))
            out.checked = await still_open(rt, client, rc, n) if n else "no request"
            if n:  # one reconciler round, as the worker runs it every 5 minutes
                c0, c1, t1 = cpu_s(wpid), cpu_s(spid), time.monotonic()
                found = await Reconciler(rt.ledger, rc).run()
                out.reconcile = (
                    time.monotonic() - t1, cpu_s(wpid) - c0, cpu_s(spid) - c1
                )  # fmt: skip
                if len(found) != n or any(f.kind != "ok" for f in found):
                    raise SystemExit(f"reconciler round: {[f for f in found if f.kind != 'ok']}")
        finally:
            worker.stop()
    finally:
        rt.ledger.close()
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="open requests")
    parser.add_argument("--window", type=float, default=60, help="idle seconds measured")
    parser.add_argument("--settle", type=float, default=10, help="seconds before the window")
    parser.add_argument("--concurrency", type=int, default=16, help="submissions at once")
    parser.add_argument("--wait", type=float, default=1800, help="most seconds until waiting")
    args = parser.parse_args()
    if args.requests < 1 or args.window <= 0:
        raise SystemExit("--requests must be at least 1 and --window positive")
    work = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    runs = []
    for n in (0, args.requests):  # the baseline first, each on a fresh server and worker
        r = asyncio.run(variant(n, args, work))
        runs.append(r)
        print(f"{n} open: window done ({r.checked})", flush=True)
    base, full = runs
    n = full.requests
    print(
        f"\nsubmitted {n} requests {args.concurrency} at a time in {full.submit_s:.1f} s "
        f"({n / full.submit_s:.1f}/s); all {WAITING} in the ledger after {full.waiting_s:.1f} s"
    )
    print(f"idle window {args.window:.0f} s after {args.settle:.0f} s of settling; "
          f"checked after the window: {full.checked}\n")  # fmt: skip
    print("| process | RSS, 0 open (MiB) | RSS, N open (MiB) | RSS delta (MiB) "
          "| per open request (KiB) | CPU in window, 0 open (s) | CPU in window, N open (s) "
          "| idle CPU %, 0 open | idle CPU %, N open |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("worker", "server"):
        b, f = getattr(base, name), getattr(full, name)
        delta = f[1].rss - b[1].rss
        bc, fc = b[1].cpu - b[0].cpu, f[1].cpu - f[0].cpu
        print(
            f"| {name} | {b[1].rss:.1f} | {f[1].rss:.1f} | {delta:+.1f} | {delta * 1024 / n:.1f} "
            f"| {bc:.2f} | {fc:.2f} | {100 * bc / args.window:.2f} | {100 * fc / args.window:.2f} |"
        )
    print("\nRSS at the window's start -> end (MiB): " + "; ".join(
        f"{name} {getattr(r, name)[0].rss:.1f} -> {getattr(r, name)[1].rss:.1f} "
        f"({r.requests} open)" for r in runs for name in ("worker", "server")
    ))  # fmt: skip
    if full.reconcile:
        wall, wc, sc = full.reconcile
        print(
            f"one reconciler round over {n} open requests: {wall:.1f} s, worker CPU {wc:.2f} s, "
            f"server CPU {sc:.2f} s (every 300 s by default: "
            f"{100 * (wc + sc) / 300:.2f}% of a core on average)"
        )


if __name__ == "__main__":
    main()

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
import os
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
    parser.add_argument("--also", default="", help="more sizes in between, e.g. 250")
    parser.add_argument("--window", type=float, default=60, help="idle seconds measured")
    parser.add_argument("--settle", type=float, default=10, help="seconds before the window")
    parser.add_argument("--concurrency", type=int, default=16, help="submissions at once")
    parser.add_argument("--wait", type=float, default=1800, help="most seconds until waiting")
    args = parser.parse_args()
    try:
        sizes = sorted({0, args.requests, *(int(x) for x in args.also.split(",") if x)})
    except ValueError:
        raise SystemExit(f"--also: not a comma-separated list of sizes: {args.also!r}") from None
    if args.requests < 1 or args.window <= 0 or sizes[0] < 0:
        raise SystemExit("--requests must be at least 1, --also sizes positive, --window > 0")
    work = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = []
    for n in sizes:  # the baseline first, each on a fresh server and worker
        r = asyncio.run(variant(n, args, work))
        runs.append(r)
        print(f"{n} open: window done ({r.checked})", flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    base = runs[0]
    for r in runs[1:]:
        print(
            f"{r.requests} open: submitted {args.concurrency} at a time in {r.submit_s:.1f} s "
            f"({r.requests / r.submit_s:.1f}/s), all {WAITING} in the ledger after "
            f"{r.waiting_s:.1f} s; after the window: {r.checked}"
        )
    print(f"idle window {args.window:.0f} s, after {args.settle:.0f} s of settling\n")
    print("| process | open requests | RSS at window end (MiB) | RSS delta vs 0 open (MiB) "
          "| per open request (KiB) | CPU in window (s) | idle CPU (% of a core) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in ("worker", "server"):
        b = getattr(base, name)[1].rss
        for r in runs:
            u0, u1 = getattr(r, name)
            cpu = u1.cpu - u0.cpu
            per = f"{(u1.rss - b) * 1024 / r.requests:.1f}" if r.requests else "-"
            print(f"| {name} | {r.requests} | {u1.rss:.1f} | {u1.rss - b:+.1f} | {per} "
                  f"| {cpu:.2f} | {100 * cpu / args.window:.2f} |")  # fmt: skip
    if len(runs) > 2:  # the marginal cost, without what the first requests cost once
        lo, hi = runs[-2], runs[-1]
        dn = hi.requests - lo.requests
        print("\nmarginal, from " + f"{lo.requests} to {hi.requests} open: " + "; ".join(
            f"{name} {(getattr(hi, name)[1].rss - getattr(lo, name)[1].rss) * 1024 / dn:.1f} KiB"
            " per open request" for name in ("worker", "server")
        ))  # fmt: skip
    print("\nRSS at the window's start -> end (MiB): " + "; ".join(
        f"{name} {getattr(r, name)[0].rss:.1f} -> {getattr(r, name)[1].rss:.1f} "
        f"({r.requests} open)" for r in runs for name in ("worker", "server")
    ))  # fmt: skip
    for r in runs:
        if r.reconcile:
            wall, wc, sc = r.reconcile
            print(
                f"one reconciler round over {r.requests} open requests: {wall:.1f} s, worker "
                f"CPU {wc:.2f} s, server CPU {sc:.2f} s (every 300 s by default: "
                f"{100 * (wc + sc) / 300:.2f}% of a core on average)"
            )


if __name__ == "__main__":
    main()

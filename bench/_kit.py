"""Shared pieces of the orchestration benchmarks (``bench_overhead``, ``bench_idle``,
``bench_scale_out``): a catalog of SQLite stores, a process's CPU and memory from ``/proc``, a
dsrflow worker subprocess, and the checks that the requests did what the numbers claim."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

TICK = os.sysconf("SC_CLK_TCK")
OTHERS = 20  # rows of other people in every store
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    """Resident memory of a process now (``VmRSS``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"process {pid}: no VmRSS (gone?)")


@dataclass(frozen=True)
class Usage:
    """One process's CPU seconds and RSS at one moment."""

    cpu: float
    rss: float

    @classmethod
    def of(cls, pid: int) -> Usage:
        return cls(cpu_s(pid), rss_mib(pid))


def email(i: int) -> str:
    return f"subject{i}@bench.example"


def seed(folder: Path, k: int, subjects: int, *, gates: bool | None = None) -> Path:
    """K SQLite stores with every subject's rows and others'; the catalog that names them.

    ``gates``: None leaves the catalog's default policies; True or False sets identity
    verification and approval of erasures on or off.
    """
    (folder / "stores").mkdir(parents=True, exist_ok=True)
    lines = ["version: 1"]
    if gates is not None:
        on = "true" if gates else "false"
        lines += ["policies:", f"  erasure: {{identity_verification: {on}, approval: {on}}}"]
    lines.append("stores:")
    for s in range(k):
        with sqlite3.connect(folder / "stores" / f"s{s}.db") as db:
            db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
            db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, person_id INTEGER, body TEXT)")
            for i in range(subjects + OTHERS):
                who = email(i) if i < subjects else f"other{i}@bench.example"
                db.execute("INSERT INTO people VALUES (?, ?, ?)", (i + 1, who, f"Name {i}"))
                db.execute("INSERT INTO notes VALUES (?, ?, ?)", (i + 1, i + 1, f"note {i}"))
        db.close()
        lines += [
            f"  s{s}:",
            "    adapter: sql",
            f"    description: bench store {s}",
            "    connection:",
            f"      url: sqlite:///stores/s{s}.db",
            "    collections:",
            "      people:",
            "        identities: {email: email}",
            "        erase: delete",
            "      notes:",
            "        references: {person_id: people.id}",
            "        erase: delete",
        ]
    catalog = folder / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n")
    return catalog


def left_over(folder: Path, k: int, subjects: int) -> int:
    """How many of the erased subjects' rows are still in the stores (must be 0)."""
    n = 0
    for s in range(k):
        with sqlite3.connect(folder / "stores" / f"s{s}.db") as db:
            n += db.execute("SELECT count(*) FROM people WHERE email LIKE 'subject%'").fetchone()[0]
            others = db.execute("SELECT count(*) FROM people").fetchone()[0] - n
        db.close()
        if others < OTHERS:
            raise SystemExit(f"store s{s}: other people's rows were erased")
    return n


def bench_runtime(server: Any, folder: Path, catalog: Path, queue: str, **extra: str) -> Any:
    """A runtime on its own state folder, ledger (migrated now) and task queue; its keys made
    here, so worker processes started together do not race to create them."""
    from dsrflow.assertions import KEY_OWNER
    from dsrflow.crypto.keystore import SHARED
    from dsrflow.ledger.journal import BLIND_INDEX_OWNER
    from dsrflow.runtime import Runtime
    from dsrflow.settings import Settings

    env = {
        "DSRFLOW_STATE_DIR": str(folder / "state"),
        "DSRFLOW_CATALOG": str(catalog),
        "DSRFLOW_TEMPORAL_ADDRESS": server.address,
        "DSRFLOW_TASK_QUEUE": queue,
        "DSRFLOW_LOG_FORMAT": "json",
        **extra,
    }
    rt = Runtime(Settings.load(env), env, migrate_ledger=True)
    for owner in (SHARED, KEY_OWNER, BLIND_INDEX_OWNER):
        rt.keystore.key_for(owner)
    return rt


async def start_workers(rt: Any, logs: Iterable[Path]) -> list[Any]:
    """``dsrflow worker`` subprocesses (the real command, as deployed), polling once returned."""
    from tests.faults.faultkit import WorkerProcess, wait_worker_ready

    workers = [WorkerProcess(rt, log) for log in logs]
    try:
        await asyncio.gather(*(wait_worker_ready(w) for w in workers))
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


async def bounded(calls: Iterable[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the calls at most ``limit`` at a time; their results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def activity_identities(client: Any, rids: Iterable[str]) -> dict[str, int]:
    """Activities started per worker identity (``<pid>@<host>``), from the histories."""
    from temporalio.api.enums.v1 import EventType

    ran: dict[str, int] = {}
    for rid in rids:
        history = await client.get_workflow_handle(rid).fetch_history()
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identity = e.activity_task_started_event_attributes.identity
                ran[identity] = ran.get(identity, 0) + 1
    return ran

"""Faults under load: a batch of erasures across four real stores while processes die.

Eight requests (a canary subject each) erase from PostgreSQL, MariaDB, Redis and SQLite at
once. Mid-fan-out is certain: the test holds a lock that stops every ``crm`` erasure inside
PostgreSQL while the other stores finish (``batchkit``). Then the ``dsrflow worker`` process
is SIGKILLed, or the Temporal server is; after recovery every request must complete with every
store done and verified (status view, ledger, and the stores themselves), exactly one signed
bundle and one transparency-log entry per request, each bundle verifying offline. The last
test runs two workers on one task queue and shows from the histories that both did the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from dsrflow.devserver import DevServer
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.faults.batchkit import (
    ERASED,
    Batch,
    CrmLock,
    assert_batch_erased,
    assert_no_subject_in,
    completed,
    held,
    new_batch,
    submit_batch,
    until_all,
    until_mid_fanout,
)
from tests.faults.faultkit import WorkerProcess, wait_worker_ready
from tests.fixtures.stack import make_runtime, start_dev_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

REQUESTS = 8


@pytest.fixture
def batch(tmp_path: Path, pg_schema: str, mariadb_database: str, redis_prefix: str) -> Batch:
    return new_batch(tmp_path / "stores", pg_schema, mariadb_database, redis_prefix, REQUESTS)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DevServer]:
    """A Temporal dev server of this test alone, persisting to a SQLite file (to be killed)."""
    server = start_dev_server(tmp_path / "temporal", ui_port=None)
    yield server
    server.stop()


def _runtime(server: DevServer, tmp_path: Path, batch: Batch) -> Runtime:
    return make_runtime(
        server, tmp_path / "state", batch.folder / "catalog.yaml", DSRFLOW_LOG_FORMAT="json"
    )


async def test_worker_sigkill_mid_fanout(
    temporal_server: DevServer, batch: Batch, tmp_path: Path
) -> None:
    rt = _runtime(temporal_server, tmp_path, batch)
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    lock = CrmLock(batch.pg_schema)
    first = WorkerProcess(rt, tmp_path / "worker-1.log")
    second: WorkerProcess | None = None
    try:
        await wait_worker_ready(first)
        rids = await submit_batch(rc, batch)
        await until_mid_fanout(rc, rids, lock)
        first.kill()
        await asyncio.to_thread(first.proc.wait, 30)
        assert first.proc.returncode == -9
        # Killed mid-fan-out: no crm erasure had committed, and each had company that had.
        for subject in batch.subjects:
            assert held(batch, subject)["crm"] == ERASED["crm"]
        lock.release()  # the dead worker's blocked statements run on and roll back

        second = WorkerProcess(rt, tmp_path / "worker-2.log")
        await wait_worker_ready(second)
        final = await until_all(rc, rids, completed, "every request to complete")
        await assert_batch_erased(rt, client, batch, rids, final, tmp_path / "out")
    finally:
        lock.release()
        first.stop()
        if second is not None:
            second.stop()
        rt.ledger.close()
    assert second is not None
    assert_no_subject_in([first.output(), second.output()], batch)


async def test_temporal_server_sigkill_restart(
    own_server: DevServer, batch: Batch, tmp_path: Path
) -> None:
    rt = _runtime(own_server, tmp_path, batch)
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    lock = CrmLock(batch.pg_schema)
    worker = WorkerProcess(rt, tmp_path / "worker.log")
    try:
        await wait_worker_ready(worker)
        rids = await submit_batch(rc, batch)
        await until_mid_fanout(rc, rids, lock)
        own_server.kill()
        # With Temporal down, the held crm erasures go on and commit; their completions
        # cannot be reported. Wait for the commits in the store itself, not for a while.
        lock.release()
        for _ in range(240):
            if all(held(batch, s)["crm"] == 0 for s in batch.subjects):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("the held crm erasures did not commit while Temporal was down")
        assert worker.proc.poll() is None, worker.output()[-3000:]  # the worker rode it out

        own_server.start()  # same ports, same database file
        final = await until_all(rc, rids, completed, "every request to complete")
        await assert_batch_erased(rt, client, batch, rids, final, tmp_path / "out")
    finally:
        lock.release()
        worker.stop()
        rt.ledger.close()
    assert_no_subject_in([worker.output()], batch)


async def test_two_workers_share_the_work(
    temporal_server: DevServer, batch: Batch, tmp_path: Path
) -> None:
    rt = _runtime(temporal_server, tmp_path, batch)
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    workers = [WorkerProcess(rt, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    try:
        await asyncio.gather(*(wait_worker_ready(w) for w in workers))
        rids = await submit_batch(rc, batch)
        final = await until_all(rc, rids, completed, "every request to complete")
        await assert_batch_erased(rt, client, batch, rids, final, tmp_path / "out")
        ran = await _activity_identities(client, rids)
    finally:
        for w in workers:
            w.stop()
        rt.ledger.close()
    # Each worker's identity is "<pid>@<host>": both processes ran activities of the batch.
    pids = {int(identity.split("@", 1)[0]) for identity in ran}
    assert pids == {w.proc.pid for w in workers}, (ran, [w.proc.pid for w in workers])
    assert_no_subject_in([w.output() for w in workers], batch)


async def _activity_identities(client: Client, rids: list[str]) -> dict[str, int]:
    """Activities started per worker identity, from the requests' histories."""
    ran: dict[str, int] = {}
    for rid in rids:
        history = await client.get_workflow_handle(rid).fetch_history()
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identity = e.activity_task_started_event_attributes.identity
                ran[identity] = ran.get(identity, 0) + 1
    return ran

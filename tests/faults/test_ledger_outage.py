"""Fault: the ledger's PostgreSQL is unreachable for a while during a batch of erasures.

The ledger is a database of this test's own, and a real ``dsrflow worker`` subprocess reaches it
through a proxy the test takes down once every request has started (its first snapshots are in
the ledger). The ledger also keeps the data keys that decrypt the requests' payloads, the
receipt journal and the transparency log, so for the worker nearly everything stops: the
requests must stay in Temporal, running (nothing failed, nothing parked), and when the ledger is
back the projection must catch up, in order. The test samples the ledger directly (not through
the proxy) the whole time: no request's snapshot sequence ever goes back, no end state is ever
left, and in the end the ledger shows each workflow's final state: its status, every store's
outcome and every recorded action, with an intact audit chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from temporalio.client import WorkflowExecutionStatus

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus, StatusView, StoreStatus
from dsrflow.ledger import audit_chain
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.faults.faultkit import PgProxy, WorkerProcess, submit_erasure, until, wait_worker_ready
from tests.faults.storekit import (
    BYSTANDER,
    ERASED,
    PEOPLE,
    Stores,
    bundle_verifies,
    left,
    outcome,
    seed,
    write_catalog,
)
from tests.fixtures.stack import make_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]

OUTAGE_S = 8.0
"""Longer than the key cache (5 s): the worker cannot decrypt or encrypt without the ledger."""
# The stores ride out the outage: their activities fail while the keys are out of reach.
PATIENT = {"max_attempts": 100, "initial_interval": 0.5, "backoff": 1.0, "max_interval": 1.0}
ENDED = {str(s) for s in RequestStatus if s.terminal}
STORE_ENDS = {str(StoreStatus.DONE), str(StoreStatus.NOT_FOUND)}

Sample = tuple[int, str, dict[str, str]]  # projection_seq, status, store -> status


@pytest.mark.timeout(170)
async def test_ledger_unavailable_projection_catches_up(
    temporal_server: DevServer,
    pg_schema: str,
    pg_database: str,
    redis_prefix: str,
    mariadb_database: str,
    tmp_path: Path,
) -> None:
    stores = Stores(pg_schema, redis_prefix, mariadb_database)
    seed(stores)
    proxy = PgProxy()
    direct = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    through = f"postgresql://postgres@127.0.0.1:{proxy.port}/{pg_database}?sslmode=disable"
    catalog = write_catalog(tmp_path, stores, crm=PATIENT, cache=PATIENT, shop=PATIENT)
    rt = make_runtime(
        temporal_server, tmp_path / "state", catalog,
        DSRFLOW_LEDGER_URL=direct, DSRFLOW_LOG_FORMAT="json",
    )  # fmt: skip
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    proxy.up()
    worker = WorkerProcess(rt, tmp_path / "worker.log", DSRFLOW_LEDGER_URL=through)
    samples: dict[str, list[Sample]] = defaultdict(list)
    sampler: asyncio.Task[None] | None = None
    try:
        await wait_worker_ready(worker)
        rids = list(await asyncio.gather(*(submit_erasure(rc, p) for p in PEOPLE)))
        sampler = asyncio.create_task(_sample(direct, rids, samples))
        await _until_in_ledger(samples, rids)
        # The next ledger transaction of the worker (a snapshot, a journaled receipt, a key)
        # commits, and the answer never reaches the worker: the outage starts in doubt.
        proxy.arm(proxy.down)
        for _ in range(300):
            if proxy.commits_cut:
                break
            await asyncio.sleep(0.1)
        assert proxy.commits_cut == 1, "no ledger commit while the requests ran"
        await asyncio.sleep(1.0)
        frozen = {rid: list(samples[rid]) for rid in rids}
        await asyncio.sleep(OUTAGE_S)
        for rid in rids:  # still in Temporal, running: nothing failed or was given up
            desc = await client.get_workflow_handle(rid).describe()
            assert desc.status == WorkflowExecutionStatus.RUNNING, (rid, desc.status)
        # Nothing reached the ledger meanwhile (the proxy is the worker's only way there).
        assert {rid: list(samples[rid]) for rid in rids} == frozen
        assert any(frozen[rid][-1][1] not in ENDED for rid in rids), frozen
        cut_at = {rid: frozen[rid][-1][0] for rid in rids}

        proxy.up()  # the ledger is back
        views = [await until(rc, rid, _ended, rid, seconds=90) for rid in rids]
        await asyncio.sleep(0.5)  # a last sample after the final projection
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await _final_sample(direct, rids, samples)

        for rid, view in zip(rids, views, strict=True):
            assert view.status == RequestStatus.COMPLETED, view
            seen = samples[rid]
            seqs = [s[0] for s in seen]
            assert seqs == sorted(seqs), f"{rid}: projection went back: {seqs}"
            assert max(seqs) > cut_at[rid], f"{rid}: nothing projected after the outage"
            _never_left_an_end(rid, seen)
            _ledger_is_the_workflow(rt, view)
        assert left(stores) == {s: {BYSTANDER} for s in ("crm", "cache", "shop")}
        with rt.ledger.session() as s:
            chain = audit_chain.walk(s)
        assert chain.problem is None, chain.problem
        # One request's bundle, signed and logged after the outage, verifies (each bundle's
        # check costs three CLI runs; the other tests verify theirs).
        await bundle_verifies(rt, rids[0], tmp_path)
    finally:
        if sampler is not None:
            sampler.cancel()
        worker.stop()
        proxy.down()
        rt.ledger.close()


def _ended(view: StatusView) -> bool:
    return view.status.terminal or view.status == RequestStatus.NEEDS_ATTENTION


async def _until_in_ledger(samples: dict[str, list[Sample]], rids: list[str]) -> None:
    """Until the ledger holds a snapshot of every request (bounded)."""
    for _ in range(300):
        if all(samples[rid] for rid in rids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not every request reached the ledger: {dict(samples)}")


def _read(engine: Engine, rids: list[str]) -> dict[str, Sample]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, projection_seq, status FROM requests WHERE id = ANY(:ids)"),
            {"ids": rids},
        ).all()
        st = conn.execute(
            text("SELECT request_id, store, status FROM store_states WHERE request_id = ANY(:i)"),
            {"i": rids},
        ).all()
    stores: dict[str, dict[str, str]] = defaultdict(dict)
    for rid, store, status in st:
        stores[rid][store] = status
    return {rid: (seq, status, stores[rid]) for rid, seq, status in rows}


async def _sample(url: str, rids: list[str], out: dict[str, list[Sample]]) -> None:
    """Read every request's projection straight from the ledger database, every 0.1 s."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        while True:
            now = await asyncio.to_thread(_read, engine, rids)
            for rid, sample in now.items():
                if not out[rid] or out[rid][-1] != sample:
                    out[rid].append(sample)
            await asyncio.sleep(0.1)
    finally:
        engine.dispose()


async def _final_sample(url: str, rids: list[str], out: dict[str, list[Sample]]) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    for rid, sample in (await asyncio.to_thread(_read, engine, rids)).items():
        if out[rid][-1] != sample:
            out[rid].append(sample)
    engine.dispose()


def _never_left_an_end(rid: str, seen: list[Sample]) -> None:
    """Once the ledger showed the request ended, or a store done, it never showed less."""
    for before, after in itertools.pairwise(seen):
        if before[1] in ENDED:
            assert after[1] == before[1], f"{rid}: {before[1]} -> {after[1]}"
        for store, status in before[2].items():
            if status in STORE_ENDS:
                assert after[2].get(store) == status, f"{rid}/{store}: {before} -> {after}"


def _ledger_is_the_workflow(rt: Runtime, view: StatusView) -> None:
    """The ledger's final record of a request is the workflow's final state."""
    row = rt.ledger.get_request(view.request_id)
    assert row is not None and row.status == str(view.status), (row, view.status)
    assert sorted((s.store, s.status, s.affected, s.residual) for s in row.stores) == sorted(
        (o.store, str(o.status), o.receipt.affected if o.receipt else None,
         o.verification.residual if o.verification else None)
        for o in view.stores
    )  # fmt: skip
    for o in view.stores:
        receipt = outcome(view, o.store).receipt
        assert receipt is not None and receipt.affected == ERASED[o.store], o
    mine = [(a.seq, a.actor, a.action, a.store) for a in rt.ledger.actions(view.request_id)]
    theirs = [(a.seq, a.actor, a.action, a.store) for a in view.actions]
    assert sorted(mine) == sorted(theirs), (mine, theirs)

"""Fault: a store's trigger refuses the erasure with a message naming the person.

The message (free text a schema author wrote) holds a canary name and quotes the subject's
e-mail. The store ends ``failed_needs_attention`` with the error class, SQLSTATE and nothing
else: the canary appears nowhere - not in the ledger database, not in the worker's logs, not in
CLI output, not in Temporal's history (raw, and decrypted with the request's key).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dsrflow.devserver import DevServer
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import (
    NEEDS,
    SUBJECT,
    WorkerProcess,
    crm,
    decoded_history,
    runtime,
    seed_store,
    store_rows,
    submit_erasure,
    temporal_show,
    until,
    wait_worker_ready,
    write_catalog,
)
from tests.fixtures.stack import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CANARY = "Zelda Quennell-Canary"


async def test_trigger_message_naming_a_person_leaves_no_trace(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    seed_store(pg_schema, trigger_message=f"cannot delete customer {CANARY}")
    before = store_rows(pg_schema)
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, pg_schema))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    worker = WorkerProcess(rt, tmp_path / "worker.log")
    rid = None
    try:
        await wait_worker_ready(worker)
        rid = await submit_erasure(rc)
        view = await until(rc, rid, lambda v: getattr(crm(v), "status", None) == NEEDS,
                           "the trigger to park the store")  # fmt: skip
        store = crm(view)
        assert store.error_type == "PermanentStoreError"
        assert "RaiseException [SQLSTATE P0001] while erasing" in (store.error or ""), store
        assert store_rows(pg_schema) == before  # rolled back: nothing half-done

        places: dict[str, str] = {}
        for args in (("request", "show", rid), ("request", "list"), ("request", "tasks")):
            code, text = await run_cli(rt, *args)
            assert code == 0, text
            places[" ".join(args)] = text
        assert "P0001" in places[f"request show {rid}"]  # the CLI does show the error...
        places["history (decrypted)"] = "\n".join(await decoded_history(client, rid))
        places["history (temporal workflow show)"] = await temporal_show(
            rt.settings.temporal_address, rid
        )
        worker.stop()  # it has flushed every line it will write (a fixed sleep might not)
        places["worker log"] = worker.output()
        places["ledger database"] = _ledger_dump(rt.settings.state_dir)
        assert "Completing activity as failed" in places["worker log"]  # the logs were read
        for where, text in places.items():
            for secret in (CANARY, "Zelda", "Quennell"):
                assert secret.lower() not in text.lower(), f"{secret!r} found in {where}"
            if not where.startswith("history"):  # the request's own input holds the e-mail
                assert SUBJECT not in text, f"the subject's e-mail found in {where}"
    finally:
        worker.stop()
        if rid is not None:  # it waits for a person: end it so nothing is left running
            await rc.handle(rid).terminate(reason="fault test finished")
        rt.ledger.close()


def _ledger_dump(state_dir: Path) -> str:
    dbs = list(state_dir.rglob("*.db"))
    assert dbs, f"no ledger database under {state_dir}"
    text = []
    for db in dbs:
        with sqlite3.connect(db) as conn:
            text.extend(conn.iterdump())
        conn.close()
    return "\n".join(text)

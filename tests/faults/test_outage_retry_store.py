"""Fault: PostgreSQL becomes unreachable mid-request, comes back, a person runs ``retry-store``.

The store sits behind a proxy the test controls. The outage starts right at the erasure's
COMMIT: either before the client hears the answer (the commit's outcome is unknown to the
worker; the erase fails and its retries hit the outage) or just after it (the erase completed;
verification hits the outage). Retries run out, the store waits for a person, the database
comes back and ``dsrflow request retry-store`` runs it again. The re-run finds nothing left to
erase; the store must end ``done`` with the committed counts, verified, never ``not_found``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import (
    DONE,
    ERASED_ROWS,
    NEEDS,
    OTHER,
    PgProxy,
    crm,
    decoded_history,
    never_not_found,
    runtime,
    seed_store,
    store_rows,
    submit_erasure,
    until,
    write_catalog,
)
from tests.fixtures.stack import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.mark.parametrize(
    ("deliver", "failed_step"),
    [(False, "erase"), (True, "verify")],
    ids=["outage-before-the-commit-answer", "outage-after-the-commit-answer"],
)
async def test_outage_then_retry_store_never_signs_not_found(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path, deliver: bool, failed_step: str
) -> None:
    seed_store(pg_schema)
    proxy = PgProxy()
    proxy.up()
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, pg_schema, proxy.port))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    try:
        async with rt.worker(client):
            proxy.arm(proxy.down, deliver=deliver)
            rid = await submit_erasure(rc)
            view = await until(
                rc, rid, lambda v: getattr(crm(v), "status", None) == NEEDS, "the outage to park it"
            )
            assert proxy.commits_cut == 1
            parked = crm(view)
            assert parked.error_type == "RetryableStoreError", parked
            # The erasure did commit before the outage.
            assert store_rows(pg_schema) == {
                "customers": [(2, OTHER, "Mia Park")], "orders": [(12, 2, 9)],
            }  # fmt: skip
            doing = {"erase": "while erasing", "verify": "while verifying erasure"}[failed_step]
            assert doing in (parked.error or ""), parked

            proxy.up()  # the database is back
            code, text = await run_cli(rt, "request", "retry-store", rid, "crm", "--reason",
                                       "database back after the outage")  # fmt: skip
            assert code == 0, text
            view = await until(
                rc, rid, lambda v: v.status == RequestStatus.COMPLETED, "the request to complete"
            )
            history = await decoded_history(client, rid)
        store = crm(view)
        assert store.status == DONE, store
        assert store.receipt is not None
        assert (store.receipt.matched, store.receipt.affected) == (ERASED_ROWS, ERASED_ROWS)
        if failed_step == "erase":
            # The erase's first success was journaled inside its transaction: the re-run
            # returns it (whatever step the workflow resumes at).
            assert store.receipt.recovered
        assert store.verification is not None and store.verification.residual == 0
        assert never_not_found(history)
        ledger = rt.ledger.get_request(rid)
        assert ledger is not None
        assert [(s.store, s.status, s.affected, s.residual) for s in ledger.stores] == [
            ("crm", "done", ERASED_ROWS, 0)
        ]
        code, text = await run_cli(rt, "request", "show", rid)
        assert code == 0 and "not_found" not in text, text
    finally:
        proxy.down()
        rt.ledger.close()

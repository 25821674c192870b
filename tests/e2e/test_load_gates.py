"""Load on one worker: many requests' gates passed at once, and no action is lost.

``N`` requests (access and erasure alternating, both gates on for both) are submitted at once,
then every identity verification is sent at once, then every approval, through the service
layer as the CLI does, to one worker process. Every action must be accepted (a passing refusal
retried by the request client, never shown to the person), exactly once: one audit entry and
one recorded action per action. ``bench/bench_load.py`` runs 200 and reports rates and retries;
here ``N`` is 100 (``DSR_LOAD_N`` to change it) so ``make test`` stays within a few minutes.

When the action cannot be confirmed, the message must say what is true: the second test runs
with no worker at all and short patience.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsrflow.devserver import DevServer
from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import NotFound, Unavailable
from dsrflow.lifecycle import Decision
from dsrflow.requests_client import ActionNotConfirmed, Patience, RequestClient
from tests.e2e.load_kit import ANALYST, APPROVER, GATES, VERIFIER, gated_demo, run_load
from tests.faults.faultkit import WorkerProcess, runtime, wait_worker_ready

pytestmark = pytest.mark.e2e

N = int(os.environ.get("DSR_LOAD_N", "100"))


@pytest.mark.timeout(900)
async def test_gates_passed_at_once_lose_no_action(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    rt = runtime(temporal_server, tmp_path, gated_demo(tmp_path / "demo"))
    worker = WorkerProcess(rt, tmp_path / "worker.log")
    try:
        await wait_worker_ready(worker)
        run = await run_load(rt, N, finish_s=600)
        print(f"\n{N} requests: {run.seconds}; retried transparently: {dict(run.retries)}")
        assert run.errors == [], run.errors[:5]  # every action accepted; nothing shown to anyone
        rc = RequestClient(await rt.client(), rt.settings.task_queue)
        want_audit = sorted([(ANALYST.actor, "submit")] + [(w.actor, u) for u, w, _ in GATES])
        want_actions = [(who.actor, action) for _, who, action in GATES]
        for rid in run.ids:
            entries = rt.ledger.audit_entries(rid)
            audit = sorted((a.actor, a.action) for a in entries if a.actor.startswith("staff:"))
            assert audit == want_audit, (rid, audit)  # each action audited exactly once
            view = await rc.status(rid)  # a query on a closed workflow needs the worker
            people = [(a.actor, a.action) for a in view.actions if a.actor.startswith("staff:")]
            assert people == want_actions, (rid, people)  # ...and accepted exactly once
            row = rt.ledger.get_request(rid)
            assert row is not None and row.status == "completed", (rid, row)
            ledger = [(a.actor, a.action) for a in rt.ledger.actions(rid)]
            assert ledger == want_actions, (rid, ledger)
    finally:
        worker.stop()
    rt.ledger.close()


@pytest.mark.timeout(120)
async def test_no_worker_is_said_plainly(temporal_server: DevServer, tmp_path: Path) -> None:
    """Nobody polls this task queue: each message says so, and says what may have happened."""
    rt = runtime(temporal_server, tmp_path, gated_demo(tmp_path / "demo"))
    rc = RequestClient(await rt.client(), rt.settings.task_queue,
                       patience=Patience(total_s=4, attempt_s=2))  # fmt: skip
    rid = f"t-noworker-{uuid.uuid4().hex[:8]}"
    inp = DsrInput(rid, RequestType.ERASURE, [Identity("email", "nobody@example.com")],
                   datetime.now(UTC))  # fmt: skip
    lately = f"no worker has asked task queue {rt.settings.task_queue} for work lately"
    try:
        with pytest.raises(Unavailable) as submitted:
            await rc.submit(inp)
        assert lately in str(submitted.value), submitted.value
        assert f"--request-id {rid}" in str(submitted.value)  # the way to retry it safely
        # The request was started (update-with-start) and waits for a worker.
        assert await rc.closed_as(rid) is None
        with pytest.raises(ActionNotConfirmed) as acted:
            await rc.act(rid, "approve", Decision(APPROVER.actor, ""))
        assert lately in str(acted.value) and "may still take effect" in str(acted.value)
        for told in (submitted.value, acted.value):  # a remote caller is not told the queue
            assert rt.settings.task_queue not in told.public, told.public
        assert rc.retries, "the refusals were retried before giving up"
        with pytest.raises(NotFound, match="not found"):  # a request that does not exist
            await rc.act(f"t-none-{uuid.uuid4().hex[:8]}", "verify_identity", VERIFIER)
    finally:
        await rc.handle(rid).terminate(reason="test finished")
        rt.ledger.close()

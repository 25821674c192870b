"""Metrics and health on a running stack: a real `dsrflow worker` process with its endpoint on,
the API app served in this process, a real Temporal dev server. After an erasure completes, the
API's /metrics carries the ledger's series with the right values and the worker's endpoint
serves its own counters, the Temporal SDK's series and readiness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from dsrflow.api.serve import start, stop
from dsrflow.devserver import DevServer
from dsrflow.domain import DsrInput, DsrResult, Identity, RequestStatus, RequestType
from dsrflow.lifecycle import Decision, IdentityVerification
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.fixtures.stack import DSRFLOW, free_ports, make_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SUBJECT = "alice@example.com"  # in the demo stores


@dataclass
class Stack:
    rt: Runtime
    api: str
    worker: str
    log: Path


def get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def aget(url: str, token: str | None = None) -> tuple[int, str]:
    return await asyncio.to_thread(get, url, token)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    found = [v for n, ls, v in samples(text) if n == name and labels.items() <= ls.items()]
    assert found, f"no {name}{labels} in:\n{text[:3000]}"
    return sum(found)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(temporal_server: DevServer, demo_dir: Path, tmp_path: Path) -> AsyncIterator[Stack]:
    worker_port, api_port = free_ports(2)
    rt = make_runtime(
        temporal_server, tmp_path / "state", demo_dir / "catalog.yaml",
        DSRFLOW_METRICS_WORKER_PORT=str(worker_port), DSRFLOW_ENV_FILE=os.devnull,
        DSRFLOW_LOG_FORMAT="json",
    )  # fmt: skip
    _ = rt.keystore, rt.caller_key()  # made here, before the worker process reads them
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*DSRFLOW, "worker"], env={**os.environ, **rt.env}, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = await start(rt.api_app(), "127.0.0.1", api_port)
    worker = f"http://127.0.0.1:{worker_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await aget(worker + "/readyz"))[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text())
            await asyncio.sleep(0.2)
        yield Stack(rt, f"http://127.0.0.1:{api_port}", worker, log)
    finally:
        await stop(*server)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rt.ledger.close()


async def _complete_an_erasure(rt: Runtime) -> str:
    rc = RequestClient(await rt.client(), rt.settings.task_queue)
    rid = f"t-metrics-{uuid.uuid4().hex[:8]}"
    await rc.submit(
        DsrInput(
            request_id=rid,
            request_type=RequestType.ERASURE,
            identities=[Identity("email", SUBJECT)],
            received_at=datetime.now(UTC),
        )
    )
    await rc.act(rid, "verify_identity", IdentityVerification("email_link", "staff:ivy"))
    await rc.act(rid, "approve", Decision("staff:abe", "metrics test"))
    result = await asyncio.wait_for(rc.handle(rid).result(), 120)
    assert isinstance(result, DsrResult) and result.status == RequestStatus.COMPLETED, result
    deadline = time.monotonic() + 30  # the last projection may land just after the result
    while (row := rt.ledger.get_request(rid)) is None or row.status != "completed":
        assert time.monotonic() < deadline, f"ledger never showed {rid} completed"
        await asyncio.sleep(0.2)
    return rid


async def test_metrics_and_health_after_a_completed_erasure(stack: Stack) -> None:
    rid = await _complete_an_erasure(stack.rt)
    stores = set(stack.rt.catalog.stores)

    # The API: the ledger's series, unauthenticated, with this one request in them.
    status, text = await aget(stack.api + "/metrics")
    assert status == 200, text
    assert value(text, "dsrflow_ledger_up") == 1
    assert value(text, "dsrflow_requests", type="erasure", status="completed") == 1
    assert value(text, "dsrflow_request_time_to_close_seconds_count", type="erasure") == 1
    assert (
        value(text, "dsrflow_request_time_to_close_seconds_bucket", type="erasure", le="+Inf") == 1
    )
    outcomes = [(ls["store"], ls["outcome"]) for n, ls, v in samples(text)
                if n == "dsrflow_store_outcomes" and v > 0]  # fmt: skip
    assert outcomes and {s for s, _ in outcomes} <= stores, outcomes
    assert value(text, "dsrflow_store_outcomes", outcome="done") >= 1
    assert rid not in text and SUBJECT not in text  # labels carry no request id or subject

    for path in ("/healthz", "/readyz"):
        status, body = await aget(stack.api + path)
        assert status == 200, (path, body)
    assert json.loads(body) == {"status": "ready", "checks": {"ledger": "ok"}}

    # The worker: its own counters and the SDK's series, and readiness.
    status, text = await aget(stack.worker + "/metrics")
    assert status == 200, text
    assert any(name.startswith("temporal_") for name, _, _ in samples(text)), text[:3000]
    assert value(text, "dsrflow_store_operations_total", operation="erase", outcome="ok") >= 1
    assert value(text, "dsrflow_sweeps_total") >= 1
    swept = {ls["store"] for n, ls, _ in samples(text) if n == "dsrflow_sweeps_total"}
    assert swept <= stores, swept
    assert rid not in text and SUBJECT not in text

    status, body = await aget(stack.worker + "/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"worker": "ok", "temporal": "ok", "ledger": "ok"}
    assert (await aget(stack.worker + "/healthz"))[0] == 200
    assert (await aget(stack.worker + "/api/v1/requests"))[0] == 404  # nothing else there
    assert SUBJECT not in stack.log.read_text()


def test_a_busy_worker_endpoint_port_is_one_line(demo_dir: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            **os.environ,
            "DSRFLOW_STATE_DIR": str(tmp_path / "state"),
            "DSRFLOW_CATALOG": str(demo_dir / "catalog.yaml"),
            "DSRFLOW_ENV_FILE": os.devnull,
            "DSRFLOW_METRICS_WORKER_PORT": str(port),
            "DSRFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1",
        }
        run = subprocess.run(
            [*DSRFLOW, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 (worker endpoint (DSRFLOW_METRICS_WORKER_PORT)) "
        "is already in use"
    ], run.stderr

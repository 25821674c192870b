"""The API's /healthz, /readyz and /metrics, in-process: exact values of the ledger's series, no
request id in them, the same security headers as every answer, the optional metrics token."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dsrflow.domain import RequestStatus
from dsrflow.ledger.models import RequestRow
from dsrflow.observability.endpoints import OpsEndpoints
from tests.unit.api_kit import SECURITY_HEADERS, api_runtime, client
from tests.unit.service_kit import project

pytestmark = pytest.mark.unit


def series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ledger_series_have_the_ledgers_numbers(tmp_path: Path) -> None:
    rt = api_runtime(tmp_path)
    project(rt, "dsr-m-run", RequestStatus.RUNNING)
    project(rt, "dsr-m-late", RequestStatus.RUNNING)
    project(rt, "dsr-m-done", RequestStatus.COMPLETED)
    with rt.ledger.session() as s:
        late, done = s.get(RequestRow, "dsr-m-late"), s.get(RequestRow, "dsr-m-done")
        assert late is not None and done is not None
        late.overdue = True
        done.completed_at = done.received_at + timedelta(hours=2)
    c = client(rt)

    r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = series(r.text)
    assert got[("dsrflow_ledger_up", ())] == 1
    assert got[("dsrflow_requests", (("status", "running"), ("type", "erasure")))] == 2
    assert got[("dsrflow_requests", (("status", "completed"), ("type", "erasure")))] == 1
    assert got[("dsrflow_requests_overdue", (("type", "erasure"),))] == 1
    assert got[("dsrflow_store_outcomes", (("outcome", "pending"), ("store", "shop")))] == 3
    bucket = "dsrflow_request_time_to_close_seconds_bucket"
    assert got[(bucket, (("le", "3600.0"), ("type", "erasure")))] == 0
    assert got[(bucket, (("le", "21600.0"), ("type", "erasure")))] == 1
    assert got[("dsrflow_request_time_to_close_seconds_sum", (("type", "erasure"),))] == 7200
    assert "dsr-m-" not in r.text
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value

    assert c.get("/healthz").json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready", "checks": {"ledger": "ok"}}
    assert r.headers["x-content-type-options"] == "nosniff"
    r = c.post("/metrics", json={})
    assert r.status_code == 405
    rt.ledger.close()


def test_metrics_token_and_switch(tmp_path: Path) -> None:
    rt = api_runtime(tmp_path / "a", DSRFLOW_METRICS_TOKEN="m3trics-token")
    c = client(rt)
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = c.get("/metrics", headers={"Authorization": "Bearer m3trics-token"})
    assert r.status_code == 200 and "dsrflow_ledger_up 1.0" in r.text
    assert c.get("/healthz").status_code == 200  # probes need no token
    rt.ledger.close()

    off = api_runtime(tmp_path / "b", DSRFLOW_METRICS_API="false")
    r = client(off).get("/metrics")
    assert r.status_code == 404 and "dsrflow_" not in r.text
    off.ledger.close()


def test_readiness_fails_with_a_failing_or_raising_check() -> None:
    async def ledger_down() -> dict[str, bool]:
        return {"ledger": False, "temporal": True}

    async def broken() -> dict[str, bool]:
        raise OSError("connection refused to db.internal:5432")

    for ready, checks in (
        (ledger_down, {"ledger": "failing", "temporal": "ok"}),
        (broken, {"checks": "failing"}),
    ):
        app = FastAPI()
        app.add_middleware(OpsEndpoints, ready=ready)
        r = TestClient(app).get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "not ready", "checks": checks}  # no address, no error
        assert TestClient(app).get("/metrics").status_code == 404  # no metrics given: not served

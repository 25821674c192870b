"""OpenTelemetry tracing through the SDK's interceptor, on a real Temporal dev server: with
DSRFLOW_OTEL_ENABLED an erasure produces one trace from the client's start through the workflow
to each store activity, and no span carries the subject (in-memory exporter instead of OTLP)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dsrflow.devserver import DevServer
from dsrflow.domain import DsrInput, DsrResult, Identity, RequestStatus, RequestType
from dsrflow.lifecycle import Decision, IdentityVerification
from dsrflow.requests_client import RequestClient
from tests.fixtures.stack import make_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SUBJECT = "alice@example.com"  # in the demo stores
WORKFLOW = "DataSubjectRequest"
START = f"StartUpdateWithStartWorkflow:{WORKFLOW}"  # submit is update-with-start


async def test_an_erasure_is_one_trace_without_personal_data(
    temporal_server: DevServer, demo_dir: Path, tmp_path: Path
) -> None:
    rt = make_runtime(
        temporal_server, tmp_path / "state", demo_dir / "catalog.yaml",
        DSRFLOW_OTEL_ENABLED="true", DSRFLOW_OTEL_SERVICE_NAME="dsrflow-test",
    )  # fmt: skip
    exporter = InMemorySpanExporter()
    rt.trace_exporter = exporter
    client = await rt.client()
    rid = f"t-trace-{uuid.uuid4().hex[:8]}"
    async with rt.worker(client):
        rc = RequestClient(client, rt.settings.task_queue)
        await rc.submit(
            DsrInput(
                request_id=rid,
                request_type=RequestType.ERASURE,
                identities=[Identity("email", SUBJECT)],
                received_at=datetime.now(UTC),
            )
        )
        await rc.act(rid, "verify_identity", IdentityVerification("email_link", "staff:ivy"))
        await rc.act(rid, "approve", Decision("staff:abe", "tracing test"))
        result = await asyncio.wait_for(rc.handle(rid).result(), 120)
    assert isinstance(result, DsrResult) and result.status == RequestStatus.COMPLETED
    rt.ledger.close()

    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    for expected in (
        START,
        f"RunWorkflow:{WORKFLOW}",
        "StartWorkflowUpdate:approve",
        "HandleUpdate:approve",
        "RunActivity:erase_store",
        "RunActivity:check_store",
        "RunActivity:project",
    ):
        assert expected in names, sorted(names)
    [start] = [s for s in spans if s.name == START]
    assert start.attributes is not None and start.attributes["temporalWorkflowID"] == rid
    assert start.resource.attributes["service.name"] == "dsrflow-test"
    erasures = [s for s in spans if s.name == "RunActivity:erase_store"]
    assert len(erasures) == len(rt.catalog.stores)
    for span in erasures:  # the workflow's activities hang under the client's start
        assert span.context is not None and start.context is not None
        assert span.context.trace_id == start.context.trace_id
        assert span.attributes is not None and span.attributes["temporalWorkflowID"] == rid
    for span in spans:
        text = repr(
            (span.name, dict(span.attributes or {}), span.status.description,
             [(e.name, dict(e.attributes or {})) for e in span.events])
        )  # fmt: skip
        assert SUBJECT not in text and "alice" not in text.lower(), text

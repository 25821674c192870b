"""Spans leave through ScrubbingExporter: an error message quoting a subject is scrubbed in the
span's status, its exception event and its attributes, as log lines are; ids stay."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from dsrflow.observability.tracing import tracer_provider
from dsrflow.settings import OtelSettings

pytestmark = pytest.mark.unit

LEAK = "bob.trace@example.com"


def test_status_events_and_attributes_are_scrubbed() -> None:
    memory = InMemorySpanExporter()
    provider = tracer_provider(OtelSettings(enabled=True, service_name="t"), memory)
    with provider.get_tracer("t").start_as_current_span(
        "RunActivity:erase_store", attributes={"temporalWorkflowID": "dsr-1", "note": LEAK}
    ) as span:
        span.record_exception(ValueError(f"no row for {LEAK}"))
        span.set_status(Status(StatusCode.ERROR, f"ValueError: no row for {LEAK}"))
    [done] = memory.get_finished_spans()
    assert LEAK not in repr(
        (dict(done.attributes or {}), done.status.description,
         [dict(e.attributes or {}) for e in done.events])
    )  # fmt: skip
    assert done.attributes is not None and done.attributes["temporalWorkflowID"] == "dsr-1"
    assert done.status.description == "ValueError: no row for [redacted]"
    assert done.events[0].attributes is not None
    assert done.events[0].attributes["exception.type"] == "ValueError"

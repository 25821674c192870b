"""OpenTelemetry tracing of Temporal calls, workflows and activities (``DSRFLOW_OTEL_*``).

The Temporal SDK's ``TracingInterceptor`` makes the spans (client start and updates, workflow
runs, activity attempts); their attributes are Temporal ids (workflow id = request id), never a
payload. Status descriptions and exception events carry error messages, which dsrflow already
keeps free of personal data; ``ScrubbingExporter`` scrubs them once more before they leave, as
the log processor does for log lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from dsrflow.redact import scrub

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.contrib.opentelemetry import TracingInterceptor

    from dsrflow.settings import OtelSettings

TRACER_NAME = "dsrflow"


def tracer_provider(settings: OtelSettings, exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider exporting over OTLP/HTTP in batches, or to ``exporter`` span by span.

    Args:
        settings: The ``otel`` settings (service name, endpoint).
        exporter: Where spans go instead of OTLP (tests, an embedding program).
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(exporter)))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        otlp = OTLPSpanExporter(endpoint=settings.endpoint) if settings.endpoint else None
        provider.add_span_processor(
            BatchSpanProcessor(ScrubbingExporter(otlp or OTLPSpanExporter()))
        )
    return provider


def tracing_interceptor(provider: TracerProvider) -> TracingInterceptor:
    """The SDK's interceptor, for the client (workers built on that client inherit it)."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return TracingInterceptor(provider.get_tracer(TRACER_NAME))


class ScrubbingExporter(SpanExporter):
    """Scrubs every string a span carries (attributes, events, status) before ``inner`` sends it."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export scrubbed copies."""
        return self.inner.export([_scrubbed(s) for s in spans])

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self.inner.force_flush(timeout_millis)


def _attrs(attributes: Any) -> dict[str, Any]:
    return {k: scrub(v) if isinstance(v, str) else v for k, v in (attributes or {}).items()}


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, scrub(status.description))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_attrs(span.attributes),
        events=[Event(e.name, _attrs(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )

"""Structured logging with a redaction processor.

Log events carry ids and counts, never personal data; the redaction processor is the safety
net for mistakes: it drops values of sensitive keys and scrubs e-mail addresses, phone numbers
and quoted literals from every string it sees.

Every event names its logger (``logger``). The Temporal SDK's own context (workflow and
activity ids and types, attempt, task queue) is lifted from its log records into keys of the
event, where it is kept as it is: ids and names, never payloads (docs/operations.md, "Logs").
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from dsrflow.redact import REDACTED, scrub

SENSITIVE_KEYS = frozenset(
    {
        "email",
        "identifier",
        "identities",
        "identity",
        "subject",
        "value",
        "values",
        "password",
        "secret",
        "token",
        "record",
        "records_data",
        "data",
        "phone",
        "name",
        "address",
        "k_req",
        "key",
    }
)


# Keys whose values are ids, digests or timestamps by contract: left as they are.
SAFE_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "request_id",
        "workflow_id",
        "run_id",
        "store",
        "sha256",
        "task_queue",
        # the Temporal SDK's context (``temporal_context``): ids, types and counters
        "activity_id",
        "activity_type",
        "attempt",
        "namespace",
        "workflow_type",
        "workflow_run_id",
        "update_id",
        "update_name",
    }
)

# The record attributes the SDK's logger adapters set (``extra``), and the keys of each kept.
_SDK_CONTEXT = ("temporal_activity", "temporal_workflow", "temporal_update")
_SDK_KEYS = frozenset(SAFE_KEYS - {"timestamp", "level", "logger", "store", "sha256"})


def temporal_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift the SDK's context dicts off a stdlib record into the event (known keys only)."""
    record = event.get("_record")
    for attr in _SDK_CONTEXT:
        context = getattr(record, attr, None)
        if isinstance(context, Mapping):
            for key, value in context.items():
                if key in _SDK_KEYS and key not in event:
                    event[key] = value
    return event


def redact_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace sensitive values and scrub free text in a log event."""
    for key in list(event):
        value = event[key]
        if key in SAFE_KEYS:
            continue
        if key.lower() in SENSITIVE_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, list | tuple | set | dict):
            event[key] = scrub(repr(value))
    return event


def configure(fmt: str = "console", level: str = "info") -> None:
    """Configure structlog (and stdlib logging, which Temporal's SDK uses) once per process."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        temporal_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    # The SDK logs activity/workflow context (ids, types) at INFO; keep it but quieter.
    logging.getLogger("temporalio").setLevel(max(lvl, logging.WARNING))
    _sdk_context_as_keys()


def _sdk_context_as_keys() -> None:
    """The SDK's context as event keys only, not also as a dict appended to the message.

    Appended, it is a ``repr`` whose quoted keys and values the scrubber would redact; as keys
    (``temporal_context``) it stays readable and machine-parsable.
    """
    try:
        from temporalio import activity, workflow
    except ImportError:  # the base install (offline verifier) has no SDK
        return
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False

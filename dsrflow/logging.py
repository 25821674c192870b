"""Structured logging with a redaction processor.

Log events carry ids and counts, never personal data; the redaction processor is the safety
net for mistakes: it drops values of sensitive keys and scrubs e-mail addresses, phone numbers
and quoted literals from every string it sees.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
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
    }
)


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

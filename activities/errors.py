"""Translate adapter errors into Temporal application errors the workflow can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from dsrflow.adapters.sdk import AdapterError
from dsrflow.errors import UserError
from dsrflow.redact import describe_exception, first_line

CONFIG_ERROR = "ConfigError"
NON_RETRYABLE_TYPES = ["PermanentStoreError", "NotSupported", CONFIG_ERROR]


@contextmanager
def store_errors(store: str) -> Iterator[None]:
    """Raise typed, scrubbed ``ApplicationError``s for adapter and config failures.

    The error type (never encrypted in history) says what kind of failure it is; the message
    (encrypted by the codec) says where, without personal data. The attempt number rides along
    in the details so the workflow can record how many tries a store took.
    """
    attempt = activity.info().attempt
    try:
        yield
    except AdapterError as exc:
        raise ApplicationError(
            first_line(str(exc)) or f"store {store!r}: {exc.kind}",
            {"attempt": attempt},
            type=exc.kind,
            non_retryable=not exc.retryable,
        ) from None
    except UserError as exc:
        raise ApplicationError(
            first_line(str(exc)), {"attempt": attempt}, type=CONFIG_ERROR, non_retryable=True
        ) from None
    except Exception as exc:
        # Anything else (a bug, a third-party adapter passing a driver error through): retried
        # like a transient failure, but its text is scrubbed before it leaves the activity.
        # A driver error is described from its code and object names only (its text may
        # quote row data: a trigger's message, a constraint's DETAIL).
        raise ApplicationError(
            f"store {store!r}: {describe_exception(exc)}",
            {"attempt": attempt},
            type=type(exc).__name__,
        ) from None

"""The errors of the adapter SDK.

An adapter raises the three typed errors on purpose so the orchestrator knows what to do:
``RetryableAdapterError`` (try again later: timeouts, lock conflicts), ``PermanentAdapterError``
(a human must fix something: bad credentials, missing table) and ``NotSupportedError`` (this
store cannot do that verb; recorded, not hidden). ``ContractError`` is raised when an adapter
*class* does not fit the contract; the registry reports it when the adapter registers.
"""

from __future__ import annotations

from typing import ClassVar


class AdapterError(Exception):
    """Base of every error an adapter raises on purpose.

    The message must not contain personal data: it ends up in the ledger and, encrypted, in
    Temporal history. Name the store, table and column, not the values.
    """

    retryable: ClassVar[bool] = False
    kind: ClassVar[str] = "AdapterError"


class RetryableAdapterError(AdapterError):
    """A transient failure (timeout, deadlock, connection reset): the call may be retried."""

    retryable = True
    kind = "RetryableStoreError"


class PermanentAdapterError(AdapterError):
    """A failure that retrying will not fix (bad credentials, missing table, bad config)."""

    kind = "PermanentStoreError"


class NotSupportedError(AdapterError):
    """The store cannot perform the requested verb."""

    kind = "NotSupported"


class ContractError(Exception):
    """An adapter class does not fit the contract (one line naming the attribute or verb).

    Raised by ``dsrflow.adapters.sdk.capabilities.describe`` when an adapter registers; the
    registry prefixes the adapter's name and entry point.
    """

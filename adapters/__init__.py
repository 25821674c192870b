"""Adapters: the contract every data store implements, the registry, and the built-ins.

See ``docs/writing-an-adapter.md``. Store-specific code lives here and nowhere else.
"""

from dsrflow.adapters.base import (
    Adapter,
    AdapterContext,
    AdapterError,
    Capability,
    Check,
    CheckReport,
    NotSupportedError,
    OperationReceipt,
    PermanentAdapterError,
    Record,
    RetryableAdapterError,
    Subject,
)
from dsrflow.adapters.registry import AdapterRegistry

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "AdapterRegistry",
    "Capability",
    "Check",
    "CheckReport",
    "NotSupportedError",
    "OperationReceipt",
    "PermanentAdapterError",
    "Record",
    "RetryableAdapterError",
    "Subject",
]

"""The adapter SDK: everything an adapter needs from dsrflow, and nothing of the orchestrator.

An outside adapter package imports from here only (plus its own driver libraries); so do the
built-in adapters. The SDK imports the standard library and ``rfc8785``, never the rest of
dsrflow (no workflow payload types, no catalog, no ledger) and never pydantic (a config model is
the adapter's own). The orchestrator's core imports the SDK's types, not the other way round.

Modules:
    contract: ``Capability``, the ``Adapter`` protocol and one protocol per verb.
    capabilities: ``describe``/``spec_of`` (the checked declaration) and ``require``.
    context: ``AdapterContext`` and the ``Progress`` heartbeat callback.
    subject: ``Identity``, ``Subject``, ``Record``.
    receipts: ``OperationReceipt``, ``CollectionCount``, ``ProcessorReceipt``, ``Check``,
        ``CheckReport``, ``operation_digest``.
    sweeps: ``SweepBudget``, ``SweepReport``, ``SweepHit``, ``SweepExclusion``.
    errors: ``AdapterError`` and its typed kinds, ``ContractError``.
    identity: identity kinds and the normalisation of identifiers (match modes).
    sweeping: what every residual sweep shares (strong identifiers, LIKE escaping).
    redact: scrub personal data out of messages; describe driver errors safely.
    graph: dependency-graph helpers (cycles, levels).
"""

from dsrflow.adapters.sdk.capabilities import AdapterSpec, describe, require, spec_of
from dsrflow.adapters.sdk.context import AdapterContext, Progress
from dsrflow.adapters.sdk.contract import (
    Accessor,
    Adapter,
    BatchEraser,
    Capability,
    Eraser,
    IdentityResolver,
    Rectifier,
    Restrictor,
    Sweeper,
    Verifier,
)
from dsrflow.adapters.sdk.errors import (
    AdapterError,
    ContractError,
    NotSupportedError,
    PermanentAdapterError,
    RetryableAdapterError,
)
from dsrflow.adapters.sdk.receipts import (
    Check,
    CheckReport,
    CollectionCount,
    OperationReceipt,
    ProcessorReceipt,
    operation_digest,
)
from dsrflow.adapters.sdk.subject import Identity, Record, Subject
from dsrflow.adapters.sdk.sweeps import SweepBudget, SweepExclusion, SweepHit, SweepReport

__all__ = [
    "Accessor",
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "AdapterSpec",
    "BatchEraser",
    "Capability",
    "Check",
    "CheckReport",
    "CollectionCount",
    "ContractError",
    "Eraser",
    "Identity",
    "IdentityResolver",
    "NotSupportedError",
    "OperationReceipt",
    "PermanentAdapterError",
    "ProcessorReceipt",
    "Progress",
    "Record",
    "Rectifier",
    "Restrictor",
    "RetryableAdapterError",
    "Subject",
    "SweepBudget",
    "SweepExclusion",
    "SweepHit",
    "SweepReport",
    "Sweeper",
    "Verifier",
    "describe",
    "operation_digest",
    "require",
    "spec_of",
]

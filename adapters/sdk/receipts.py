"""What an adapter's verbs return: counts, digests and signed statements, never personal data.

``CollectionCount`` and ``ProcessorReceipt`` also travel inside the orchestrator's own receipts
(``dsrflow.receipts``) through Temporal, so their fields are part of the recorded histories:
change them only with the replay tests green.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import rfc8785


@dataclass(frozen=True)
class CollectionCount:
    """Counts for one table/collection/key pattern within a store (no personal data).

    ``residual`` is what still matched right after the collection was erased, inside the same
    transaction (None where nothing was changed, e.g. a ``keep`` collection).
    """

    collection: str
    action: str
    matched: int
    affected: int
    residual: int | None = None
    basis: str | None = None
    """For ``keep`` (and ``anonymize`` where given): the legal basis the catalog declares."""
    until: str | None = None
    """ISO date until which a kept/anonymised collection is retained, where the catalog says."""


@dataclass(frozen=True)
class ProcessorReceipt:
    """A processor's signed statement about a request forwarded to it (GDPR Art. 19).

    No personal data: the signed body of an OpenDSR status response names the request id,
    status and counts, never the subject's identities. ``body`` (base64 of the exact signed
    bytes, so anyone with the certificate can check ``signature`` offline) is left out when the
    body carries a ``results_url``, which may grant access to the subject's data.
    """

    protocol: str
    processor_domain: str
    subject_request_id: str
    request_status: str
    body_sha256: str
    signature: str
    certificate_sha256: str
    body: str | None = None


@dataclass(frozen=True)
class OperationReceipt:
    """What a verb did: counts per collection and a digest of the operation templates.

    For ``erase``, ``matched`` is the rows found before and ``affected`` the rows changed; for
    ``verify``, ``matched`` is the residual: rows that still hold the subject's data.
    ``processor_receipts`` carries the signed statements of processors the request was forwarded
    to (OpenDSR), for the evidence bundle.
    """

    action: str
    matched: int
    affected: int
    operation_digest: str
    collections: list[CollectionCount] = field(default_factory=list)
    processor_receipts: list[ProcessorReceipt] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One check of ``check_connection`` / ``dsrflow stores test``."""

    name: str
    ok: bool
    detail: str = ""
    warning: bool = False
    """Passed, but a person should look (``stores test`` prints WARN)."""


@dataclass(frozen=True)
class CheckReport:
    """Result of ``check_connection``."""

    store: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)


def operation_digest(templates: list[str] | dict[str, Any]) -> str:
    """Digest of the operation templates an adapter ran (statements with placeholders, no values).

    Canonical JSON (RFC 8785) so that the same templates always give the same digest.
    """
    return "sha256:" + hashlib.sha256(rfc8785.dumps(templates)).hexdigest()

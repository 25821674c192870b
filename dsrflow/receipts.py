"""What a store's verbs or a person did: counts, digests, signed statements (no personal data).

Part of the domain types that cross the Temporal boundary (see ``dsrflow.domain``): the receipts
a store's verbs return and the evidence bundle records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
class StoreReceipt:
    """What an adapter did in one store: counts and digests, never the data itself."""

    store: str
    adapter: str
    adapter_version: str
    action: str
    matched: int
    affected: int
    operation_digest: str
    started_at: datetime
    finished_at: datetime
    attempt: int = 1
    collections: list[CollectionCount] = field(default_factory=list)
    processor_receipts: list[ProcessorReceipt] = field(default_factory=list)
    catalog_digest: str | None = None
    """The catalog this store actually ran under (may differ from the planned one after a fix)."""
    recovered: bool = False
    """True when this receipt is the journaled one of an earlier attempt whose commit survived
    (a re-run found nothing left to do); the counts are that attempt's."""
    dry_run: bool = False
    """True when the work ran in a transaction that was rolled back (nothing changed)."""
    note: str | None = None
    """What a person should know about this receipt, without personal data, e.g. ``erased first
    by request <id>`` when another request about the same subject had already erased here."""


@dataclass(frozen=True)
class VerifyReceipt:
    """The result of asking a store again after erasure."""

    store: str
    residual: int
    checked_at: datetime
    operation_digest: str
    processor_receipts: list[ProcessorReceipt] = field(default_factory=list)


@dataclass(frozen=True)
class Attestation:
    """A person's attested completion of a manual store's erasure: how, with what proof.

    No free text: the disposal method is from a fixed list, the certificate reference is a short
    token (a ticket or certificate number), the attachment is a digest. ``by`` is the staff
    pseudonym (``staff:<pseudonym>``). It is the verification of a manual store in the evidence.
    """

    by: str
    at: datetime
    method: str
    certificate_ref: str
    attachment_sha256: str | None = None

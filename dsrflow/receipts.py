"""What a store's verbs or a person did: counts, digests, signed statements (no personal data).

Part of the domain types that cross the Temporal boundary (see ``dsrflow.domain``): the receipts
a store's verbs return and the evidence bundle records. The counts and processor statements an
adapter itself returns are the adapter SDK's (``dsrflow.adapters.sdk.receipts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dsrflow.adapters.sdk.receipts import CollectionCount as CollectionCount
from dsrflow.adapters.sdk.receipts import ProcessorReceipt as ProcessorReceipt


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

"""Per-store evidence records and the inventory: what each store's outcome says, honestly.

Every ``StoreStatus`` maps to exactly one record ``action`` (``ACTIONS_BY_STATUS``, which the
verifier enforces too): only ``done`` stores can read as erased, and a skipped, cancelled or
unsupported store reads ``not_erased``. Records hold counts, digests, times and pseudonymous
actors only: no identifiers, and no free text a person typed (notes, error messages).
"""

from __future__ import annotations

from typing import Any

from dsrflow.domain import ProcessorReceipt, StoreOutcome, StorePlan, StoreStatus
from dsrflow.evidence.format import timestamp

ERASED = ("delete", "anonymize")
ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "done": ("delete", "anonymize", "keep-with-basis"),
    "not_found": ("not_found",),
    "exempt": ("exempt",),
    "failed_needs_attention": ("failed",),
    "not_supported": ("not_erased",),
    "skipped": ("not_erased",),
    "cancelled": ("not_erased",),
    "waiting_for_human": ("not_erased",),
    "pending": ("not_erased",),
    "running": ("not_erased",),
}
"""The actions a record may state for each store status."""


def store_action(outcome: StoreOutcome) -> str:
    """The store-level action recorded in evidence (see ``ACTIONS_BY_STATUS``)."""
    if outcome.status != StoreStatus.DONE:
        return ACTIONS_BY_STATUS[str(outcome.status)][0]
    actions = {c.action for c in outcome.receipt.collections} if outcome.receipt else set()
    if actions and actions <= {"keep"}:
        return "keep-with-basis"
    # A store that deleted some collections and anonymised others has anonymised the subject:
    # rows remain, stripped. Claiming "delete" would overstate what happened.
    return "anonymize" if "anonymize" in actions else "delete"


def record_for(outcome: StoreOutcome, plan: StorePlan | None, request_id: str) -> dict[str, Any]:
    """The evidence record of one store: every field present, ``null`` where not applicable."""
    receipt, check, exemption = outcome.receipt, outcome.verification, outcome.exemption
    return {
        "request_id": request_id,
        "store": outcome.store,
        "kind": (plan.kind if plan else None) or outcome.adapter,
        "adapter": {
            "name": outcome.adapter,
            "version": receipt.adapter_version if receipt else None,
        },
        "status": str(outcome.status),
        "action": store_action(outcome),
        "attempts": outcome.attempts,
        "actor": outcome.actor,
        "operation_digest": receipt.operation_digest if receipt else None,
        "matched": receipt.matched if receipt else None,
        "affected": receipt.affected if receipt else None,
        "started_at": timestamp(receipt.started_at) if receipt else None,
        "finished_at": timestamp(receipt.finished_at) if receipt else None,
        "collections": [
            {
                "collection": c.collection,
                "action": c.action,
                "matched": c.matched,
                "affected": c.affected,
                "residual_in_transaction": c.residual,
                "basis": c.basis,
            }
            for c in (receipt.collections if receipt else [])
        ],
        "verification": {
            "method": "re-query",
            "residual": check.residual,
            "checked_at": timestamp(check.checked_at),
            "operation_digest": check.operation_digest,
        }
        if check
        else None,
        "exemption": {"ground": exemption.ground, "until": exemption.until} if exemption else None,
        "error_type": outcome.error_type,
        "processor_receipts": [
            _processor_receipt(r)
            for r in [
                *(receipt.processor_receipts if receipt else []),
                *(check.processor_receipts if check else []),
            ]
        ],
    }


def _processor_receipt(r: ProcessorReceipt) -> dict[str, Any]:
    """A processor's signed status statement (Art. 19), checkable offline with its certificate."""
    return {
        "protocol": r.protocol,
        "processor_domain": r.processor_domain,
        "subject_request_id": r.subject_request_id,
        "request_status": r.request_status,
        "body_sha256": r.body_sha256,
        "signature": r.signature,
        "certificate_sha256": r.certificate_sha256,
        "body": r.body,
    }


def inventory_for(request_id: str, catalog_digest: str, stores: list[StorePlan]) -> dict[str, Any]:
    """The stores in scope at execution time, so a missing record is detectable."""
    return {
        "request_id": request_id,
        "catalog_digest": catalog_digest,
        "stores": [
            {
                "store": s.name,
                "kind": s.kind or s.adapter,
                "adapter": s.adapter,
                "capabilities": sorted(s.capabilities),
            }
            for s in sorted(stores, key=lambda s: s.name)
        ],
    }

"""Per-store evidence records and the inventory: what each store's outcome says, honestly.

Every ``StoreStatus`` maps to exactly one record ``action`` (``ACTIONS_BY_STATUS``, which the
verifier enforces too): only ``done`` stores can read as erased, and a skipped, cancelled or
unsupported store reads ``not_erased``. Records hold counts, digests, times and pseudonymous
actors only: no identifiers, and no free text a person typed (notes, error messages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from dsrflow.domain import ProcessorReceipt, StoreOutcome, StorePlan, StoreStatus
from dsrflow.evidence.format import timestamp
from dsrflow.sweeps import SweepReport

ERASED = ("delete", "anonymize")
DELETED = ("delete", "erasure")
"""Collection actions that remove the subject's rows (``erasure``: by a processor, on request)."""
ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "done": ("delete", "anonymize", "keep-with-basis"),
    "not_found": ("not_found",),
    "exempt": ("exempt",),
    "failed_needs_attention": ("failed",),
    "incomplete": ("not_erased",),
    "not_supported": ("not_erased",),
    "skipped": ("not_erased",),
    "cancelled": ("not_erased",),
    "waiting_for_human": ("not_erased",),
    "pending": ("not_erased",),
    "running": ("not_erased",),
}
"""The actions a record may state for each store status."""


WARNING_PHRASES = (
    r"identity-source collection [A-Za-z0-9._-]{1,200} matched 0 rows while other collections "
    r"matched",
    r"matched nothing while the sweep found the subject's identifiers",
    r"sweep did not cover [0-9]{1,9} locations?",
    r"counts recovered from an earlier committed attempt",
    r"warning withheld \(not a listed phrase\)",
)
"""The only warnings a record may carry: fixed phrases naming stores/collections, never values
(a verifier refuses any other text). ``safe_warning`` replaces anything else."""
_WARNINGS = re.compile("|".join(f"(?:{p})" for p in WARNING_PHRASES))


def is_listed_warning(text: Any) -> bool:
    """Whether ``text`` is one of ``WARNING_PHRASES`` exactly."""
    return isinstance(text, str) and _WARNINGS.fullmatch(text) is not None


def safe_warning(text: str) -> str:
    """The warning if it is a listed phrase, else a fixed placeholder (no free text in evidence)."""
    return text if is_listed_warning(text) else "warning withheld (not a listed phrase)"


def collections_action(collections: Iterable[Any]) -> str | None:
    """The store-level action of a ``done`` store, from what its collections *did*.

    Works on ``CollectionCount`` objects and on record dicts alike. ``anonymize`` if any
    collection anonymised a row; else ``delete`` if any deleted one; else ``keep-with-basis`` if
    a kept collection matched; ``None`` when nothing was changed or kept (nothing happened).
    """
    rows = [
        (c["action"], c["matched"], c["affected"])
        if isinstance(c, dict)
        else (c.action, c.matched, c.affected)
        for c in collections
    ]
    changed = {action for action, _, affected in rows if affected > 0}
    # A store that deleted some collections and anonymised others has anonymised the subject:
    # rows remain, stripped. Claiming "delete" would overstate what happened.
    if "anonymize" in changed:
        return "anonymize"
    if changed & set(DELETED):
        return "delete"
    if any(action == "keep" and matched > 0 for action, matched, _ in rows):
        return "keep-with-basis"
    return None


def store_action(outcome: StoreOutcome) -> str:
    """The store-level action recorded in evidence (see ``ACTIONS_BY_STATUS``).

    Derived from what happened (the collections' affected counts, or a person's attested
    disposal), not from what the catalog configured.
    """
    if outcome.status != StoreStatus.DONE:
        return ACTIONS_BY_STATUS[str(outcome.status)][0]
    if outcome.attestation is not None:
        return "delete"  # a person attests the data was disposed of (shredded, deleted, ...)
    collections = outcome.receipt.collections if outcome.receipt else []
    derived = collections_action(collections)
    if derived is not None:
        return derived
    # No collection counts (an adapter that does not report them) or nothing changed: the
    # configured intent, which the verifier then holds to its counts and its re-check.
    actions = {c.action for c in collections}
    if actions and actions <= {"keep"}:
        return "keep-with-basis"
    return "anonymize" if "anonymize" in actions else "delete"


def record_for(
    outcome: StoreOutcome, plan: StorePlan | None, request_id: str, version: int = 2
) -> dict[str, Any]:
    """The evidence record of one store: every field present, ``null`` where not applicable.

    ``version`` 2 adds the sweep, the catalog digest the store ran under, the listed warnings,
    each collection's ``until``, and a manual store's attested verification.
    """
    receipt, check, exemption = outcome.receipt, outcome.verification, outcome.exemption
    rec: dict[str, Any] = {
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
                **({"until": c.until} if version >= 2 else {}),
            }
            for c in (receipt.collections if receipt else [])
        ],
        "verification": _verification(outcome, version),
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
    if version >= 2:
        rec["catalog_digest"] = outcome.catalog_digest or (
            receipt.catalog_digest if receipt else None
        )
        rec["sweep"] = sweep_record(outcome.sweep) if outcome.sweep else None
        rec["warnings"] = [safe_warning(w) for w in outcome.warnings]
    return rec


def _verification(outcome: StoreOutcome, version: int) -> dict[str, Any] | None:
    check, att = outcome.verification, outcome.attestation
    if check is not None:
        return {
            "method": "re-query",
            "residual": check.residual,
            "checked_at": timestamp(check.checked_at),
            "operation_digest": check.operation_digest,
        }
    if att is not None and version >= 2:
        return {
            "method": "attested",
            "by": att.by,
            "at": timestamp(att.at),
            "disposal_method": att.method,
            "certificate_ref": att.certificate_ref,
            "attachment_sha256": att.attachment_sha256,
        }
    return None


def _ascii(text: str, limit: int = 300) -> str:
    """Printable ASCII only (the record schema's form for free-standing names and reasons)."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:limit] or "?"


def _location(text: str) -> str:
    """A sweep location in the schema's form (printable ASCII, no space), one-to-one.

    Table and column names may hold spaces or non-ASCII letters (``"E-Mail Adresse"``,
    ``käufer``); their UTF-8 bytes outside ``!``..``~`` (and ``%`` itself) are percent-encoded,
    so a real store's name never makes its own bundle fail the schema, and two names never
    collapse into one.
    """
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if "!" <= ch <= "~" and ch != "%" else f"%{byte:02X}")
    return "".join(out)[:300] or "?"


def sweep_record(sweep: SweepReport) -> dict[str, Any]:
    """The sweep in a record: where it searched, hits and exclusions (counts), what it missed.

    Lists are sorted sets (the specification's order); hits of 0 rows are not hits.
    """
    return {
        "method": sweep.method,
        "searched": sorted({_location(x) for x in sweep.searched}),
        "hits": [
            {"location": _location(h.location), "count": h.count, "kind": h.kind, "mode": h.mode}
            for h in sorted(sweep.hits, key=lambda h: (_location(h.location), h.kind, h.mode))
            if h.count > 0
        ],
        "excluded": [
            {"location": _location(x.location), "count": x.count, "reason": _ascii(x.reason, 207)}
            for x in sorted(sweep.excluded, key=lambda x: (_location(x.location), x.reason))
        ],
        "not_swept": sorted({_ascii(x) for x in sweep.not_swept}),
        "rules": sorted({_ascii(x) for x in sweep.rules}),
        "kinds": sorted(set(sweep.kinds)),
        "checked_at": timestamp(sweep.checked_at) if sweep.checked_at else None,
        "catalog_digest": sweep.catalog_digest,
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

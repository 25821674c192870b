"""Build and sign an evidence bundle (format v0, see docs/evidence-format.md).

The bundle is a deterministic zip: one canonical-JSON record per store, the inventory of stores
in scope, a manifest of member digests, and a DSSE envelope holding an in-toto statement signed
with the controller's Ed25519 key. The subject appears only as a keyed commitment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import dsrflow
from dsrflow.domain import EvidenceInput, StoreOutcome, StoreStatus
from dsrflow.evidence.format import (
    BUNDLE_FORMAT,
    ENVELOPE,
    INVENTORY,
    MANIFEST,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    RECORDS_DIR,
    STATEMENT_TYPE,
    b64encode,
    canonical,
    commitment,
    normalize_identifier,
    pae,
    sha256_hex,
    timestamp,
    write_zip,
)
from dsrflow.evidence.signing import Signer


@dataclass(frozen=True)
class BuiltBundle:
    """A signed bundle and the opening the data subject receives."""

    data: bytes
    sha256: str
    subject_commitment: str
    identifier: str


def store_action(outcome: StoreOutcome) -> str:
    """The store-level action recorded in evidence."""
    if outcome.status == StoreStatus.NOT_FOUND:
        return "not_found"
    if outcome.status == StoreStatus.FAILED_NEEDS_ATTENTION:
        return "failed"
    actions = {c.action for c in outcome.receipt.collections} if outcome.receipt else set()
    if actions <= {"delete"}:
        return "delete"
    if "keep" in actions and actions <= {"keep"}:
        return "keep-with-basis"
    return "anonymize" if "anonymize" in actions else "delete"


def record_for(outcome: StoreOutcome, request_id: str) -> dict[str, Any]:
    """The evidence record of one store (counts and digests only)."""
    receipt, check = outcome.receipt, outcome.verification
    record: dict[str, Any] = {
        "request_id": request_id,
        "store": outcome.store,
        "adapter": {
            "name": outcome.adapter,
            "version": receipt.adapter_version if receipt else None,
        },
        "status": str(outcome.status),
        "action": store_action(outcome),
        "attempts": outcome.attempts,
        "error_type": outcome.error_type,
    }
    if receipt is not None:
        record.update(
            operation_digest=receipt.operation_digest,
            matched=receipt.matched,
            affected=receipt.affected,
            started_at=timestamp(receipt.started_at),
            finished_at=timestamp(receipt.finished_at),
            collections=[
                {
                    "collection": c.collection,
                    "action": c.action,
                    "matched": c.matched,
                    "affected": c.affected,
                    "residual_in_transaction": c.residual,
                }
                for c in receipt.collections
            ],
        )
    if check is not None:
        record["verification"] = {
            "residual": check.residual,
            "checked_at": timestamp(check.checked_at),
            "operation_digest": check.operation_digest,
        }
    return record


def build_bundle(inp: EvidenceInput, signer: Signer, controller: str, k_req: bytes) -> BuiltBundle:
    """Assemble, sign and zip the evidence for one erasure request."""
    req = inp.request
    first = req.identities[0]
    identifier = normalize_identifier(first.kind, first.value)
    subject = commitment(k_req, identifier)

    members: dict[str, bytes] = {}
    for outcome in sorted(inp.outcomes, key=lambda o: o.store):
        members[f"{RECORDS_DIR}{outcome.store}.json"] = canonical(
            record_for(outcome, req.request_id)
        )
    members[INVENTORY] = canonical(
        {
            "request_id": req.request_id,
            "catalog_digest": inp.catalog_digest,
            "stores": [
                {"store": s.name, "adapter": s.adapter, "capabilities": sorted(s.capabilities)}
                for s in sorted(inp.inventory, key=lambda s: s.name)
            ],
        }
    )
    members[MANIFEST] = canonical(
        {
            "format": BUNDLE_FORMAT,
            "request_id": req.request_id,
            "members": [
                {"name": name, "sha256": sha256_hex(members[name])} for name in sorted(members)
            ],
        }
    )
    counts = Counter(str(o.status) for o in inp.outcomes)
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": MANIFEST, "digest": {"sha256": sha256_hex(members[MANIFEST])}},
            {"name": INVENTORY, "digest": {"sha256": sha256_hex(members[INVENTORY])}},
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "request_id": req.request_id,
            "request_type": str(req.request_type),
            "case_ref": req.case_ref,
            "controller": controller,
            "subject_commitment": {
                "alg": "hmac-sha256",
                "domain": "dsr-subject-v1",
                "value": subject,
            },
            "outcomes": dict(sorted(counts.items())),
            "received_at": timestamp(req.received_at),
            "completed_at": timestamp(inp.completed_at),
            "orchestrator": {"name": "dsrflow", "version": dsrflow.__version__},
            "workflow": {"id": inp.workflow_id, "run_id": inp.run_id},
        },
    }
    payload = canonical(statement)
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": b64encode(payload),
        "signatures": [
            {"keyid": signer.key_id, "sig": b64encode(signer.sign(pae(PAYLOAD_TYPE, payload)))}
        ],
    }
    members[ENVELOPE] = canonical(envelope)
    data = write_zip(members)
    return BuiltBundle(data, sha256_hex(data), subject, identifier)

"""Build and sign an evidence bundle (format v2, see docs/evidence-format.md).

The bundle is a deterministic zip: one canonical-JSON record per store, the inventory of stores
in scope, a printable certificate, a manifest of member digests with an RFC 9162 Merkle root
over the records, and a DSSE envelope holding an in-toto statement signed with the controller's
Ed25519 evidence key. The envelope's digest is then appended to the controller's transparency
log, and the inclusion proof and signed checkpoint travel in ``log/``. The subject appears only
as a keyed commitment.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dsrflow
from dsrflow.domain import EvidenceInput
from dsrflow.evidence.certificate import render_certificate
from dsrflow.evidence.format import (
    BUNDLE_FORMAT,
    CERTIFICATE,
    CHECKPOINT,
    ENVELOPE,
    INCLUSION,
    INVENTORY,
    MANIFEST,
    MERKLE_ALG,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    RECORDS_DIR,
    STATEMENT_TYPE,
    b64decode,
    canonical,
    commitment,
    dsse_envelope,
    envelope_digest,
    normalize_identifier,
    records_root,
    sha256_hex,
    timestamp,
    write_zip,
)
from dsrflow.evidence.records import inventory_for, record_for
from dsrflow.keys.signer import Signer
from dsrflow.tlog.memory import LogProof, TransparencyLog


@dataclass(frozen=True)
class BuiltBundle:
    """A signed bundle and what the data subject receives to open the commitment."""

    data: bytes
    sha256: str
    subject_commitment: str
    identifier: str
    log_index: int


def envelope_leaf(members: dict[str, bytes]) -> bytes:
    """The log leaf of a sealed bundle's envelope."""
    env = json.loads(members[ENVELOPE])
    return envelope_digest(env["payloadType"], b64decode(env["payload"]))


def predicate_for(
    inp: EvidenceInput, controller: str, subject: str, signed_at: datetime, keyring_version: int
) -> dict[str, Any]:
    """The signed predicate: what binds this bundle to one request and one run."""
    req = inp.request
    return {
        "request_id": req.request_id,
        "request_type": str(req.request_type),
        "regulation": req.regulation,
        "case_ref": req.case_ref,
        "controller": controller,
        "subject_commitment": {"alg": "hmac-sha256", "domain": "dsr-subject-v1", "value": subject},
        "outcomes": dict(sorted(Counter(str(o.status) for o in inp.outcomes).items())),
        "received_at": timestamp(req.received_at),
        "due_at": timestamp(inp.due_at) if inp.due_at else None,
        "completed_at": timestamp(inp.completed_at),
        "signed_at": timestamp(signed_at),
        "keyring_version": keyring_version,
        "orchestrator": {"name": "dsrflow", "version": dsrflow.__version__},
        "workflow": {"id": inp.workflow_id, "run_id": inp.run_id},
        "orchestrator_copy": _orchestrator_copy(inp),
    }


def _orchestrator_copy(inp: EvidenceInput) -> dict[str, Any] | None:
    copy = inp.orchestrator_copy
    if copy is None:
        return None
    return {
        "covers": ["workflow history", "access package", "subject opening"],
        "encryption": copy.encryption,
        "key_id": copy.key_id,
        "destroy_after_days": copy.destroy_after_days,
    }


def seal(content: dict[str, bytes], predicate: dict[str, Any], signer: Signer) -> dict[str, bytes]:
    """Add the manifest and the signed envelope to the content members.

    ``content`` is every member the manifest lists (records, inventory, certificate).
    """
    members = dict(content)
    members[MANIFEST] = canonical(
        {
            "format": BUNDLE_FORMAT,
            "request_id": predicate["request_id"],
            "members": [{"name": n, "sha256": sha256_hex(members[n])} for n in sorted(members)],
            "records_merkle_root": {
                "alg": MERKLE_ALG,
                "leaves": sum(1 for n in members if n.startswith(RECORDS_DIR)),
                "root": records_root(members),
            },
        }
    )
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": sha256_hex(members[name])}}
            for name in (MANIFEST, INVENTORY)
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    members[ENVELOPE] = canonical(dsse_envelope(PAYLOAD_TYPE, canonical(statement), signer))
    return members


def log_members(proof: LogProof, leaf: bytes, origin: str) -> dict[str, bytes]:
    """The ``log/`` members: inclusion proof and the signed checkpoint it leads to."""
    return {
        INCLUSION: canonical(
            {
                "origin": origin,
                "leaf_index": proof.index,
                "tree_size": proof.size,
                "envelope_digest": leaf.hex(),
                "audit_path": [h.hex() for h in proof.path],
            }
        ),
        CHECKPOINT: proof.checkpoint.encode(),
    }


def build_bundle(
    inp: EvidenceInput,
    *,
    controller: str,
    k_req: bytes,
    signed_at: datetime,
    keyring_version: int,
    evidence_signer: Signer,
    log: TransparencyLog,
    log_signer: Signer,
    log_origin: str,
) -> BuiltBundle:
    """Assemble, sign, log and zip the evidence for one erasure request."""
    req = inp.request
    first = req.identities[0]
    identifier = normalize_identifier(first.kind, first.value)
    subject = commitment(k_req, identifier)
    plans = {p.name: p for p in inp.inventory}

    records = {o.store: record_for(o, plans.get(o.store), req.request_id) for o in inp.outcomes}
    content = {f"{RECORDS_DIR}{s}.json": canonical(r) for s, r in records.items()}
    content[INVENTORY] = canonical(inventory_for(req.request_id, inp.catalog_digest, inp.inventory))
    predicate = predicate_for(inp, controller, subject, signed_at, keyring_version)
    content[CERTIFICATE] = render_certificate(
        predicate, [records[s] for s in sorted(records)], evidence_signer.key_id
    )
    members = seal(content, predicate, evidence_signer)

    leaf = envelope_leaf(members)
    proof = log.append(leaf, req.request_id, log_signer, log_origin)
    members.update(log_members(proof, leaf, log_origin))
    data = write_zip(members)
    return BuiltBundle(data, sha256_hex(data), subject, identifier, proof.index)

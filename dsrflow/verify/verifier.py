"""Verify an evidence bundle offline against the controller's root-signed keyring.

Checks run in the order of docs/evidence-format.md ("Verification") and stop at the first
failure, whose message names where and why. Every signed JSON document is checked against its
published schema before anything reads its fields. Imports only the standard library,
``cryptography``, ``rfc8785`` and pure dsrflow modules: no Temporal, database or web framework.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from dsrflow.evidence.format import (
    CERTIFICATE,
    CHECKPOINT,
    ENVELOPE,
    INCLUSION,
    INVENTORY,
    MANIFEST,
    PAYLOAD_TYPE,
    RECORDS_DIR,
    b64decode,
    commitment,
    envelope_digest,
    normalize_identifier,
    pae,
    parse_timestamp,
)
from dsrflow.keys.keyring import Keyring
from dsrflow.verify import coverage, documents, semantics
from dsrflow.verify.container import read_members
from dsrflow.verify.logproof import check_inclusion, open_checkpoint
from dsrflow.verify.report import Report, VerificationError
from dsrflow.verify.schema import SchemaError, check
from dsrflow.verify.state import TrustState
from dsrflow.verify.trust import describe, trusted_keyring

CLOCK_SKEW = timedelta(minutes=5)
"""How far a signing time may lie in the verifier's future, or before the completion time
(worker and server clocks differ a little); documented in docs/evidence-format.md."""


@dataclass
class Expect:
    """What the caller knows beforehand: the trust inputs and the bindings to check."""

    keyring: bytes
    state: TrustState = field(default_factory=TrustState)
    root_key_id: str | None = None
    min_keyring_version: int = 0
    request_id: str | None = None
    opening: dict[str, Any] | None = None
    trust_on_first_use: bool = False
    now: datetime | None = None
    """The verifier's clock (tests fix it); default: the current time."""


def verify_bundle(bundle: Path, expect: Expect) -> Report:
    """Run every check in order; stop at the first failure."""
    report = Report(bundle=str(bundle))
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        report.failure = f"container: cannot read {bundle} ({exc.strerror})"
        return report
    try:
        Checks(report, expect).run(data)
    except VerificationError as exc:
        report.failure = str(exc)
    return report


class Checks:
    """The ordered checks of one verification (also used for log consistency)."""

    def __init__(self, report: Report, expect: Expect) -> None:
        self.report = report
        self.expect = expect

    def ok(self, line: str) -> None:
        """Record a passed check."""
        self.report.passed.append(line)

    def run(self, data: bytes) -> None:
        """Every check, in the documented order."""
        members = read_members(data)
        for required in (CERTIFICATE, ENVELOPE, INVENTORY, CHECKPOINT, INCLUSION, MANIFEST):
            if required not in members:
                raise VerificationError(f"container: member {required} is missing")
        self.ok(f"container: {len(members)} members, safe and deterministic")
        ring = self.keyring()
        payload, key = self.envelope(members[ENVELOPE], ring)
        statement = documents.parse("statement", payload, "statement")
        pred = statement["predicate"]
        self.report.request_id = pred["request_id"]
        self.ok("statement: in-toto Statement v1 with the dsrflow erasure predicate (schema)")
        self.key_validity(pred, key, ring)
        self.times(pred)
        self.binding(pred, ring)
        rid = pred["request_id"]
        documents.statement_subjects(statement, members)
        manifest, version = documents.manifest_for(members, rid)
        self.report.format_version = version
        self.ok(f"digests: manifest (format v{version}) and inventory match the statement; "
                f"{len(manifest['members'])} members match")  # fmt: skip
        records = documents.records_of(members, manifest, version)
        inventory, catalog = documents.inventory_of(members, rid)
        self.ok(f"records: {len(records)} records and the inventory match their schemas; "
                "no duplicates; inventory sorted")  # fmt: skip
        self.ok(f"merkle: RFC 9162 root over {len(records)} records matches")
        documents.completeness(records, inventory, rid)
        self.ok(f"completeness: all {len(inventory)} inventory stores have a record, and no more")
        for store, rec in sorted(records.items()):
            name = f"{RECORDS_DIR}{store}.json"
            semantics.check_record(name, rec, version, pred["regulation"])
            coverage.check_record(name, rec, inventory[store], version)
        semantics.check_outcome_counts(records, pred["outcomes"])
        checked = (
            "re-checked with residual 0 (re-query or a manual store's attestation) and swept "
            "where the store supports the sweep"
            if version >= 2
            else "re-checked with residual 0 (format v1 records no sweep)"
        )
        self.ok(
            f"semantics: counts, actions and times agree; erased stores {checked}; kept "
            "collections cite a basis; exemptions cite their ground"
        )
        self.report.stores = coverage.summary(records)
        self.report.notes += coverage.notes(records, catalog)
        self.report.limits += coverage.limits(records, version)
        self.report.limits += semantics.retention_limits(records)
        self.report.limits += semantics.orchestrator_copy_limits(pred["orchestrator_copy"])
        self.inclusion(members, payload, ring)
        semantics.check_outcome(records)
        self.ok(f"outcome: all {len(records)} stores erased, not found, exempt or kept by policy")

    def keyring(self) -> Keyring:
        """Keyring schema and signature, root trust (pinned or not) and anti-rollback."""
        ring = trusted_keyring(self.expect, self.report)
        self.ok(describe(ring, self.report.trust))
        return ring

    def envelope(self, raw: bytes, ring: Keyring) -> tuple[bytes, Any]:
        """DSSE payload type and the signatures: every one by a keyring key must verify."""
        env = documents.parse(ENVELOPE, raw, "envelope")
        if env["payloadType"] != PAYLOAD_TYPE:
            raise VerificationError(
                f"envelope: payloadType is {env['payloadType']!r}, expected {PAYLOAD_TYPE}"
            )
        try:
            payload = b64decode(env["payload"])
        except ValueError:
            raise VerificationError("envelope: payload is not canonical base64") from None
        kids = [s["keyid"] for s in env["signatures"]]
        documents.require_set(kids, "envelope: signatures", ordered=False)
        signer = None
        for sig in env["signatures"]:
            key = ring.find(sig["keyid"])
            if key is None:
                continue  # a countersignature by a key outside the keyring: not ours to judge
            try:
                key.public_key.verify(b64decode(sig["sig"]), pae(PAYLOAD_TYPE, payload))
            except (InvalidSignature, ValueError):
                raise VerificationError(
                    f"envelope: signature by {key.key_id} does not verify"
                ) from None
            if key.purpose != "evidence":
                raise VerificationError(
                    f"envelope: key {key.key_id} is a {key.purpose} key, not an evidence key"
                )
            signer = signer or key
        if signer is None:
            raise VerificationError(
                f"envelope: signed by unknown key {', '.join(kids)} "
                f"(not in keyring version {ring.version})"
            )
        self.ok(f"signature: DSSE envelope ({PAYLOAD_TYPE}) signed by {signer.key_id}")
        return payload, signer

    def key_validity(self, pred: dict[str, Any], key: Any, ring: Keyring) -> None:
        """The signing key was valid (and not compromised) at the signing time."""
        signed_at = parse_timestamp(pred["signed_at"], "statement: signed_at")
        problem = key.problem_at(signed_at)
        if problem:
            raise VerificationError(f"key: {problem}")
        if pred["keyring_version"] > ring.version:
            raise VerificationError(
                f"key: bundle was signed under keyring version {pred['keyring_version']}, "
                f"newer than the keyring given (version {ring.version})"
            )
        self.ok(f"key: {key.key_id} ({key.status}) was valid at signing time {pred['signed_at']}")

    def times(self, pred: dict[str, Any]) -> None:
        """Received <= completed <= signed (within the skew), and signed not in the future."""
        at = {k: parse_timestamp(pred[k], f"statement: {k}")
              for k in ("received_at", "completed_at", "signed_at")}  # fmt: skip
        now = self.expect.now or datetime.now(UTC)
        if at["signed_at"] > now + CLOCK_SKEW:
            raise VerificationError(
                f"time: signed_at {pred['signed_at']} is in the future (more than "
                f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes after this verifier's clock)"
            )
        if at["completed_at"] < at["received_at"] or at["signed_at"] < at["received_at"]:
            raise VerificationError(
                f"time: completed or signed before the request was received ({pred['received_at']})"
            )
        if at["signed_at"] + CLOCK_SKEW < at["completed_at"]:
            raise VerificationError(
                f"time: signed_at {pred['signed_at']} is before completed_at {pred['completed_at']}"
            )
        self.ok("time: received, completed and signed in order; not signed in the future")

    def binding(self, pred: dict[str, Any], ring: Keyring) -> None:
        """Controller, the expected request id and the subject opening."""
        rid, exp = pred["request_id"], self.expect
        if pred["controller"] != ring.controller:
            raise VerificationError(
                f"binding: bundle names controller {pred['controller']!r}, "
                f"the keyring is {ring.controller!r}"
            )
        if exp.request_id is not None and exp.request_id != rid:
            raise VerificationError(
                f"binding: bundle is for request {rid!r}, not {exp.request_id!r} (replayed?)"
            )
        checked = ["request id " + rid if exp.request_id else "controller"]
        if exp.opening is not None:
            self.opening(pred, exp.opening)
            checked.append("subject opening")
        self.ok("binding: " + " and ".join(checked) + " match")

    def opening(self, pred: dict[str, Any], opening: dict[str, Any]) -> None:
        """The subject's opening recomputes the signed commitment."""
        try:
            check("subject-opening", opening, "binding: subject opening")
        except SchemaError as exc:
            raise VerificationError(str(exc)) from None
        rid = pred["request_id"]
        if opening.get("request_id") not in (None, rid):
            raise VerificationError(
                f"binding: subject opening is for request {opening['request_id']!r}, not {rid!r}"
            )
        try:
            k_req = b64decode(opening["k_req"])
            kind, _, value = opening["identifier"].partition(":")
            identifier = normalize_identifier(kind, value)
        except (TypeError, ValueError):
            raise VerificationError("binding: subject opening needs identifier and k_req") from None
        expected = pred["subject_commitment"]["value"]
        if len(k_req) != 32 or not hmac.compare_digest(commitment(k_req, identifier), expected):
            raise VerificationError("binding: subject opening does not match the commitment")

    def inclusion(self, members: dict[str, bytes], payload: bytes, ring: Keyring) -> None:
        """The signed checkpoint (byte for byte) and the envelope inclusion proof."""
        cp = open_checkpoint(members[CHECKPOINT], ring)
        leaf = envelope_digest(PAYLOAD_TYPE, payload)
        proof = check_inclusion(members[INCLUSION], leaf, cp)
        index = proof["leaf_index"]
        self.report.log = {
            "origin": cp.origin,
            "index": index,
            "tree_size": cp.size,
            "root": cp.root.hex(),
            "checkpoint": members[CHECKPOINT].decode(),
        }
        self.ok(
            f"log: envelope is entry {index} of {cp.origin} at size {cp.size} (signed checkpoint)"
        )

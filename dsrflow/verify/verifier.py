"""Verify an evidence bundle offline against the controller's root-signed keyring.

Checks run in the order of docs/evidence-format.md ("Verification") and stop at the first
failure, whose message names where and why. Imports only the standard library,
``cryptography``, ``rfc8785`` and pure dsrflow modules: no Temporal, database or web framework.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from dsrflow.evidence.bundle import UNSIGNED, envelope_digest, records_root
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
    FormatError,
    b64decode,
    commitment,
    normalize_identifier,
    pae,
    parse_json,
    parse_timestamp,
    sha256_hex,
)
from dsrflow.keys.keyring import Keyring, KeyringError, load_keyring
from dsrflow.tlog import checkpoint, merkle
from dsrflow.verify import semantics
from dsrflow.verify.container import read_members
from dsrflow.verify.report import Report, VerificationError
from dsrflow.verify.state import TrustState


@dataclass
class Expect:
    """What the caller knows beforehand: the trust inputs and the bindings to check."""

    keyring: bytes
    state: TrustState = field(default_factory=TrustState)
    root_key_id: str | None = None
    min_keyring_version: int = 0
    request_id: str | None = None
    opening: dict[str, Any] | None = None


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


def _parse(name: str, data: bytes) -> Any:
    try:
        return parse_json(name, data)
    except FormatError as exc:
        raise VerificationError(str(exc)) from None


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
        for required in (ENVELOPE, MANIFEST, INVENTORY, CHECKPOINT, INCLUSION):
            if required not in members:
                raise VerificationError(f"container: member {required} is missing")
        self.ok(f"container: {len(members)} members, safe and deterministic")
        ring = self.keyring()
        payload, key = self.envelope(members[ENVELOPE], ring)
        statement = _parse("statement", payload)
        pred = self.statement(statement)
        self.key_validity(pred, key, ring)
        self.binding(pred, ring)
        manifest = self.digests(members, statement)
        records = self.records(members, manifest)
        self.completeness(members, records)
        for store, rec in sorted(records.items()):
            semantics.check_record(f"{RECORDS_DIR}{store}.json", rec)
        semantics.check_outcome_counts(records, pred.get("outcomes"))
        self.ok("semantics: erased stores re-checked with residual 0; exemptions cite articles")
        self.report.stores = semantics.summary(records)
        self.report.limits += semantics.retention_limits(records)
        self.report.limits += semantics.orchestrator_copy_limits(pred.get("orchestrator_copy"))
        self.inclusion(members, payload, ring)
        semantics.check_outcome(records)
        self.ok(f"outcome: all {len(records)} stores erased, not found, exempt or kept by policy")

    def keyring(self) -> Keyring:
        """Keyring signature, root trust (pin or first use) and anti-rollback."""
        exp, state = self.expect, self.expect.state
        try:
            ring = load_keyring(exp.keyring)
        except KeyringError as exc:
            raise VerificationError(str(exc)) from None
        root = ring.root_key_id
        pinned = state.roots.get(ring.controller)
        if exp.root_key_id is not None and exp.root_key_id != root:
            raise VerificationError(
                f"keyring: root key {root} is not the expected {exp.root_key_id}"
            )
        if exp.root_key_id is None and pinned is not None and pinned != root:
            raise VerificationError(
                f"keyring: root key {root} differs from the root {pinned} pinned for "
                f"controller {ring.controller!r} (pass --root-keyid to accept a new root)"
            )
        if exp.root_key_id is None and pinned is None:
            self.report.notes.append(
                f"root key {root} trusted on first use; compare it with the fingerprint "
                f"{ring.controller!r} publishes, or pass --root-keyid"
            )
        floor = max(state.versions.get(root, 0), exp.min_keyring_version)
        if ring.version < floor:
            raise VerificationError(
                f"keyring: version {ring.version} is older than version {floor} already seen "
                "(rollback)"
            )
        state.roots[ring.controller] = root
        state.versions[root] = max(ring.version, state.versions.get(root, 0))
        state.save()
        self.ok(f"keyring: version {ring.version} of {ring.controller!r}, signed by root {root}")
        return ring

    def envelope(self, raw: bytes, ring: Keyring) -> tuple[bytes, Any]:
        """DSSE payload type and the signature by an evidence key in the keyring."""
        env = _parse(ENVELOPE, raw)
        if not isinstance(env, dict):
            raise VerificationError(f"{ENVELOPE}: not a DSSE envelope")
        if env.get("payloadType") != PAYLOAD_TYPE:
            raise VerificationError(
                f"envelope: payloadType is {env.get('payloadType')!r}, expected {PAYLOAD_TYPE}"
            )
        try:
            payload = b64decode(env["payload"])
            sigs = [(s["keyid"], s["sig"]) for s in env["signatures"]]
        except (KeyError, TypeError, ValueError):
            raise VerificationError("envelope: malformed payload or signatures") from None
        known = [(ring.find(kid), sig) for kid, sig in sigs if ring.find(kid) is not None]
        if not known:
            kids = ", ".join(kid for kid, _ in sigs) or "none"
            raise VerificationError(
                f"envelope: signed by unknown key {kids} (not in keyring version {ring.version})"
            )
        key, sig = known[0]
        if key.purpose != "evidence":
            raise VerificationError(f"envelope: key {key.key_id} is a {key.purpose} key")
        try:
            key.public_key.verify(b64decode(sig), pae(PAYLOAD_TYPE, payload))
        except (InvalidSignature, TypeError, ValueError):
            raise VerificationError(
                f"envelope: signature by {key.key_id} does not verify"
            ) from None
        self.ok(f"signature: DSSE envelope ({PAYLOAD_TYPE}) signed by {key.key_id}")
        return payload, key

    def statement(self, statement: Any) -> dict[str, Any]:
        """Statement and predicate type; returns the predicate."""
        if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
            raise VerificationError(f"statement: _type is not {STATEMENT_TYPE}")
        if statement.get("predicateType") != PREDICATE_TYPE:
            raise VerificationError(
                f"statement: predicateType is {statement.get('predicateType')!r}, "
                f"expected {PREDICATE_TYPE}"
            )
        pred = statement.get("predicate")
        if not isinstance(pred, dict) or not isinstance(pred.get("request_id"), str):
            raise VerificationError("statement: predicate or its request_id is missing")
        self.report.request_id = pred["request_id"]
        self.ok("statement: in-toto Statement v1 with the dsrflow erasure predicate")
        return pred

    def key_validity(self, pred: dict[str, Any], key: Any, ring: Keyring) -> None:
        """The signing key was valid (and not compromised) at the signing time."""
        try:
            signed_at = parse_timestamp(pred.get("signed_at"), "statement: signed_at")
        except FormatError as exc:
            raise VerificationError(str(exc)) from None
        problem = key.problem_at(signed_at)
        if problem:
            raise VerificationError(f"key: {problem}")
        if isinstance(pred.get("keyring_version"), int) and pred["keyring_version"] > ring.version:
            raise VerificationError(
                f"key: bundle was signed under keyring version {pred['keyring_version']}, "
                f"newer than the keyring given (version {ring.version})"
            )
        self.ok(f"key: {key.key_id} ({key.status}) was valid at signing time {pred['signed_at']}")

    def binding(self, pred: dict[str, Any], ring: Keyring) -> None:
        """Controller, the expected request id and the subject opening."""
        rid, exp = pred["request_id"], self.expect
        if pred.get("controller") != ring.controller:
            raise VerificationError(
                f"binding: bundle names controller {pred.get('controller')!r}, "
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
        rid = pred["request_id"]
        if opening.get("request_id") not in (None, rid):
            raise VerificationError(
                f"binding: subject opening is for request {opening['request_id']!r}, not {rid!r}"
            )
        try:
            k_req = b64decode(opening["k_req"])
            kind, _, value = str(opening["identifier"]).partition(":")
            identifier = normalize_identifier(kind, value)
        except (KeyError, TypeError, ValueError):
            raise VerificationError("binding: subject opening needs identifier and k_req") from None
        expected = (pred.get("subject_commitment") or {}).get("value", "")
        if len(k_req) != 32 or not hmac.compare_digest(
            commitment(k_req, identifier), str(expected)
        ):
            raise VerificationError("binding: subject opening does not match the commitment")

    def digests(self, members: dict[str, bytes], statement: dict[str, Any]) -> dict[str, Any]:
        """Statement -> manifest and inventory -> every listed member; no extra members."""
        try:
            subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
        except (KeyError, TypeError):
            raise VerificationError("statement: malformed subject list") from None
        if set(subjects) != {MANIFEST, INVENTORY}:
            raise VerificationError("statement: subjects must be manifest.json and inventory.json")
        for name in (MANIFEST, INVENTORY):
            if subjects[name] != sha256_hex(members[name]):
                raise VerificationError(f"{name}: digest does not match the signed statement")
        manifest = _parse(MANIFEST, members[MANIFEST])
        if manifest.get("format") != BUNDLE_FORMAT:
            raise VerificationError(f"{MANIFEST}: format is not {BUNDLE_FORMAT}")
        if manifest.get("request_id") != self.report.request_id:
            raise VerificationError(f"{MANIFEST}: request id differs from the statement")
        try:
            listed = {m["name"]: m["sha256"] for m in manifest["members"]}
        except (KeyError, TypeError):
            raise VerificationError(f"{MANIFEST}: malformed member list") from None
        for name in (INVENTORY, CERTIFICATE):
            if name not in listed:
                raise VerificationError(f"{MANIFEST}: does not list {name}")
        for name, digest in listed.items():
            if name in UNSIGNED:
                raise VerificationError(f"{MANIFEST}: lists {name}, which it cannot cover")
            if name not in members:
                raise VerificationError(
                    f"{name}: listed in the manifest but missing from the bundle"
                )
            if sha256_hex(members[name]) != digest:
                raise VerificationError(f"{name}: digest does not match the manifest")
        extra = sorted(set(members) - set(listed) - set(UNSIGNED))
        if extra:
            raise VerificationError(f"container: members not in the manifest: {', '.join(extra)}")
        self.ok(f"digests: manifest and inventory match the statement; {len(listed)} members match")
        return manifest

    def records(self, members: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, Any]:
        """Canonical form of every JSON member and the records Merkle root."""
        records: dict[str, dict[str, Any]] = {}
        for name in sorted(members):
            if name.startswith(RECORDS_DIR):
                rec = _parse(name, members[name])
                if not isinstance(rec, dict) or f"{RECORDS_DIR}{rec.get('store')}.json" != name:
                    raise VerificationError(f"{name}: does not name its own store")
                records[rec["store"]] = rec
        _parse(INVENTORY, members[INVENTORY])
        self.ok("canonical form: every JSON member is RFC 8785 canonical, without duplicate keys")
        root = manifest.get("records_merkle_root") or {}
        expected = {"alg": MERKLE_ALG, "leaves": len(records), "root": records_root(members)}
        if root != expected:
            raise VerificationError(f"{MANIFEST}: records Merkle root does not match the records")
        self.ok(f"merkle: RFC 9162 root over {len(records)} records matches")
        return records

    def completeness(self, members: dict[str, bytes], records: dict[str, Any]) -> None:
        """Every inventory store has a record of this request, and no other."""
        rid = self.report.request_id
        inventory = _parse(INVENTORY, members[INVENTORY])
        if inventory.get("request_id") != rid:
            raise VerificationError(
                f"{INVENTORY}: belongs to request {inventory.get('request_id')!r}"
            )
        for store, rec in sorted(records.items()):
            if rec.get("request_id") != rid:
                raise VerificationError(
                    f"{RECORDS_DIR}{store}.json: belongs to request {rec.get('request_id')!r}, "
                    f"not {rid!r} (transplanted?)"
                )
        try:
            in_scope = [s["store"] for s in inventory["stores"]]
        except (KeyError, TypeError):
            raise VerificationError(f"{INVENTORY}: malformed store list") from None
        for store in in_scope:
            if store not in records:
                raise VerificationError(f"completeness: inventory store {store!r} has no record")
        for store in sorted(set(records) - set(in_scope)):
            raise VerificationError(
                f"completeness: record for store {store!r} not in the inventory"
            )
        self.ok(f"completeness: all {len(in_scope)} inventory stores have a record, and no more")

    def inclusion(self, members: dict[str, bytes], payload: bytes, ring: Keyring) -> None:
        """The signed checkpoint and the envelope inclusion proof."""
        try:
            cp = checkpoint.open_note(
                members[CHECKPOINT].decode(), ring.log_origin, ring.log_keys()
            )
        except UnicodeDecodeError:
            raise VerificationError("checkpoint: not UTF-8 text") from None
        except checkpoint.CheckpointError as exc:
            raise VerificationError(str(exc)) from None
        proof = _parse(INCLUSION, members[INCLUSION])
        leaf = envelope_digest(PAYLOAD_TYPE, payload)
        try:
            index, size = int(proof["leaf_index"]), int(proof["tree_size"])
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            claimed = proof["envelope_digest"]
        except (KeyError, TypeError, ValueError):
            raise VerificationError("inclusion proof: malformed") from None
        if claimed != leaf.hex():
            raise VerificationError("inclusion proof: made for another envelope")
        if proof.get("origin") != cp.origin or size != cp.size:
            raise VerificationError(
                f"inclusion proof: for tree size {size}, but the checkpoint has size {cp.size}"
            )
        try:
            merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, cp.root)
        except merkle.ProofError as exc:
            raise VerificationError(f"inclusion proof: {exc} (checkpoint root)") from None
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

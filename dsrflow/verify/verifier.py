"""Verify an evidence bundle offline against the controller's public key."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dsrflow.evidence.format import (
    ENVELOPE,
    INVENTORY,
    MANIFEST,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    RECORDS_DIR,
    STATEMENT_TYPE,
    b64decode,
    canonical,
    key_id,
    pae,
    sha256_hex,
    write_zip,
)


class VerificationError(Exception):
    """A check failed; the message says which and why."""


@dataclass
class Report:
    """What was checked and what a bundle cannot prove."""

    bundle: str
    passed: list[str] = field(default_factory=list)
    failure: str | None = None
    request_id: str | None = None
    limits: list[str] = field(
        default_factory=lambda: [
            "copies of the data outside the stores in the inventory",
            "backups and replicas until their stated expiry",
        ]
    )

    @property
    def ok(self) -> bool:
        """True only when every check passed."""
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return {
            "bundle": self.bundle,
            "ok": self.ok,
            "request_id": self.request_id,
            "passed": self.passed,
            "failure": self.failure,
            "cannot_prove": self.limits,
        }


def verify_bundle(path: Path, public_key_pem: bytes) -> Report:
    """Run every check in order; stop at the first failure."""
    report = Report(bundle=str(path))
    try:
        _verify(path, public_key_pem, report)
    except VerificationError as exc:
        report.failure = str(exc)
    return report


def _json(name: str, data: bytes) -> Any:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise VerificationError(f"{name}: not valid JSON") from None
    if canonical(obj) != data:
        raise VerificationError(f"{name}: not in RFC 8785 canonical form")
    return obj


def _verify(path: Path, public_key_pem: bytes, report: Report) -> None:
    try:
        public_key = serialization.load_pem_public_key(public_key_pem)
    except ValueError:
        raise VerificationError("public key: not a PEM public key") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise VerificationError("public key: not an Ed25519 key")

    try:
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if len(set(names)) != len(names):
                raise VerificationError("container: duplicate member names")
            members = {name: zf.read(name) for name in names}
    except VerificationError:
        raise
    except Exception as exc:  # zipfile raises many types on hostile input; all mean "unreadable"
        raise VerificationError(
            f"container: not a readable zip ({type(exc).__name__}: {exc})"
        ) from None
    if write_zip(members) != data:
        # Members are checked by digest below; the container around them must be exactly the
        # deterministic zip those members make, so no byte of the file escapes the signature.
        raise VerificationError("container: not the deterministic zip of its members")
    for required in (ENVELOPE, MANIFEST, INVENTORY):
        if required not in members:
            raise VerificationError(f"container: member {required} is missing")
    report.passed.append("container: readable zip with envelope, manifest and inventory")

    envelope = _json(ENVELOPE, members[ENVELOPE])
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise VerificationError(f"envelope: payloadType is not {PAYLOAD_TYPE}")
    try:
        payload = b64decode(envelope["payload"])
        signatures = envelope["signatures"]
    except (KeyError, TypeError, ValueError):
        raise VerificationError("envelope: malformed (payload or signatures)") from None
    expected_kid = key_id(public_key)
    good = False
    for sig in signatures:
        if sig.get("keyid") != expected_kid:
            continue
        try:
            public_key.verify(b64decode(sig["sig"]), pae(PAYLOAD_TYPE, payload))
            good = True
        except (InvalidSignature, KeyError, ValueError):
            raise VerificationError("envelope: signature does not verify") from None
    if not good:
        raise VerificationError(f"envelope: no signature by key {expected_kid}")
    report.passed.append(f"signature: DSSE envelope signed by {expected_kid}")

    statement = _json("statement", payload)
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError("statement: unexpected statement or predicate type")
    predicate = statement.get("predicate") or {}
    report.request_id = predicate.get("request_id")
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement.get("subject", [])}
    for name in (MANIFEST, INVENTORY):
        if subjects.get(name) != sha256_hex(members[name]):
            raise VerificationError(f"{name}: digest does not match the signed statement")
    report.passed.append("statement: manifest and inventory digests match")

    manifest = _json(MANIFEST, members[MANIFEST])
    listed = {m["name"]: m["sha256"] for m in manifest.get("members", [])}
    if manifest.get("request_id") != report.request_id:
        raise VerificationError("manifest: request id differs from the statement")
    for name, digest in listed.items():
        if name not in members:
            raise VerificationError(f"{name}: listed in the manifest but missing from the bundle")
        if sha256_hex(members[name]) != digest:
            raise VerificationError(f"{name}: digest does not match the manifest")
    extra = sorted(set(members) - set(listed) - {MANIFEST, ENVELOPE})
    if extra:
        raise VerificationError(f"container: members not in the manifest: {', '.join(extra)}")
    report.passed.append(f"manifest: {len(listed)} member digests match, no extra members")

    inventory = _json(INVENTORY, members[INVENTORY])
    records = {}
    for name in listed:
        if name.startswith(RECORDS_DIR):
            rec = _json(name, members[name])
            if rec.get("request_id") != report.request_id:
                raise VerificationError(f"{name}: belongs to another request")
            records[rec.get("store")] = rec
    for store in inventory.get("stores", []):
        if store["store"] not in records:
            raise VerificationError(f"inventory: store {store['store']!r} has no record")
    report.passed.append(f"completeness: all {len(records)} inventory stores have a record")

    for store, rec in sorted(records.items()):
        if rec.get("action") in ("delete", "anonymize"):
            residual = (rec.get("verification") or {}).get("residual")
            if residual != 0:
                raise VerificationError(
                    f"records/{store}.json: recorded as erased but residual is {residual}"
                )
    report.passed.append("semantics: every erased store has residual 0")

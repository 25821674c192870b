"""Evidence format primitives shared by the builder and the offline verifier.

Imports only the standard library, ``cryptography`` and ``rfc8785``: the verifier must run where
neither Temporal nor a database nor a web framework is installed. See docs/evidence-format.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import stat
import zipfile
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dsrflow.identity import normalize_value
from dsrflow.tlog import merkle

BUNDLE_FORMAT = "dsrflow-evidence/v2"
FORMATS = {"dsrflow-evidence/v1": 1, "dsrflow-evidence/v2": 2}
"""Every format a verifier accepts, by ``manifest.format``; a bundle is checked by its own rules."""
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://dsrflow.dev/attestations/erasure/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
ENVELOPE = "envelope.json"
MANIFEST = "manifest.json"
INVENTORY = "inventory.json"
CERTIFICATE = "certificate.html"
CHECKPOINT = "log/checkpoint.txt"
INCLUSION = "log/inclusion-proof.json"
RECORDS_DIR = "records/"
MERKLE_ALG = "rfc9162-sha256"
COMMITMENT_DOMAIN = b"dsr-subject-v1\x00"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
UNSIGNED = (MANIFEST, ENVELOPE, CHECKPOINT, INCLUSION)
"""Members the manifest does not list: itself, the envelope, and the log proof made after it."""


class FormatError(ValueError):
    """A member or field is not in the form the specification requires."""


def canonical(obj: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON bytes."""
    return rfc8785.dumps(obj)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise FormatError(f"duplicate JSON key {key!r}")
        obj[key] = value
    return obj


def parse_json(name: str, data: bytes, *, require_canonical: bool = True) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, and (by default) RFC 8785 canonical.

    Raises:
        FormatError: With ``name`` and the reason, e.g. ``manifest.json: duplicate JSON key 'x'``.

    """
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except FormatError as exc:
        raise FormatError(f"{name}: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise FormatError(f"{name}: not valid JSON") from None
    if require_canonical:
        try:
            again = canonical(obj)
        except Exception:  # rfc8785 refuses floats it cannot represent, huge ints, ...
            again = b""
        if again != data:
            raise FormatError(f"{name}: not in RFC 8785 canonical form")
    return obj


def dsse_envelope(payload_type: str, payload: bytes, signer: Any) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` with one Ed25519 signature by ``signer``."""
    return {
        "payloadType": payload_type,
        "payload": b64encode(payload),
        "signatures": [
            {"keyid": signer.key_id, "sig": b64encode(signer.sign(pae(payload_type, payload)))}
        ],
    }


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: what the signature actually covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def envelope_digest(payload_type: str, payload: bytes) -> bytes:
    """The log leaf: SHA-256 of the PAE bytes the signature covers (independent of base64)."""
    return hashlib.sha256(pae(payload_type, payload)).digest()


def records_root(members: dict[str, bytes]) -> str:
    """Hex RFC 9162 root over the record members' bytes, in member-name order."""
    leaves = [merkle.leaf_hash(members[n]) for n in sorted(members) if n.startswith(RECORDS_DIR)]
    return merkle.ListTree(leaves).mth(0, len(leaves)).hex()


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (what dsrflow writes)."""
    return base64.b64encode(data).decode()


def b64decode(text: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding (DSSE allows both)."""
    cleaned = text.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    data = base64.b64decode(cleaned, validate=True)
    # Reject encodings with non-zero padding bits: otherwise several strings decode to the same
    # bytes and a changed character could go unnoticed.
    if base64.b64encode(data).decode() != cleaned:
        raise ValueError("non-canonical base64")
    return data


def key_id(public_key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo of an Ed25519 public key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + sha256_hex(der)


def normalize_identifier(kind: str, value: str) -> str:
    """The normalised form a commitment is computed over: ``<kind>:<value>``.

    See ``dsrflow.identity.normalize_value`` for the per-kind rules.
    """
    kind = kind.strip().lower()
    return f"{kind}:{normalize_value(kind, value)}"


def commitment(k_req: bytes, identifier: str) -> str:
    r"""``hex(HMAC-SHA256(K_req, "dsr-subject-v1\0" || identifier))``."""
    return hmac.new(k_req, COMMITMENT_DOMAIN + identifier.encode(), hashlib.sha256).hexdigest()


def timestamp(dt: datetime) -> str:
    """RFC 3339 UTC timestamp with seconds precision and a ``Z`` suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: Any, where: str) -> datetime:
    """Parse a ``YYYY-MM-DDTHH:MM:SSZ`` timestamp written by ``timestamp``.

    Raises:
        FormatError: Not a string in exactly that form.

    """
    try:
        if not isinstance(text, str) or len(text) != 20:
            raise ValueError
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise FormatError(f"{where}: {text!r} is not a YYYY-MM-DDTHH:MM:SSZ timestamp") from None


def write_zip(members: dict[str, bytes]) -> bytes:
    """The deterministic zip of a set of members.

    Sorted names, fixed timestamps, stored (no compression), regular files (mode 0100644), no
    directories, no extra fields. A verifier rebuilds it from the members and compares bytes.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.create_system = 3
            zf.writestr(info, members[name])
    return buf.getvalue()

"""Evidence format primitives shared by the builder and the offline verifier.

Imports only the standard library, ``cryptography`` and ``rfc8785``: the verifier must run where
neither Temporal nor a database nor a web framework is installed. See docs/evidence-format.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dsrflow.identity import normalize_value

BUNDLE_FORMAT = "dsrflow-evidence/v0"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://dsrflow.dev/attestations/erasure/v0"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
ENVELOPE = "envelope.json"
MANIFEST = "manifest.json"
INVENTORY = "inventory.json"
RECORDS_DIR = "records/"
COMMITMENT_DOMAIN = b"dsr-subject-v1\x00"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def canonical(obj: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON bytes."""
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: what the signature actually covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


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


def write_zip(members: dict[str, bytes]) -> bytes:
    """The deterministic zip of a set of members.

    Sorted names, fixed timestamps, stored (no compression), regular files with mode 0644, no
    directories, no extra fields. A verifier rebuilds it from the members and compares bytes.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, members[name])
    return buf.getvalue()

"""OpenDSR signatures: checking a processor's certificate and its ``X-OpenDSR-Signature``.

A processor signs the raw bytes of every response and status callback with the key of its
certificate and sends the signature, base64, in ``X-OpenDSR-Signature``; the domain it signs for
is in ``X-OpenDSR-Processor-Domain``. The signature is checked over the raw bytes before any
parsing. RSA keys sign PKCS#1 v1.5 / SHA-256 (what processors in the field use), EC keys ECDSA /
SHA-256, Ed25519 keys plain Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SIGNATURE_HEADER = "X-OpenDSR-Signature"
DOMAIN_HEADER = "X-OpenDSR-Processor-Domain"


class SignatureError(Exception):
    """A certificate or signature does not check out (message names what, never data)."""


def _read_pem(path: Path, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except FileNotFoundError:
        raise SignatureError(f"{what} {path} not found") from None
    except ValueError:
        raise SignatureError(f"{what} {path} holds no PEM certificate") from None


def load_certificate(path: Path) -> x509.Certificate:
    """Read one PEM certificate (the first, if the file holds a chain).

    Raises:
        SignatureError: The file is missing or holds no PEM certificate.

    """
    return _read_pem(path, "certificate file")[0]


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Read a PEM bundle (trust anchors).

    Raises:
        SignatureError: The file is missing or holds no PEM certificate.

    """
    return _read_pem(path, "CA file")


def fingerprint(cert: x509.Certificate) -> str:
    """``sha256:`` + hex SHA-256 of the certificate's DER form."""
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def check_certificate(
    cert: x509.Certificate,
    domain: str | None,
    trust: list[x509.Certificate] | None,
    now: datetime | None = None,
) -> None:
    """Check a processor certificate's validity period and, given trust anchors, its chain.

    With trust anchors the certificate must chain to one of them and name ``domain`` in its
    subjectAltName; without (a pinned certificate) only the validity period is checked.

    Raises:
        SignatureError: Expired, not yet valid, untrusted, or issued for another domain.

    """
    now = now or datetime.now(UTC)
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise SignatureError(
            f"processor certificate is outside its validity period "
            f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
        )
    if trust is None:
        return  # pinned: the catalog names this exact certificate
    from cryptography.x509.verification import (
        PolicyBuilder,
        Store,
        VerificationError,
    )

    if not domain:
        raise SignatureError("a CA-verified processor certificate needs 'processor_domain'")
    verifier = (
        PolicyBuilder().store(Store(trust)).time(now).build_server_verifier(x509.DNSName(domain))
    )
    try:
        verifier.verify(cert, [])
    except VerificationError as exc:
        raise SignatureError(f"processor certificate not trusted for {domain}: {exc}") from None


def verify_signature(body: bytes, signature_b64: str | None, cert: x509.Certificate) -> bytes:
    """Check ``X-OpenDSR-Signature`` over the raw body; returns the decoded signature.

    Raises:
        SignatureError: Missing, not base64, or not a valid signature of ``body``.

    """
    if not signature_b64:
        raise SignatureError(f"response has no {SIGNATURE_HEADER} header")
    try:
        signature = base64.b64decode("".join(signature_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} is not base64") from None
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, body)
        else:
            raise SignatureError(f"unsupported processor key type {type(key).__name__}")
    except InvalidSignature:
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body") from None
    return signature


@dataclass(frozen=True)
class SignedBody:
    """A body whose signature checked out, with what the evidence needs to re-check it."""

    body: bytes
    signature: bytes
    certificate: x509.Certificate

    @property
    def body_sha256(self) -> str:
        """``sha256:`` + hex digest of the exact signed bytes."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()

    @property
    def signature_b64(self) -> str:
        """The signature, standard base64."""
        return base64.b64encode(self.signature).decode("ascii")

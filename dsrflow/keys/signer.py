"""The signer interface: what the evidence builder and the transparency log sign with.

A local Ed25519 key implements it here; a KMS or HSM implements the same three members (key id,
public key, ``sign``) so private key material never has to leave the device. Signing happens in
the evidence activity; neither the key nor the signer ever enters a Temporal payload.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dsrflow.evidence.format import key_id


@runtime_checkable
class Signer(Protocol):
    """Signs bytes with one Ed25519 key.

    Attributes:
        key_id: ``sha256:<hex of SHA-256 of the DER SubjectPublicKeyInfo>``.
        public_key: The Ed25519 public key.

    """

    key_id: str
    public_key: Ed25519PublicKey

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature over ``data`` (64 bytes)."""
        ...


class LocalSigner:
    """A ``Signer`` over an Ed25519 private key held in this process."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_seed(cls, seed: bytes) -> LocalSigner:
        """A signer from a 32-byte seed (reproducible examples and tests only)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature over ``data``."""
        return self._key.sign(data)

    def private_pem(self, passphrase: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase`` when one is given."""
        encryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def public_der(public_key: Ed25519PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of a public key (what the keyring publishes)."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_raw(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (what C2SP signed notes hash)."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """PEM SubjectPublicKeyInfo of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

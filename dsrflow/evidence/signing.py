"""The controller's evidence signing key (v0: one Ed25519 key on disk).

The private key is encrypted at rest with a passphrase from the environment when one is set.
It is loaded inside the signing activity only; it never enters a Temporal payload.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dsrflow.errors import ConfigError
from dsrflow.evidence.format import key_id

KEY_FILE = "signing-key.pem"
PUBLIC_FILE = "signing-key.pub.pem"


class Signer:
    """Signs bytes with the controller's Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature over ``data``."""
        return self._key.sign(data)

    def public_pem(self) -> bytes:
        """The public key as PEM (what a regulator is given)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_or_create_signer(keys_dir: Path, env: Mapping[str, str], passphrase_env: str) -> Signer:
    """Load the signing key, creating it on first use (embedded stack).

    Raises:
        ConfigError: The key exists but cannot be decrypted with the configured passphrase.

    """
    path = keys_dir / KEY_FILE
    passphrase = env.get(passphrase_env, "").encode() or None
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        encryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        signer = Signer(key)
        (keys_dir / PUBLIC_FILE).write_bytes(signer.public_pem())
        return signer
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: cannot load the signing key ({exc}); is {passphrase_env} set correctly?"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: the signing key must be Ed25519")
    return Signer(key)

"""The OpenDSR processor key: signs every inbound OpenDSR response and status callback.

Kept with dsrflow's other keys under ``state_dir/keys``: ``opendsr/processor-key.pem`` (PKCS#8,
encrypted with the signing passphrase when one is set, readable by its owner only) and
``opendsr/processor-cert.pem``, a self-signed certificate naming the processor domain, which
``GET /discovery`` publishes for controllers to pin. Made on first use. The signature is the one
processors in the field use and ``dsrflow.adapters.opendsr.signing`` checks: RSA PKCS#1 v1.5 /
SHA-256 over the raw body, base64.
"""

from __future__ import annotations

import base64
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from dsrflow.settings import Settings

KEY_FILE = "processor-key.pem"
CERT_FILE = "processor-cert.pem"
_LOCK = threading.Lock()


class ProcessorKey:
    """The processor's signing key and certificate (see the module doc).

    Args:
        folder: ``state_dir/keys/opendsr``.
        domain: The processor domain the certificate names.
        passphrase: Encrypts the key file at rest (None: unencrypted, as in development).
    """

    def __init__(self, folder: Path, domain: str, passphrase: str | None = None) -> None:
        self.folder = folder
        self.domain = domain
        secret = passphrase.encode() if passphrase else None
        with _LOCK:
            if not (folder / KEY_FILE).exists():
                self._make(secret)
            self._key = serialization.load_pem_private_key(
                (folder / KEY_FILE).read_bytes(), password=secret
            )
            self.certificate_pem = (folder / CERT_FILE).read_bytes()
        assert isinstance(self._key, rsa.RSAPrivateKey)

    def sign(self, body: bytes) -> str:
        """``X-OpenDSR-Signature`` of ``body``: base64 RSA PKCS#1 v1.5 / SHA-256."""
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return base64.b64encode(self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate controllers check signatures with."""
        return x509.load_pem_x509_certificate(self.certificate_pem)

    def _make(self, secret: bytes | None) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.domain)])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(self.domain)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.folder / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        (self.folder / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def processor_key(settings: Settings) -> ProcessorKey:
    """The processor key under ``state_dir/keys/opendsr`` (made on first use)."""
    secret = settings.signing.passphrase
    return ProcessorKey(
        settings.keys_dir / "opendsr",
        settings.api.opendsr_domain,
        secret.get_secret_value() if secret else None,
    )

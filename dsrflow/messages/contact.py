"""The subject's contact address, sealed under the request's data key.

The ledger holds no personal data in clear: the address is encrypted with AES-256-GCM under
the same per-request key as the request's Temporal payloads and artifacts, bound to the
request id and key id. ``dsrflow purge`` destroys that key, after which no copy of the sealed
address (a backup, a replica) can be opened.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from dsrflow.crypto.keystore import KeyStore
    from dsrflow.domain import Identity
    from dsrflow.ledger import Ledger

_AAD = b"dsrflow.subject-contact/v1\n"


def email_of(identities: list[Identity]) -> str | None:
    """The first e-mail identity the subject gave (None: no e-mail, so no messages)."""
    return next((i.value for i in identities if i.kind == "email"), None)


def seal(key_id: str, key: bytes, request_id: str, address: str) -> bytes:
    """Encrypt ``address`` for ``request_id`` (nonce || ciphertext)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, address.encode(), _aad(key_id, request_id))


def unseal(key_id: str, key: bytes, request_id: str, sealed: bytes) -> str:
    """Decrypt a sealed address (raises ``cryptography``'s ``InvalidTag`` if tampered with)."""
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], _aad(key_id, request_id)).decode()


def _aad(key_id: str, request_id: str) -> bytes:
    return _AAD + key_id.encode() + b"\n" + request_id.encode()


def keep(ledger: Ledger, keystore: KeyStore, request_id: str, address: str) -> bool:
    """Seal and store a request's contact unless it has one; whether this call stored it."""
    from dsrflow.ledger import outbox

    key_id, key = keystore.key_for(request_id)
    return outbox.save_contact(ledger, request_id, key_id, seal(key_id, key, request_id, address))


def read(ledger: Ledger, keystore: KeyStore, request_id: str) -> str | None:
    """The request's address, or None when the subject gave none.

    Raises:
        KeyDestroyedError: The request was purged: its address is crypto-shredded.
    """
    from dsrflow.ledger import outbox

    row = outbox.contact(ledger, request_id)
    if row is None:
        return None
    return unseal(row.key_id, keystore.get(row.key_id), request_id, row.sealed)

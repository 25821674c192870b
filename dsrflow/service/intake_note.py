"""What a privacy-center requester typed beyond the address: sealed at rest, shown for a reason.

The name and free-text details go neither to Temporal nor into the ledger in clear: they are
sealed (AES-256-GCM, bound to the request id and key id) under the request's own data key, so
``dsrflow purge`` crypto-shreds them with the rest of the request. Staff read them through
``RevealNote``, like the subject's identifiers (``service/reveal.py``): with a reason, audited
in the ``decode`` category.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dsrflow.errors import NotFound, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime
    from dsrflow.service.principal import Principal

_AAD = b"dsrflow.intake-note/v1\n"


def _aad(key_id: str, request_id: str) -> bytes:
    return _AAD + key_id.encode() + b"\n" + request_id.encode()


def keep_note(rt: Runtime, request_id: str, *, name: str, details: str) -> None:
    """Seal and keep a request's name and details (a retried submission keeps the first)."""
    from dsrflow.ledger import privacy

    key_id, key = rt.keystore.key_for(request_id)
    plain = json.dumps({"name": name, "details": details}).encode()
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, _aad(key_id, request_id))
    privacy.save_note(rt.ledger, request_id, key_id, sealed)


@dataclass(frozen=True)
class IntakeNote:
    """The name and details a requester gave (either may be empty)."""

    name: str
    details: str


class RevealNote(UseCase):
    """Open a privacy-center request's note for a person who gives a reason (audited)."""

    def run(self, principal: Principal, request_id: str, reason: str | None) -> IntakeNote:
        """The note, after auditing the reveal.

        Raises:
            NotAllowed: The principal may not reveal.
            NotFound: The request has no note (not filed through the privacy center, or the
                requester typed nothing beyond the address).
            UserError: No reason, or the request was purged (its key is destroyed).
        """
        from dsrflow.crypto.keystore import KeyDestroyedError
        from dsrflow.ledger import privacy

        checks.request_id(request_id)
        self.allow(principal, "reveal")
        why = checks.text(reason, "--reason", required=True).strip()
        row = privacy.note(self.rt.ledger, request_id)
        if row is None:
            raise NotFound(f"request {request_id}: no privacy-center note")
        try:
            key = self.rt.keystore.get(row.key_id)
        except KeyDestroyedError:
            raise UserError(f"request {request_id}: purged; its note is erased") from None
        self.audit(principal, "reveal_note", Category.DECODE, request_id, reason=why)
        plain = AESGCM(key).decrypt(row.sealed[:12], row.sealed[12:], _aad(row.key_id, request_id))
        got = json.loads(plain)
        return IntakeNote(str(got.get("name", "")), str(got.get("details", "")))

"""The evidence issuer: keys + transparency log -> signed, logged bundles.

The controller named in each bundle is the keyring's: the root key vouches for that name.

The signing activity holds one issuer. It asks the key source for the keyring on every bundle
(``KeyManager`` re-reads it only when the file changed), so a rotation by ``dsrflow keys rotate``
takes effect at once in running workers; decrypted signers are cached by key id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from dsrflow.domain import EvidenceInput
from dsrflow.evidence.bundle import BuiltBundle, build_bundle
from dsrflow.keys.keyring import Keyring
from dsrflow.keys.signer import Signer
from dsrflow.tlog.memory import TransparencyLog


class KeySource(Protocol):
    """Where the issuer gets the keyring and the active signers (``KeyManager``, a KMS, ...)."""

    def keyring(self) -> Keyring:
        """The current keyring."""
        ...

    def signer(self, purpose: str) -> Signer:
        """The signer of the active key for ``evidence`` or ``log``."""
        ...


@dataclass
class StaticKeys:
    """A fixed keyring and signers (examples, benchmarks, tests)."""

    ring: Keyring
    signers: dict[str, Signer]

    def keyring(self) -> Keyring:
        """The fixed keyring."""
        return self.ring

    def signer(self, purpose: str) -> Signer:
        """The fixed signer for ``purpose``."""
        return self.signers[purpose]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class EvidenceIssuer:
    """Builds, signs and logs evidence bundles."""

    def __init__(
        self,
        keys: KeySource,
        log: TransparencyLog,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.keys = keys
        self.log = log
        self.clock = clock
        self._signers: dict[str, Signer] = {}

    def _signer(self, ring: Keyring, purpose: str) -> Signer:
        entry = ring.active(purpose)
        if entry is None:
            raise RuntimeError(f"the keyring has no active {purpose} key")
        if entry.key_id not in self._signers:
            self._signers[entry.key_id] = self.keys.signer(purpose)
        return self._signers[entry.key_id]

    def issue(self, inp: EvidenceInput, k_req: bytes) -> BuiltBundle:
        """The signed, logged bundle for one request (``k_req``: the fresh commitment key)."""
        ring = self.keys.keyring()
        return build_bundle(
            inp,
            controller=ring.controller,
            k_req=k_req,
            signed_at=self.clock(),
            keyring_version=ring.version,
            evidence_signer=self._signer(ring, "evidence"),
            log=self.log,
            log_signer=self._signer(ring, "log"),
            log_origin=ring.log_origin,
        )

"""``LogProof`` and an in-memory log with the same interface as the ledger's ``SqlLog``.

The in-memory log serves reproducible examples, benchmarks and tests; production uses
``dsrflow.tlog.store.SqlLog``. Pure (no database).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from dsrflow.keys.signer import Signer
from dsrflow.tlog import checkpoint, merkle


@dataclass(frozen=True)
class LogProof:
    """Where an entry landed: its index, and an inclusion proof to a signed checkpoint."""

    index: int
    size: int
    path: list[bytes]
    checkpoint: str


class TransparencyLog(Protocol):
    """What the evidence issuer needs from a log."""

    def append(self, leaf: bytes, request_id: str, signer: Signer, origin: str) -> LogProof:
        """Append an envelope digest and return its inclusion proof and a signed checkpoint."""
        ...


@dataclass
class MemoryLog:
    """A transparency log in a list (not durable)."""

    tree: merkle.ListTree = field(default_factory=merkle.ListTree)
    request_ids: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def append(self, leaf: bytes, request_id: str, signer: Signer, origin: str) -> LogProof:
        """Append ``leaf`` (an envelope digest)."""
        with self._lock:
            index = self.tree.append(merkle.leaf_hash(leaf))
            self.request_ids.append(request_id)
            size = self.tree.size
            note = checkpoint.sign(
                checkpoint.Checkpoint(origin, size, self.tree.mth(0, size)), signer
            )
            return LogProof(index, size, merkle.inclusion_proof(self.tree.mth, index, size), note)

"""The transparency log kept in the ledger database.

Appends are safe from many threads and processes: the new leaf's index is its primary key, so
two writers that read the same size cannot both commit; the loser rolls back and retries. On
SQLite the database serialises writers anyway; a process-wide lock keeps this process's own
threads from colliding at all.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dsrflow.keys.signer import Signer
from dsrflow.ledger import Ledger
from dsrflow.tlog import checkpoint, merkle
from dsrflow.tlog.memory import LogProof
from dsrflow.tlog.models import TlogCheckpointRow, TlogHashRow, TlogLeafRow

MAX_TRIES = 50


class LogError(Exception):
    """The log could not be appended to or read."""


def _hashes(s: Session) -> merkle.HashFn:
    def perfect(level: int, idx: int) -> bytes:
        row = s.get(TlogHashRow, (level, idx))
        if row is None:
            raise LogError(f"transparency log: hash ({level}, {idx}) is missing")
        return row.hash

    return lambda lo, hi: merkle.subtree_root(perfect, lo, hi)


class SqlLog:
    """An RFC 9162 log of evidence envelope digests in the ledger DB."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()

    def size(self) -> int:
        """Number of entries."""
        with self.ledger.session() as s:
            return _size(s)

    def append(
        self,
        leaf: bytes,
        request_id: str,
        signer: Signer,
        origin: str,
        *,
        with_entry: Callable[[Session, int], None] | None = None,
    ) -> LogProof:
        """Append ``leaf`` (an envelope digest), sign a checkpoint, return the inclusion proof.

        ``with_entry(session, index)`` adds rows that must commit with the leaf or not at all
        (an audit anchor's record): a crash between two transactions would leave a leaf
        nothing accounts for.

        Raises:
            LogError: The append kept colliding with other writers.

        """
        for attempt in range(MAX_TRIES):
            try:
                with self._lock, self.ledger.session() as s:
                    proof = self._append(s, leaf, request_id, signer, origin)
                    if with_entry is not None:
                        with_entry(s, proof.index)
                    return proof
            except (IntegrityError, OperationalError):
                # Another writer took this index (or held the lock): read the size again.
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise LogError(f"transparency log: append failed after {MAX_TRIES} tries")

    def _append(
        self, s: Session, leaf: bytes, request_id: str, signer: Signer, origin: str
    ) -> LogProof:
        index = _size(s)
        s.add(TlogLeafRow(idx=index, leaf=leaf, request_id=request_id))
        h, level, i = merkle.leaf_hash(leaf), 0, index
        s.add(TlogHashRow(level=0, idx=index, hash=h))
        mth = _hashes(s)
        while i & 1:  # a right child completes its parent subtree
            h = merkle.node_hash(mth((i - 1) << level, i << level), h)
            level, i = level + 1, i >> 1
            s.add(TlogHashRow(level=level, idx=i, hash=h))
        s.flush()
        size = index + 1
        note = checkpoint.sign(checkpoint.Checkpoint(origin, size, mth(0, size)), signer)
        s.add(TlogCheckpointRow(size=size, note=note))
        return LogProof(index, size, merkle.inclusion_proof(mth, index, size), note)

    def checkpoint(self, signer: Signer, origin: str) -> str:
        """A checkpoint of the log as it is now, signed with the current log key."""
        with self.ledger.session() as s:
            size = _size(s)
            return checkpoint.sign(checkpoint.Checkpoint(origin, size, _hashes(s)(0, size)), signer)

    def root(self, size: int) -> bytes:
        """The root hash of the log at ``size`` (at most the current size)."""
        with self.ledger.session() as s:
            if size > _size(s):
                raise LogError(f"transparency log: size {size} is beyond the log")
            return _hashes(s)(0, size)

    def consistency(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from size ``old`` to ``new``."""
        with self.ledger.session() as s:
            if not 0 <= old <= new <= _size(s):
                raise LogError(f"transparency log: cannot prove sizes {old} -> {new}")
            return merkle.consistency_proof(_hashes(s), old, new)

    def leaves(self) -> list[tuple[int, bytes, str]]:
        """Every entry ``(index, leaf, request id)`` (audits and tests)."""
        with self.ledger.session() as s:
            rows = s.scalars(select(TlogLeafRow).order_by(TlogLeafRow.idx))
            return [(r.idx, r.leaf, r.request_id) for r in rows]


def _size(s: Session) -> int:
    top = s.scalar(select(func.max(TlogLeafRow.idx)))
    return 0 if top is None else top + 1

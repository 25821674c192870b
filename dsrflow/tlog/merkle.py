"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

Pure functions over a *subtree hash source*: ``mth(lo, hi)`` returns the Merkle Tree Hash of the
leaves ``[lo, hi)``. A list of leaf hashes (``ListTree``) or the ledger's stored perfect subtrees
(``dsrflow.tlog.store``) can provide it, so proofs cost O(log n) hashes either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HashFn = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify; the message says why."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(mth_perfect: Callable[[int, int], bytes], lo: int, hi: int) -> bytes:
    """MTH of ``[lo, hi)`` from a source that only knows perfect, aligned subtrees.

    ``mth_perfect(level, index)`` is the hash of the perfect subtree of ``2**level`` leaves
    starting at leaf ``index * 2**level``.
    RFC 9162's left-heavy split always cuts at such subtrees.
    """
    n = hi - lo
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return mth_perfect(level, lo >> level)
    k = split(n)
    return node_hash(subtree_root(mth_perfect, lo, lo + k), subtree_root(mth_perfect, lo + k, hi))


class ListTree:
    """A tree over an in-memory list of leaf hashes (tests, examples, benchmarks)."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        # levels[l][i] is the perfect subtree of 2**l leaves starting at leaf i * 2**l.
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; returns its index."""
        self.levels[0].append(leaf)
        idx = len(self.levels[0]) - 1
        level, i = 0, idx
        while i % 2 == 1:  # a right child completes its parent
            parent = node_hash(self.levels[level][i - 1], self.levels[level][i])
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(parent)
            level, i = level + 1, i // 2
        return idx

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def perfect(self, level: int, index: int) -> bytes:
        """Hash of a perfect, aligned subtree."""
        return self.levels[level][index]

    def mth(self, lo: int, hi: int) -> bytes:
        """Merkle Tree Hash of leaves ``[lo, hi)``."""
        return subtree_root(self.perfect, lo, hi)


def root(mth: HashFn, size: int) -> bytes:
    """The root of a tree of ``size`` leaves."""
    return mth(0, size)


def inclusion_proof(mth: HashFn, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(index, D[size])``, leaf-most hash first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            path.append(mth(lo + k, hi))
            hi = lo + k
        else:
            path.append(mth(lo, lo + k))
            lo = lo + k
    return path[::-1]


def consistency_proof(mth: HashFn, old: int, new: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 ``PROOF(old, D[new])``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new, old, True
    while m != hi - lo:
        k = split(hi - lo)
        if m <= k:
            proof.append(mth(lo + k, hi))
            hi = lo + k
        else:
            proof.append(mth(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(mth(lo, hi))
    return proof[::-1]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> None:
    """RFC 9162 §2.1.3.2. ``leaf`` is the leaf *hash*.

    Raises:
        ProofError: The path does not lead from the leaf to ``expected_root``.

    """
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the tree is deep")
    if r != expected_root:
        raise ProofError("proof does not lead to the root")


def verify_consistency(
    old: int, new: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: the tree of size ``new`` extends the tree of size ``old``.

    Raises:
        ProofError: The trees are not consistent (or the proof is malformed).

    """
    if old > new:
        raise ProofError(f"old size {old} is larger than new size {new}")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("same size but different roots (or a non-empty proof)")
        return
    if old == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty proof")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than needed")
    if fr != old_root:
        raise ProofError("proof does not reproduce the old root")
    if sr != new_root:
        raise ProofError("proof does not reproduce the new root")

"""The transparency log: RFC 9162 proofs, C2SP checkpoints, and the ledger-backed log."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from dsrflow.evidence import example
from dsrflow.keys.signer import LocalSigner
from dsrflow.ledger import Ledger
from dsrflow.tlog import checkpoint, merkle
from dsrflow.tlog.store import SqlLog

ORIGIN = example.ORIGIN


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(b"entry %d" % i) for i in range(n)]


def mth_naive(hs: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out literally."""
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = merkle.split(len(hs))
    return merkle.node_hash(mth_naive(hs[:k]), mth_naive(hs[k:]))


def path_naive(m: int, hs: list[bytes]) -> list[bytes]:
    if len(hs) == 1:
        return []
    k = merkle.split(len(hs))
    if m < k:
        return [*path_naive(m, hs[:k]), mth_naive(hs[k:])]
    return [*path_naive(m - k, hs[k:]), mth_naive(hs[:k])]


def subproof_naive(m: int, hs: list[bytes], whole: bool) -> list[bytes]:
    if m == len(hs):
        return [] if whole else [mth_naive(hs)]
    k = merkle.split(len(hs))
    if m <= k:
        return [*subproof_naive(m, hs[:k], whole), mth_naive(hs[k:])]
    return [*subproof_naive(m - k, hs[k:], False), mth_naive(hs[:k])]


def test_roots_and_proofs_match_the_rfc_definitions() -> None:
    hs = leaves(33)
    for n in range(1, 34):
        tree = merkle.ListTree(hs[:n])
        assert tree.mth(0, n) == mth_naive(hs[:n])
        for i in range(n):
            path = merkle.inclusion_proof(tree.mth, i, n)
            assert path == path_naive(i, hs[:n])
            merkle.verify_inclusion(hs[i], i, n, path, tree.mth(0, n))
        for m in range(1, n):
            proof = merkle.consistency_proof(tree.mth, m, n)
            assert proof == subproof_naive(m, hs[:n], True)
            merkle.verify_consistency(m, n, proof, tree.mth(0, m), tree.mth(0, n))


def test_bad_proofs_are_rejected() -> None:
    hs = leaves(13)
    tree = merkle.ListTree(hs)
    root = tree.mth(0, 13)
    path = merkle.inclusion_proof(tree.mth, 5, 13)
    with pytest.raises(merkle.ProofError, match="does not lead to the root"):
        merkle.verify_inclusion(hs[6], 5, 13, path, root)
    with pytest.raises(merkle.ProofError, match="shorter"):
        merkle.verify_inclusion(hs[5], 5, 13, path[:-1], root)
    with pytest.raises(merkle.ProofError, match="not below tree size"):
        merkle.verify_inclusion(hs[5], 13, 13, path, root)
    proof = merkle.consistency_proof(tree.mth, 6, 13)
    forked = merkle.ListTree([*hs[:6], merkle.leaf_hash(b"rewritten"), *hs[7:]])
    with pytest.raises(merkle.ProofError, match="new root"):
        merkle.verify_consistency(6, 13, proof, tree.mth(0, 6), forked.mth(0, 13))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(6, 13, proof[1:], tree.mth(0, 6), root)


def test_checkpoint_round_trip_and_c2sp_layout() -> None:
    cp = checkpoint.Checkpoint(ORIGIN, 7, b"\x01" * 32)
    note = checkpoint.sign(cp, example.LOG)
    text, sig_line = note.split("\n\n")
    assert text == f"{ORIGIN}\n7\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    assert sig_line.startswith(f"\u2014 {ORIGIN} ") and sig_line.endswith("\n")
    keys = [(example.LOG.key_id, example.LOG.public_key)]
    assert checkpoint.open_note(note, ORIGIN, keys) == cp
    with pytest.raises(checkpoint.CheckpointError, match="origin 'other' is not the keyring"):
        checkpoint.open_note(checkpoint.sign(checkpoint.Checkpoint("other", 7, cp.root),
                                             example.LOG), ORIGIN, keys)  # fmt: skip
    forged = note.replace("\n7\n", "\n8\n")
    with pytest.raises(checkpoint.CheckpointError, match="does not verify"):
        checkpoint.open_note(forged, ORIGIN, keys)
    with pytest.raises(checkpoint.CheckpointError, match="no signature block"):
        checkpoint.open_note(text + "\n", ORIGIN, keys)


def test_witness_cosignatures_are_ignored() -> None:
    cp = checkpoint.Checkpoint(ORIGIN, 3, b"\x02" * 32)
    note = checkpoint.sign(cp, example.LOG)
    witness = checkpoint.sign(cp, LocalSigner.from_seed(b"\x08" * 32)).split("\n\n")[1]
    both = note + witness
    assert checkpoint.open_note(both, ORIGIN, [(example.LOG.key_id, example.LOG.public_key)]) == cp


@pytest.fixture
def sql_log(tmp_path: Path) -> SqlLog:
    return SqlLog(Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True))


def test_sql_log_proofs_verify_and_match_the_memory_log(sql_log: SqlLog) -> None:
    keys = [(example.LOG.key_id, example.LOG.public_key)]
    mem = merkle.ListTree()
    notes = []
    for i in range(21):
        leaf = hashlib.sha256(b"env %d" % i).digest()
        proof = sql_log.append(leaf, f"r{i}", example.LOG, ORIGIN)
        mem.append(merkle.leaf_hash(leaf))
        assert (proof.index, proof.size) == (i, i + 1)
        cp = checkpoint.open_note(proof.checkpoint, ORIGIN, keys)
        assert cp.root == mem.mth(0, i + 1)
        merkle.verify_inclusion(merkle.leaf_hash(leaf), i, cp.size, proof.path, cp.root)
        notes.append(cp)
    for old in (1, 4, 7, 16):
        proof = sql_log.consistency(old, 21)
        merkle.verify_consistency(old, 21, proof, notes[old - 1].root, notes[20].root)
    assert sql_log.root(21) == mem.mth(0, 21)


def test_sql_log_is_append_only(sql_log: SqlLog, tmp_path: Path) -> None:
    sql_log.append(b"\x00" * 32, "r0", example.LOG, ORIGIN)
    con = sqlite3.connect(tmp_path / "ledger.db")
    for stmt in ("UPDATE tlog_leaves SET leaf = x'00'", "DELETE FROM tlog_hashes",
                 "DELETE FROM tlog_checkpoints"):  # fmt: skip
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(stmt)
    con.close()

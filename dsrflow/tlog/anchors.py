"""Audit chain anchors: the chain's head written into the transparency log.

The hash chain shows an edited, deleted or moved entry, but a tail cut off cleanly (entries and
head together) leaves a shorter chain that still holds. An anchor is a log leaf committing to
the head at some moment: ``SHA-256`` of a small canonical statement ``{type, seq, head}``. Once
it is in the log (whose checkpoints auditors keep), cutting the chain below an anchored entry is
detectable. Entries after the last anchor are protected by the chain alone until the next one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsrflow.keys.signer import Signer
from dsrflow.ledger import Ledger, audit_chain
from dsrflow.ledger.models import AuditAnchorRow, AuditHeadRow
from dsrflow.tlog import merkle
from dsrflow.tlog.models import TlogHashRow, TlogLeafRow
from dsrflow.tlog.store import SqlLog

ANCHOR_KEY = "audit-chain"
"""The ``request_id`` the log records for anchor leaves (anchors belong to no request)."""

STATEMENT_TYPE = "dsrflow.audit-anchor/v1"


def statement(seq: int, head: bytes) -> bytes:
    """The canonical statement an anchor leaf is the SHA-256 of."""
    return rfc8785.dumps({"type": STATEMENT_TYPE, "seq": seq, "head": head.hex()})


@dataclass(frozen=True)
class Anchored:
    """One anchor written (or the reason none was needed).

    Attributes:
        seq: The chain entry anchored (0: the chain is empty).
        log_index: The log leaf holding it; None when nothing new needed anchoring.
    """

    seq: int
    log_index: int | None


def anchor(ledger: Ledger, log: SqlLog, signer: Signer, origin: str) -> Anchored:
    """Write the chain's current head into the log, unless it is anchored already."""
    with ledger.session() as s:
        head = s.get(AuditHeadRow, 1)
        seq, digest = (head.seq, bytes(head.hash)) if head else (0, audit_chain.GENESIS)
        last = s.scalars(
            select(AuditAnchorRow).order_by(AuditAnchorRow.log_index.desc()).limit(1)
        ).first()
    if seq == 0 or (last is not None and last.seq == seq):
        return Anchored(seq, None)
    body = statement(seq, digest)

    def record(s: Session, index: int) -> None:
        s.add(AuditAnchorRow(log_index=index, seq=seq, head_hash=digest, statement=body))

    # The record commits with the leaf: a crash in between would leave an anchor leaf with no
    # record, which `audit verify` rightly reports as tampering.
    proof = log.append(hashlib.sha256(body).digest(), ANCHOR_KEY, signer, origin,
                       with_entry=record)  # fmt: skip
    return Anchored(seq, proof.index)


@dataclass(frozen=True)
class AnchorState:
    """What checking the anchors found.

    Attributes:
        anchors: How many anchors were checked.
        last_seq: The highest anchored entry (0: none).
        problem: The first failure as one line; None if every anchor holds.
    """

    anchors: int
    last_seq: int
    problem: str | None


def check(s: Session, chain: audit_chain.ChainState) -> AnchorState:
    """Check every anchor against the log and the chain, and every anchor leaf has its record."""
    rows = list(s.scalars(select(AuditAnchorRow).order_by(AuditAnchorRow.log_index)))
    recorded = {r.log_index for r in rows}
    for idx in s.scalars(select(TlogLeafRow.idx).where(TlogLeafRow.request_id == ANCHOR_KEY)):
        if idx not in recorded:
            return AnchorState(len(rows), 0, f"log leaf {idx}: an audit anchor with no record")
    last = 0
    for row in rows:
        where = f"audit anchor at log index {row.log_index} (entry {row.seq})"
        leaf = s.get(TlogLeafRow, row.log_index)
        level0 = s.get(TlogHashRow, (0, row.log_index))
        body = bytes(row.statement)
        if (
            leaf is None
            or level0 is None
            or bytes(leaf.leaf) != hashlib.sha256(body).digest()
            or bytes(level0.hash) != merkle.leaf_hash(bytes(leaf.leaf))
        ):
            return AnchorState(len(rows), last, f"{where}: not what the log holds")
        if body != statement(row.seq, bytes(row.head_hash)):
            return AnchorState(len(rows), last, f"{where}: its record was edited")
        if row.seq > chain.head_seq:
            return AnchorState(
                len(rows), last,
                f"{where}: the chain ends at entry {chain.head_seq}; entries were cut off the end",
            )  # fmt: skip
        if chain.hashes.get(row.seq) != bytes(row.head_hash):
            return AnchorState(len(rows), last, f"{where}: the chain no longer has that entry")
        last = max(last, row.seq)
    return AnchorState(len(rows), last, None)

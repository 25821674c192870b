"""Offline check that the controller's log was only appended to between two checkpoints.

A consistency proof document (written by ``dsrflow log prove-consistency``) is canonical JSON:
``{"origin", "old": {"checkpoint"}, "new": {"checkpoint"}, "proof": [hex, ...]}``. Both
checkpoints must be signed by a log key in the keyring, and the RFC 9162 proof must lead from
the old root to the new one. An auditor who kept an old checkpoint passes it as ``old`` too.
"""

from __future__ import annotations

from typing import Any

from dsrflow.evidence.format import FormatError, parse_json
from dsrflow.tlog import merkle
from dsrflow.tlog.checkpoint import Checkpoint
from dsrflow.verify.logproof import open_checkpoint
from dsrflow.verify.report import Report, VerificationError
from dsrflow.verify.verifier import Checks, Expect


def verify_consistency(proof_doc: bytes, expect: Expect, kept: str | None = None) -> Report:
    """Check a consistency proof document; ``kept`` is the auditor's own old checkpoint."""
    report = Report(bundle="consistency proof")
    try:
        _verify(proof_doc, expect, kept, report)
    except VerificationError as exc:
        report.failure = str(exc)
    return report


def _open(note: Any, ring: Any, which: str) -> Checkpoint:
    if not isinstance(note, str):
        raise VerificationError(f"{which} checkpoint: missing")
    return open_checkpoint(note.encode(), ring, f"{which} checkpoint")


def _verify(doc: bytes, expect: Expect, kept: str | None, report: Report) -> None:
    ring = Checks(report, expect).keyring()
    try:
        obj = parse_json("consistency proof", doc)
        old_note, new_note = obj["old"]["checkpoint"], obj["new"]["checkpoint"]
        proof = [bytes.fromhex(h) for h in obj["proof"]]
    except FormatError as exc:
        raise VerificationError(str(exc)) from None
    except (KeyError, TypeError, ValueError):
        raise VerificationError("consistency proof: malformed") from None
    old, new = _open(old_note, ring, "old"), _open(new_note, ring, "new")
    report.passed.append(f"checkpoints: sizes {old.size} and {new.size} signed by a log key")
    if kept is not None:
        mine = _open(kept, ring, "kept")
        if (mine.size, mine.root) != (old.size, old.root):
            raise VerificationError(
                f"kept checkpoint: size {mine.size} root {mine.root.hex()[:16]}... is not the "
                f"proof's old checkpoint (size {old.size}); ask for a proof from your checkpoint"
            )
        report.passed.append("kept checkpoint: is the proof's old checkpoint")
    try:
        merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
    except merkle.ProofError as exc:
        raise VerificationError(f"consistency: {exc}; the log was NOT only appended to") from None
    report.log = {"origin": ring.log_origin, "old_size": old.size, "new_size": new.size,
                  "new_root": new.root.hex()}  # fmt: skip
    report.passed.append(
        f"consistency: the log grew from {old.size} to {new.size} entries by appends only"
    )

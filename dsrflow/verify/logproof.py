r"""The transparency-log members, checked byte for byte: the signed checkpoint and inclusion proof.

The checkpoint is verified over the bytes in the file, never over text rebuilt from parsed
fields. The note must be exactly (C2SP signed-note with a C2SP tlog-checkpoint body, no
extension lines)::

    <origin>\n<tree size, decimal, no leading zero>\n<canonical padded base64 of 32 bytes>\n
    \n
    — <key name> <canonical padded base64 of key hash[4] || signature[64]>\n   (one or more)

UTF-8, no carriage returns, nothing else. A signature line whose key name is the origin and
whose key hash is a log key of the keyring must verify; one by a compromised log key is refused
(and named as such); lines by other keys (witnesses) are ignored.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography.exceptions import InvalidSignature

from dsrflow.evidence.format import FormatError, parse_json
from dsrflow.keys.keyring import Keyring
from dsrflow.tlog import merkle
from dsrflow.tlog.checkpoint import SIG_PREFIX, Checkpoint, key_hash
from dsrflow.verify.report import VerificationError
from dsrflow.verify.schema import SchemaError, check

MAX_NOTE = 64 * 1024
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,15})")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _fail(where: str, reason: str) -> VerificationError:
    return VerificationError(f"{where}: {reason}")


def _canonical_b64(text: str, where: str, what: str) -> bytes:
    """Standard, padded base64 in its one canonical form (unused bits zero)."""
    try:
        if not _B64.fullmatch(text):
            raise ValueError
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise _fail(where, f"{what} is not standard padded base64") from None
    if base64.b64encode(raw).decode() != text:
        raise _fail(where, f"{what} is not in canonical base64 (non-zero unused bits)")
    return raw


def open_checkpoint(data: bytes, ring: Keyring, where: str = "checkpoint") -> Checkpoint:
    """The checkpoint in ``data``, after every byte-exact and signature check.

    Raises:
        VerificationError: ``<where>: <the real reason>``.

    """
    if len(data) > MAX_NOTE:
        raise _fail(where, f"note is {len(data)} bytes (limit {MAX_NOTE})")
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(where, "not UTF-8 text") from None
    if "\r" in note:
        raise _fail(where, "contains a carriage return (lines end with LF only)")
    head, sep, block = note.partition("\n\n")
    if not sep or not block.endswith("\n"):
        raise _fail(where, "no signature block (a blank line, then signature lines ending in LF)")
    lines = head.split("\n")
    if len(lines) != 3:
        raise _fail(
            where,
            f"the signed text has {len(lines)} lines; it must be exactly origin, tree size and "
            "root hash (no extension lines)",
        )
    origin, size_text, root_text = lines
    if origin != ring.log_origin:
        raise _fail(where, f"origin {origin!r} is not the keyring's log origin {ring.log_origin!r}")
    if not _DECIMAL.fullmatch(size_text):
        raise _fail(where, "tree size line is not a decimal number without leading zeros")
    root = _canonical_b64(root_text, where, "root hash line")
    if len(root) != 32:
        raise _fail(where, f"root hash is {len(root)} bytes, not 32")
    text = (head + "\n").encode()
    cp = Checkpoint(origin, int(size_text), root)
    by_hash = {key_hash(origin, k.public_key): k for k in ring.keys}
    found: list[str] = []
    for i, line in enumerate(block.split("\n")[:-1], 1):
        if not line.startswith(SIG_PREFIX) or line.count(" ") != 2:
            raise _fail(where, f"signature line {i} is not '— <key name> <base64>'")
        name, blob_text = line[len(SIG_PREFIX) :].split(" ")
        blob = _canonical_b64(blob_text, where, f"signature line {i}")
        if len(blob) != 68:
            raise _fail(
                where, f"signature line {i} is not a 4-byte key hash and an Ed25519 signature"
            )
        key = by_hash.get(blob[:4]) if name == origin else None
        if key is None:
            continue  # a witness cosignature or another key: not ours to judge
        if key.purpose != "log":
            found.append(f"{key.key_id} is an {key.purpose} key, not a log key")
            continue
        if key.status == "compromised":
            raise _fail(
                where, f"signed by log key {key.key_id}, which the keyring marks compromised"
            )
        try:
            key.public_key.verify(blob[4:], text)
        except InvalidSignature:
            raise _fail(where, f"signature by log key {key.key_id} does not verify") from None
        return cp
    detail = f" ({'; '.join(found)})" if found else ""
    raise _fail(where, f"not signed by any log key of the keyring{detail}")


def check_inclusion(proof_bytes: bytes, leaf: bytes, cp: Checkpoint) -> dict[str, Any]:
    """The inclusion proof is for ``leaf`` in the checkpoint's tree and leads to its root.

    Raises:
        VerificationError: ``inclusion proof: <the real reason>``.

    """
    where = "inclusion proof"
    try:
        proof: dict[str, Any] = parse_json("log/inclusion-proof.json", proof_bytes)
        check("inclusion-proof", proof, "log/inclusion-proof.json")
    except (FormatError, SchemaError) as exc:
        raise VerificationError(str(exc)) from None
    if proof["envelope_digest"] != leaf.hex():
        raise _fail(where, "made for another envelope (envelope_digest differs)")
    if proof["origin"] != cp.origin:
        raise _fail(where, f"for log {proof['origin']!r}, but the checkpoint is for {cp.origin!r}")
    index, size = proof["leaf_index"], proof["tree_size"]
    if size != cp.size:
        raise _fail(where, f"for tree size {size}, but the checkpoint has size {cp.size}")
    if index >= size:
        raise _fail(where, f"leaf index {index} is outside a tree of size {size}")
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    try:
        merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, cp.root)
    except merkle.ProofError as exc:
        raise _fail(where, f"{exc} (checkpoint root)") from None
    return proof

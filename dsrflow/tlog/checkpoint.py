r"""C2SP ``tlog-checkpoint`` notes, signed in the C2SP ``signed-note`` format with Ed25519.

A checkpoint is the text ``<origin>\n<tree size>\n<base64 root hash>\n``, followed by a blank
line and one signature line per signer: ``— <key name> <base64(key hash[4] || signature[64])>``
where the key hash is ``SHA-256(key name || 0x0A || 0x01 || raw public key)[:4]`` and the
signature covers the checkpoint text including its final newline. dsrflow uses the log origin
as the key name. Pure: the offline verifier uses this module.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dsrflow.keys.signer import Signer, public_raw

SIG_PREFIX = "\u2014 "  # em dash and a space
ED25519 = b"\x01"
MAX_NOTE = 64 * 1024
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")
_NAME = re.compile(r"^[^\s+]+$")


class CheckpointError(ValueError):
    """A checkpoint is malformed or not signed by an expected key."""


@dataclass(frozen=True)
class Checkpoint:
    """The signed state of a log: its origin, size and root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> bytes:
        """The note text the signatures cover."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte C2SP key hash of an Ed25519 verifier key."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_raw(public_key)).digest()[:4]


def sign(checkpoint: Checkpoint, signer: Signer) -> str:
    """The signed note for ``checkpoint``, signed as key name ``checkpoint.origin``."""
    if not _NAME.match(checkpoint.origin):
        raise ValueError("a log origin must not contain spaces or '+'")
    text = checkpoint.text()
    blob = key_hash(checkpoint.origin, signer.public_key) + signer.sign(text)
    return f"{text.decode()}\n{SIG_PREFIX}{checkpoint.origin} {base64.b64encode(blob).decode()}\n"


def parse(note: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its checkpoint and ``(key name, key hash, signature)`` lines.

    Raises:
        CheckpointError: The note is not a well-formed checkpoint.

    """
    if len(note) > MAX_NOTE:
        raise CheckpointError("checkpoint: note is too large")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise CheckpointError("checkpoint: no signature block")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("checkpoint: needs origin, size and root hash lines")
    origin, size_text, root_text = lines[:3]
    if not origin or not _DECIMAL.match(size_text):
        raise CheckpointError("checkpoint: bad origin or tree size line")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        root = b""
    if len(root) != 32:
        raise CheckpointError("checkpoint: root hash line is not base64 of 32 bytes")
    sigs = []
    for line in sig_block.split("\n")[:-1]:
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError("checkpoint: malformed signature line")
        name, _, blob_text = line[len(SIG_PREFIX) :].rpartition(" ")
        try:
            blob = base64.b64decode(blob_text, validate=True)
        except ValueError:
            blob = b""
        if not name or len(blob) < 5:
            raise CheckpointError("checkpoint: malformed signature line")
        sigs.append((name, blob[:4], blob[4:]))
    if not sigs:
        raise CheckpointError("checkpoint: no signature lines")
    return Checkpoint(origin, int(size_text), root), sigs


def open_note(note: str, origin: str, keys: Iterable[tuple[str, Ed25519PublicKey]]) -> Checkpoint:
    """Verify a checkpoint against trusted log keys ``(key id, public key)`` for ``origin``.

    Signatures by keys not in ``keys`` are ignored (witness cosignatures may be present); one
    by a known key that does not verify rejects the note, as the C2SP spec requires.

    Raises:
        CheckpointError: Malformed, wrong origin, or no valid signature by a trusted key.

    """
    checkpoint, sigs = parse(note)
    if checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint: origin {checkpoint.origin!r} is not the keyring's log {origin!r}"
        )
    known = {key_hash(origin, pub): (kid, pub) for kid, pub in keys}
    for name, khash, sig in sigs:
        if name != origin or khash not in known:
            continue
        kid, pub = known[khash]
        try:
            pub.verify(sig, checkpoint.text())
        except InvalidSignature:
            raise CheckpointError(
                f"checkpoint: signature by log key {kid} does not verify"
            ) from None
        return checkpoint
    raise CheckpointError("checkpoint: not signed by a log key in the keyring")

"""Streaming authenticated encryption for files at rest (access packages, staged records).

Format ``DSRENC1``: a header (magic, key id, 7-byte nonce prefix), then chunks of up to 64 KiB,
each ``u32 length || AES-256-GCM ciphertext`` with nonce ``prefix || u32 counter || last-flag``
and the header as associated data (the STREAM construction). Reordering, truncating or
appending chunks fails authentication, and memory stays flat for any file size.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DSRENC1\n"
CHUNK = 64 * 1024


class DecryptionError(Exception):
    """The file is not a valid encrypted artifact or was tampered with."""


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class EncryptedWriter:
    """File-like object that encrypts everything written to it; ``close`` seals the file."""

    def __init__(self, path: Path, key_id: str, key: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.with_name(path.name + ".part")
        self._path = path
        self._fh: BinaryIO = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        kid = key_id.encode()
        self._prefix = os.urandom(7)
        self._header = MAGIC + struct.pack(">H", len(kid)) + kid + self._prefix
        self._fh.write(self._header)
        self._aead = AESGCM(key)
        self._buf = bytearray()
        self._counter = 0
        self._written = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        """Buffer plaintext, emitting full chunks."""
        self._buf += data
        self._written += len(data)
        while len(self._buf) > CHUNK:
            self._emit(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def tell(self) -> int:
        """Plaintext bytes written so far (lets zipfile stream into this object)."""
        return self._written

    def flush(self) -> None:
        """Nothing to do: chunks are written as they fill."""

    def _emit(self, chunk: bytes, last: bool) -> None:
        ct = self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._header)
        self._fh.write(struct.pack(">I", len(ct)) + ct)
        self._counter += 1

    def close(self) -> None:
        """Write the final chunk and move the file into place atomically."""
        if self.closed:
            return
        self._emit(bytes(self._buf), last=True)
        self._fh.close()
        os.replace(self._tmp, self._path)
        self.closed = True

    def abort(self) -> None:
        """Discard a partial file."""
        if not self.closed:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)
            self.closed = True

    def __enter__(self) -> EncryptedWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_key_id(path: Path) -> str:
    """The key id in an encrypted file's header."""
    with open(path, "rb") as fh:
        header = fh.read(len(MAGIC) + 2)
        if header[: len(MAGIC)] != MAGIC:
            raise DecryptionError(f"{path.name}: not a dsrflow encrypted file")
        (n,) = struct.unpack(">H", header[len(MAGIC) :])
        return fh.read(n).decode()


def decrypt_chunks(path: Path, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted file chunk by chunk, authenticating each."""
    aead = AESGCM(key)
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise DecryptionError(f"{path.name}: not a dsrflow encrypted file")
        (n,) = struct.unpack(">H", fh.read(2))
        kid = fh.read(n)
        prefix = fh.read(7)
        header = magic + struct.pack(">H", n) + kid + prefix
        counter = 0
        while True:
            raw_len = fh.read(4)
            if len(raw_len) < 4:
                raise DecryptionError(f"{path.name}: truncated (no final chunk)")
            (length,) = struct.unpack(">I", raw_len)
            ct = fh.read(length)
            last = fh.peek(1) == b"" if hasattr(fh, "peek") else False
            try:
                plain = aead.decrypt(_nonce(prefix, counter, last), ct, header)
            except InvalidTag:
                raise DecryptionError(
                    f"{path.name}: chunk {counter} failed authentication"
                ) from None
            yield plain
            counter += 1
            if last:
                return


def decrypt_to(path: Path, key: bytes, out: Path) -> int:
    """Decrypt a whole file to ``out``; returns bytes written."""
    total = 0
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            for chunk in decrypt_chunks(path, key):
                fh.write(chunk)
                total += len(chunk)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return total

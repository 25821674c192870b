"""Per-request data keys, wrapped by a key-encryption key (KEK) and kept in the ledger.

Each request gets its own random AES-256 data key. It encrypts the request's payloads in
Temporal history (see ``codec``) and its artifacts at rest. Destroying the key after the
request's retention period crypto-shreds both: the ciphertexts stay, nobody can read them.

The KEK comes from ``DSRFLOW_KEK`` (base64, 32 bytes) or, on the embedded stack, from a file
created on first use under ``state_dir/keys`` with mode 0600. In production put it in a KMS and
pass it through the environment.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dsrflow.errors import ConfigError
from dsrflow.ledger import Ledger
from dsrflow.ledger.models import DataKeyRow

CACHE_TTL_S = 5.0
"""How long an unwrapped key is reused before the ledger is asked again (destruction bound)."""

SHARED = "__shared__"
"""Key owner for payloads encoded without a workflow (e.g. a codec-server round trip)."""


class KeyDestroyedError(Exception):
    """The data key was destroyed: the data it protected has been crypto-shredded."""


def load_kek(keys_dir: Path, env: Mapping[str, str]) -> bytes:
    """The KEK from ``DSRFLOW_KEK``, else from ``keys_dir/kek.bin`` (created if missing)."""
    if env.get("DSRFLOW_KEK"):
        try:
            kek = base64.b64decode(env["DSRFLOW_KEK"], validate=True)
        except ValueError:
            raise ConfigError("environment: DSRFLOW_KEK is not valid base64") from None
        if len(kek) != 32:
            raise ConfigError("environment: DSRFLOW_KEK must decode to 32 bytes")
        return kek
    path = keys_dir / "kek.bin"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        tmp = keys_dir / f".kek.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # atomic: if another process won the race, we use its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    kek = path.read_bytes()
    if len(kek) != 32:
        raise ConfigError(f"{path}: key-encryption key must be 32 bytes")
    return kek


class KeyStore:
    """Creates, unwraps, caches and destroys per-request data keys."""

    def __init__(self, ledger: Ledger, kek: bytes, cache_ttl_s: float = CACHE_TTL_S) -> None:
        self._ledger = ledger
        self._kek = AESGCM(kek)
        self._ttl = cache_ttl_s
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._by_owner: dict[str, str] = {}
        self._lock = threading.Lock()

    def key_for(self, owner: str) -> tuple[str, bytes]:
        """The data key of a request (``owner`` = request id), created on first use."""
        with self._lock:
            key_id = self._by_owner.get(owner)
            cached = self._cached(key_id) if key_id else None
            if key_id and cached is not None:
                return key_id, cached
        try:
            key_id, key = self._load_or_create(owner)
        except IntegrityError:
            # Another process created this request's key at the same moment: use theirs.
            key_id, key = self._load_or_create(owner)
        with self._lock:
            self._cache[key_id] = (key, time.monotonic())
            self._by_owner[owner] = key_id
        return key_id, key

    def _load_or_create(self, owner: str) -> tuple[str, bytes]:
        with self._ledger.session() as s:
            row = s.scalars(select(DataKeyRow).where(DataKeyRow.request_id == owner)).first()
            if row is None:
                key = AESGCM.generate_key(256)
                key_id = "dk_" + secrets.token_hex(12)
                s.add(DataKeyRow(key_id=key_id, request_id=owner, wrapped=self._wrap(key_id, key)))
                return key_id, key
            if row.wrapped is None:
                raise KeyDestroyedError(f"data key {row.key_id} was destroyed")
            return row.key_id, self._unwrap(row.key_id, row.wrapped)

    def get(self, key_id: str) -> bytes:
        """Unwrap a data key by id.

        Raises:
            KeyDestroyedError: The key was destroyed (or never existed here).

        """
        with self._lock:
            cached = self._cached(key_id)
            if cached is not None:
                return cached
        with self._ledger.session() as s:
            row = s.get(DataKeyRow, key_id)
            if row is None or row.wrapped is None:
                raise KeyDestroyedError(f"data key {key_id} is destroyed or unknown")
            key = self._unwrap(key_id, row.wrapped)
        with self._lock:
            self._cache[key_id] = (key, time.monotonic())
        return key

    def get_many(self, key_ids: list[str]) -> dict[str, bytes]:
        """Unwrap many data keys in one ledger read (an erasure batch's members).

        Raises:
            KeyDestroyedError: One of them was destroyed (a purged member) or is unknown.

        """
        found: dict[str, bytes] = {}
        with self._lock:
            for key_id in key_ids:
                cached = self._cached(key_id)
                if cached is not None:
                    found[key_id] = cached
        missing = sorted(set(key_ids) - set(found))
        if missing:
            with self._ledger.session() as s:
                rows = s.scalars(select(DataKeyRow).where(DataKeyRow.key_id.in_(missing))).all()
                wrapped = {r.key_id: r.wrapped for r in rows}
            for key_id in missing:
                w = wrapped.get(key_id)
                if w is None:
                    raise KeyDestroyedError(f"data key {key_id} is destroyed or unknown")
                found[key_id] = self._unwrap(key_id, w)
            now = time.monotonic()
            with self._lock:
                self._cache.update({k: (found[k], now) for k in missing})
        return found

    def owner_of(self, key_id: str) -> str | None:
        """The request a data key belongs to (for audit entries)."""
        with self._ledger.session() as s:
            row = s.get(DataKeyRow, key_id)
            return row.request_id if row is not None else None

    def destroy(self, owner: str) -> str | None:
        """Destroy a request's data key; returns its id (None if it had none)."""
        with self._ledger.session() as s:
            row = s.scalars(select(DataKeyRow).where(DataKeyRow.request_id == owner)).first()
            if row is None:
                return None
            row.wrapped = None
            row.destroyed_at = datetime.now(UTC)
            key_id = row.key_id
        with self._lock:
            self._cache.pop(key_id, None)
            self._by_owner.pop(owner, None)
        return key_id

    def _cached(self, key_id: str) -> bytes | None:
        # Called with the lock held. A key destroyed by another process (``dsrflow purge``)
        # stops working here within the TTL: the cache never outlives a destruction for long.
        hit = self._cache.get(key_id)
        if hit is None or time.monotonic() - hit[1] > self._ttl:
            return None
        return hit[0]

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._kek.encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:12], wrapped[12:], key_id.encode())

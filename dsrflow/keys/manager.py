"""Key management on disk: ``dsrflow keys init|rotate|revoke|export-public``.

Layout under ``state_dir/keys``: ``keyring.json`` (public, root-signed), ``root-key.pem`` (the
root key; move it to offline media after ``keys init`` and pass ``--root-key`` to rotate or
revoke), ``signing/<purpose>-<hex>.pem`` (evidence and log keys). Private keys are PKCS#8,
encrypted with a passphrase from the environment when one is set. Changes take an exclusive
file lock, so several CLI processes and workers never interleave two keyring updates.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dsrflow.errors import ConfigError, UserError
from dsrflow.keys.keyring import PURPOSES, KeyEntry, Keyring, KeyringError, load_keyring
from dsrflow.keys.signer import LocalSigner

KEYRING_FILE = "keyring.json"
ROOT_FILE = "root-key.pem"
ROOT_PASSPHRASE_ENV = "DSRFLOW_ROOT_PASSPHRASE"  # noqa: S105 - a variable name


def default_origin(controller: str) -> str:
    """A log origin derived from the controller name (override with ``keys init --log-origin``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", controller.lower()).strip("-") or "controller"
    return f"dsrflow.evidence/{slug[:80]}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class KeyManager:
    """The controller's keys in one folder."""

    def __init__(self, keys_dir: Path, env: Mapping[str, str], passphrase_env: str) -> None:
        self.dir = keys_dir
        self.env = env
        self.passphrase_env = passphrase_env
        self._cache: tuple[float, Keyring] | None = None

    @property
    def keyring_path(self) -> Path:
        """Where the signed keyring lives."""
        return self.dir / KEYRING_FILE

    @property
    def encrypted(self) -> bool:
        """Whether signing keys are encrypted at rest (a passphrase is set)."""
        return bool(self.env.get(self.passphrase_env))

    def _passphrase(self, root: bool) -> bytes | None:
        name = ROOT_PASSPHRASE_ENV if root else self.passphrase_env
        return self.env.get(name, "").encode() or None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- reading -----------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether ``keys init`` has run."""
        return self.keyring_path.exists()

    def keyring(self) -> Keyring:
        """The current keyring, re-read when the file changes (a rotation by another process).

        Raises:
            UserError: No keyring yet, or it does not verify.

        """
        try:
            mtime = self.keyring_path.stat().st_mtime
        except FileNotFoundError:
            raise UserError(f"{self.keyring_path}: no keyring; run `dsrflow keys init`") from None
        if self._cache is None or self._cache[0] != mtime:
            try:
                self._cache = (mtime, load_keyring(self.keyring_path.read_bytes()))
            except KeyringError as exc:
                raise ConfigError(f"{self.keyring_path}: {exc}") from None
        return self._cache[1]

    def _key_path(self, entry: KeyEntry) -> Path:
        return self.dir / "signing" / f"{entry.purpose}-{entry.key_id.split(':')[1][:16]}.pem"

    def _load(self, path: Path, root: bool) -> LocalSigner:
        env_name = ROOT_PASSPHRASE_ENV if root else self.passphrase_env
        try:
            key = serialization.load_pem_private_key(
                path.read_bytes(), password=self._passphrase(root)
            )
        except FileNotFoundError:
            raise UserError(f"{path}: key file not found") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{path}: cannot load the key ({exc}); is {env_name} right?"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: not an Ed25519 key")
        return LocalSigner(key)

    def signer(self, purpose: str) -> LocalSigner:
        """The signer of the active key for ``evidence`` or ``log``."""
        entry = self.keyring().active(purpose)
        if entry is None:
            raise ConfigError(f"{self.keyring_path}: no active {purpose} key; run `keys rotate`")
        signer = self._load(self._key_path(entry), root=False)
        if signer.key_id != entry.key_id:
            raise ConfigError(f"{self._key_path(entry)}: does not hold key {entry.key_id}")
        return signer

    # -- changing ----------------------------------------------------------------------

    def _new_key(self, purpose: str, at: datetime) -> KeyEntry:
        signer = LocalSigner(Ed25519PrivateKey.generate())
        entry = KeyEntry(signer.key_id, purpose, signer.public_key, not_before=at)
        _write_private(self._key_path(entry), signer.private_pem(self._passphrase(root=False)))
        return entry

    def init(
        self, controller: str, root_key: Path | None = None, log_origin: str | None = None
    ) -> Keyring:
        """Create the root key, one evidence and one log key, and keyring version 1.

        Raises:
            UserError: A keyring already exists.

        """
        with self._locked():
            return self._init(controller, root_key, log_origin)

    def _init(self, controller: str, root_key: Path | None, log_origin: str | None) -> Keyring:
        if self.exists():
            raise UserError(f"{self.keyring_path}: keys are already initialised")
        at = _now()
        root = LocalSigner(Ed25519PrivateKey.generate())
        _write_private(root_key or self.dir / ROOT_FILE, root.private_pem(self._passphrase(True)))
        keys = [self._new_key(p, at) for p in PURPOSES]
        ring = Keyring(
            controller,
            1,
            at,
            root.public_key,
            log_origin or default_origin(controller),
            tuple(keys),
        )
        _write_atomic(self.keyring_path, ring.signed(root))
        return ring

    def ensure(self, controller: str) -> Keyring:
        """The keyring, initialising keys on first use (the embedded stack's convenience)."""
        with self._locked():
            if not self.exists():
                self._init(controller, None, None)
        return self.keyring()

    def _root(self, root_key: Path | None, ring: Keyring) -> LocalSigner:
        root = self._load(root_key or self.dir / ROOT_FILE, root=True)
        if root.key_id != ring.root_key_id:
            raise UserError(f"{root_key or self.dir / ROOT_FILE}: not this keyring's root key")
        return root

    def rotate(self, purpose: str, root_key: Path | None = None) -> tuple[Keyring, KeyEntry]:
        """Supersede the active key for ``purpose`` with a new one (version + 1)."""
        if purpose not in PURPOSES:
            raise UserError(f"--purpose: {purpose!r} is not one of {', '.join(PURPOSES)}")
        with self._locked():
            ring = self.keyring()
            root = self._root(root_key, ring)
            at = _now()
            keys = [
                KeyEntry(k.key_id, k.purpose, k.public_key, k.not_before, at, "superseded")
                if k.purpose == purpose and k.status == "active"
                else k
                for k in ring.keys
            ]
            new = self._new_key(purpose, at)
            ring = ring.next_version(at, [*keys, new])
            _write_atomic(self.keyring_path, ring.signed(root))
            return ring, new

    def revoke(
        self, kid: str, root_key: Path | None = None, since: datetime | None = None
    ) -> tuple[Keyring, KeyEntry | None]:
        """Mark a key compromised; an active key is replaced at once (version + 1).

        Returns:
            The new keyring and the replacement key, if one was needed.

        """
        with self._locked():
            ring = self.keyring()
            old = ring.find(kid)
            if old is None:
                raise UserError(f"{kid}: no such key in {self.keyring_path}")
            root = self._root(root_key, ring)
            at = _now()
            revoked = KeyEntry(
                old.key_id,
                old.purpose,
                old.public_key,
                old.not_before,
                old.not_after or at,
                "compromised",
                since or at,
            )
            keys = [revoked if k.key_id == kid else k for k in ring.keys]
            new = self._new_key(old.purpose, at) if old.status == "active" else None
            ring = ring.next_version(at, keys + ([new] if new else []))
            _write_atomic(self.keyring_path, ring.signed(root))
            return ring, new

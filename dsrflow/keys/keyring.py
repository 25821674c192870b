"""The keyring: the controller's signing keys, their validity windows and status, signed by root.

``keyring.json`` is a DSSE envelope (payload type ``application/vnd.dsrflow.keyring+json``)
whose payload is the canonical JSON body below, signed by the controller's offline root key.
Its ``version`` increases with every change; verifiers refuse to go back to an older one.
Pure: the offline verifier parses keyrings with this module. See docs/evidence-format.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from dsrflow.evidence.format import (
    FormatError,
    b64decode,
    b64encode,
    canonical,
    dsse_envelope,
    key_id,
    pae,
    parse_json,
    parse_timestamp,
    timestamp,
)
from dsrflow.keys.signer import Signer, public_der

KEYRING_PAYLOAD_TYPE = "application/vnd.dsrflow.keyring+json"
KEYRING_TYPE = "https://dsrflow.dev/keyring/v1"
PURPOSES = ("evidence", "log")
STATUSES = ("active", "superseded", "compromised")
_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


class KeyringError(ValueError):
    """The keyring is malformed or its root signature does not hold."""


@dataclass(frozen=True)
class KeyEntry:
    """One signing key in the keyring.

    Attributes:
        key_id: ``sha256:<hex>`` of the DER public key.
        purpose: ``evidence`` (signs bundles) or ``log`` (signs checkpoints).
        not_before: Start of the validity window.
        not_after: End of the window (exclusive); ``None`` while the key is current.
        status: ``active``, ``superseded`` (rotated out; old signatures stay valid) or
            ``compromised`` (no signature by it is trusted, whatever time it claims).
        compromised_at: When the key is believed to have been compromised.

    """

    key_id: str
    purpose: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime | None = None
    status: str = "active"
    compromised_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form in the keyring body."""
        return {
            "keyid": self.key_id,
            "purpose": self.purpose,
            "algorithm": "ed25519",
            "public_key": b64encode(public_der(self.public_key)),
            "not_before": timestamp(self.not_before),
            "not_after": timestamp(self.not_after) if self.not_after else None,
            "status": self.status,
            "compromised_at": timestamp(self.compromised_at) if self.compromised_at else None,
        }

    def problem_at(self, when: datetime) -> str | None:
        """Why a signature claimed at ``when`` cannot be trusted, or ``None`` if it can."""
        if self.status == "compromised":
            since = timestamp(self.compromised_at) if self.compromised_at else "an unknown time"
            return f"key {self.key_id} is marked compromised (since {since})"
        if when < self.not_before or (self.not_after is not None and when >= self.not_after):
            end = timestamp(self.not_after) if self.not_after else "open"
            return (
                f"key {self.key_id} was not valid at signing time {timestamp(when)} "
                f"(valid {timestamp(self.not_before)} to {end})"
            )
        return None


@dataclass(frozen=True)
class Keyring:
    """A parsed keyring (see the module docstring)."""

    controller: str
    version: int
    issued_at: datetime
    root_public_key: Ed25519PublicKey
    log_origin: str
    keys: tuple[KeyEntry, ...] = field(default_factory=tuple)

    @property
    def root_key_id(self) -> str:
        """Key id of the root key: the fingerprint a controller publishes."""
        return key_id(self.root_public_key)

    def find(self, kid: str) -> KeyEntry | None:
        """The entry with this key id, if listed."""
        return next((k for k in self.keys if k.key_id == kid), None)

    def active(self, purpose: str) -> KeyEntry | None:
        """The active key for a purpose."""
        return next((k for k in self.keys if k.purpose == purpose and k.status == "active"), None)

    def log_keys(self) -> list[tuple[str, Ed25519PublicKey]]:
        """``(key id, public key)`` of every log key that may sign checkpoints (not compromised)."""
        return [
            (k.key_id, k.public_key)
            for k in self.keys
            if k.purpose == "log" and k.status != "compromised"
        ]

    def body(self) -> dict[str, Any]:
        """The JSON body that the root key signs."""
        return {
            "_type": KEYRING_TYPE,
            "controller": self.controller,
            "version": self.version,
            "issued_at": timestamp(self.issued_at),
            "root": {
                "keyid": self.root_key_id,
                "algorithm": "ed25519",
                "public_key": b64encode(public_der(self.root_public_key)),
            },
            "log": {"origin": self.log_origin},
            "keys": [k.as_dict() for k in self.keys],
        }

    def signed(self, root: Signer) -> bytes:
        """``keyring.json``: the canonical DSSE envelope signed by ``root``."""
        if root.key_id != self.root_key_id:
            raise ValueError("the keyring must be signed by its own root key")
        return canonical(dsse_envelope(KEYRING_PAYLOAD_TYPE, canonical(self.body()), root))

    def next_version(self, at: datetime, keys: list[KeyEntry]) -> Keyring:
        """A copy with new keys, the version one higher and issued at ``at``."""
        return replace(self, version=self.version + 1, issued_at=at, keys=tuple(keys))


def _public_key(text: Any, where: str) -> Ed25519PublicKey:
    try:
        key = load_der_public_key(b64decode(text))
    except (TypeError, ValueError):
        raise KeyringError(f"keyring: {where}: public_key is not base64 DER") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyringError(f"keyring: {where}: public_key is not an Ed25519 key")
    return key


def _entry(obj: Any, i: int) -> KeyEntry:
    where = f"keys[{i}]"
    if not isinstance(obj, dict):
        raise KeyringError(f"keyring: {where}: not an object")
    pub = _public_key(obj.get("public_key"), where)
    if obj.get("keyid") != key_id(pub):
        raise KeyringError(f"keyring: {where}: keyid does not match its public key")
    if obj.get("purpose") not in PURPOSES or obj.get("status") not in STATUSES:
        raise KeyringError(f"keyring: {where}: unknown purpose or status")
    if obj.get("algorithm") != "ed25519":
        raise KeyringError(f"keyring: {where}: algorithm must be ed25519")
    try:
        not_after = obj.get("not_after")
        comp = obj.get("compromised_at")
        return KeyEntry(
            key_id=obj["keyid"],
            purpose=obj["purpose"],
            public_key=pub,
            not_before=parse_timestamp(obj.get("not_before"), f"keyring: {where}.not_before"),
            not_after=parse_timestamp(not_after, f"keyring: {where}.not_after")
            if not_after is not None
            else None,
            status=obj["status"],
            compromised_at=parse_timestamp(comp, f"keyring: {where}.compromised_at")
            if comp is not None
            else None,
        )
    except FormatError as exc:
        raise KeyringError(str(exc)) from None


def load_keyring(data: bytes) -> Keyring:
    """Parse ``keyring.json`` and check it is signed by the root key it names.

    Whether that root is the controller's real root is for the caller to decide (pinning).

    Raises:
        KeyringError: Malformed, non-canonical, or the root signature does not verify.

    """
    try:
        env = parse_json("keyring", data)
        if not isinstance(env, dict) or env.get("payloadType") != KEYRING_PAYLOAD_TYPE:
            raise KeyringError(f"keyring: payloadType is not {KEYRING_PAYLOAD_TYPE}")
        payload = b64decode(env["payload"])
        sigs = env["signatures"]
        body = parse_json("keyring payload", payload)
    except FormatError as exc:
        raise KeyringError(str(exc)) from None
    except (KeyError, TypeError, ValueError):
        raise KeyringError("keyring: malformed envelope (payload or signatures)") from None
    if not isinstance(body, dict) or body.get("_type") != KEYRING_TYPE:
        raise KeyringError(f"keyring: payload _type is not {KEYRING_TYPE}")
    root = body.get("root") or {}
    root_pub = _public_key(root.get("public_key"), "root")
    root_kid = key_id(root_pub)
    if root.get("keyid") != root_kid:
        raise KeyringError("keyring: root keyid does not match its public key")
    good = False
    for sig in sigs if isinstance(sigs, list) else []:
        if isinstance(sig, dict) and sig.get("keyid") == root_kid:
            try:
                root_pub.verify(b64decode(sig.get("sig", "")), pae(KEYRING_PAYLOAD_TYPE, payload))
                good = True
            except (InvalidSignature, TypeError, ValueError):
                raise KeyringError("keyring: root signature does not verify") from None
    if not good:
        raise KeyringError(f"keyring: not signed by its root key {root_kid}")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise KeyringError("keyring: version must be a positive integer")
    origin = (body.get("log") or {}).get("origin")
    if not isinstance(origin, str) or not _ORIGIN.match(origin):
        raise KeyringError("keyring: log.origin is missing or not a schema-less URL")
    keys = body.get("keys")
    if not isinstance(keys, list):
        raise KeyringError("keyring: keys must be a list")
    entries = tuple(_entry(k, i) for i, k in enumerate(keys))
    if len({k.key_id for k in entries}) != len(entries):
        raise KeyringError("keyring: a key is listed twice")
    try:
        issued = parse_timestamp(body.get("issued_at"), "keyring: issued_at")
    except FormatError as exc:
        raise KeyringError(str(exc)) from None
    controller = body.get("controller")
    if not isinstance(controller, str) or not controller:
        raise KeyringError("keyring: controller is missing")
    return Keyring(controller, version, issued, root_pub, origin, entries)

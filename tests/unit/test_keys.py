"""Keys on disk and the keyring: init, rotate, revoke, encryption at rest, parsing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dsrflow.errors import ConfigError, UserError
from dsrflow.evidence import example
from dsrflow.evidence.format import canonical, dsse_envelope
from dsrflow.keys.keyring import KEYRING_PAYLOAD_TYPE, KeyringError, load_keyring
from dsrflow.keys.manager import KeyManager

ENV = {"DSRFLOW_SIGNING_PASSPHRASE": "s3cret", "DSRFLOW_ROOT_PASSPHRASE": "r00t"}


def manager(tmp_path: Path, env: dict | None = None) -> KeyManager:
    return KeyManager(tmp_path / "keys", ENV if env is None else env, "DSRFLOW_SIGNING_PASSPHRASE")


def test_init_creates_encrypted_keys_and_a_root_signed_keyring(tmp_path: Path) -> None:
    km = manager(tmp_path)
    ring = km.init("Ctl Ltd")
    assert ring.version == 1 and ring.log_origin == "dsrflow.evidence/ctl-ltd"
    assert {(k.purpose, k.status) for k in ring.keys} == {("evidence", "active"), ("log", "active")}
    assert load_keyring(km.keyring_path.read_bytes()) == ring
    for pem in (tmp_path / "keys").rglob("*.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in pem.read_bytes(), pem
        assert pem.stat().st_mode & 0o077 == 0
    assert km.signer("evidence").key_id == ring.active("evidence").key_id
    with pytest.raises(UserError, match="already initialised"):
        km.init("Ctl Ltd")


def test_wrong_passphrase_is_a_one_line_config_error(tmp_path: Path) -> None:
    manager(tmp_path).init("Ctl")
    km = manager(tmp_path, {"DSRFLOW_SIGNING_PASSPHRASE": "wrong"})
    with pytest.raises(ConfigError, match=r"cannot load the key .*DSRFLOW_SIGNING_PASSPHRASE"):
        km.signer("evidence")


def test_rotate_supersedes_and_bumps_the_version(tmp_path: Path) -> None:
    km = manager(tmp_path)
    first = km.init("Ctl")
    old = first.active("evidence")
    ring, new = km.rotate("evidence")
    assert ring.version == 2 and new.key_id != old.key_id
    superseded = ring.find(old.key_id)
    assert superseded.status == "superseded" and superseded.not_after == new.not_before
    assert ring.active("evidence") == new and ring.active("log") == first.active("log")
    assert km.signer("evidence").key_id == new.key_id  # the cache follows the file


def test_revoke_marks_compromised_and_replaces_an_active_key(tmp_path: Path) -> None:
    km = manager(tmp_path)
    log_key = km.init("Ctl").active("log")
    ring, new = km.revoke(log_key.key_id)
    assert ring.version == 2 and ring.find(log_key.key_id).status == "compromised"
    assert new is not None and ring.active("log") == new
    with pytest.raises(UserError, match="no such key"):
        km.revoke("sha256:" + "0" * 64)


def test_rotation_needs_the_right_root_key(tmp_path: Path) -> None:
    km = manager(tmp_path)
    km.init("Ctl", root_key=tmp_path / "offline" / "root.pem")
    with pytest.raises(UserError, match=r"root-key\.pem: key file not found"):
        km.rotate("evidence")
    other = manager(tmp_path / "other")
    other.init("Other")
    with pytest.raises(UserError, match="not this keyring's root key"):
        km.rotate("evidence", root_key=tmp_path / "other" / "keys" / "root-key.pem")
    assert km.rotate("evidence", root_key=tmp_path / "offline" / "root.pem")[0].version == 2


def test_ensure_initialises_once(tmp_path: Path) -> None:
    km = manager(tmp_path, {})
    a = km.ensure("Ctl")
    assert km.ensure("Ctl") == a


def test_keyring_parse_errors_are_specific() -> None:
    good = example.example_keyring().signed(example.ROOT)
    env = json.loads(good)
    body = json.loads(base64.b64decode(env["payload"]))

    def resigned(b: dict) -> bytes:
        return canonical(dsse_envelope(KEYRING_PAYLOAD_TYPE, canonical(b), example.ROOT))

    with pytest.raises(KeyringError, match="keyid does not match its public key"):
        load_keyring(resigned({**body, "keys": [{**body["keys"][0], "keyid": "sha256:00"}]}))
    with pytest.raises(KeyringError, match="version must be a positive integer"):
        load_keyring(resigned({**body, "version": 0}))
    with pytest.raises(KeyringError, match="unknown purpose or status"):
        load_keyring(resigned({**body, "keys": [{**body["keys"][0], "status": "revoked"}]}))
    with pytest.raises(KeyringError, match="not in RFC 8785 canonical form"):
        load_keyring(good + b" ")
    with pytest.raises(KeyringError, match="not signed by its root key"):
        load_keyring(canonical({**env, "signatures": []}))

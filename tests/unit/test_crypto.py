"""Per-request keys, the payload codec and encrypted files."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from dsrflow.crypto.codec import ENCODING, EncryptionCodec
from dsrflow.crypto.files import DecryptionError, EncryptedWriter, decrypt_chunks
from dsrflow.crypto.keystore import KeyDestroyedError, KeyStore, load_kek
from dsrflow.ledger import Ledger


@pytest.fixture
def keystore(tmp_path: Path) -> KeyStore:
    return KeyStore(
        Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True), load_kek(tmp_path / "keys", {})
    )


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_codec_uses_one_key_per_workflow(keystore: KeyStore) -> None:
    codec = EncryptionCodec(keystore)
    wf_a = codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="dsr-a")
    )
    act_a = codec.with_context(ActivitySerializationContext(
        namespace="default", activity_id="1", activity_type="x", activity_task_queue="q",
        workflow_id="dsr-a", workflow_type="W", is_local=False))  # fmt: skip
    wf_b = codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="dsr-b")
    )
    [ea] = await wf_a.encode([payload('{"email":"p@x.io"}')])
    [ea2] = await act_a.encode([payload("x")])
    [eb] = await wf_b.encode([payload("y")])
    assert ea.metadata["encoding"] == ENCODING and b"p@x.io" not in ea.data
    assert ea.metadata["encryption-key-id"] == ea2.metadata["encryption-key-id"]
    assert ea.metadata["encryption-key-id"] != eb.metadata["encryption-key-id"]
    # Any codec instance (e.g. the codec server, without context) decodes by key id.
    [da] = await EncryptionCodec(keystore).decode([ea])
    assert da.data == b'{"email":"p@x.io"}'


async def test_destroyed_key_crypto_shreds(keystore: KeyStore) -> None:
    codec = EncryptionCodec(keystore).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="dsr-gone")
    )
    [enc] = await codec.encode([payload("secret")])
    assert keystore.destroy("dsr-gone") is not None
    with pytest.raises(KeyDestroyedError, match="crypto-shredded"):
        await codec.decode([enc])


async def test_unencrypted_payloads_pass_through(keystore: KeyStore) -> None:
    p = payload("plain")
    assert await EncryptionCodec(keystore).decode([p]) == [p]


def test_kek_from_env_is_validated(tmp_path: Path) -> None:
    from dsrflow.errors import ConfigError

    with pytest.raises(ConfigError, match="DSRFLOW_KEK"):
        load_kek(tmp_path, {"DSRFLOW_KEK": "not base64!"})
    with pytest.raises(ConfigError, match="32 bytes"):
        load_kek(tmp_path, {"DSRFLOW_KEK": "AAAA"})
    assert load_kek(tmp_path, {}) == load_kek(tmp_path, {})  # file created once, then reused


def test_encrypted_file_round_trip_and_tamper(tmp_path: Path, keystore: KeyStore) -> None:
    key_id, key = keystore.key_for("dsr-f")
    path = tmp_path / "f.enc"
    blob = bytes(range(256)) * 1000  # several chunks
    with EncryptedWriter(path, key_id, key) as w:
        w.write(blob)
    assert b"".join(decrypt_chunks(path, key)) == blob
    raw = bytearray(path.read_bytes())
    raw[100] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(DecryptionError, match="failed authentication"):
        b"".join(decrypt_chunks(path, key))


def test_truncated_encrypted_file_is_detected(tmp_path: Path, keystore: KeyStore) -> None:
    key_id, key = keystore.key_for("dsr-t")
    path = tmp_path / "t.enc"
    with EncryptedWriter(path, key_id, key) as w:
        w.write(b"a" * 200_000)
    raw = path.read_bytes()
    # Drop the final chunk: what is left still authenticates chunk by chunk, but never ends.
    path.write_bytes(raw[: len(raw) - (200_000 - 3 * 65536) - 16 - 4])
    with pytest.raises(DecryptionError):
        b"".join(decrypt_chunks(path, key))

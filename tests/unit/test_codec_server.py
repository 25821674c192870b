"""The codec server: Temporal's remote codec protocol, access control and audit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import WorkflowSerializationContext

from dsrflow.api.codec import create_codec_app, parse_tokens
from dsrflow.crypto.codec import EncryptionCodec
from dsrflow.crypto.keystore import KeyStore, load_kek
from dsrflow.errors import ConfigError
from dsrflow.ledger import Ledger

UI = "http://127.0.0.1:8233"


@pytest.fixture
def parts(tmp_path: Path) -> tuple[KeyStore, Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    return KeyStore(ledger, load_kek(tmp_path / "keys", {})), ledger


def encrypted(keystore: KeyStore, workflow_id: str, text: str) -> Payload:
    codec = EncryptionCodec(keystore).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)
    )
    plain = Payload(metadata={"encoding": b"json/plain"}, data=text.encode())
    return asyncio.run(codec.encode([plain]))[0]


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


def decoded(response) -> list[bytes]:
    return [p.data for p in json_format.Parse(response.text, Payloads()).payloads]


def test_decode_with_a_staff_token_is_audited(parts: tuple[KeyStore, Ledger]) -> None:
    keystore, ledger = parts
    app = create_codec_app(keystore, ledger, parse_tokens("staff:ann=t0k3n"), [UI])
    client = TestClient(app)
    payload = encrypted(keystore, "dsr-1", '{"email":"p@x.io"}')
    r = client.post(
        "/default/decode",
        content=body(payload),
        headers={"Authorization": "Bearer t0k3n", "X-Namespace": "default", "Origin": UI},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == UI
    assert decoded(r) == [b'{"email":"p@x.io"}']
    [entry] = ledger.audit_entries()
    assert (entry.actor, entry.action, entry.request_id, entry.detail) == (
        "staff:ann", "codec_decode", "dsr-1", {"namespace": "default", "payloads": 1},
    )  # fmt: skip


def test_tokens_are_required_when_configured(parts: tuple[KeyStore, Ledger]) -> None:
    keystore, ledger = parts
    client = TestClient(create_codec_app(keystore, ledger, parse_tokens("staff:ann=t0k3n"), [UI]))
    payload = encrypted(keystore, "dsr-1", "secret")
    assert client.post("/decode", content=body(payload)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/decode", content=body(payload), headers=wrong).status_code == 401
    refused = [(e.action, e.request_id, e.detail["reason"]) for e in ledger.audit_entries()]
    assert refused == [("codec_refused", None, "bad or no token")] * 2


def test_without_tokens_only_loopback_is_served(parts: tuple[KeyStore, Ledger]) -> None:
    keystore, ledger = parts
    app = create_codec_app(keystore, ledger, {}, [UI])
    payload = encrypted(keystore, "dsr-1", "secret")
    remote = TestClient(app, client=("10.1.2.3", 5555))
    assert remote.post("/decode", content=body(payload)).status_code == 403
    local = TestClient(app, client=("127.0.0.1", 5555))
    r = local.post("/decode", content=body(payload))
    assert r.status_code == 200 and decoded(r) == [b"secret"]
    assert [(e.actor, e.action) for e in ledger.audit_entries()] == [
        ("anonymous:10.1.2.3", "codec_refused"),
        ("local:codec-ui", "codec_decode"),
    ]


def test_crypto_shredded_payloads_stay_encrypted(parts: tuple[KeyStore, Ledger]) -> None:
    keystore, ledger = parts
    payload = encrypted(keystore, "dsr-gone", "secret")
    keystore.destroy("dsr-gone")
    local = TestClient(create_codec_app(keystore, ledger, {}, [UI]), client=("127.0.0.1", 1))
    r = local.post("/decode", content=body(payload))
    assert r.status_code == 200 and decoded(r) == [payload.data]


def test_encode_is_refused_and_bad_input_is_answered(parts: tuple[KeyStore, Ledger]) -> None:
    keystore, ledger = parts
    local = TestClient(create_codec_app(keystore, ledger, {}, [UI]), client=("127.0.0.1", 1))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    # The codec server cannot know whose request a payload is for: no encoding under a key
    # that no purge would ever destroy.
    assert local.post("/a/b/encode", content=body(plain)).status_code == 405
    assert local.post("/decode", content="not json").status_code == 400
    assert local.post("/rotate", content=body(plain)).status_code == 404
    tampered = encrypted(keystore, "dsr-t", "secret")
    tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
    r = local.post("/decode", content=body(tampered, plain))
    assert r.status_code == 200 and decoded(r) == [tampered.data, b'"x"']


def test_token_list_format() -> None:
    assert parse_tokens("staff:ann=a, staff:bob=b") == {"a": "staff:ann", "b": "staff:bob"}
    with pytest.raises(ConfigError, match="NAME=TOKEN"):
        parse_tokens("justatoken")

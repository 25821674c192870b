"""Evidence bundle v0: build, verify offline, and catch every altered byte or missing member."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dsrflow.domain import (
    CollectionCount,
    DsrInput,
    EvidenceInput,
    Identity,
    RequestType,
    StoreOutcome,
    StorePlan,
    StoreReceipt,
    StoreStatus,
    VerifyReceipt,
)
from dsrflow.evidence.bundle import build_bundle
from dsrflow.evidence.format import commitment, write_zip
from dsrflow.evidence.signing import Signer
from dsrflow.verify import verify_bundle

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def outcome(store: str, residual: int = 0, status: StoreStatus = StoreStatus.DONE) -> StoreOutcome:
    return StoreOutcome(
        store=store,
        adapter="sql",
        status=status,
        attempts=1,
        receipt=StoreReceipt(
            store,
            "sql",
            "0.1.0",
            "erase",
            3,
            3,
            "sha256:ab",
            T0,
            T0,
            collections=[CollectionCount("t", "delete", 3, 3, 0)],
        ),
        verification=VerifyReceipt(store, residual, T0, "sha256:cd"),
    )


def evidence(outcomes: list[StoreOutcome], request_id: str = "dsr-1") -> EvidenceInput:
    return EvidenceInput(
        request=DsrInput(request_id, RequestType.ERASURE, [Identity("email", "p@x.io")], T0),
        workflow_id=request_id,
        run_id="run-1",
        catalog_digest="sha256:00",
        inventory=[StorePlan(o.store, "sql", ["erase"]) for o in outcomes],
        outcomes=outcomes,
        completed_at=T0,
    )


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def signer(key: Ed25519PrivateKey) -> Signer:
    return Signer(key)


@pytest.fixture(scope="module")
def bundle(signer: Signer) -> bytes:
    return build_bundle(evidence([outcome("crm"), outcome("shop")]), signer, "Ctl", b"k" * 32).data


def check(tmp_path: Path, data: bytes, signer: Signer):
    path = tmp_path / "b.zip"
    path.write_bytes(data)
    return verify_bundle(path, signer.public_pem())


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_good_bundle_verifies(tmp_path: Path, bundle: bytes, signer: Signer) -> None:
    report = check(tmp_path, bundle, signer)
    assert report.ok, report.failure
    assert report.request_id == "dsr-1"
    assert len(report.passed) == 6


def test_bundle_is_deterministic(signer: Signer) -> None:
    ev = evidence([outcome("crm")])
    a = build_bundle(ev, signer, "Ctl", b"k" * 32)
    b = build_bundle(ev, signer, "Ctl", b"k" * 32)
    assert a.data == b.data  # Ed25519 signatures are deterministic too


def test_subject_only_as_commitment(bundle: bytes) -> None:
    assert b"p@x.io" not in bundle
    statement = json.loads(members(bundle)["envelope.json"])
    import base64

    pred = json.loads(base64.b64decode(statement["payload"]))["predicate"]
    assert pred["subject_commitment"]["value"] == commitment(b"k" * 32, "email:p@x.io")


def test_every_flipped_byte_in_every_member_is_caught(
    tmp_path: Path, bundle: bytes, signer: Signer
) -> None:
    original = members(bundle)
    for name, content in original.items():
        for i in range(len(content)):
            tampered = dict(original)
            tampered[name] = content[:i] + bytes([content[i] ^ 0x01]) + content[i + 1 :]
            report = check(tmp_path, write_zip(tampered), signer)
            assert not report.ok, f"flip at {name}[{i}] went unnoticed"
            assert report.failure


def test_flipped_byte_in_the_zip_file_is_caught(
    tmp_path: Path, bundle: bytes, signer: Signer
) -> None:
    for i in range(0, len(bundle), 7):
        data = bundle[:i] + bytes([bundle[i] ^ 0x80]) + bundle[i + 1 :]
        assert not check(tmp_path, data, signer).ok, f"flip at byte {i} went unnoticed"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("records/shop.json", "records/shop.json: listed in the manifest but missing"),
        ("manifest.json", "member manifest.json is missing"),
        ("inventory.json", "member inventory.json is missing"),
        ("envelope.json", "member envelope.json is missing"),
    ],
)
def test_removed_member_is_named(
    tmp_path: Path, bundle: bytes, signer: Signer, member: str, reason: str
) -> None:
    remaining = {k: v for k, v in members(bundle).items() if k != member}
    report = check(tmp_path, write_zip(remaining), signer)
    assert not report.ok and reason in report.failure


def test_extra_member_rejected(tmp_path: Path, bundle: bytes, signer: Signer) -> None:
    extra = {**members(bundle), "records/zzz.json": b"{}"}
    report = check(tmp_path, write_zip(extra), signer)
    assert "not in the manifest: records/zzz.json" in report.failure


def test_wrong_key_rejected(tmp_path: Path, bundle: bytes) -> None:
    other = Signer(Ed25519PrivateKey.generate())
    report = check(tmp_path, bundle, other)
    assert "no signature by key" in report.failure


def test_residual_above_zero_fails_semantics(tmp_path: Path, signer: Signer) -> None:
    data = build_bundle(evidence([outcome("crm", residual=2)]), signer, "Ctl", b"k" * 32).data
    report = check(tmp_path, data, signer)
    assert "recorded as erased but residual is 2" in report.failure


def test_truncated_zip(tmp_path: Path, bundle: bytes, signer: Signer) -> None:
    report = check(tmp_path, bundle[: len(bundle) // 2], signer)
    assert report.failure.startswith("container:")

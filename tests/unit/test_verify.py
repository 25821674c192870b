"""Evidence bundle v1: the good bundle verifies, and every tampering is rejected with its reason.

Each case constructs the tampered bundle itself and asserts the specific reason string.
"""

from __future__ import annotations

import base64
import io
import json
import stat
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest

from dsrflow.domain import StorePlan, StoreStatus
from dsrflow.evidence import example
from dsrflow.evidence.format import (
    CHECKPOINT,
    ENVELOPE,
    INCLUSION,
    MANIFEST,
    ZIP_TIMESTAMP,
    canonical,
    commitment,
    write_zip,
)
from dsrflow.keys.signer import LocalSigner
from dsrflow.tlog import checkpoint
from dsrflow.verify import TrustState
from tests.unit.evidence_kit import (
    KEYRING,
    RID,
    build,
    members,
    reseal,
    statement,
    verify,
    with_outcome,
)

SHOP = "records/shop.json"


@pytest.fixture(scope="module")
def bundle() -> bytes:
    return build()


@pytest.fixture(scope="module")
def parts(bundle: bytes) -> dict[str, bytes]:
    return members(bundle)


def flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def rejected(report, reason: str) -> None:
    assert not report.ok
    assert reason in report.failure, report.failure


# -- the good path -------------------------------------------------------------------


def test_good_bundle_verifies_with_request_id_and_opening(tmp_path, bundle) -> None:
    ex = example.build_example()
    report = verify(tmp_path, bundle, request_id=RID, opening=ex.opening)
    assert report.ok, report.failure
    assert report.request_id == RID
    assert [p.split(":")[0] for p in report.passed] == [
        "container",
        "keyring",
        "signature",
        "statement",
        "key",
        "time",
        "binding",
        "digests",
        "records",
        "merkle",
        "completeness",
        "semantics",
        "log",
        "outcome",
    ]
    assert "binding: request id dsr-20260302-example and subject opening match" in report.passed
    actions = {s["store"]: s["action"] for s in report.stores}
    assert actions == {
        "billing": "exempt",
        "crm": "not_found",
        "paper": "delete",
        "shop": "anonymize",
        "support": "delete",
    }
    assert any(
        "'billing' keeps the data under Art. 17(3)(b) until 2033-12-31" in x for x in report.limits
    )
    assert any("backups" in x for x in report.limits)


def test_bundle_is_deterministic_and_holds_no_personal_data(bundle) -> None:
    assert build() == bundle  # Ed25519 is deterministic; times and keys are fixed
    raw = bundle.lower()
    for needle in (b"jane", b"example.org", b"doe"):
        assert needle not in raw
    pred = statement(members(bundle))["predicate"]
    assert pred["subject_commitment"]["value"] == commitment(
        example.K_REQ, "email:jane.doe@example.org"
    )


def test_url_safe_unpadded_base64_is_accepted(tmp_path, parts) -> None:
    env = json.loads(parts[ENVELOPE])

    def url(text: str) -> str:
        return base64.urlsafe_b64encode(base64.b64decode(text)).decode().rstrip("=")

    env["payload"] = url(env["payload"])
    env["signatures"][0]["sig"] = url(env["signatures"][0]["sig"])
    sig = env["signatures"][0]["sig"]
    assert any(c in env["payload"] + sig for c in "-_"), "the test must exercise URL-safe chars"
    assert "=" not in sig
    # The log leaf is the digest of the signed PAE bytes, so re-encoding keeps the proof valid.
    report = verify(tmp_path, write_zip({**parts, ENVELOPE: canonical(env)}))
    assert report.ok, report.failure


def test_certificate_follows_nist_800_88_fields(parts) -> None:
    html = parts["certificate.html"].decode()
    for field in (
        "Certificate of Sanitization",
        "Media information",
        "Method type",
        "Tool used (version)",
        "Verification method",
        "Validated by",
        "Pre-erasure match count",
        "adapter sql 0.1.0",
        "residual 0 at",
    ):
        assert field in html, field
    assert "NOT SANITISED" not in html
    assert "jane" not in html.lower()


def test_every_flipped_byte_in_a_json_member_is_caught(tmp_path, parts) -> None:
    for name in (SHOP, "inventory.json", MANIFEST, ENVELOPE, INCLUSION, CHECKPOINT):
        content = parts[name]
        for i in range(0, len(content), 3):
            report = verify(tmp_path, write_zip({**parts, name: flip(content, i)}))
            assert not report.ok, f"flip at {name}[{i}] went unnoticed"


def test_flipped_byte_in_the_zip_file_is_caught(tmp_path, bundle) -> None:
    for i in range(0, len(bundle), 97):
        assert not verify(tmp_path, flip(bundle, i)).ok, f"flip at byte {i} went unnoticed"


# -- the tamper suite ----------------------------------------------------------------


def test_altered_byte_in_a_record(tmp_path, parts) -> None:
    tampered = parts[SHOP].replace(b'"matched":1', b'"matched":7')
    rejected(
        verify(tmp_path, write_zip({**parts, SHOP: tampered})),
        "records/shop.json: digest does not match the manifest",
    )


def test_altered_byte_in_the_manifest(tmp_path, parts) -> None:
    report = verify(tmp_path, write_zip({**parts, MANIFEST: flip(parts[MANIFEST], 40)}))
    rejected(report, "manifest.json: digest does not match the signed statement")


def test_altered_byte_in_the_statement(tmp_path, parts) -> None:
    env = json.loads(parts[ENVELOPE])
    payload = base64.b64decode(env["payload"]).replace(
        b'"case_ref":"CASE-42"', b'"case_ref":"CASE-43"'
    )
    env["payload"] = base64.b64encode(payload).decode()
    report = verify(tmp_path, write_zip({**parts, ENVELOPE: canonical(env)}))
    rejected(report, f"envelope: signature by {example.EVIDENCE.key_id} does not verify")


def test_record_removed_without_editing_the_manifest(tmp_path, parts) -> None:
    remaining = {k: v for k, v in parts.items() if k != SHOP}
    rejected(
        verify(tmp_path, write_zip(remaining)),
        "records/shop.json: listed in the manifest but missing from the bundle",
    )


def test_record_removed_and_manifest_edited(tmp_path, parts) -> None:
    remaining = {k: v for k, v in parts.items() if k != SHOP}
    manifest = json.loads(parts[MANIFEST])
    manifest["members"] = [m for m in manifest["members"] if m["name"] != SHOP]
    remaining[MANIFEST] = canonical(manifest)
    rejected(
        verify(tmp_path, write_zip(remaining)),
        "manifest.json: digest does not match the signed statement",
    )


def test_inventory_store_with_no_record(tmp_path, parts) -> None:
    # The controller itself drops a record and signs what is left: the inventory gives it away.
    remaining = {k: v for k, v in parts.items() if k != SHOP}
    rejected(
        verify(tmp_path, reseal(remaining)), "completeness: inventory store 'shop' has no record"
    )


def test_inventory_store_with_no_outcome_at_build_time(tmp_path) -> None:
    inp = example.example_input()
    inp = replace(inp, inventory=[*inp.inventory, StorePlan("warehouse", "sql", ["erase"])])
    rejected(
        verify(tmp_path, build(inp)), "completeness: inventory store 'warehouse' has no record"
    )


def test_records_reordered(tmp_path, parts) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(parts, reverse=True):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.create_system = 3
            zf.writestr(info, parts[name])
    rejected(verify(tmp_path, buf.getvalue()), "container: members are not in name order")


def test_extra_member(tmp_path, parts) -> None:
    report = verify(tmp_path, write_zip({**parts, "records/zzz.json": b"{}"}))
    rejected(report, "container: members not in the manifest: records/zzz.json")


def test_truncated_zip(tmp_path, bundle) -> None:
    report = verify(tmp_path, bundle[: len(bundle) // 2])
    rejected(report, "container: not a readable zip (BadZipFile")


def _raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode, method in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = mode << 16
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def test_path_traversal_member(tmp_path, parts) -> None:
    entries = [(n, d, stat.S_IFREG | 0o644, zipfile.ZIP_STORED) for n, d in parts.items()]
    data = _raw_zip([("../evil.json", b"{}", stat.S_IFREG | 0o644, zipfile.ZIP_STORED), *entries])
    rejected(
        verify(tmp_path, data), "container: unsafe member name '../evil.json' (path traversal)"
    )


def test_absolute_path_member(tmp_path) -> None:
    data = _raw_zip([("/etc/passwd", b"x", stat.S_IFREG | 0o644, zipfile.ZIP_STORED)])
    rejected(verify(tmp_path, data), "container: unsafe member name '/etc/passwd' (path traversal)")


def test_symlink_member(tmp_path, parts) -> None:
    entries = [(n, d, stat.S_IFREG | 0o644, zipfile.ZIP_STORED) for n, d in parts.items()]
    link = ("records/link.json", b"/etc/passwd", stat.S_IFLNK | 0o777, zipfile.ZIP_STORED)
    rejected(
        verify(tmp_path, _raw_zip([*entries, link])),
        "container: member 'records/link.json' is a symbolic link",
    )


def test_zip_bomb(tmp_path) -> None:
    bomb = (
        "records/bomb.json",
        b"\0" * (64 * 1024 * 1024),
        stat.S_IFREG | 0o644,
        zipfile.ZIP_DEFLATED,
    )
    data = _raw_zip([bomb])
    assert len(data) < 1024 * 1024  # small on disk, 64 MiB inflated
    rejected(
        verify(tmp_path, data), "container: member 'records/bomb.json' declares 67108864 bytes"
    )


def test_compressed_member_refused_before_inflating(tmp_path) -> None:
    data = _raw_zip([("a.json", b"{}" * 100, stat.S_IFREG | 0o644, zipfile.ZIP_DEFLATED)])
    rejected(verify(tmp_path, data), "container: member 'a.json' is compressed (method 8)")


def test_duplicate_member_names(tmp_path, parts) -> None:
    entries = [(n, d, stat.S_IFREG | 0o644, zipfile.ZIP_STORED) for n, d in sorted(parts.items())]
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _raw_zip([*entries, (SHOP, b"{}", stat.S_IFREG | 0o644, zipfile.ZIP_STORED)])
    rejected(verify(tmp_path, data), "container: duplicate member name 'records/shop.json'")


def test_non_canonical_json(tmp_path, parts) -> None:
    pretty = json.dumps(json.loads(parts[SHOP]), indent=1).encode()
    rejected(
        verify(tmp_path, reseal({**parts, SHOP: pretty})),
        "records/shop.json: not in RFC 8785 canonical form",
    )


def test_duplicate_json_keys(tmp_path, parts) -> None:
    dup = parts[SHOP].replace(b'{"action":', b'{"action":"delete","action":', 1)
    rejected(
        verify(tmp_path, reseal({**parts, SHOP: dup})),
        "records/shop.json: duplicate JSON key 'action'",
    )


def test_payload_type_swapped(tmp_path, parts) -> None:
    env = json.loads(parts[ENVELOPE])
    env["payloadType"] = "application/json"
    report = verify(tmp_path, write_zip({**parts, ENVELOPE: canonical(env)}))
    rejected(
        report, "envelope: payloadType is 'application/json', expected application/vnd.in-toto+json"
    )


def test_statement_type_swapped(tmp_path, parts) -> None:
    from dsrflow.evidence.format import PAYLOAD_TYPE, dsse_envelope

    st = statement(parts)
    st["predicateType"] = "https://slsa.dev/provenance/v1"
    env = dsse_envelope(PAYLOAD_TYPE, canonical(st), example.EVIDENCE)
    report = verify(tmp_path, write_zip({**parts, ENVELOPE: canonical(env)}))
    rejected(report, "statement: schema statement: $.predicateType: must be 'https://dsrflow")


def test_unknown_key(tmp_path, parts) -> None:
    stranger = LocalSigner.from_seed(b"\x07" * 32)
    rejected(
        verify(tmp_path, reseal(parts, signer=stranger)),
        f"envelope: signed by unknown key {stranger.key_id} (not in keyring version 1)",
    )


def _ring(version: int, **evidence_changes) -> bytes:
    base = example.example_keyring()
    keys = [replace(k, **evidence_changes) if k.purpose == "evidence" else k for k in base.keys]
    return replace(base, version=version, keys=tuple(keys)).signed(example.ROOT)


def test_key_used_outside_its_window(tmp_path, bundle) -> None:
    ring = _ring(2, not_after=example.T0, status="superseded")  # rotated before it signed
    rejected(
        verify(tmp_path, bundle, keyring=ring),
        f"key: key {example.EVIDENCE.key_id} was not valid at signing time 2026-03-02T10:01:00Z",
    )


def test_superseded_key_still_verifies_what_it_signed_in_its_window(tmp_path, bundle) -> None:
    ring = _ring(2, not_after=example.T0 + timedelta(days=1), status="superseded")
    assert verify(tmp_path, bundle, keyring=ring).ok


def test_compromised_key(tmp_path, bundle) -> None:
    ring = _ring(2, status="compromised", compromised_at=example.T0 + timedelta(days=5))
    rejected(
        verify(tmp_path, bundle, keyring=ring),
        f"key: key {example.EVIDENCE.key_id} is marked compromised (since 2026-03-07T09:30:00Z)",
    )


def test_keyring_rollback_is_refused_across_runs(tmp_path, bundle) -> None:
    state_file = tmp_path / "state.json"
    v2 = _ring(2, not_after=example.T0 + timedelta(days=1), status="superseded")
    assert verify(tmp_path, bundle, keyring=v2, state=TrustState.load(state_file)).ok
    assert json.loads(state_file.read_text())["keyring_versions"] == {example.ROOT.key_id: 2}
    report = verify(tmp_path, bundle, keyring=KEYRING, state=TrustState.load(state_file))
    rejected(
        report,
        f"keyring: version 1 is older than version 2 already seen under root {example.ROOT.key_id}"
        " (rollback)",
    )


def test_min_keyring_version_flag(tmp_path, bundle) -> None:
    report = verify(tmp_path, bundle, min_keyring_version=3)
    rejected(report, "keyring: version 1 is older than --min-keyring-version 3")


def test_keyring_signed_by_another_root_is_never_plainly_verified(tmp_path, bundle) -> None:
    state_file = tmp_path / "state.json"
    pinned = verify(tmp_path, bundle, state=TrustState.load(state_file), trust_on_first_use=True)
    assert pinned.verdict == "VERIFIED" and pinned.exit_code == 0
    fake_root = LocalSigner.from_seed(b"\x09" * 32)
    forged = replace(example.example_keyring(), root_public_key=fake_root.public_key, version=9)
    report = verify(
        tmp_path, bundle, keyring=forged.signed(fake_root), state=TrustState.load(state_file)
    )
    assert report.verdict == "VERIFIED (root key not pinned)" and report.exit_code == 3
    assert any(f"pinned roots named 'Example Controller Ltd': {example.ROOT.key_id}" in n
               for n in report.notes)  # fmt: skip
    assert TrustState.load(state_file).pinned == {example.ROOT.key_id: example.CONTROLLER}


def test_expected_root_keyid(tmp_path, bundle) -> None:
    report = verify(tmp_path, bundle, root_key_id="sha256:" + "0" * 64)
    rejected(report, f"keyring: root key {example.ROOT.key_id} is not the expected sha256:000")
    good = verify(tmp_path, bundle, root_key_id=example.ROOT.key_id)
    assert good.trust == "expected" and not any("pinned" in n for n in good.notes)


def test_tampered_keyring(tmp_path, bundle) -> None:
    env = json.loads(KEYRING)
    body = json.loads(base64.b64decode(env["payload"]))
    body["version"] = 5
    env["payload"] = base64.b64encode(canonical(body)).decode()
    rejected(
        verify(tmp_path, bundle, keyring=canonical(env)), "keyring: root signature does not verify"
    )


def test_bundle_replayed_under_another_request_id(tmp_path, bundle) -> None:
    rejected(
        verify(tmp_path, bundle, request_id="dsr-20260401-other"),
        f"binding: bundle is for request {RID!r}, not 'dsr-20260401-other' (replayed?)",
    )


def test_record_transplanted_from_another_bundle(tmp_path, parts) -> None:
    other = members(build(example.example_input(request_id="dsr-20260401-other")))
    rejected(
        verify(tmp_path, write_zip({**parts, SHOP: other[SHOP]})),
        "records/shop.json: digest does not match the manifest",
    )
    # Even re-signed by the controller, the record names the other request.
    rejected(
        verify(tmp_path, reseal({**parts, SHOP: other[SHOP]})),
        "records/shop.json: belongs to request 'dsr-20260401-other', not",
    )


def test_wrong_subject_opening(tmp_path, bundle) -> None:
    opening = dict(example.build_example().opening)
    opening["identifier"] = "email:someone.else@example.org"
    rejected(
        verify(tmp_path, bundle, opening=opening),
        "binding: subject opening does not match the commitment",
    )
    opening = {**example.build_example().opening, "request_id": "dsr-other"}
    rejected(
        verify(tmp_path, bundle, opening=opening),
        "binding: subject opening is for request 'dsr-other'",
    )


def test_opening_is_normalised_like_the_commitment(tmp_path, bundle) -> None:
    opening = {**example.build_example().opening, "identifier": "email: Jane.Doe@EXAMPLE.org "}
    assert verify(tmp_path, bundle, opening=opening).ok


def test_erased_record_with_residual(tmp_path) -> None:
    inp = example.example_input()
    support = next(o for o in inp.outcomes if o.store == "support")
    check = replace(support.verification, residual=2)
    rejected(
        verify(tmp_path, build(with_outcome("support", verification=check))),
        "records/support.json: recorded as erased but residual is 2",
    )


def test_erased_record_never_checked(tmp_path) -> None:
    rejected(
        verify(tmp_path, build(with_outcome("support", verification=None))),
        "records/support.json: recorded as erased but never checked again",
    )


def test_exemption_without_an_article(tmp_path) -> None:
    from dsrflow.domain import Exemption

    data = build(with_outcome("billing", exemption=Exemption("tax law", until="2033-12-31")))
    rejected(
        verify(tmp_path, data),
        "records/billing.json: exemption does not cite an Art. 17(3) ground ('tax law')",
    )


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (StoreStatus.SKIPPED, "not_erased"),
        (StoreStatus.NOT_SUPPORTED, "not_erased"),
        (StoreStatus.CANCELLED, "not_erased"),
        (StoreStatus.FAILED_NEEDS_ATTENTION, "failed"),
    ],
)
def test_unerased_store_never_passes_as_erased(tmp_path, status, action) -> None:
    data = build(with_outcome("support", status=status, verification=None))
    rec = json.loads(members(data)["records/support.json"])
    assert rec["action"] == action
    report = verify(tmp_path, data)
    # The evidence itself is authentic (every integrity check passed) but the erasure is not done.
    assert any(p.startswith("log:") for p in report.passed)
    rejected(report, f"outcome: the erasure is incomplete; not erased: support ({status})")
    assert "NOT SANITISED" in members(data)["certificate.html"].decode()


def test_action_contradicting_status(tmp_path, parts) -> None:
    rec = json.loads(parts["records/support.json"])
    rec["status"] = "skipped"  # claims "delete" although nobody erased it
    pred = statement(parts)["predicate"]
    pred["outcomes"] = {"done": 1, "exempt": 1, "not_found": 1, "skipped": 1}
    data = reseal({**parts, "records/support.json": canonical(rec)}, predicate=pred)
    rejected(
        verify(tmp_path, data), "records/support.json: action 'delete' contradicts status 'skipped'"
    )


def test_outcome_counts_must_match_records(tmp_path, parts) -> None:
    pred = statement(parts)["predicate"]
    pred["outcomes"] = {"done": 4}
    rejected(
        verify(tmp_path, reseal(parts, predicate=pred)),
        "statement: outcome counts do not match the records",
    )


def test_bad_inclusion_proof(tmp_path, parts) -> None:
    proof = json.loads(parts[INCLUSION])
    proof["audit_path"][0] = "00" * 32
    report = verify(tmp_path, write_zip({**parts, INCLUSION: canonical(proof)}))
    rejected(report, "inclusion proof: proof does not lead to the root")


def test_inclusion_proof_for_another_envelope(tmp_path, parts) -> None:
    proof = json.loads(parts[INCLUSION])
    proof["envelope_digest"] = "11" * 32
    report = verify(tmp_path, write_zip({**parts, INCLUSION: canonical(proof)}))
    rejected(report, "inclusion proof: made for another envelope")


def test_checkpoint_signed_by_the_wrong_key(tmp_path, parts) -> None:
    cp, _ = checkpoint.parse(parts[CHECKPOINT].decode())
    wrong = checkpoint.sign(cp, LocalSigner.from_seed(b"\x05" * 32))
    report = verify(tmp_path, write_zip({**parts, CHECKPOINT: wrong.encode()}))
    rejected(report, "checkpoint: not signed by any log key of the keyring")


def test_checkpoint_signed_by_the_evidence_key_is_not_a_log_checkpoint(tmp_path, parts) -> None:
    cp, _ = checkpoint.parse(parts[CHECKPOINT].decode())
    wrong = checkpoint.sign(cp, example.EVIDENCE)
    report = verify(tmp_path, write_zip({**parts, CHECKPOINT: wrong.encode()}))
    rejected(report, f"({example.EVIDENCE.key_id} is an evidence key, not a log key)")


def test_compromised_log_key_signs_no_checkpoint(tmp_path, bundle) -> None:
    base = example.example_keyring()
    keys = [replace(k, status="compromised") if k.purpose == "log" else k for k in base.keys]
    ring = replace(base, version=2, keys=tuple(keys)).signed(example.ROOT)
    rejected(
        verify(tmp_path, bundle, keyring=ring),
        f"checkpoint: signed by log key {example.LOG.key_id}, which the keyring marks compromised",
    )

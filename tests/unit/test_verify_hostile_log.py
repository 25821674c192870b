"""Hostile log members, keyrings and trust: byte-exact checkpoints, explicit root trust, reasons.

The log members (``log/``) are outside the signature: anyone can change them without a key, so
the checkpoint must be verified over its exact bytes. Each docstring names the class of issue 9
("Build" item) the test covers.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from dsrflow.evidence import example
from dsrflow.evidence.format import CHECKPOINT, INCLUSION, canonical
from dsrflow.keys.signer import LocalSigner
from dsrflow.verify import TrustState
from tests.fixtures.cli import CliRun, invoke
from tests.unit.evidence_kit import KEYRING, build, issuer, members, verify
from tests.unit.hostile_kit import relog


@pytest.fixture(scope="module")
def parts() -> dict[str, bytes]:
    return members(build())


def rejected(report, reason: str) -> None:
    assert not report.ok, "a hostile bundle was accepted"
    assert reason in report.failure, report.failure


def _note(parts: dict[str, bytes]) -> list[str]:
    return parts[CHECKPOINT].decode().split("\n")


# -- 4. byte-exact checkpoints (no key needed to attempt these) ------------------------------


def test_checkpoint_with_an_extra_line(tmp_path, parts) -> None:
    """Class 4: an extra line in the signed text (verified over rebuilt text, it passed)."""
    lines = _note(parts)
    forged = "\n".join([*lines[:3], "extension: trust me", *lines[3:]]).encode()
    rejected(verify(tmp_path, relog(parts, **{CHECKPOINT: forged})), "the signed text has 4 lines")


def test_checkpoint_lines_reordered(tmp_path, parts) -> None:
    """Class 4: reordered lines."""
    lines = _note(parts)
    forged = "\n".join([lines[1], lines[0], *lines[2:]]).encode()
    rejected(verify(tmp_path, relog(parts, **{CHECKPOINT: forged})), "checkpoint: origin")


def _malleate(b64: str) -> str:
    """The same bytes in a non-canonical base64 spelling (non-zero unused bits)."""
    body, pad = b64.rstrip("="), "=" * (len(b64) - len(b64.rstrip("=")))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(body[-1]) ^ 1]  # an unused bit: "=" leaves 2, "==" 4
    out = body[:-1] + last + pad
    assert out != b64 and base64.b64decode(out) == base64.b64decode(b64)
    return out


def test_checkpoint_root_in_non_canonical_base64(tmp_path, parts) -> None:
    """Class 4: non-canonical base64 of the root hash (same bytes, different text)."""
    lines = _note(parts)
    lines[2] = _malleate(lines[2])
    forged = "\n".join(lines).encode()
    rejected(verify(tmp_path, relog(parts, **{CHECKPOINT: forged})), "not in canonical base64")


def test_checkpoint_signature_in_non_canonical_base64(tmp_path, parts) -> None:
    """Class 4: non-canonical base64 in the signature line."""
    lines = _note(parts)
    head, _, blob = lines[4].rpartition(" ")
    lines[4] = f"{head} {_malleate(blob)}"
    forged = "\n".join(lines).encode()
    rejected(verify(tmp_path, relog(parts, **{CHECKPOINT: forged})), "signature line 1")


# -- 7. failure messages say the real reason ---------------------------------------------------


def test_inclusion_proof_for_another_origin_says_so(tmp_path, parts) -> None:
    """Class 7: an origin mismatch is not "tree size 6 vs 6"."""
    proof = json.loads(parts[INCLUSION])
    proof["origin"] = "dsrflow.evidence/someone-else"
    report = verify(tmp_path, relog(parts, **{INCLUSION: canonical(proof)}))
    rejected(report, "inclusion proof: for log 'dsrflow.evidence/someone-else', but the checkpoint")


def test_unknown_field_in_the_inclusion_proof(tmp_path, parts) -> None:
    """Class 1 (schema, unsigned member): the inclusion proof has no room for extra fields."""
    proof = {**json.loads(parts[INCLUSION]), "comment": "verified by the DPO"}
    report = verify(tmp_path, relog(parts, **{INCLUSION: canonical(proof)}))
    rejected(report, "schema inclusion-proof: $: unknown field 'comment'")


def test_revoked_log_key_is_named_as_revoked(tmp_path) -> None:
    """Class 7: a checkpoint signed by a compromised log key says so (not "not in keyring")."""
    base = example.example_keyring()
    keys = [replace(k, status="compromised") if k.purpose == "log" else k for k in base.keys]
    ring = replace(base, version=2, keys=tuple(keys)).signed(example.ROOT)
    report = verify(tmp_path, build(), keyring=ring)
    rejected(report, "which the keyring marks compromised")


# -- 6. trust on first use is explicit; pins are per root key id -------------------------------


def _cli(tmp_path: Path, bundle: Path, keyring: Path, *extra: str) -> CliRun:
    env = {"DSRFLOW_VERIFIER_STATE": str(tmp_path / "state.json")}
    return invoke("verify", bundle, "--keyring", keyring, *extra, env=env)


def _bundle_under_root(tmp_path: Path, seed: int) -> tuple[Path, Path, str]:
    """A bundle and keyring under a fresh root, all named "Example Controller Ltd"."""
    root = LocalSigner.from_seed(bytes([seed]) * 32)
    ring = replace(example.example_keyring(), root_public_key=root.public_key)
    data = issuer(keyring=ring).issue(example.example_input(), example.K_REQ).data
    bundle, keyring = tmp_path / f"b{seed}.zip", tmp_path / f"k{seed}.json"
    bundle.write_bytes(data)
    keyring.write_bytes(ring.signed(root))
    return bundle, keyring, root.key_id


def test_attacker_made_keyring_is_not_a_plain_pass(tmp_path) -> None:
    """Class 6: without --root-keyid or a pin, exit 3 and "VERIFIED (root key not pinned)"."""
    bundle, keyring, root = _bundle_under_root(tmp_path, 0x41)
    r = _cli(tmp_path, bundle, keyring)
    assert r.returncode == 3, r.stdout + r.stderr
    assert (
        "VERIFIED (root key not pinned)" in r.stdout
        and f"root key {root} is not pinned" in r.stdout
    )
    r = _cli(tmp_path, bundle, keyring, "--trust-on-first-use")
    assert r.returncode == 0 and "NOTE root key" in r.stdout and "trusted on first use" in r.stdout
    r = _cli(tmp_path, bundle, keyring)  # pinned now
    assert r.returncode == 0, r.stdout


def test_pins_are_per_root_not_per_controller_name(tmp_path) -> None:
    """Class 6: three roots all named "Example Controller Ltd" do not collide."""
    made = [_bundle_under_root(tmp_path, seed) for seed in (0x51, 0x52, 0x53)]
    for bundle, keyring, root in made[:2]:
        assert _cli(tmp_path, bundle, keyring, "--root-keyid", root).returncode == 0
    for bundle, keyring, _ in made[:2]:  # both stay pinned
        r = _cli(tmp_path, bundle, keyring)
        assert r.returncode == 0, r.stdout
    bundle, keyring, root = made[2]  # the third was never pinned
    r = _cli(tmp_path, bundle, keyring)
    assert r.returncode == 3 and "pinned roots named 'Example Controller Ltd'" in r.stdout
    state = TrustState.load(tmp_path / "state.json")
    assert sorted(state.pinned) == sorted(r for _, _, r in made[:2])


def test_min_keyring_version_says_so(tmp_path) -> None:
    """Class 7: --min-keyring-version is not "already seen"."""
    report = verify(tmp_path, build(), min_keyring_version=2)
    rejected(report, "keyring: version 1 is older than --min-keyring-version 2")


def test_keyring_with_an_unknown_field(tmp_path) -> None:
    """Class 1 (schema: keyring): no unknown fields in the root-signed keyring body either."""
    from dsrflow.evidence.format import dsse_envelope
    from dsrflow.keys.keyring import KEYRING_PAYLOAD_TYPE

    body = {**example.example_keyring().body(), "trusted_by": "the regulator"}
    ring = canonical(dsse_envelope(KEYRING_PAYLOAD_TYPE, canonical(body), example.ROOT))
    rejected(verify(tmp_path, build(), keyring=ring), "keyring: schema keyring: $: unknown field")
    assert verify(tmp_path, build(), keyring=KEYRING, state=TrustState()).ok

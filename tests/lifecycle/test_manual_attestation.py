"""A manual store's erasure, attested by a person, makes a bundle that verifies (issue 9, class 8).

On the real workflow (time-skipping server) with a real SQLite store and a manual "paper" store:
completing the task needs a disposal method and a certificate reference (no free text), and the
signed record carries that attestation as the store's verification, which ``dsrflow verify``
accepts for manual stores and names in its report.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsrflow.errors import UserError
from dsrflow.evidence.issuer import EvidenceIssuer
from dsrflow.lifecycle import StoreDecision
from dsrflow.verify import Expect, TrustState, verify_bundle
from tests.fixtures.lifecycle import DEMO_SHOP

NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}
PAPER = {"adapter": "manual", "instructions": "Shred the paper file in cabinet 3"}
DIGEST = "sha256:" + hashlib.sha256(b"scan of the shredding certificate").hexdigest()


def complete(**kw: str | None) -> StoreDecision:
    return StoreDecision("paper", "staff:kim", "complete", outcome="done", **kw)  # type: ignore[arg-type]


async def test_manual_erasure_attested_and_verified(harness, tmp_path: Path, monkeypatch) -> None:
    async with harness(stores={"shop": DEMO_SHOP, "paper": PAPER}, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(
            handle,
            lambda v: {o.store: o.status for o in v.stores}.get("paper") == "waiting_for_human",
            "the paper task",
        )
        with pytest.raises(UserError, match="say how the data was disposed of: --method"):
            await h.act(handle, "complete_task", complete())
        with pytest.raises(UserError, match="--certificate-ref"):  # a name is not a reference
            await h.act(handle, "complete_task", complete(method="shredded",
                                                          certificate_ref="Bob Smith"))  # fmt: skip
        with pytest.raises(UserError, match="--attachment-digest"):
            await h.act(handle, "complete_task", complete(method="shredded", certificate_ref="S-1",
                                                          attachment_sha256="md5:abc"))  # fmt: skip
        # The test server's clock may run ahead of the wall clock (other tests skip time): sign
        # on the workflow's clock, as a production worker's clock agrees with the server's.
        offset = await h.env.get_current_time() - datetime.now(UTC)
        clock = lambda: (datetime.now(UTC) + offset).replace(microsecond=0)  # noqa: E731
        monkeypatch.setattr(EvidenceIssuer.__init__, "__defaults__", (clock,))
        attested = complete(
            method="shredded", certificate_ref="SHRED-2026-0142", attachment_sha256=DIGEST
        )
        await h.act(handle, "complete_task", attested)
        result = await handle.result()
        keyring = h.rt.keys.keyring_path.read_bytes()
        root = h.rt.keys.keyring().root_key_id
        now = await h.env.get_current_time()

    assert result.status == "completed"
    paper = next(o for o in result.stores if o.store == "paper")
    assert paper.attestation is not None and paper.attestation.method == "shredded"
    report = verify_bundle(
        Path(result.artifact.path),
        Expect(keyring, TrustState(tmp_path / "state.json"), root, request_id=handle.id, now=now),
    )
    assert report.ok and report.verdict == "VERIFIED", report.failure
    [entry] = [s for s in report.stores if s["store"] == "paper"]
    assert entry["verification"] == "attested" and entry["attested_by"] == "staff:kim"
    assert any("staff:kim" in n and "rests on a person's word" in n for n in report.notes)
    assert any(f"certificate SHRED-2026-0142, attachment {DIGEST}" in x for x in report.limits)

"""End to end on a real Temporal dev server: access then erasure for the demo subject,
submitted through the real CLI, with the evidence bundle verified offline."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
import zipfile
from pathlib import Path

import pytest
from temporalio.client import Client

from dsrflow.demo import data
from dsrflow.runtime import Runtime
from tests.fixtures.stack import DSRFLOW, free_ports, run_cli

pytestmark = pytest.mark.e2e


async def cli(rt: Runtime, *args: str) -> tuple[int, str]:
    return await run_cli(rt, *args, actor="analyst:test")


async def run_request(
    rt: Runtime, kind: str, rid: str, email: str, out_dir: Path
) -> tuple[int, str]:
    """Submit, verify identity, approve (erasure), watch, fetch: as an analyst would."""
    steps = [
        ["request", "submit", "--type", kind, "--email", email, "--request-id", rid],
        ["request", "verify-identity", rid, "--method", "email_link"],
        # Four eyes: another person approves the erasure the analyst verified.
        *([["--actor", "approver:test", "request", "approve", rid]] if kind == "erasure" else []),
        ["request", "watch", rid],
        ["request", "result", rid, "--out", str(out_dir)],
    ]
    texts = []
    for step in steps:
        code, text = await cli(rt, *step)
        texts.append(text)
        if code:
            return code, "\n".join(texts)
    return 0, "\n".join(texts)


@pytest.mark.timeout(300)  # about fifteen CLI processes, each a few seconds on a busy machine
async def test_access_then_erasure(demo_stack: Runtime, demo_dir: Path, tmp_path: Path) -> None:
    rt = demo_stack
    out_dir = tmp_path / "out"
    others_before = data.others_digest(demo_dir)
    access_id, erasure_id = f"t-acc-{uuid.uuid4().hex[:8]}", f"t-era-{uuid.uuid4().hex[:8]}"

    code, text = await run_request(rt, "access", access_id, "Alice@Example.com", out_dir)
    assert code == 0, text
    assert f"request {access_id}: completed" in text
    with zipfile.ZipFile(out_dir / f"{access_id}-access-package.zip") as zf:
        package = json.loads(zf.read("access-package.json"))
    by_coll: dict = {}
    for store in package["stores"]:
        for coll in store["collections"]:
            by_coll.setdefault(coll["collection"], []).extend(coll["records"])
    assert [c["email"] for c in by_coll["customers"]] == ["alice@example.com"]
    assert sorted(a["id"] for a in by_coll["addresses"]) == [10, 11]
    assert sorted(o["id"] for o in by_coll["orders"]) == [100, 101, 103]
    assert len(by_coll["order_items"]) == 4
    # Ticket 502 was opened from another address and is found only through the customer id
    # the shop store resolved: identity resolution across stores.
    assert sorted(t["id"] for t in by_coll["tickets"]) == [500, 502, 504]
    assert sorted(m["id"] for m in by_coll["ticket_messages"]) == [900, 901, 903, 905]
    assert data.others_digest(demo_dir) == others_before  # access changes nothing

    code, text = await run_request(rt, "erasure", erasure_id, "alice@example.com", out_dir)
    assert code == 0, text
    assert f"request {erasure_id}: completed" in text

    # The subject is gone from every store, down to the file bytes; nobody else changed.
    assert set(data.subject_counts(demo_dir).values()) == {0}
    assert data.others_digest(demo_dir) == others_before
    assert data.raw_mentions(demo_dir) == {"shop": [], "support": []}

    # The bundle verifies offline and holds no personal data.
    keyring = tmp_path / "keyring.json"
    code, text = await cli(rt, "keys", "export-public", "--out", str(keyring))
    assert code == 0, text
    bundle = out_dir / f"{erasure_id}-evidence-bundle.zip"
    opening_file = out_dir / f"{erasure_id}-subject-opening.json"
    from dsrflow.keys.keyring import load_keyring

    root = load_keyring(keyring.read_bytes()).root_key_id  # the fingerprint it publishes
    args = ["--keyring", str(keyring), "--request-id", erasure_id, "--subject-opening",
            str(opening_file), "--state", str(tmp_path / "verifier.json"), "--json"]  # fmt: skip
    code, text = await cli(rt, "verify", str(bundle), *args)
    assert code == 3 and json.loads(text)["verdict"] == "VERIFIED (root key not pinned)", text
    code, text = await cli(rt, "verify", str(bundle), *args, "--root-keyid", root)
    assert code == 0, text
    report = json.loads(text)
    assert report["ok"] and report["request_id"] == erasure_id
    raw = bundle.read_bytes().lower()
    # "+44 20 7946" (her phone) cannot occur by chance in hex digests or base64, unlike "7946".
    for needle in (b"alice", b"example.com", b"acacia", b"+44 20 7946", b"7946 0101"):
        assert needle not in raw
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            assert b"alice" not in zf.read(name).lower()
        shop_rec = json.loads(zf.read("records/shop.json"))
        support_rec = json.loads(zf.read("records/support.json"))
    assert shop_rec["verification"]["residual"] == 0
    assert support_rec["verification"]["residual"] == 0
    assert {c["collection"]: c["action"] for c in shop_rec["collections"]} == {
        "customers": "delete", "addresses": "delete", "orders": "anonymize", "order_items": "keep",
    }  # fmt: skip

    # The subject's opening recomputes the commitment in the signed statement.
    opening = json.loads((out_dir / f"{erasure_id}-subject-opening.json").read_text())
    assert opening["identifier"] == "email:alice@example.com"

    # The ledger projection has both requests, and the audit log has who did what.
    row = rt.ledger.get_request(erasure_id)
    assert row is not None and row.status == "completed"
    assert {s.store: (s.status, s.residual) for s in row.stores} == {
        "shop": ("done", 0), "support": ("done", 0),
    }  # fmt: skip
    audit = [(a.actor, a.action) for a in rt.ledger.audit_entries(erasure_id)]
    for action in ("submit", "verify_identity", "download"):
        assert ("analyst:test", action) in audit
    assert ("approver:test", "approve") in audit
    history = [(a.actor, a.action) for a in rt.ledger.actions(erasure_id)]
    assert history == [("analyst:test", "identity_verified"), ("approver:test", "approved")]

    # A submit under the id of a finished request is refused by Temporal itself.
    code, text = await cli(rt, "request", "submit", "--type", "erasure", "--email",
                           "alice@example.com", "--request-id", erasure_id)  # fmt: skip
    assert code == 2 and "already exists and has ended" in text

    await _assert_history_has_no_personal_data(rt, [access_id, erasure_id])


async def _assert_history_has_no_personal_data(rt: Runtime, ids: list[str]) -> None:
    # A client WITHOUT the codec sees what Temporal stores: every payload must be ciphertext.
    raw_client = await Client.connect(rt.settings.temporal_address)
    for wid in ids:
        history = await raw_client.get_workflow_handle(wid).fetch_history()
        blob = history.to_json().encode() + b"".join(e.SerializeToString() for e in history.events)
        for needle in (b"alice", b"Alice", b"example.com", b"Acacia"):
            assert needle not in blob, f"{needle!r} in clear in the history of {wid}"
        encodings = set()
        for event in history.events:
            attrs = event.workflow_execution_started_event_attributes
            for p in attrs.input.payloads:
                encodings.add(p.metadata["encoding"])
        assert encodings == {b"binary/encrypted"}


@pytest.mark.timeout(420)  # the demo twice, each with its own dev server
async def test_demo_command_runs_on_free_ports(tmp_path: Path) -> None:
    """`make demo` is `dsrflow demo`: run it exactly, on ports of its own."""
    frontend, ui, codec, api = free_ports(4)  # distinct, unlike free_port() twice
    env = {
        **os.environ,
        "DSRFLOW_STATE_DIR": str(tmp_path / "state"),
        "DSRFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{frontend}",
        "DSRFLOW_UI_PORT": str(ui),
        "DSRFLOW_CODEC_PORT": str(codec),
        "DSRFLOW_API_PORT": str(api),
    }
    for _ in range(2):  # the demo can run twice in a row
        proc = await asyncio.create_subprocess_exec(
            *DSRFLOW, "demo", "--out", str(tmp_path / "demo-out"), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
        finally:
            if proc.returncode is None:  # timed out: no demo (and its server) left behind
                proc.kill()
                await proc.wait()
        text = out.decode()
        assert proc.returncode == 0, text
        assert "VERIFIED" in text and "DEMO OK" in text
        assert "Traceback" not in text

"""The lifecycle through the real CLI on a real Temporal dev server (with the payload codec)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from dsrflow.catalog import yamlpos
from dsrflow.devserver import DevServer, find_binary
from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT, broken_store, fix_broken_store
from tests.fixtures.stack import make_runtime, run_cli

# Each test runs about ten CLI processes (a few seconds each on a busy machine).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

POLICIES = {
    "erasure": {"identity_verification": False, "approval": False},
    "access": {"identity_verification": False, "approval": True},
}


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    temporal_server: DevServer, demo_dir: Path, tmp_path: Path
) -> AsyncIterator[Runtime]:
    catalog = {
        "version": 1,
        "policies": POLICIES,
        "stores": {"shop": DEMO_SHOP, "crm": broken_store(), "support": DEMO_SUPPORT},
    }
    path = demo_dir / "lifecycle.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    rt = make_runtime(temporal_server, tmp_path / "state", path)
    client = await rt.client()
    async with rt.worker(client):
        yield rt
    rt.ledger.close()


async def cli(rt: Runtime, *args: str) -> tuple[int, str]:
    return await run_cli(rt, *args, actor="staff:ops")


async def eventually(check, what: str) -> None:
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


async def test_failed_store_needs_attention_then_retry_store(
    stack: Runtime, demo_dir: Path
) -> None:
    rid = f"e2e-{uuid.uuid4().hex[:8]}"
    code, text = await cli(stack, "request", "submit", "--type", "erasure", "--email",
                           "dave@example.com", "--request-id", rid)  # fmt: skip
    assert code == 0, text

    async def listed() -> bool:
        code, text = await cli(stack, "request", "list", "--status", "needs-attention")
        return code == 0 and rid in text

    await eventually(listed, "the request listed as needs-attention")
    code, text = await cli(stack, "request", "show", rid)
    assert "failed_needs_attention" in text and "PermanentStoreError" in text

    code, text = await cli(stack, "request", "retry-store", rid, "shop")
    assert code == 2 and "store 'shop' is done; cannot retry it now" in text
    fix_broken_store(demo_dir)
    code, text = await cli(stack, "request", "retry-store", rid, "crm", "--reason", "DB restored")
    assert code == 0, text
    code, text = await cli(stack, "request", "watch", rid)
    assert code == 0 and f"request {rid}: completed" in text

    row = stack.ledger.get_request(rid)
    assert {s.store: s.status for s in row.stores} == {
        "shop": "done",
        "crm": "done",
        "support": "not_found",
    }
    history = [(a.actor, a.action, a.store) for a in stack.ledger.actions(rid)]
    assert history == [("staff:ops", "store_retry", "crm")]
    # The shop ran once: the retry re-ran only the failed store.
    rc = RequestClient(await stack.client(), stack.settings.task_queue)
    events = (await rc.handle(rid).fetch_history()).events
    scheduled = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
    erase = [
        e
        for e in scheduled
        if e.activity_task_scheduled_event_attributes.activity_type.name == "erase_store"
    ]
    assert len(erase) == 4  # shop, crm (failed), support, crm (retried)

    await _history_shows_no_personal_data(stack, rid, ["dave@example.com", "Dave Doe"])


async def _history_shows_no_personal_data(rt: Runtime, rid: str, needles: list[str]) -> None:
    """`temporal workflow show` is what an operator sees: no identifier in clear."""
    proc = await asyncio.create_subprocess_exec(
        str(find_binary("temporal")), "workflow", "show", "--workflow-id", rid,
        "--address", rt.settings.temporal_address, "--output", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    history = json.loads(out)
    assert len(history["events"]) > 10
    text = out.decode()
    # Payload data is base64 in this output: decode every payload and look inside too.
    import base64

    blobs = [text]

    def walk(node):
        if isinstance(node, dict):
            if "data" in node and isinstance(node["data"], str):
                blobs.append(base64.b64decode(node["data"]).decode("latin-1"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(history)
    for needle in needles:
        for blob in blobs:
            assert needle not in blob and needle.lower() not in blob.lower()


async def test_overdue_requests_are_found_by_search_attribute(stack: Runtime) -> None:
    """A request received 40 days ago and still waiting for approval is overdue at once."""
    rc = RequestClient(await stack.client(), stack.settings.task_queue)
    rid = f"e2e-late-{uuid.uuid4().hex[:8]}"
    received = datetime.now(UTC) - timedelta(days=40)
    await rc.submit(
        DsrInput(rid, RequestType.ACCESS, [Identity("email", "bob@example.com")], received)
    )

    async def overdue() -> bool:
        proc = await asyncio.create_subprocess_exec(
            str(find_binary("temporal")), "workflow", "list", "--query", "DsrStatus='overdue'",
            "--address", stack.settings.temporal_address, "--output", "json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return rid in out.decode()

    await eventually(overdue, "the request listed by DsrStatus='overdue'")
    code, text = await cli(stack, "request", "list", "--status", "overdue")
    assert rid in text and "OVERDUE" in text
    code, text = await cli(stack, "request", "cancel", rid, "--reason", "test over")
    assert code == 0, text


async def test_purge_crypto_shreds_the_request(stack: Runtime, tmp_path: Path) -> None:
    rid = f"e2e-purge-{uuid.uuid4().hex[:8]}"
    code, text = await cli(stack, "request", "submit", "--type", "erasure", "--email",
                           "carol@example.com", "--request-id", rid)  # fmt: skip
    assert code == 0, text

    async def crm_stuck() -> bool:
        row = stack.ledger.get_request(rid)
        return row is not None and any(s.status == "failed_needs_attention" for s in row.stores)

    await eventually(crm_stuck, "the crm store to need attention")
    code, text = await cli(stack, "request", "skip-store", rid, "crm", "--reason", "decommissioned")
    assert code == 0, text
    code, text = await cli(stack, "request", "watch", rid)
    assert code == 0 and "completed" in text

    rc = RequestClient(await stack.client(), stack.settings.task_queue)
    history = await rc.handle(rid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [inp] = await rc.client.data_converter.decode(started.input.payloads, [DsrInput])
    assert inp.identities == [Identity("email", "carol@example.com")]  # readable before

    code, text = await cli(stack, "purge", "--dry-run", "--older-than", "0")
    assert code == 0 and f"would purge {rid}" in text
    tokens = _blind_index_rows(stack, rid)
    assert tokens > 0  # the receipt journal links requests about one subject while they run
    code, text = await cli(stack, "purge", "--older-than", "0")
    assert code == 0 and f"purged {rid}" in text, text
    assert _blind_index_rows(stack, rid) == 0

    from dsrflow.crypto.keystore import KeyDestroyedError

    async def shredded() -> bool:
        try:
            await rc.client.data_converter.decode(started.input.payloads, [DsrInput])
        except KeyDestroyedError as exc:
            return "crypto-shredded" in str(exc)
        return False

    # This process had the key cached; destruction by another process bites within the TTL.
    await eventually(shredded, "the history to become undecodable")
    folder = stack.settings.artifacts_dir / rid
    assert sorted(p.name for p in folder.iterdir()) == ["evidence-bundle.zip"]
    import zipfile

    with zipfile.ZipFile(folder / "evidence-bundle.zip") as zf:
        envelope = json.loads(zf.read("envelope.json"))
    import base64

    predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    [purge] = [a for a in stack.ledger.audit_entries(rid) if a.action == "purge"]
    assert predicate["orchestrator_copy"]["key_id"] == purge.detail["key_id"]
    assert purge.detail["blind_index_tokens"] == tokens
    assert predicate["orchestrator_copy"]["destroy_after_days"] == stack.settings.retention_days
    code, text = await cli(stack, "purge", "--older-than", "0")
    assert rid not in text  # done once


def _blind_index_rows(rt: Runtime, rid: str) -> int:
    from dsrflow.ledger.models import JournalSubjectRow

    with rt.ledger.session() as s:
        return s.query(JournalSubjectRow).filter_by(request_id=rid).count()

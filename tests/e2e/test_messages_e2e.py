"""Messages end to end: the real CLI submits and decides on a real Temporal dev server, the
worker's projection writes the outbox, its sender loop delivers to a local SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from dsrflow.catalog import yamlpos
from dsrflow.devserver import DevServer
from dsrflow.ledger import outbox
from dsrflow.runtime import Runtime
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT
from tests.fixtures.mailbox import Mailbox
from tests.fixtures.stack import make_runtime, run_cli

pytestmark = pytest.mark.e2e

POLICIES = {
    "erasure": {"identity_verification": False, "approval": False},
    "access": {"identity_verification": False, "approval": True},
}


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    temporal_server: DevServer, demo_dir: Path, tmp_path: Path, mailbox: Mailbox
) -> AsyncIterator[Runtime]:
    catalog = {
        "version": 1,
        "policies": POLICIES,
        "stores": {"shop": DEMO_SHOP, "support": DEMO_SUPPORT},
    }
    path = demo_dir / "messages.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    rt = make_runtime(
        temporal_server, tmp_path / "state", path, **mailbox.env(),
        DSRFLOW_MESSAGES_SEND_INTERVAL_S="1",
    )  # fmt: skip
    client = await rt.client()
    async with rt.worker(client):
        sender = asyncio.create_task(rt.messages_forever())  # as `dsrflow worker` runs it
        try:
            yield rt
        finally:
            sender.cancel()
    rt.ledger.close()


async def cli(rt: Runtime, *args: str) -> str:
    code, text = await run_cli(rt, *args, actor="staff:ops")
    assert code == 0, text
    return text


async def arrives(mailbox: Mailbox, subject: str) -> str:
    for _ in range(600):
        for m in list(mailbox.received):
            if m.message["Subject"] == subject:
                return m.text
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"no message {subject!r}; got {[m.message['Subject'] for m in mailbox.received]}"
    )


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str) -> None:
    for _ in range(600):
        result = check()
        if await result if asyncio.iscoroutine(result) else result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


async def test_submit_extend_deny_reach_the_subject(stack: Runtime, mailbox: Mailbox) -> None:
    rid = f"e2e-{uuid.uuid4().hex[:8]}"
    await cli(stack, "request", "submit", "--type", "access", "--email", "Carol@Example.com",
              "--request-id", rid)  # fmt: skip
    ack = await arrives(mailbox, f"We have received your request ({rid})")
    assert "access to your personal data" in ack
    (got,) = [m for m in mailbox.received if rid in m.message["Subject"]]
    assert got.rcpt == ["carol@example.com"]  # the normalised address the subject gave

    await cli(stack, "request", "extend", rid, "--months", "2",
              "--reason", "the archive team is restoring last year's backups")  # fmt: skip
    ext = await arrives(mailbox, f"We need more time for your request ({rid})")
    assert "Why: the archive team is restoring last year's backups" in ext
    assert "extended the time to answer by 2 months" in ext and "Article 12(3)" in ext

    await cli(stack, "request", "deny", rid, "--ground", "Art. 12(5)(b)",
              "--note", "manifestly excessive: the fifth identical request this month")  # fmt: skip
    denial = await arrives(mailbox, f"Your request {rid}: we are not taking action")
    assert "Art. 12(5)(b): manifestly excessive: the fifth identical request this month" in denial
    assert "lodge a complaint with a supervisory authority" in denial

    # The SMTP server holds the message before the sender marks its row sent: wait for the mark.
    want = [("acknowledgement", "sent"), ("denial", "sent"), ("extension", "sent")]

    def statuses() -> list[tuple[str, str]]:
        return sorted((r.kind, r.status) for r in outbox.messages(stack.ledger, rid))

    await eventually(lambda: statuses() == want, f"outbox rows sent, last seen {statuses()}")
    assert statuses() == want
    listed = await cli(stack, "messages", "list", "--request", rid)
    assert "denial" in listed and "carol" not in listed.lower()


async def test_erasure_completes_with_a_delivery_reference(
    stack: Runtime, mailbox: Mailbox
) -> None:
    rid = f"e2e-{uuid.uuid4().hex[:8]}"
    await cli(stack, "request", "submit", "--type", "erasure", "--email", "bob@example.com",
              "--request-id", rid)  # fmt: skip
    done = await arrives(mailbox, f"Your request {rid} is complete")
    assert "Your personal data has been erased" in done
    row = stack.ledger.get_request(rid)
    assert row is not None and row.artifact_sha256
    assert f"Delivery reference: {rid} / evidence_bundle sha256:{row.artifact_sha256[:16]}" in done


async def test_no_email_means_not_sent_and_a_refused_submit_keeps_no_contact(
    stack: Runtime, mailbox: Mailbox
) -> None:
    rid = f"e2e-{uuid.uuid4().hex[:8]}"
    await cli(stack, "request", "submit", "--type", "access", "--identity", "customer_id=3",
              "--request-id", rid)  # fmt: skip

    def recorded() -> bool:
        return [r.status for r in outbox.messages(stack.ledger, rid)] == ["not_sent"]

    await eventually(recorded, "the acknowledgement recorded as not sent")
    assert outbox.messages(stack.ledger, rid)[0].last_error.startswith("no contact")
    # The same id with an e-mail is another request: refused, and its address is not kept.
    code, text = await run_cli(stack, "request", "submit", "--type", "access", "--email",
                               "mallory@example.com", "--request-id", rid)  # fmt: skip
    assert code != 0 and "different request" in text
    assert outbox.contact(stack.ledger, rid) is None
    assert all(rid not in m.message["Subject"] for m in mailbox.received)


async def test_dsrflow_worker_runs_the_sender_and_checks_templates_first(
    temporal_server: DevServer, demo_dir: Path, tmp_path: Path, mailbox: Mailbox
) -> None:
    import os
    import signal

    from tests.fixtures.stack import DSRFLOW

    rt = make_runtime(
        temporal_server, tmp_path / "state", demo_dir / "catalog.yaml", **mailbox.env(),
        DSRFLOW_MESSAGES_SEND_INTERVAL_S="1",
    )  # fmt: skip
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "overdue.txt").write_text("Subject: late\n\n{{ request_id }\n")
    env = {**os.environ, **rt.env}
    refused = await asyncio.create_subprocess_exec(
        *DSRFLOW, "worker", env={**env, "DSRFLOW_MESSAGES_TEMPLATES_DIR": str(broken)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(refused.communicate(), 60)
    assert refused.returncode != 0
    assert err.decode().strip().splitlines() == [
        f"error: {broken / 'overdue.txt'}:3: unexpected '}}'"
    ]

    worker = await asyncio.create_subprocess_exec(
        *DSRFLOW, "worker", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        rid = f"e2e-{uuid.uuid4().hex[:8]}"
        await cli(rt, "request", "submit", "--type", "erasure", "--email", "dave@example.com",
                  "--request-id", rid)  # fmt: skip
        await arrives(mailbox, f"We have received your request ({rid})")
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 60)
    rt.ledger.close()

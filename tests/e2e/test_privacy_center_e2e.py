"""The privacy center end to end: a subject files an access request through the form, the
acknowledgement and verification e-mails reach a local SMTP server, the link confirms the
request on a real Temporal dev server (identity verified by email_link, as the workflow records
it), and the status page follows the request to completion. The address never reaches a log
line, an audit entry, the ledger in clear or the workflow's history."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx2 as httpx
import pytest
import pytest_asyncio
import structlog.testing
from temporalio.client import Client

from dsrflow.catalog import yamlpos
from dsrflow.devserver import DevServer
from dsrflow.runtime import Runtime
from dsrflow.service.accounts import CreateAccount
from dsrflow.service.principal import Principal
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT
from tests.fixtures.mailbox import Mailbox, Received
from tests.fixtures.stack import make_runtime

pytestmark = pytest.mark.e2e

ADDRESS = "Pia.Canary-4e2@Example.org"
NAME = "Pia Canaryfield"
PASSWORD = "correct horse battery"
BASE = "http://privacy.test"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(re.escape(BASE) + r"/privacy/verify/([A-Za-z0-9_-]+)")


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    temporal_server: DevServer, demo_dir: Path, tmp_path: Path, mailbox: Mailbox
) -> AsyncIterator[Runtime]:
    catalog = {
        "version": 1,
        "policies": {"access": {"identity_verification": True, "approval": False}},
        "stores": {"shop": DEMO_SHOP, "support": DEMO_SUPPORT},
    }
    path = demo_dir / "privacy.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    rt = make_runtime(
        temporal_server, tmp_path / "state", path, **mailbox.env(),
        DSRFLOW_MESSAGES_SEND_INTERVAL_S="1", DSRFLOW_INTAKE_PUBLIC_URL=BASE,
    )  # fmt: skip
    client = await rt.client()
    async with rt.worker(client):
        sender = asyncio.create_task(rt.messages_forever())  # as `dsrflow worker` runs it
        try:
            yield rt
        finally:
            sender.cancel()
    rt.ledger.close()


async def mail(mailbox: Mailbox, prefix: str) -> Received:
    for _ in range(600):
        for m in list(mailbox.received):
            if str(m.message["Subject"]).startswith(prefix):
                return m
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"no message {prefix!r}; got {[m.message['Subject'] for m in mailbox.received]}"
    )


async def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


def csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def test_a_subject_files_confirms_and_follows_a_request(
    stack: Runtime, mailbox: Mailbox
) -> None:
    app = stack.api_app()
    transport = httpx.ASGITransport(app=app)
    with structlog.testing.capture_logs() as logs:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as web:
            form = await web.get("/privacy/request/access")
            sent = await web.post(
                "/privacy/request/access",
                data={"csrf": csrf(form), "email": ADDRESS, "name": NAME, "regulation": "gdpr",
                      "details": "I had an account from 2019 to 2022."},
            )  # fmt: skip
            assert sent.status_code == 303, sent.text

            verification = await mail(mailbox, "Please confirm your request (")
            rid = str(verification.message["Subject"]).rsplit("(", 1)[1].rstrip(")")
            assert verification.rcpt == [ADDRESS.lower()]
            ack = await mail(mailbox, f"We have received your request ({rid})")
            assert ack.rcpt == [ADDRESS.lower()]
            found = LINK.search(verification.text)
            assert found, verification.text
            token = found.group(1)

            confirm = await web.get(f"/privacy/verify/{token}")
            assert confirm.status_code == 200 and "Confirm my request" in confirm.text
            done = await web.post(f"/privacy/verify/{token}", data={"csrf": csrf(confirm)})
            assert done.status_code == 200 and "your request is confirmed" in done.text, done.text

            def verified() -> bool:
                acts = stack.ledger.actions(rid)
                return any(a.action == "identity_verified" for a in acts)

            await eventually(verified, "identity_verified in the ledger")
            (act,) = [a for a in stack.ledger.actions(rid) if a.action == "identity_verified"]
            assert act.actor == "system:privacy-center" and "method=email_link" in act.detail
            assert act.at is not None

            status = await web.get(f"/privacy/status/{token}")
            assert status.status_code == 200 and "Confirmed on" in status.text

            await mail(mailbox, f"Your request {rid} is complete")
            final = await web.get(f"/privacy/status/{token}")
            offered = "I have a code already" in final.text  # an access request offers its package
            assert "Complete." in final.text and (
                "the result is on its way" in final.text or offered
            )
            used = await web.post(f"/privacy/verify/{token}", data={"csrf": csrf(confirm)})
            assert used.status_code == 410

            # An analyst reads what the subject typed, for a reason, on the request page.
            await asyncio.to_thread(
                CreateAccount(stack).run, Principal.of("system:test", ["admin"]),
                username="ana", roles=["analyst"], password=PASSWORD,
            )  # fmt: skip
            login = await web.get("/console/login")
            signed = await web.post(
                "/console/login",
                data={"username": "ana", "password": PASSWORD, "csrf": csrf(login)},
            )
            assert signed.status_code == 303, signed.text
            page = await web.get(f"/console/requests/{rid}")
            assert NAME not in page.text and 'id="intake-note"' not in page.text
            shown = await web.post(
                f"/console/requests/{rid}/reveal",
                data={"csrf": csrf(page), "reason": "the subject asked which account we hold"},
            )
            assert shown.status_code == 200, shown.text
            assert NAME in shown.text and "I had an account from 2019 to 2022." in shown.text
            assert ADDRESS.lower() in shown.text  # the identifiers, revealed with the note
            (opened,) = [e for e in stack.ledger.audit_entries(rid) if e.action == "reveal_note"]
            assert opened.actor == "staff:ana" and opened.detail["reason"].startswith("the subj")

        # A client WITHOUT the codec sees what Temporal stores: every payload is ciphertext.
        raw = await Client.connect(stack.settings.temporal_address)
        events = await raw.get_workflow_handle(rid).fetch_history()
        history = events.to_json().encode() + b"".join(e.SerializeToString() for e in events.events)
        started = events.events[0].workflow_execution_started_event_attributes
        assert {p.metadata["encoding"] for p in started.input.payloads} == {b"binary/encrypted"}

    canaries = (ADDRESS, ADDRESS.lower(), "Canary-4e2", "canary-4e2", NAME, token)
    audit = str([(e.actor, e.action, e.detail) for e in stack.ledger.audit_entries()])
    stored = b"".join(
        p.read_bytes() for p in (Path(stack.settings.state_dir)).rglob("*") if p.is_file()
    )
    for canary in canaries:
        assert canary.encode() not in history, "in the Temporal history"
        assert canary not in str(logs), "in a log line"
        assert canary not in audit, "in the audit log"
        assert canary.encode() not in stored, "in the state folder"
    assert any(e.action == "verify_identity" and e.actor == "system:privacy-center"
               for e in stack.ledger.audit_entries(rid))  # fmt: skip

"""Helpers for the package delivery tests: a privacy-center request, completed with a package.

Everything is real but Temporal (``privacy_kit.FakeWorkflows``): the ledger, the key store, the
encrypted artifacts, the outbox, and an SMTP server (``mailbox``) that catches the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dsrflow.adapters.sdk import Record
from dsrflow.domain import RequestStatus
from dsrflow.ledger.models import RequestRow
from dsrflow.service.messages import SendPending
from dsrflow.service.subject_intake import mint_link
from tests.unit.messages_kit import SENDER
from tests.unit.privacy_kit import CANARY, center, csrf_of, file

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from dsrflow.runtime import Runtime
    from tests.fixtures.mailbox import Mailbox
    from tests.unit.privacy_kit import FakeWorkflows

CANARY_NAME = "Zebulon Canaryfield-Quux"
CODE = re.compile(r"\b([A-Z2-9]{5}-[A-Z2-9]{5})\b")


@dataclass
class Delivered:
    """A completed access request filed through the privacy center, with its package."""

    rt: Runtime
    fake: FakeWorkflows
    web: TestClient
    box: Mailbox
    request_id: str
    token: str

    @property
    def status(self) -> str:
        return f"/privacy/status/{self.token}"

    def ask_code(self) -> str:
        """Press "Send me a code", let the sender run; the code from the caught e-mail."""
        page = self.web.get(self.status)
        assert page.status_code == 200 and "Send me a code" in page.text, page.text
        asked = self.web.post(f"{self.status}/code", data={"csrf": csrf_of(page.text)})
        assert asked.status_code == 200 and "Enter it here" in asked.text, asked.text
        before = len(self.box.received)
        SendPending(self.rt).run(SENDER)
        mail = self.box.wait_for(before + 1)[-1]
        assert mail.message["Subject"].startswith("Your download code"), mail.message["Subject"]
        found = CODE.search(mail.text)
        assert found, mail.text
        return found.group(1)

    def enter(self, code: str):  # type: ignore[no-untyped-def]
        """Open the code page like a browser and send the code; the POST's response."""
        page = self.web.get(f"{self.status}/package")
        if page.status_code != 200:  # the page refuses: a form of the center sets the cookie
            page = self.web.get("/privacy/request/access")
        csrf = csrf_of(page.text)
        return self.web.post(f"{self.status}/package", data={"csrf": csrf, "code": code})

    def refusals(self) -> list[str]:
        """The audited reasons of refused downloads, oldest first."""
        return [
            str(e.detail.get("reason"))
            for e in self.rt.ledger.audit_entries(self.request_id)
            if e.action == "package_download_refused"
        ]

    def ended(self, days_ago: float) -> None:
        """Move the request's completion ``days_ago`` into the past."""
        with self.rt.ledger.session() as s:
            row = s.get(RequestRow, self.request_id)
            assert row is not None
            row.completed_at = datetime.now(UTC) - timedelta(days=days_ago)


def delivered(tmp: Path, box: Mailbox, **env: str) -> Delivered:
    """File, confirm and complete an access request whose package holds the canary subject."""
    rt, fake, web = center(tmp, **box.env(), **env)
    assert file(web, "access").status_code == 303
    (inp,) = fake.submitted
    rid = inp.request_id
    token = mint_link(rt, rid)["verify_url"].rsplit("/", 1)[1]
    page = web.get(f"/privacy/verify/{token}")
    confirmed = web.post(f"/privacy/verify/{token}", data={"csrf": csrf_of(page.text)})
    assert confirmed.status_code == 200
    SendPending(rt).run(SENDER)  # acknowledgement and verification: out of the way
    fake._project(inp, RequestStatus.COMPLETED)
    rt.artifacts.stage_records(
        rid, "shop", [Record("customers", {"email": CANARY, "full_name": CANARY_NAME})]
    )
    rt.artifacts.assemble_package(rid, {"shop": 1}, {"request_id": rid, "request_type": "access"})
    d = Delivered(rt, fake, web, box, rid, token)
    d.ended(0)
    SendPending(rt).run(SENDER)  # the completion message
    box.wait_for(len(box.received))
    return d

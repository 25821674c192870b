"""The application layer on the real workflow: each use case authorises, acts and audits.

Real time-skipping Temporal, a real worker, real SQLite stores; the use cases get the harness's
request client, exactly as the CLI's would be built.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from dsrflow.cli.main import app
from dsrflow.errors import UserError
from dsrflow.service.decisions import Decide, DecisionInput
from dsrflow.service.intake import Submit, SubmitCommand
from dsrflow.service.principal import NotAllowed, Principal
from tests.fixtures.lifecycle import DEMO_SHOP

INTAKE = Principal.of("staff:in", ["intake"])
APPROVER = Principal.of("staff:ap", ["approver"])
ANALYST = Principal.of("staff:an", ["analyst"])
AUDITOR = Principal.of("staff:au", ["auditor"])
PAPER = {"adapter": "manual", "instructions": "Shred the paper file in cabinet 3"}
GATES = {"erasure": {"identity_verification": True, "approval": True}}


def trail(h, rid: str) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.category) for e in h.rt.ledger.audit_entries(rid)]


async def test_submit_decide_and_complete_task_through_the_service(harness) -> None:
    stores = {"shop": DEMO_SHOP, "paper": PAPER}
    async with harness(stores=stores, policies=GATES) as h:
        rid = f"svc-{uuid.uuid4().hex[:8]}"
        cmd = SubmitCommand("erasure", email=["dave@example.com"], request_id=rid)
        submit = Submit(h.rt)
        with pytest.raises(NotAllowed, match="staff:au may not submit"):
            submit.check(AUDITOR, cmd)
        inp = replace(submit.check(INTAKE, cmd), received_at=await h.env.get_current_time())
        h.started.append(rid)
        assert (await submit.run(INTAKE, inp, h.rc)).created
        retry = replace(inp, received_at=inp.received_at + timedelta(seconds=5))
        assert not (await submit.run(INTAKE, retry, h.rc)).created  # no second audit entry

        decide = Decide(h.rt)
        await decide.run(INTAKE, DecisionInput("verify_identity", rid, method="email_link"), h.rc)
        with pytest.raises(NotAllowed, match="staff:in may not approve"):
            await decide.run(INTAKE, DecisionInput("approve", rid), h.rc)
        assert str((await h.rc.status(rid)).status) == "awaiting_approval"  # nothing reached it
        await decide.run(APPROVER, DecisionInput("approve", rid, reason="[/oops] ok"), h.rc)
        view = await h.until(
            h.rc.handle(rid),
            lambda v: any(str(o.status) == "waiting_for_human" for o in v.stores),
            "the paper store's task to open",
        )
        actors = {(a.actor, a.action) for a in view.actions}
        assert {("staff:in", "identity_verified"), ("staff:ap", "approved")} <= actors

        task = DecisionInput("complete_task", rid, store="paper", outcome="not_found")
        with pytest.raises(NotAllowed):
            await decide.run(APPROVER, task, h.rc)
        await decide.run(ANALYST, task, h.rc)
        await h.until(h.rc.handle(rid), lambda v: v.status.terminal, "the request to end")
        # Refused by the workflow (it has ended): one line, and no audit entry for it.
        with pytest.raises(UserError) as refused:
            await decide.run(APPROVER, DecisionInput("hold", rid, reason="late"), h.rc)
        assert "\n" not in str(refused.value)
        with pytest.raises(UserError, match=f"request {rid} already exists and has ended"):
            await submit.run(INTAKE, retry, h.rc)

        assert trail(h, rid) == [
            ("staff:in", "submit", "decision"),
            ("staff:in", "verify_identity", "decision"),
            ("staff:ap", "approve", "decision"),
            ("staff:an", "complete_task", "decision"),
        ]
        await h.ledger_until(
            lambda: (r := h.rt.ledger.get_request(rid)) and r.completed_at, "the end projected"
        )
        shown = CliRunner().invoke(app, ["request", "show", rid], env=dict(h.rt.env))
        assert shown.exit_code == 0, shown.output
        assert "staff:ap approved [/oops] ok" in shown.output
        assert "staff:an complete_task (decision)" in shown.output

"""Revealing a subject: decoded from the request's encrypted Temporal history for a reason,
audited as a decode (kinds and reason, never the values); impossible once purged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from dsrflow.crypto.codec import ENCODING, data_converter
from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import NotFound, UserError
from dsrflow.ledger.models import AuditRow
from dsrflow.requests_client import RequestClient
from dsrflow.service.principal import NotAllowed, Principal
from dsrflow.service.reveal import RevealSubject
from tests.fixtures.timeskip import ts_runtime

ANALYST = Principal.of("staff:ann", ["analyst"])
ENGINEER = Principal.of("staff:eng", ["engineer"])
SUBJECT = [Identity("email", "wanda@example.org"), Identity("phone", "+442079460018")]


async def test_reveal_decodes_the_encrypted_start_input_and_audits_it(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    rt = ts_runtime(tmp_path / "state", tmp_path / "none.yaml")
    # dsrflow's own converter: the start input is encrypted under the request's data key.
    client = Client(**{**ts_env.client.config(), "data_converter": data_converter(rt.keystore)})
    rid = f"t-{uuid.uuid4().hex[:10]}"
    inp = DsrInput(rid, RequestType.ACCESS, SUBJECT, datetime.now(UTC))
    # Nobody polls this queue: the start event is all the test needs.
    handle = await client.start_workflow("DataSubjectRequest", inp, id=rid, task_queue="nobody")
    try:
        async for event in handle.fetch_history_events(page_size=1):
            [raw] = event.workflow_execution_started_event_attributes.input.payloads
            assert raw.metadata["encoding"] == ENCODING  # never in clear in the history
            assert b"wanda" not in raw.data
            break
        use_case, rc = RevealSubject(rt), RequestClient(client, "nobody")

        with pytest.raises(NotAllowed, match="staff:eng may not reveal"):
            await use_case.run(ENGINEER, rid, reason="curious", rc=rc)
        with pytest.raises(UserError, match=r"^--reason: required$"):
            await use_case.run(ANALYST, rid, reason="  ", rc=rc)
        assert rt.ledger.audit_entries() == []  # refused before anything was decoded

        shown = await use_case.run(ANALYST, rid, reason="subject called; confirm address", rc=rc)
        assert shown == SUBJECT
        with rt.ledger.session() as s:
            [row] = s.query(AuditRow).all()
            entry = (row.actor, row.action, row.category, row.request_id, row.detail)
        assert entry == (
            "staff:ann", "reveal", "decode", rid,
            {"reason": "subject called; confirm address", "kinds": ["email", "phone"]},
        )  # fmt: skip

        with pytest.raises(NotFound, match=r"^request t-nope: not in Temporal"):
            await use_case.run(ANALYST, "t-nope", reason="check", rc=rc)

        rt.keystore.destroy(rid)  # what `dsrflow purge` does
        with pytest.raises(UserError, match="purged; its identifiers are crypto-shredded"):
            await use_case.run(ANALYST, rid, reason="again", rc=rc)
    finally:
        # Not through `client`: its codec cannot encode under a destroyed key.
        await ts_env.client.get_workflow_handle(rid).terminate("test over")

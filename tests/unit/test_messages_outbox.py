"""What the projection puts in the outbox, exactly once; and the subject's sealed contact."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from dsrflow.crypto.keystore import KeyDestroyedError
from dsrflow.domain import ArtifactRef, RequestStatus
from dsrflow.ledger import outbox
from dsrflow.ledger.models import SubjectContactRow
from dsrflow.messages import contact
from tests.unit.messages_kit import ADDRESS, Projector, runtime
from tests.unit.service_kit import ADMIN, project


def _kinds(rt, request_id: str) -> list[tuple[str, int, str, str]]:
    rows = outbox.messages(rt.ledger, request_id)
    return sorted((r.kind, r.seq, r.recipient, r.status) for r in rows)


def test_each_state_change_writes_its_message_once(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    p = Projector(rt, "dsr-20260302-00000001")
    p.project(RequestStatus.AWAITING_VERIFICATION)
    p.act("staff:ann", "identity_verified", "method=email_link")
    p.project(RequestStatus.RUNNING)
    p.act("staff:ann", "deadline_extended", "+2 months: 40 stores to search, 3 of them archives")
    extended = p.project(RequestStatus.RUNNING)
    p.act("clock:deadline", "reminder", "7 days before due")
    p.act("clock:deadline", "task_escalated", "due 2026-06-02", "paper_archive")
    p.project(RequestStatus.RUNNING)
    p.act("clock:deadline", "overdue", "due 2026-06-02")
    p.project(RequestStatus.RUNNING)
    done = p.project(
        RequestStatus.COMPLETED,
        artifact=ArtifactRef("evidence", "x/bundle.zip", "sha256:" + "a" * 64),
    )
    assert _kinds(rt, p.request_id) == [
        ("acknowledgement", 0, "subject", "pending"),
        ("completion", 0, "subject", "pending"),
        ("escalation", 4, "staff", "pending"),
        ("extension", 2, "subject", "pending"),
        ("overdue", 5, "staff", "pending"),
        ("reminder", 3, "staff", "pending"),
    ]
    # A snapshot applied again (an activity retry, a re-run workflow task) writes nothing new,
    # and neither does a late older one.
    before = _kinds(rt, p.request_id)
    rt.ledger.apply(done)
    rt.ledger.apply(extended)
    assert _kinds(rt, p.request_id) == before
    by_kind = {r.kind: r for r in outbox.messages(rt.ledger, p.request_id)}
    assert by_kind["extension"].context["reason"] == "40 stores to search, 3 of them archives"
    assert by_kind["extension"].context["extended_by"] == "2 months"
    assert by_kind["escalation"].context["store"] == "paper_archive"
    assert by_kind["completion"].context["artifact_sha256"] == "sha256:" + "a" * 64


def test_denial_carries_ground_and_note(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    p = Projector(rt, "dsr-20260302-00000002")
    p.project(RequestStatus.AWAITING_APPROVAL)
    p.act("staff:bob", "denied", "Art. 12(5)(b) manifestly unfounded: repeated request")
    p.project(RequestStatus.DENIED, reason="Art. 12(5)(b): repeated request, same as last week")
    p.project(RequestStatus.DENIED, reason="Art. 12(5)(b): repeated request, same as last week")
    rows = [r for r in outbox.messages(rt.ledger, p.request_id) if r.kind == "denial"]
    assert len(rows) == 1
    assert rows[0].context["ground"] == "Art. 12(5)(b)"
    assert rows[0].context["note"] == "repeated request, same as last week"


@pytest.mark.parametrize("status", [RequestStatus.REJECTED, RequestStatus.ENDED_OUTSIDE])
def test_requests_ended_outside_dsrflow_tell_the_subject_nothing(
    tmp_path: Path, status: RequestStatus
) -> None:
    rt = runtime(tmp_path)
    p = Projector(rt, "dsr-20260302-00000003")
    p.project(status)
    assert _kinds(rt, p.request_id) == []


def test_dry_runs_tell_the_subject_nothing_but_staff_still_hear_of_deadlines(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path)
    p = Projector(rt, "dsr-20260302-00000004")
    p.act("workload:w1", "dry_run", "gates not applied; every change is rolled back")
    p.project(RequestStatus.RUNNING)
    p.act("clock:deadline", "reminder", "7 days before due")
    p.project(RequestStatus.RUNNING)
    p.project(RequestStatus.COMPLETED)
    assert _kinds(rt, p.request_id) == [("reminder", 2, "staff", "pending")]


def test_contact_is_sealed_under_the_request_key_and_shredded_by_purge(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    rid = "dsr-20260302-00000005"
    assert contact.keep(rt.ledger, rt.keystore, rid, ADDRESS) is True
    assert contact.keep(rt.ledger, rt.keystore, rid, "other@example.org") is False  # first stays
    with rt.ledger.session() as s:
        row = s.get(SubjectContactRow, rid)
        assert row is not None
        sealed, key_id = row.sealed, row.key_id
    assert ADDRESS.encode() not in sealed
    # Nothing in the ledger file holds the address in clear.
    db = (tmp_path / "state" / "ledger.db").read_bytes()
    assert ADDRESS.encode() not in db
    assert contact.read(rt.ledger, rt.keystore, rid) == ADDRESS
    # Bound to its request: the same ciphertext under another request's name does not open.
    with pytest.raises(InvalidTag):
        contact.unseal(key_id, rt.keystore.get(key_id), "dsr-20260302-99999999", sealed)

    p = Projector(rt, rid)
    p.project(RequestStatus.AWAITING_VERIFICATION)
    p.act("staff:ann", "deadline_extended", "+1 months: archives")
    p.project(RequestStatus.CANCELLED)
    from dsrflow.ledger.models import RequestRow

    with rt.ledger.session() as s:
        req = s.get(RequestRow, rid)
        assert req is not None
        req.completed_at = req.completed_at.replace(year=2020) if req.completed_at else None
    from dsrflow.service.results import Purge

    Purge(rt).run(ADMIN, older_than=1)
    # The key is gone: the copy taken before the purge (a backup) cannot be opened.
    with pytest.raises(KeyDestroyedError):
        rt.keystore.get(key_id)
    assert contact.read(rt.ledger, rt.keystore, rid) is None
    statuses = {(r.kind, r.status, r.last_error) for r in outbox.messages(rt.ledger, rid)}
    assert statuses == {
        ("acknowledgement", "not_sent", outbox.CONTACT_ERASED),
        ("extension", "not_sent", outbox.CONTACT_ERASED),
    }
    purge = [e for e in rt.ledger.audit_entries(rid) if e.action == "purge"]
    assert purge and purge[-1].detail["messages_not_sent"] == 2


def test_purge_removes_a_contact_whose_submission_never_started(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    rid = "dsr-20260302-00000006"
    contact.keep(rt.ledger, rt.keystore, rid, ADDRESS)
    project(rt, "dsr-20260302-00000007")  # another request, in the ledger: not an orphan
    contact.keep(rt.ledger, rt.keystore, "dsr-20260302-00000007", ADDRESS)
    from dsrflow.service.results import Purge

    assert [p.request_id for p in Purge(rt).run(ADMIN, older_than=0)] == []  # too recent yet
    with rt.ledger.session() as s:
        for row in s.query(SubjectContactRow):
            row.created_at = row.created_at.replace(year=2020)
    done = Purge(rt).run(ADMIN, older_than=0)
    assert [(p.request_id, p.status) for p in done] == [(rid, "never started")]
    assert outbox.contact(rt.ledger, rid) is None
    assert outbox.contact(rt.ledger, "dsr-20260302-00000007") is not None
    with pytest.raises(KeyDestroyedError):
        rt.keystore.key_for(rid)


def test_submit_keeps_the_first_email_sealed_and_nothing_for_dry_runs(tmp_path: Path) -> None:
    from dataclasses import replace

    from dsrflow.service.intake import Submit, SubmitCommand

    rt = runtime(tmp_path)
    use = Submit(rt)
    cmd = SubmitCommand(
        "erasure", email=["  Alice.Subject@Example.org "], identity=["customer_id=7"]
    )
    inp = use.check(ADMIN, cmd)
    assert use._keep_contact(inp) is True
    assert contact.read(rt.ledger, rt.keystore, inp.request_id) == ADDRESS  # normalised
    assert use._keep_contact(inp) is False  # a retried submit keeps the first
    dry = replace(use.check(ADMIN, cmd), dry_run=True)
    assert use._keep_contact(dry) is False and outbox.contact(rt.ledger, dry.request_id) is None
    no_mail = use.check(ADMIN, SubmitCommand("access", identity=["customer_id=7"]))
    assert use._keep_contact(no_mail) is False
    assert outbox.contact(rt.ledger, no_mail.request_id) is None

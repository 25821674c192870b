"""The console's forms: decisions through Decide, reveal with a reason (audited), the manual task
queue, staff intake through Submit; Temporal down is an HTML page, never a trace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsrflow.domain import RequestStatus, StoreStatus
from dsrflow.lifecycle import Decision, Denial, ExtensionRequest, StoreDecision
from tests.unit.console_pages_kit import (
    CSRF,
    SUBJECT,
    app_as,
    checked,
    fake_temporal,
    put,
    role,
    runtime,
)

S = RequestStatus


def test_decisions_go_through_decide_and_are_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-1", status=S.AWAITING_APPROVAL)
    fake = fake_temporal(rt, monkeypatch)
    approver = app_as(rt, role("approver"))
    r = approver.post("/console/requests/dsr-1/approve", data={"csrf": CSRF, "reason": "ok"})
    assert r.status_code == 303 and r.headers["location"] == "/console/requests/dsr-1?done=approve"
    shown = approver.get(r.headers["location"])
    assert 'id="notice">Approved.' in shown.text
    deny_form = {"csrf": CSRF, "ground": "Art. 12(5)(b)", "reason": "manifestly"}
    r = approver.post("/console/requests/dsr-1/deny", data=deny_form)
    assert r.status_code == 303
    extend_form = {"csrf": CSRF, "amount": "2", "unit": "months", "reason": "complex"}
    r = approver.post("/console/requests/dsr-1/extend", data=extend_form)
    assert r.status_code == 303
    assert [(u, type(a)) for _, u, a in fake.acts] == [
        ("approve", Decision), ("deny", Denial), ("extend", ExtensionRequest)]  # fmt: skip
    deny, ext = fake.acts[1][2], fake.acts[2][2]
    assert isinstance(deny, Denial) and deny.ground == "Art. 12(5)(b)"
    assert isinstance(ext, ExtensionRequest) and (ext.amount, ext.unit) == (2, "months")
    put(rt, "dsr-ccpa", status=S.AWAITING_APPROVAL, regulation="ccpa")
    page = approver.get("/console/requests/dsr-ccpa").text
    assert 'name="unit" value="days"' in page and 'value="months"' not in page
    assert all(a.actor == "staff:approver-1" for _, _, a in fake.acts)  # type: ignore[attr-defined]
    decisions = [e.action for e in rt.ledger.audit_entries() if e.category == "decision"]
    assert decisions == ["approve", "deny", "extend"]


def test_bad_input_and_missing_roles_are_refused_before_temporal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-1", stores={"crm": StoreStatus.WAITING_FOR_HUMAN})
    fake = fake_temporal(rt, monkeypatch)
    analyst = app_as(rt, role("analyst"))
    r = analyst.post("/console/requests/dsr-1/cancel", data={"csrf": CSRF, "reason": " "})
    assert r.status_code == 400 and "--reason: required" in r.text
    checked(r)
    r = analyst.post("/console/requests/dsr-1/extend", data={"csrf": CSRF, "amount": "two"})
    assert r.status_code == 400 and "amount: a whole number" in r.text
    r = analyst.post("/console/requests/dsr-1/approve", data={"csrf": CSRF})
    assert r.status_code == 403 and "may not approve" in r.text
    r = app_as(rt, role("auditor")).post(
        "/console/requests/dsr-1/stores/crm/complete-task",
        data={"csrf": CSRF, "outcome": "not_found"},
    )
    assert r.status_code == 403
    assert fake.acts == [] and rt.ledger.audit_entries() == []
    r = analyst.post(
        "/console/requests/dsr-1/stores/crm/complete-task",
        data={"csrf": CSRF, "outcome": "not_found", "back": "tasks"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/tasks"
    [(_, update, arg)] = fake.acts
    assert update == "complete_task" and isinstance(arg, StoreDecision)
    assert (arg.store, arg.outcome) == ("crm", "not_found")
    r = analyst.post(
        "/console/requests/dsr-1/stores/crm/retry",
        data={"csrf": CSRF, "back": "https://evil.example/"},
    )
    assert r.headers["location"] == "/console/requests/dsr-1?done=retry_store"  # never a URL


def test_temporal_down_is_a_clear_html_page(tmp_path: Path) -> None:
    rt = runtime(tmp_path)  # its Temporal address has nothing listening
    put(rt, "dsr-1", status=S.AWAITING_APPROVAL)
    r = app_as(rt, role("approver")).post(
        "/console/requests/dsr-1/approve", data={"csrf": CSRF, "reason": "ok"}
    )
    assert r.status_code == 503
    checked(r)
    assert "Temporal" in r.text and "cannot be reached" in r.text
    assert "Traceback" not in r.text and "127.0.0.1" not in r.text
    assert [e.action for e in rt.ledger.audit_entries()] == []


def test_reveal_needs_a_reason_and_the_role_and_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-1")
    fake = fake_temporal(rt, monkeypatch)
    fake.started("dsr-1")
    analyst = app_as(rt, role("analyst"))
    page = analyst.get("/console/requests/dsr-1")
    assert SUBJECT not in page.text  # hidden by default
    r = analyst.post("/console/requests/dsr-1/reveal", data={"csrf": CSRF, "reason": "  "})
    assert r.status_code == 400 and "--reason: required" in r.text and SUBJECT not in r.text
    r = app_as(rt, role("approver")).post(
        "/console/requests/dsr-1/reveal", data={"csrf": CSRF, "reason": "curious"}
    )
    assert r.status_code == 403 and SUBJECT not in r.text
    assert [e.action for e in rt.ledger.audit_entries()] == ["view"]
    r = analyst.post(
        "/console/requests/dsr-1/reveal", data={"csrf": CSRF, "reason": "subject phoned"}
    )
    assert r.status_code == 200
    checked(r)
    assert SUBJECT in r.text and "this reveal is in the audit trail" in r.text
    [reveal] = [e for e in rt.ledger.audit_entries() if e.action == "reveal"]
    assert reveal.actor == "staff:analyst-1" and reveal.category == "decode"
    assert reveal.detail["reason"] == "subject phoned" and SUBJECT not in str(reveal.detail)
    again = analyst.get("/console/requests/dsr-1")  # shown on that page only
    assert SUBJECT not in again.text


def test_task_queue_reveals_per_request_and_offers_completion_by_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-t", stores={"crm": StoreStatus.WAITING_FOR_HUMAN, "shop": StoreStatus.DONE})
    put(rt, "dsr-other", stores={"fax": StoreStatus.WAITING_FOR_HUMAN})
    fake = fake_temporal(rt, monkeypatch)
    fake.started("dsr-t")
    analyst = app_as(rt, role("analyst"))
    page = analyst.get("/console/tasks")
    checked(page)
    tasks = re.findall(r'data-task="([^"]+)"', page.text)
    assert sorted(tasks) == ["dsr-other/fax", "dsr-t/crm"]
    assert 'action="/console/tasks/dsr-t/reveal"' in page.text
    assert 'action="/console/requests/dsr-t/stores/crm/complete-task"' in page.text
    r = analyst.post("/console/tasks/dsr-t/reveal", data={"csrf": CSRF, "reason": ""})
    assert r.status_code == 400
    r = analyst.post("/console/tasks/dsr-t/reveal", data={"csrf": CSRF, "reason": "ticket 7"})
    assert r.status_code == 200 and r.text.count(SUBJECT) == 1
    checked(r)
    assert [e.action for e in rt.ledger.audit_entries()] == ["reveal"]
    # An engineer works tasks (policy) but never sees the subject's identifiers.
    eng = app_as(rt, role("engineer")).get("/console/tasks")
    assert eng.status_code == 200 and "/reveal" not in eng.text
    assert "complete-task" in eng.text
    assert (
        "/console/tasks/dsr-t/reveal" not in app_as(rt, role("auditor")).get("/console/tasks").text
    )
    refused = app_as(rt, role("engineer")).post(
        "/console/tasks/dsr-t/reveal", data={"csrf": CSRF, "reason": "ticket 7"}
    )
    assert refused.status_code == 403 and SUBJECT not in refused.text


def test_staff_intake_submits_through_submit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(tmp_path)
    fake = fake_temporal(rt, monkeypatch)
    intake = app_as(rt, role("intake"))
    form = intake.get("/console/requests/new")
    assert form.status_code == 200
    checked(form)
    r = intake.post("/console/requests/new", data={
        "csrf": CSRF, "type": "erasure", "regulation": "gdpr", "email": f" {SUBJECT}\n",
        "identity": "", "changes": "", "case_ref": "CASE-9"})  # fmt: skip
    assert r.status_code == 200
    checked(r)
    [inp] = fake.submitted
    assert [i.value for i in inp.identities] == [SUBJECT] and inp.case_ref == "CASE-9"
    assert f'href="/console/requests/{inp.request_id}"' in r.text
    assert [e.action for e in rt.ledger.audit_entries()] == ["submit"]
    put(rt, inp.request_id)  # its workflow's first projection
    put(rt, "dsr-unrelated")
    found = intake.get("/console/?case=CASE-9").text
    assert re.findall(r'data-request="([^"]+)"', found) == [inp.request_id]
    assert 'name="case" value="CASE-9"' in found
    assert "data-request" not in intake.get("/console/?case=CASE-8").text
    rectify = {"csrf": CSRF, "type": "rectification", "email": SUBJECT, "case_ref": "CASE-10"}
    bad = intake.post("/console/requests/new", data=rectify)
    assert bad.status_code == 400 and "--set FIELD=VALUE is required" in bad.text
    assert SUBJECT not in bad.text and 'value="CASE-10"' in bad.text  # no identifier echoed
    assert len(fake.submitted) == 1
    for who in ("approver", "engineer", "auditor"):
        c = app_as(rt, role(who))
        assert c.get("/console/requests/new").status_code == 403
        sent = {"csrf": CSRF, "type": "access", "email": SUBJECT}
        assert c.post("/console/requests/new", data=sent).status_code == 403
    assert 'href="/console/requests/new"' not in app_as(rt, role("approver")).get("/console/").text


def test_a_refused_submission_leaves_no_case_reference(tmp_path: Path) -> None:
    import asyncio

    from dsrflow.ledger.models import RequestCaseRow
    from dsrflow.requests_client import SubmitRefused
    from dsrflow.service.intake import Submit, SubmitCommand

    class Refusing:
        async def submit(self, inp: object) -> None:
            raise SubmitRefused("already exists and has ended")

    rt = runtime(tmp_path)
    use_case = Submit(rt)
    who = role("intake")
    inp = use_case.check(who, SubmitCommand("access", [SUBJECT], case_ref="CASE-1"))
    with pytest.raises(SubmitRefused):
        asyncio.run(use_case.run(who, inp, Refusing()))  # type: ignore[arg-type]
    with rt.ledger.session() as s:
        assert s.get(RequestCaseRow, inp.request_id) is None

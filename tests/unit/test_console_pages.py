"""The console's staff pages: inbox (order, highlights, counts, filters, paging, subject search),
the request page (what each role is offered), progress JSON, downloads per role; every page
under the page CSP with no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

from dsrflow.domain import HumanAction, RequestStatus, RequestType, StoreStatus
from dsrflow.ledger import subjects
from dsrflow.ledger.models import RequestRow
from dsrflow.service.intake import parse_identities
from tests.unit.api_kit import finished_request
from tests.unit.console_pages_kit import (
    CSRF,
    NOW,
    PAGE_CSP,
    app_as,
    checked,
    put,
    role,
    runtime,
)

S = RequestStatus


def ids_in_order(html: str) -> list[str]:
    return re.findall(r'data-request="([^"]+)"', html)


def test_inbox_orders_by_due_date_highlights_and_counts(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-late", due_in_days=-3, overdue=True)
    put(rt, "dsr-soon", due_in_days=2, status=S.NEEDS_ATTENTION)
    put(rt, "dsr-later", due_in_days=25)
    put(rt, "dsr-nodue", due_in_days=None)
    put(rt, "dsr-ended", status=S.COMPLETED, due_in_days=-30, ended_days_ago=1)
    c = app_as(rt, role("analyst"))
    r = c.get("/console/")
    assert r.status_code == 200
    checked(r)
    html = r.text
    assert ids_in_order(html) == ["dsr-late", "dsr-soon", "dsr-later", "dsr-nodue", "dsr-ended"]
    late = re.search(r'<tr class="([^"]*)" data-request="dsr-late"', html)
    soon = re.search(r'<tr class="([^"]*)" data-request="dsr-soon"', html)
    later = re.search(r'<tr class="([^"]*)" data-request="dsr-later"', html)
    assert late and "row-overdue" in late.group(1)
    assert soon and "row-attention" in soon.group(1)
    assert later and "row-overdue" not in later.group(1) and "row-attention" not in later.group(1)
    assert "3 days overdue" in html
    counts = dict(re.findall(r'<li class="count-([a-z_]+)[^"]*">.*?<strong>(\d+)</strong>', html))
    assert counts == {"completed": "1", "needs_attention": "1", "running": "3", "overdue": "1"}
    assert not rt.ledger.audit_entries()  # a list shows ids and statuses: not a view


def test_inbox_filters_and_pages(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    for i in range(30):
        put(rt, f"dsr-{i:02d}", due_in_days=i + 1, kind=RequestType.ACCESS)
    put(rt, "dsr-ccpa", kind=RequestType.ERASURE, regulation="ccpa", due_in_days=50)
    put(rt, "dsr-att", kind=RequestType.ERASURE, status=S.NEEDS_ATTENTION, due_in_days=60)
    put(rt, "dsr-od", kind=RequestType.EXPORT, overdue=True, due_in_days=-1)
    c = app_as(rt, role("approver"))
    first = c.get("/console/?status=&type=access&regulation=&overdue=&needs_attention=")
    assert first.status_code == 200
    assert ids_in_order(first.text) == [f"dsr-{i:02d}" for i in range(25)]
    assert "30 requests; page 1 of 2" in first.text
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert nxt is not None
    second = c.get(nxt.group(1).replace("&amp;", "&"))
    assert ids_in_order(second.text) == [f"dsr-{i:02d}" for i in range(25, 30)]
    assert ids_in_order(c.get("/console/?regulation=ccpa").text) == ["dsr-ccpa"]
    assert ids_in_order(c.get("/console/?needs_attention=1").text) == ["dsr-att"]
    assert ids_in_order(c.get("/console/?status=needs-attention").text) == ["dsr-att"]
    assert ids_in_order(c.get("/console/?overdue=1").text) == ["dsr-od"]
    assert ids_in_order(c.get("/console/?type=export&overdue=1").text) == ["dsr-od"]
    bad = c.get("/console/?type=nonsense")
    assert bad.status_code == 400 and "--type" in bad.text and "Traceback" not in bad.text
    checked(bad)
    unknown = c.get("/console/?staus=running")  # a typo never widens the list silently
    assert unknown.status_code == 400
    r = c.get("/console/?page=zero")
    assert r.status_code == 400 and "page: a whole number" in r.text
    checked(r)


def test_search_by_subject_email_is_posted_and_audited_without_the_address(
    tmp_path: Path,
) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-wanda")
    put(rt, "dsr-other")
    tokens = rt.journal.blind_index(parse_identities(["Wanda.Subject@Example.org"], []))
    subjects.add(rt.ledger, "dsr-wanda", tokens)
    c = app_as(rt, role("analyst"))
    r = c.post("/console/search", data={"csrf": CSRF, "email": " wanda.subject@example.org "})
    assert r.status_code == 200
    checked(r)
    assert ids_in_order(r.text) == ["dsr-wanda"]
    assert "wanda.subject" not in r.text  # the page does not echo the address
    [entry] = rt.ledger.audit_entries()
    assert entry.action == "search" and "wanda" not in str(entry.detail).lower()
    empty = c.post("/console/search", data={"csrf": CSRF, "email": ""})
    assert empty.status_code == 400 and "subject e-mail: required" in empty.text


def test_request_page_summary_actions_audit_and_live_progress(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    act = HumanAction(1, NOW, "staff:bob", "identity_verified", None, "method=document_check")
    put(rt, "dsr-1", status=S.AWAITING_APPROVAL, due_in_days=-2, overdue=True, actions=[act],
        stores={"shop": StoreStatus.PENDING, "crm": StoreStatus.WAITING_FOR_HUMAN})  # fmt: skip
    c = app_as(rt, role("analyst"))
    r = c.get("/console/requests/dsr-1")
    assert r.status_code == 200
    checked(r)
    html = r.text
    assert "awaiting approval" in html and "2 days overdue" in html
    assert "staff:bob" in html and "method=document_check" in html
    assert 'data-progress-url="/console/requests/dsr-1/progress"' in html
    assert 'href="/console/requests/dsr-1" id="refresh"' in html  # works without the script
    assert '<script src="/console/static/console.js"' in html
    assert [e.action for e in rt.ledger.audit_entries()] == ["view"]  # the page is a view
    assert re.search(r'<table id="audit">.*staff:analyst-1.*view', html, re.S)
    p = c.get("/console/requests/dsr-1/progress")
    assert p.status_code == 200 and p.headers["content-type"] == "application/json"
    body = p.json()
    assert body["status"] == "awaiting_approval" and body["overdue"] and not body["terminal"]
    assert {s["store"]: s["status"] for s in body["stores"]} == {
        "crm": "waiting_for_human", "shop": "pending"}  # fmt: skip
    assert len(rt.ledger.audit_entries()) == 1  # polling is not a view
    assert c.get("/console/requests/dsr-nope/progress").status_code == 404
    js = c.get("/console/static/console.js")
    assert js.status_code == 200 and "textContent" in js.text and "innerHTML" not in js.text


def forms(html: str) -> set[str]:
    return set(re.findall(r'data-decision="([a-z_]+)"', html))


def test_each_role_is_offered_exactly_what_it_may_do(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-wait", status=S.AWAITING_APPROVAL,
        stores={"shop": StoreStatus.FAILED_NEEDS_ATTENTION,
                "crm": StoreStatus.WAITING_FOR_HUMAN})  # fmt: skip
    approver = app_as(rt, role("approver")).get("/console/requests/dsr-wait").text
    assert forms(approver) == {"approve", "deny", "extend", "cancel", "hold", "exempt_store"}
    assert 'action="/console/requests/dsr-wait/approve"' in approver
    assert 'action="/console/requests/dsr-wait/reveal"' not in approver  # may not reveal
    analyst = app_as(rt, role("analyst")).get("/console/requests/dsr-wait").text
    assert forms(analyst) == {"extend", "cancel", "retry_store", "skip_store", "complete_task"}
    assert 'action="/console/requests/dsr-wait/reveal"' in analyst
    assert 'action="/console/requests/dsr-wait/stores/crm/complete-task"' in analyst
    auditor = app_as(rt, role("auditor")).get("/console/requests/dsr-wait")
    checked(auditor)
    assert forms(auditor.text) == set() and "/reveal" not in auditor.text
    # An engineer reads no request (no subject data, no decision): an HTML refusal.
    eng = app_as(rt, role("engineer")).get("/console/requests/dsr-wait")
    assert eng.status_code == 403 and "may not view" in eng.text
    checked(eng)
    assert forms(eng.text) == set()
    # An ended request offers no decision to anyone.
    put(rt, "dsr-gone", status=S.CANCELLED, ended_days_ago=1)
    assert forms(app_as(rt, role("admin")).get("/console/requests/dsr-gone").text) == set()
    # Verification is offered only while the request waits for it; release only under hold.
    hold = HumanAction(1, NOW, "staff:a", "hold", None, "litigation")
    put(rt, "dsr-held", status=S.AWAITING_VERIFICATION, actions=[hold])
    admin = forms(app_as(rt, role("admin")).get("/console/requests/dsr-held").text)
    assert {"verify_identity", "deny", "release"} <= admin and "hold" not in admin
    assert "approve" not in admin


def test_downloads_follow_the_policy(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    finished_request(rt, "dsr-done")
    with rt.ledger.session() as s:  # an access request: it delivers a package
        row = s.get(RequestRow, "dsr-done")
        assert row is not None
        row.type = "access"
    auditor = app_as(rt, role("auditor"))
    page = auditor.get("/console/requests/dsr-done").text
    links = set(re.findall(r'href="/console/requests/dsr-done/([a-z]+)"', page))
    assert links == {"bundle", "certificate"}  # evidence only: no subject data
    assert auditor.get("/console/requests/dsr-done/bundle").status_code == 200
    refused = auditor.get("/console/requests/dsr-done/package")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    analyst = app_as(rt, role("analyst"))
    page = analyst.get("/console/requests/dsr-done").text
    links = set(re.findall(r'href="/console/requests/dsr-done/([a-z]+)"', page))
    assert links == {"package", "opening", "bundle", "certificate"}
    pkg = analyst.get("/console/requests/dsr-done/package")
    assert pkg.status_code == 200 and pkg.headers["content-type"] == "application/zip"
    downloads = [e for e in rt.ledger.audit_entries() if e.action == "download"]
    assert [e.actor for e in downloads] == ["staff:auditor-1", "staff:analyst-1"]
    put(rt, "dsr-open")
    early = analyst.get("/console/requests/dsr-open/bundle")
    assert early.status_code == 409 and "has not finished" in early.text


def test_every_page_carries_the_page_csp_and_no_inline_code(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-1", stores={"crm": StoreStatus.WAITING_FOR_HUMAN})
    finished_request(rt, "dsr-done")
    c = app_as(rt, role("admin"))
    pages = ["/console/", "/console/requests/dsr-1", "/console/requests/dsr-done",
             "/console/tasks", "/console/dashboard", "/console/requests/new",
             "/console/requests/dsr-nope", "/console/?status=bad"]  # fmt: skip
    for url in pages:
        r = c.get(url)
        assert r.headers["content-security-policy"].startswith(PAGE_CSP), url
        checked(r)


def test_every_staff_route_declares_a_policy_use_case_and_posts_check_csrf() -> None:
    from fastapi.routing import APIRoute, iter_route_contexts

    from dsrflow.api.context import USE_CASE
    from dsrflow.console.pages import router
    from dsrflow.console.session import require_csrf
    from dsrflow.service.principal import DEFAULT_POLICY

    routes = list(iter_route_contexts(router.routes))
    assert len(routes) >= 25
    for ctx in routes:
        assert ctx.path.startswith("/console/"), ctx.path
        assert (ctx.openapi_extra or {}).get(USE_CASE) in DEFAULT_POLICY, ctx.path
        assert isinstance(ctx.original_route, APIRoute)
        checks = {d.call for d in ctx.original_route.dependant.dependencies}
        assert (require_csrf in checks) == ("POST" in ctx.methods), ctx.path

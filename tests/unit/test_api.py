"""The HTTP API over the application layer: requests, decisions, downloads, the audit log,
errors as one line of JSON, and Temporal unreachable as 503 (in process, temporary ledger)."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from dsrflow.domain import RequestStatus
from dsrflow.ledger.models import RequestRow
from tests.unit.api_kit import (
    EXAMPLE_BUNDLE,
    SUBJECT_EMAIL,
    api_runtime,
    auth,
    client,
    finished_request,
    one_line_error,
    token,
)
from tests.unit.service_kit import project

API = "/api/v1"
DSRFLOW = Path(__file__).parents[2] / "dsrflow"


@pytest.fixture
def rt(tmp_path: Path):
    rt = api_runtime(tmp_path)
    yield rt
    rt.ledger.close()


def test_the_api_is_thin_no_audit_call_and_no_ledger_row_in_it() -> None:
    for path in [*(DSRFLOW / "api" / "routes").glob("*.py"), DSRFLOW / "api" / "context.py",
                 DSRFLOW / "api" / "app.py"]:  # fmt: skip
        source = path.read_text()
        assert "audit(" not in source, path.name
        assert not re.search(r"\bledger\.\w+\(", source), path.name


def test_openapi_document_is_served_and_names_every_error(rt) -> None:
    doc = client(rt).get(f"{API}/openapi.json").json()
    assert doc["info"]["title"] == "dsrflow API"
    approve = doc["paths"][f"{API}/requests/{{request_id}}/approve"]["post"]
    assert approve["x-dsrflow-use-case"] == "approve" and approve["security"] == [{"token": []}]
    assert {"400", "401", "403", "409", "415", "503"} <= set(approve["responses"])
    assert "422" not in approve["responses"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_list_filters_by_status_type_regulation_due_date_and_overdue(rt) -> None:
    project(rt, "dsr-run", RequestStatus.RUNNING)
    project(rt, "dsr-att", RequestStatus.NEEDS_ATTENTION)
    project(rt, "dsr-late", RequestStatus.RUNNING)
    project(rt, "dsr-done-late", RequestStatus.COMPLETED, ended_days_ago=1)
    now = datetime.now(UTC)
    with rt.ledger.session() as s:
        for rid in ("dsr-late", "dsr-done-late"):
            row = s.get(RequestRow, rid)
            row.overdue, row.due_at = True, now - timedelta(days=3)
        s.get(RequestRow, "dsr-att").type = "access"
        s.get(RequestRow, "dsr-run").regulation = "ccpa"
    c, h = client(rt), auth(token(rt, "analyst"))

    def ids(query: str) -> set[str]:
        r = c.get(f"{API}/requests?{query}", headers=h)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()}

    assert ids("") == {"dsr-run", "dsr-att", "dsr-late", "dsr-done-late"}
    assert ids("status=needs-attention") == ids("needs_attention=true") == {"dsr-att"}
    assert ids("status=overdue") == ids("overdue=true") == {"dsr-late"}  # open and late only
    assert ids("type=access") == {"dsr-att"}
    assert ids("type=erasure&status=running") == {"dsr-run", "dsr-late"}
    assert ids("regulation=ccpa") == {"dsr-run"}
    assert ids(f"due_before={(now - timedelta(days=1)):%Y-%m-%d}") == {"dsr-late", "dsr-done-late"}
    assert ids("limit=1") and len(ids("limit=1")) == 1

    for query, message in (
        ("status=bogus", r"--status: 'bogus' is not one of received, "),
        ("type=party", "--type: 'party' is not one of access"),
        ("due_before=tomorrow", "--due-before: expected a date YYYY-MM-DD"),
        ("needs_attention=true&status=running", "needs_attention: cannot be combined"),
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("staus=running", "unknown query parameter.*takes: due_before, limit, needs_attention"),
    ):
        r = c.get(f"{API}/requests?{query}", headers=h)
        assert r.status_code == 400 and re.search(message, one_line_error(r)), (query, r.text)


def test_show_returns_state_history_and_the_folded_audit_trail(rt) -> None:
    project(rt, "dsr-a", reason="halted", detail="driver said no")
    c, h = client(rt), auth(token(rt, "analyst", actor="staff:ann"))
    for _ in range(3):
        r = c.get(f"{API}/requests/dsr-a", headers=h)
        assert r.status_code == 200, r.text
    report = r.json()
    assert report["request"]["status"] == "running" and report["request"]["reason"] == "halted"
    assert report["request"]["stores"][0]["error"] == "driver said no"
    assert [(a["actor"], a["action"]) for a in report["actions"]] == [("staff:bob", "approved")]
    views = [x for x in report["audit"] if x["action"] == "view"]
    assert [(v["actor"], v["count"]) for v in views] == [("staff:ann", 3)]
    every = c.get(f"{API}/requests/dsr-a?all=true", headers=h).json()["audit"]
    assert [x["count"] for x in every if x["action"] == "view"] == [1, 1, 1, 1]


def test_bad_ids_unknown_requests_and_bad_bodies_are_one_line_errors(rt) -> None:
    c, h = client(rt), auth(token(rt, "admin"))
    r = c.get(f"{API}/requests/[b]x", headers=h)
    assert r.status_code == 400 and (
        "request id: not a request id; use 1-80 letters" in one_line_error(r)
        and "[b]x" not in r.text
    )
    r = c.get(f"{API}/requests/dsr-nope", headers=h)
    assert r.status_code == 404 and one_line_error(r) == "request dsr-nope: not in the ledger"
    r = c.post(f"{API}/requests/dsr-a/approve", headers=h, json={"reason": "x", "extra": 1})
    assert r.status_code == 400 and "extra: Extra inputs are not permitted" in one_line_error(r)
    # Checked as the CLI checks it, before Temporal is contacted.
    r = c.post(f"{API}/requests/dsr-a/cancel", headers=h, json={"reason": " "})
    assert r.status_code == 400 and one_line_error(r) == "--reason: required"
    r = c.post(f"{API}/requests/dsr-a/approve", headers=h, json={"reason": "a\x1b[31mb"})
    assert r.status_code == 400 and "control or formatting character U+001B" in one_line_error(r)
    r = c.post(f"{API}/requests/dsr-a/stores/[x]/retry", headers=h, json={})
    assert r.status_code == 400 and one_line_error(r).startswith("STORE '[x]': not a name")
    r = c.post(f"{API}/requests", headers=h, json={"type": "erasure", "identities": [
        {"kind": "email", "value": "not-an-address"}]})  # fmt: skip
    assert r.status_code == 400 and one_line_error(r) == "--email: not an e-mail address"
    assert SUBJECT_EMAIL not in r.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "requests",
            {"type": "erasure", "identities": [{"kind": "email", "value": "a@b.example"}]},
        ),
        ("requests/dsr-a/approve", {}),
        ("requests/dsr-a/verify-identity", {"method": "email_link"}),
        ("requests/dsr-a/stores/shop/complete-task", {"outcome": "not_found"}),
    ],
)
def test_temporal_unreachable_is_503_in_one_line(rt, path: str, body: dict) -> None:
    r = client(rt).post(f"{API}/{path}", headers=auth(token(rt, "admin")), json=body)
    assert r.status_code == 503
    assert one_line_error(r) == "cannot reach Temporal; try again later"  # no address
    assert "a@b.example" not in r.text
    assert not [e for e in rt.ledger.audit_entries() if e.action in ("submit", "approve")]


def test_downloads_are_audited_and_evidence_only_for_auditors(rt, tmp_path: Path) -> None:
    finished_request(rt, "dsr-done")
    project(rt, "dsr-open", RequestStatus.RUNNING)
    c = client(rt)
    analyst = auth(token(rt, "analyst", actor="staff:ann"))
    auditor = auth(token(rt, "auditor", actor="staff:aud"))

    r = c.get(f"{API}/requests/dsr-done/package", headers=analyst)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert 'filename="dsr-done-access-package.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert SUBJECT_EMAIL in zf.read("access-package.json").decode()
    r = c.get(f"{API}/requests/dsr-done/opening", headers=analyst)
    assert r.status_code == 200 and SUBJECT_EMAIL in r.text
    r = c.get(f"{API}/requests/dsr-done/bundle", headers=auditor)
    assert r.status_code == 200 and r.content == EXAMPLE_BUNDLE.read_bytes()
    r = c.get(f"{API}/requests/dsr-done/certificate", headers=auditor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "attachment" in r.headers["content-disposition"]
    for which in ("package", "opening"):
        r = c.get(f"{API}/requests/dsr-done/{which}", headers=auditor)
        assert r.status_code == 403 and "staff:aud may not download" in one_line_error(r)
    r = c.get(f"{API}/requests/dsr-open/bundle", headers=analyst)
    assert r.status_code == 409 and "has not finished (running)" in one_line_error(r)
    r = c.get(f"{API}/requests/dsr-nope/bundle", headers=analyst)
    assert r.status_code == 404

    downloads = [(e.actor, e.detail["files"]) for e in rt.ledger.audit_entries("dsr-done")
                 if e.action == "download"]  # fmt: skip
    assert downloads == [
        ("staff:ann", ["dsr-done-access-package.zip"]),
        ("staff:ann", ["dsr-done-subject-opening.json"]),
        ("staff:aud", ["dsr-done-evidence-bundle.zip"]),
        ("staff:aud", ["dsr-done-certificate.html"]),
    ]
    # Streamed as decrypted: no plaintext copy of the subject's data is left on disk.
    files = [p for p in rt.settings.state_dir.rglob("*") if p.is_file()]
    assert "access-package.zip.enc" in {p.name for p in files}, files  # the search has data
    assert not [p for p in files if SUBJECT_EMAIL.encode() in p.read_bytes()]


def test_audit_export_streams_jsonl_and_csv_and_is_audited(rt) -> None:
    project(rt, "dsr-a")
    c, h = client(rt), auth(token(rt, "auditor", actor="staff:aud"))
    c.get(f"{API}/requests/dsr-a", headers=h)
    r = c.get(f"{API}/audit/export", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["action"] for x in lines][-2:] == ["view", "audit.export"]
    assert all(len(x["entry_hash"]) == 64 for x in lines)
    r = c.get(f"{API}/audit/export?format=csv&since=2000-01-01", headers=h)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.headers["content-type"].startswith("text/csv") and rows[-1]["action"] == "audit.export"
    r = c.get(f"{API}/audit/export?since=3000-01-01", headers=h)
    assert [json.loads(x)["action"] for x in r.text.splitlines()] == []
    r = c.get(f"{API}/audit/export?format=xml", headers=h)
    assert r.status_code == 400 and "--format: 'xml' is not one of jsonl, csv" in one_line_error(r)
    r = c.get(f"{API}/audit/export", headers=auth(token(rt, "analyst")))
    assert r.status_code == 403


def test_audit_verify_reports_the_chain(rt) -> None:
    project(rt, "dsr-a")
    c, h = client(rt), auth(token(rt, "auditor"))
    r = c.post(f"{API}/audit/verify", headers=h, json={})
    verdict = r.json()
    assert r.status_code == 200 and verdict["ok"] is True and verdict["problem"] is None
    assert verdict["entries"] == len(rt.ledger.audit_entries()) >= 1
    rt.keys.ensure(rt.settings.controller)
    r = c.post(f"{API}/audit/verify", headers=h, json={"checkpoint": "not a checkpoint"})
    assert r.status_code == 400 and one_line_error(r).startswith("checkpoint: ")
    with rt.ledger.engine.begin() as conn:  # someone with the database edits an entry
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'staff:mallory' WHERE seq = 1"))
    broken = c.post(f"{API}/audit/verify", headers=h, json={}).json()
    assert broken["ok"] is False and "entry 1" in broken["problem"]


def test_metrics_count_per_status_and_type_and_overdue(rt) -> None:
    project(rt, "dsr-a", RequestStatus.RUNNING)
    project(rt, "dsr-b", RequestStatus.RUNNING)
    project(rt, "dsr-c", RequestStatus.COMPLETED, ended_days_ago=2)
    with rt.ledger.session() as s:
        s.get(RequestRow, "dsr-b").overdue = True
        s.get(RequestRow, "dsr-c").overdue = True  # ended: no longer counted as overdue
        s.get(RequestRow, "dsr-c").type = "access"
    r = client(rt).get(f"{API}/metrics", headers=auth(token(rt, "approver")))
    assert r.json() == {
        "total": 3, "by_status": {"running": 2, "completed": 1},
        "by_type": {"erasure": 2, "access": 1}, "overdue": 1,
    }  # fmt: skip

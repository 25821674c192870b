"""``POST /api/v1/batches`` and ``GET /api/v1/batches/{id}`` without Temporal: who may, and
every malformed body refused in one line naming the member and field, before Temporal is
contacted (a valid body then gets 503 here). The happy path runs against a real Temporal in
``tests/e2e/test_batch_erasure.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.api_kit import api_runtime, auth, client, one_line_error, token

API = "/api/v1"
SHAPE = "expected text (1-1000 characters) or a list of 1-20 of them"
GOOD = {"members": [{"email": "ann@example.org"}, {"email": "ben@example.org"}]}


@pytest.fixture
def rt(tmp_path: Path):
    rt = api_runtime(tmp_path)
    yield rt
    rt.ledger.close()


def audited(rt: Any) -> list[str]:
    return [e.action for e in rt.ledger.audit_entries() if e.action in ("submit", "submit_batch")]


def test_a_caller_who_may_not_submit_is_refused_and_nothing_is_audited(rt) -> None:
    c = client(rt)
    for role in ("auditor", "approver", "engineer", "controller"):
        r = c.post(f"{API}/batches", headers=auth(token(rt, role)), json=GOOD)
        assert r.status_code == 403, (role, r.text)
        assert one_line_error(r).startswith(f"staff:{role} may not submit (needs one of")
    r = c.post(f"{API}/batches", json=GOOD)
    assert r.status_code == 401
    r = c.get(f"{API}/batches/batch-20260101-00000000", headers=auth(token(rt, "controller")))
    assert r.status_code == 403
    assert one_line_error(r).startswith("staff:controller may not list")
    assert audited(rt) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"members": [{"email": "ann@example.org"}, {"email": "not-an-address"}]},
            "members.1.email: not an e-mail address",
        ),
        (
            {
                "members": [
                    {"email": "ann@example.org"},
                    {"phone": "+44 20 7946 0000", "email": "ANN@example.org"},
                ]
            },
            None,
        ),  # accepted (two identifiers: another subject); 503 below
        (
            {
                "members": [
                    {"email": "ann@example.org"},
                    {"email": "b@example.org"},
                    {"email": "Ann@Example.org"},
                ]
            },
            "members.2: the same subject as members.0",
        ),
        ({"members": [{"email": "ann@example.org"}, {}]}, "members.1: no identifier (e.g. email)"),
        ({"members": [{"email": ["ann@example.org", ""]}]}, f"members.0.email: {SHAPE}"),
        ({"members": [{"email": 5}]}, f"members.0.email: {SHAPE}"),
        ({"members": [{"email": []}]}, f"members.0.email: {SHAPE}"),
        (
            {"members": [{"Email!": "ann@example.org"}]},
            "members.0.[key]: String should match pattern '^[a-z][a-z0-9_]{0,39}$'",
        ),
        ({"members": []}, "members: List should have at least 1 item after validation, not 0"),
        (
            {"members": [{"email": f"s{i}@example.org"} for i in range(1001)]},
            "members: List should have at most 1000 items after validation, not 1001",
        ),
        ({**GOOD, "chunk_size": 0}, "chunk_size: Input should be greater than or equal to 1"),
        ({**GOOD, "subjects": []}, "subjects: Extra inputs are not permitted"),
        ({"members": "ann@example.org"}, "members: Input should be a valid list"),
    ],
)
def test_a_malformed_body_is_one_line_naming_the_member_and_field(rt, body, error) -> None:
    r = client(rt).post(f"{API}/batches", headers=auth(token(rt, "intake")), json=body)
    if error is None:
        assert r.status_code == 503, r.text  # checked, then Temporal (nobody runs it here)
    else:
        assert r.status_code == 400, r.text
        assert one_line_error(r) == error
    assert "ann@example.org" not in r.text.lower() and "not-an-address" not in r.text
    assert audited(rt) == []


def test_a_body_over_the_size_limit_is_413_and_a_valid_one_reaches_temporal(rt) -> None:
    c, h = client(rt), auth(token(rt, "intake"))
    big = {"members": [{"email": f"subject.{i:04d}.{'x' * 40}@example.org"} for i in range(1000)]}
    r = c.post(f"{API}/batches", headers=h, json=big)
    assert r.status_code == 413  # DSRFLOW_API_MAX_BODY_BYTES (64 KiB by default)
    r = c.post(f"{API}/batches", headers=h, json=GOOD)
    assert r.status_code == 503 and one_line_error(r) == "cannot reach Temporal; try again later"
    r = c.get(f"{API}/batches/[b]x", headers=h)
    assert r.status_code == 400 and one_line_error(r).startswith("batch id: not a request id")
    assert audited(rt) == []

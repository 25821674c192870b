"""Property-based: the console's staff forms take any field values without a 5xx or a trace.

Issue 14, build item 2 (console payloads). As an admin (every use case allowed, so the form's
own checks are reached, not the role check) Hypothesis posts arbitrary fields, repeated or
missing, to the decision forms, staff intake and the subject search. Every answer is below
500, keeps the security headers, never shows a submitted e-mail address or raw markup.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsrflow.domain import RequestStatus
from tests.unit.console_pages_kit import CSRF, app_as, fake_temporal, put, role, runtime

MARK = "<zq'\"&"
VALUE = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),
    st.sampled_from(["\x00", "\u202e", "a@b.io", "2", "-1", "99999999999999999999", "x" * 5000]),
).map(lambda v: MARK + v)
NAMES = ["csrf", "reason", "amount", "unit", "email", "identity", "type", "regulation", "x"]
ROUTES = [
    "/console/requests/dsr-1/approve",
    "/console/requests/dsr-1/deny",
    "/console/requests/dsr-1/extend",
    "/console/requests/dsr-1/cancel",
    "/console/requests/new",
    "/console/search",
]
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def test_staff_forms_take_any_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = runtime(tmp_path)
    put(rt, "dsr-1", status=RequestStatus.AWAITING_APPROVAL)
    fake_temporal(rt, monkeypatch)
    web = app_as(rt, role("admin"))

    @settings(max_examples=40)
    @given(
        route=st.sampled_from(ROUTES),
        fields=st.lists(st.tuples(st.sampled_from(NAMES), VALUE), max_size=8),
        with_csrf=st.booleans(),
    )
    def run(route: str, fields: list[tuple[str, str]], with_csrf: bool) -> None:
        pairs = ([("csrf", CSRF)] if with_csrf else []) + fields
        body = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
        r = web.post(
            route, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code < 500, r.text[:300]
        for name, value in HEADERS.items():
            assert r.headers.get(name) == value, name
        assert "Traceback" not in r.text and MARK not in r.text
        for name, value in fields:
            if name == "email" and len(value) > len(MARK) + 3:
                assert value not in r.text and html.escape(value) not in r.text

    run()
    # The role reaches the forms (the properties above did not all stop at an authorisation).
    ok = web.post("/console/search", data={"csrf": CSRF, "email": "nobody@example.org"})
    assert ok.status_code == 200, ok.text[:300]

"""Property-based: the HTML forms take any field values without a 5xx, an echo or lost headers.

Issue 14, build item 2 (API payloads, the browser side). Hypothesis draws every field of the
privacy center's request form, its verification link and the console's sign-in form: any
Unicode, control characters, strings past every limit, fields repeated or missing. Whatever
arrives: the answer is below 500, carries the security headers, never shows the submitted
address (nor, anywhere, a value raw enough to inject markup) and never a traceback.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.console_kit import browser, console_app, console_runtime, form_csrf
from tests.unit.privacy_kit import center, csrf_of

MARK = "<zq'\"&"
"""Put into every drawn value: it must come back escaped or not at all."""
VALUE = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),
    st.sampled_from(["\x00", "\u202e", "\ud7ff", "\ufeff", "a@b.io", "gdpr", "x" * 5000]),
).map(lambda v: MARK + v)
FIELDS = st.lists(
    st.tuples(st.sampled_from(["email", "name", "details", "regulation", "csrf", "x"]), VALUE),
    max_size=8,
)
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}
BUDGET = settings(max_examples=40)


def checked(response, sent: list[tuple[str, str]]) -> None:
    assert response.status_code < 500, response.text[:300]
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "content-security-policy" in response.headers
    body = response.text
    assert "Traceback" not in body and MARK not in body
    for name, value in sent:
        if name == "email" and len(value) > len(MARK) + 3:
            assert value not in body and html.escape(value) not in body, "the address echoed"


def post(web: TestClient, url: str, pairs: list[tuple[str, str]]):
    body = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
    return web.post(
        url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


def test_the_request_form_takes_any_fields(tmp_path: Path) -> None:
    _, _, web = center(
        tmp_path, DSRFLOW_INTAKE_RATE_PER_EMAIL="100000", DSRFLOW_INTAKE_RATE_PER_CLIENT="100000"
    )
    token = csrf_of(web.get("/privacy/request/access").text)

    @BUDGET
    @given(fields=FIELDS, with_csrf=st.booleans(), rtype=st.sampled_from(["access", "erasure"]))
    def run(fields: list[tuple[str, str]], with_csrf: bool, rtype: str) -> None:
        pairs = ([("csrf", token)] if with_csrf else []) + fields
        checked(post(web, f"/privacy/request/{rtype}", pairs), fields)

    run()


def test_the_verification_link_takes_any_token(tmp_path: Path) -> None:
    _, _, web = center(tmp_path)
    token = csrf_of(web.get("/privacy/request/access").text)

    @BUDGET
    @given(link=VALUE, fields=FIELDS)
    def run(link: str, fields: list[tuple[str, str]]) -> None:
        url = "/privacy/verify/" + quote(link.encode("utf-8", "surrogatepass"), safe="")
        checked(web.get(url), [])
        checked(post(web, url, [("csrf", token), *fields]), fields)

    run()


def test_the_sign_in_form_takes_any_fields(tmp_path: Path) -> None:
    web = browser(console_app(console_runtime(tmp_path)))
    token = form_csrf(web.get("/console/login").text)

    @BUDGET
    @given(
        fields=st.lists(
            st.tuples(st.sampled_from(["username", "password", "next", "csrf"]), VALUE),
            max_size=6,
        ),
        with_csrf=st.booleans(),
    )
    def run(fields: list[tuple[str, str]], with_csrf: bool) -> None:
        pairs = ([("csrf", token)] if with_csrf else []) + fields
        response = post(web, "/console/login", pairs)
        checked(response, [])
        for name, value in fields:
            if name == "password":
                assert value not in response.text and html.escape(value) not in response.text
        if response.status_code in (302, 303):
            where = response.headers["location"]
            assert where.startswith("/") and not where.startswith(("//", "/\\")), where

    run()

"""Every API answer carries the security headers; bodies are capped and must be JSON; failed
sign-ins are rate-limited; an unexpected exception is a generic 500 line, never a trace."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dsrflow.service.reads import ReadMetrics
from tests.unit.api_kit import (
    SECURITY_HEADERS,
    api_runtime,
    auth,
    client,
    one_line_error,
    token,
)

API = "/api/v1"


@pytest.fixture
def rt(tmp_path: Path):
    rt = api_runtime(tmp_path, DSRFLOW_API_MAX_BODY_BYTES="2048", DSRFLOW_API_AUTH_FAILURES="3")
    yield rt
    rt.ledger.close()


def hardened(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)


def test_every_kind_of_answer_carries_the_security_headers(rt) -> None:
    c, h = client(rt), auth(token(rt, "admin"))
    answers = [
        c.get(f"{API}/openapi.json"),
        c.get(f"{API}/metrics", headers=h),  # 200
        c.get(f"{API}/metrics"),  # 401
        c.get(f"{API}/requests/dsr-x", headers=h),  # 404 from the use case
        c.get("/nowhere"),  # 404 from the router
        c.delete(f"{API}/metrics", headers=h),  # 405
        c.post(f"{API}/audit/verify", headers=h, content=b"{}"),  # 415: no content type
        c.post(f"{API}/requests/dsr-x/approve", headers=h, json={}),  # 503: no Temporal
    ]
    assert [r.status_code for r in answers] == [200, 200, 401, 404, 404, 405, 415, 503]
    for r in answers:
        hardened(r)
        assert "strict-transport-security" not in r.headers  # plain HTTP


def test_hsts_only_over_tls(rt) -> None:
    r = client(rt, base_url="https://testserver").get(f"{API}/openapi.json")
    hardened(r)
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_post_bodies_must_be_json(rt) -> None:
    c, h = client(rt), auth(token(rt, "admin"))
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""):
        r = c.post(f"{API}/audit/verify", headers={**h, "Content-Type": ctype}, content=b"{}")
        assert r.status_code == 415, ctype
        assert one_line_error(r) == "send the body as application/json"
    utf8 = {**h, "Content-Type": "application/json; charset=utf-8"}
    r = c.post(f"{API}/audit/verify", headers=utf8, content=b"{}")
    assert r.status_code == 200
    r = c.post(f"{API}/audit/verify", headers={**h, "Content-Type": "application/json"},
               content=b"{not json")  # fmt: skip
    assert r.status_code == 400 and "JSON decode error" in one_line_error(r)


def test_request_bodies_are_capped_announced_or_streamed(rt) -> None:
    c, h = client(rt), auth(token(rt, "admin"))
    big = b'{"checkpoint": "' + b"x" * 4000 + b'"}'
    r = c.post(f"{API}/audit/verify", headers={**h, "Content-Type": "application/json"},
               content=big)  # fmt: skip
    assert r.status_code == 413 and one_line_error(r) == "request body larger than 2048 bytes"
    hardened(r)

    def chunks():  # no Content-Length: the cap holds while reading
        yield big[:1500]
        yield big[1500:]

    r = c.post(f"{API}/audit/verify", headers={**h, "Content-Type": "application/json"},
               content=chunks())  # fmt: skip
    assert r.status_code == 413


def test_failed_sign_ins_are_rate_limited_per_address(rt) -> None:
    app = rt.api_app()
    c = client(rt, app)
    good = auth(token(rt, "auditor"))
    assert c.get(f"{API}/metrics", headers=good).status_code == 200
    for _ in range(3):
        r = c.get(f"{API}/metrics", headers=auth("dsr_000000000000_" + "A" * 43))
        assert r.status_code == 401 and one_line_error(r) == "the bearer token is not valid"
    r = c.get(f"{API}/metrics", headers=good)  # this address is blocked for a window now
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert one_line_error(r) == "too many failed sign-ins; try again later"
    hardened(r)
    other = client(rt, app, client=("10.0.0.9", 5000))  # another address is not
    assert other.get(f"{API}/metrics", headers=good).status_code == 200


def test_guesses_at_one_token_are_rate_limited_from_any_address(rt) -> None:
    app, real = rt.api_app(), token(rt, "auditor")
    guess = real[:-5] + ("AAAAA" if not real.endswith("AAAAA") else "BBBBB")
    other = auth(token(rt, "auditor"))
    for n in range(3):
        c = client(rt, app, client=(f"10.0.1.{n}", 5000))
        assert c.get(f"{API}/metrics", headers=auth(guess)).status_code == 401
    c = client(rt, app, client=("10.0.2.1", 5000))
    assert c.get(f"{API}/metrics", headers=auth(real)).status_code == 429  # for a window
    assert c.get(f"{API}/metrics", headers=other).status_code == 200  # other tokens work


def test_missing_tokens_are_not_counted_as_guesses(rt) -> None:
    c = client(rt)
    for _ in range(5):
        assert c.get(f"{API}/metrics").status_code == 401
    assert c.get(f"{API}/metrics", headers=auth(token(rt, "auditor"))).status_code == 200


def test_an_unexpected_exception_is_a_generic_500_without_its_message(
    rt, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self, principal):
        raise RuntimeError("row for wanda@example.org is corrupt")  # a message quoting data

    monkeypatch.setattr(ReadMetrics, "run", broken)
    with caplog.at_level(logging.ERROR):
        r = client(rt).get(f"{API}/metrics", headers=auth(token(rt, "admin")))
    assert r.status_code == 500 and one_line_error(r) == "internal error; see the server log"
    hardened(r)
    assert "wanda" not in r.text and "RuntimeError" not in r.text
    assert "wanda" not in caplog.text


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/console/broken", "text/html"), ("/privacy/broken", "text/html"), ("/api/v1/x", "json")],
)
def test_an_escaped_exception_on_a_page_is_an_html_page_on_the_api_json(path, kind) -> None:
    from fastapi.testclient import TestClient
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from dsrflow.api.hardening import Hardening

    async def broken(scope, receive, send):
        raise RuntimeError("row for wanda@example.org is corrupt")

    # As the real app has it: the hardening middleware inside Starlette's own error layer.
    app = Starlette(middleware=[Middleware(Hardening, max_body_bytes=4096)])
    app.mount("/", broken)
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get(path)
    assert r.status_code == 500 and kind in r.headers["content-type"]
    assert "internal error; see the server log" in r.text
    assert "wanda" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    if kind == "text/html":
        assert r.headers["content-security-policy"].startswith("default-src 'none'; script-src")
        # the same for a form too large, before any route
        big = c.post(
            path, content=b"x" * 5000, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert big.status_code == 413 and "text/html" in big.headers["content-type"]

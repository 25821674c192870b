"""Signing in to the console through its pages: cookies, sessions, CSRF, lockout, redirects,
HTML errors, and no secret in the logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import structlog
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from dsrflow.api.context import declared
from dsrflow.console.session import console_principal, csrf_token, require_csrf
from dsrflow.logging import configure
from dsrflow.service.accounts import ResetPassword, SetDisabled, SetRoles, UnlockAccount
from dsrflow.service.principal import Principal
from dsrflow.service.sessions import digest
from tests.unit.console_kit import (
    PASSWORD,
    Clock,
    account,
    browser,
    console_app,
    console_runtime,
    form_csrf,
    session_csrf,
    sign_in,
)
from tests.unit.service_kit import ADMIN

APPROVE_PAGE = "/console/test/approve"
VIEW_PAGE = "/console/test/view"


def _with_test_pages(app: FastAPI) -> FastAPI:
    """Two staff pages as the pages helper writes them (a read, and a POST needing approve)."""

    @app.get(VIEW_PAGE, **declared("view"))
    def view(
        request: Request, who: Annotated[Principal, Depends(console_principal)]
    ) -> HTMLResponse:
        return HTMLResponse(f"<p>hello {who.actor}</p><input name=\"csrf\" "
                            f"value=\"{csrf_token(request)}\">")  # fmt: skip

    @app.post(APPROVE_PAGE, **declared("approve"))
    def approve(
        _csrf: Annotated[None, Depends(require_csrf)],
        who: Annotated[Principal, Depends(console_principal)],
        note: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        return HTMLResponse(f"approved by {who.actor}")

    return app


@pytest.fixture
def world(tmp_path: Path):
    rt = console_runtime(tmp_path)
    clock = Clock()
    app = _with_test_pages(console_app(rt, clock))
    account(rt, "ann", "analyst")
    account(rt, "apu", "approver")
    yield rt, app, clock
    rt.ledger.close()


def test_session_cookie_flags_on_http_and_https(world) -> None:
    rt, app, _ = world
    plain = sign_in(browser(app), "ann")
    assert plain.status_code == 303 and plain.headers["location"] == "/console/"
    cookie = next(c for c in plain.headers.get_list("set-cookie") if "dsrflow_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP (tests, a developer's machine)
    secure = sign_in(browser(app, base_url="https://testserver"), "ann")
    cookie = next(c for c in secure.headers.get_list("set-cookie") if "dsrflow_session=" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "strict-transport-security" in secure.headers
    sid = cookie.split("=", 1)[1].split(";", 1)[0]
    with rt.ledger.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT * FROM console_sessions").fetchall()
    assert stored and all(sid not in repr(row) for row in stored)
    assert digest(sid) in [row[0] for row in stored]


def test_the_secure_cookies_setting_marks_them_on_plain_http(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path, DSRFLOW_CONSOLE_SECURE_COOKIES="true")
    account(rt, "ann", "analyst")
    done = sign_in(browser(rt.api_app()), "ann")
    assert all("Secure" in c for c in done.headers.get_list("set-cookie"))


def test_a_page_needs_a_session_and_comes_back_after_sign_in(world) -> None:
    _, app, _ = world
    c = browser(app)
    r = c.get(VIEW_PAGE)
    assert r.status_code == 303 and r.headers["location"] == f"/console/login?next={VIEW_PAGE}"
    done = sign_in(c, "ann", next_=VIEW_PAGE)
    assert done.headers["location"] == VIEW_PAGE
    assert c.get(VIEW_PAGE).text.startswith("<p>hello staff:ann</p>")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "/console//evil.example",
     "javascript:alert(1)", "/privacy/../console", "/api/v1/requests", "/console/login",
     "/console/%0d%0aSet-Cookie:x=1".replace("%0d%0a", "\r\n")],
)  # fmt: skip
def test_next_is_never_an_open_redirect(world, target: str) -> None:
    _, app, _ = world
    assert sign_in(browser(app), "ann", next_=target).headers["location"] == "/console/"


def test_a_role_the_route_does_not_allow_gets_an_html_403(world) -> None:
    rt, app, _ = world
    c = browser(app)
    sign_in(c, "ann")  # analyst: may view, may not approve
    r = c.post(APPROVE_PAGE, data={"csrf": session_csrf(rt, c)})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "staff:ann may not approve" in r.text and "Traceback" not in r.text
    api = c.get("/api/v1/requests")  # the API keeps its JSON errors
    assert api.status_code == 401 and api.json().keys() == {"error"}
    approver = browser(app)
    sign_in(approver, "apu")
    ok = approver.post(APPROVE_PAGE, data={"csrf": session_csrf(rt, approver)})
    assert ok.status_code == 200 and ok.text == "approved by staff:apu"


@pytest.mark.parametrize("csrf", [None, "", "forged", "other-session"])
def test_a_post_without_this_sessions_csrf_token_is_refused(world, csrf: str | None) -> None:
    rt, app, _ = world
    c, other = browser(app), browser(app)
    sign_in(c, "apu")
    sign_in(other, "apu")
    token = session_csrf(rt, other) if csrf == "other-session" else csrf
    data = {"note": "x"} if token is None else {"csrf": token}
    r = c.post(APPROVE_PAGE, data=data)
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "did not come from this console" in r.text
    assert c.post(APPROVE_PAGE, data={"csrf": session_csrf(rt, c)}).status_code == 200


def test_the_page_csrf_token_is_the_one_checked(world) -> None:
    _, app, _ = world
    c = browser(app)
    sign_in(c, "apu")
    token = form_csrf(c.get(VIEW_PAGE).text)
    assert c.post(APPROVE_PAGE, data={"csrf": token}).status_code == 200


def test_login_csrf_the_sign_in_form_needs_its_own_cookie_pair(world) -> None:
    _, app, _ = world
    attacker, victim = browser(app), browser(app)
    token = form_csrf(attacker.get("/console/login").text)
    forged = {"username": "ann", "password": PASSWORD, "csrf": token}
    r = victim.post("/console/login", data=forged)  # no form cookie in the victim's browser
    assert r.status_code == 403 and "dsrflow_session" not in r.headers.get("set-cookie", "")
    victim.cookies.set("dsrflow_signin", "planted-nonce", path="/console/login")
    assert victim.post("/console/login", data=forged).status_code == 403


def test_sign_out_ends_the_session_for_good(world) -> None:
    rt, app, _ = world
    c = browser(app)
    sign_in(c, "ann")
    sid = c.cookies.get("dsrflow_session")
    out = c.post("/console/logout", data={"csrf": session_csrf(rt, c)})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    replay = browser(app)
    replay.cookies.set("dsrflow_session", sid)
    assert replay.get(VIEW_PAGE).status_code == 303
    audit = [(e.actor, e.action) for e in rt.ledger.audit_entries()]
    assert ("staff:ann", "console.signout") in audit


def test_idle_and_absolute_expiry_with_a_moved_clock(world) -> None:
    rt, app, clock = world
    console = rt.settings.console
    c = browser(app)
    sign_in(c, "ann")
    clock.advance(seconds=console.session_idle_s - 30)
    assert c.get(VIEW_PAGE).status_code == 200  # activity keeps it alive
    clock.advance(seconds=console.session_idle_s - 30)
    assert c.get(VIEW_PAGE).status_code == 200
    clock.advance(seconds=console.session_idle_s + 1)
    assert c.get(VIEW_PAGE).status_code == 303  # idle too long
    sign_in(c, "ann")
    elapsed, step = 0, console.session_idle_s // 2
    while c.get(VIEW_PAGE).status_code == 200:  # busy all the time, never idle
        clock.advance(seconds=step)
        elapsed += step
        assert elapsed <= console.session_ttl_s + step
    assert elapsed >= console.session_ttl_s  # it lived exactly its absolute lifetime
    assert c.get(VIEW_PAGE).status_code == 303  # the absolute lifetime ended it


def test_disabling_or_resetting_an_account_ends_its_sessions(world) -> None:
    rt, app, _ = world
    c = browser(app)
    sign_in(c, "ann")
    sid = c.cookies.get("dsrflow_session")
    SetDisabled(rt).run(ADMIN, "ann", disabled=True)
    assert c.get(VIEW_PAGE).status_code == 303
    SetDisabled(rt).run(ADMIN, "ann", disabled=False)
    again = browser(app)
    again.cookies.set("dsrflow_session", sid)
    assert again.get(VIEW_PAGE).status_code == 303  # never accepted again
    sign_in(c, "ann")
    ResetPassword(rt).run(ADMIN, "ann")
    assert c.get(VIEW_PAGE).status_code == 303


def test_a_role_change_applies_to_a_live_session(world) -> None:
    rt, app, _ = world
    c = browser(app)
    sign_in(c, "ann")
    SetRoles(rt).run(ADMIN, "ann", roles=["approver"])
    assert c.post(APPROVE_PAGE, data={"csrf": session_csrf(rt, c)}).status_code == 200


def test_forced_change_after_a_reset(world) -> None:
    rt, app, _ = world
    otp = ResetPassword(rt).run(ADMIN, "ann").one_time_password
    assert otp
    c = browser(app)
    done = sign_in(c, "ann", otp)
    assert done.headers["location"] == "/console/password"
    assert c.get(VIEW_PAGE).headers["location"] == "/console/password"  # nothing else first
    page = c.get("/console/password")
    assert page.status_code == 200 and "choose your own" in page.text
    csrf = form_csrf(page.text)
    new = "a much better passphrase"
    bad = c.post("/console/password", data={"csrf": csrf, "current": otp, "new": new,
                                            "again": new + "x"})  # fmt: skip
    assert bad.status_code == 400 and "differ" in bad.text
    short = c.post("/console/password", data={"csrf": csrf, "current": otp, "new": "x",
                                              "again": "x"})  # fmt: skip
    assert short.status_code == 400 and "new password: at least 12 characters" in short.text
    ok = c.post("/console/password", data={"csrf": csrf, "current": otp, "new": new, "again": new})
    assert ok.status_code == 303 and ok.headers["location"] == "/console/"
    assert c.get(VIEW_PAGE).status_code == 200  # the same session goes on
    assert sign_in(browser(app), "ann", otp).status_code == 401  # the one-time one is spent
    assert sign_in(browser(app), "ann", new).status_code == 303


def test_lockout_then_unlock_with_one_refusal_for_every_reason(world) -> None:
    rt, app, clock = world
    console = rt.settings.console
    c = browser(app)
    unknown = sign_in(c, "nobody-here")
    assert unknown.status_code == 401
    for _ in range(console.lockout_failures):
        wrong = sign_in(c, "ann", "not the password")
        assert wrong.status_code == 401
    locked = sign_in(c, "ann")  # the right password, but locked
    assert locked.status_code == 401
    assert "dsrflow_session" not in locked.headers.get("set-cookie", "")

    def message(r) -> str:
        return r.text.split('role="alert">')[1].split("<")[0]

    assert message(unknown) == message(wrong) == message(locked)
    assert sign_in(console_other := browser(app), "ann").status_code == 401  # in every client
    clock.advance(seconds=console.lockout_s + 1)
    assert sign_in(console_other, "ann").status_code == 303  # it ran out
    for _ in range(console.lockout_failures):
        sign_in(c, "ann", "not the password")
    assert sign_in(c, "ann").status_code == 401
    UnlockAccount(rt).run(ADMIN, "ann")
    assert sign_in(c, "ann").status_code == 303
    audit = [(e.actor, e.action, e.detail.get("reason")) for e in rt.ledger.audit_entries()]
    assert ("system:console", "console.signin_failed", "unknown") in audit
    assert ("staff:ann", "console.signin_failed", "locked") in audit
    assert sum(a[1] == "console.locked" for a in audit) == 2


def test_failures_from_one_address_are_limited(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path, DSRFLOW_CONSOLE_SIGNIN_FAILURES_PER_ADDRESS="3")
    account(rt, "ann", "analyst")
    c = browser(rt.api_app())
    for i in range(3):
        assert sign_in(c, f"guess{i}").status_code == 401
    r = sign_in(c, "ann")
    assert r.status_code == 429 and "retry-after" in r.headers and "text/html" in r.headers[
        "content-type"]  # fmt: skip


def test_no_password_session_id_or_csrf_token_in_the_logs(
    world, capsys: pytest.CaptureFixture[str]
) -> None:
    rt, app, _ = world
    configure("json", "debug")
    try:
        c = browser(app)
        sign_in(c, "ann", "canary-wrong-password-1")
        sign_in(c, "ann")
        sid = c.cookies.get("dsrflow_session")
        token = session_csrf(rt, c)
        c.post(APPROVE_PAGE, data={"csrf": "canary-bad-csrf"})
        c.post("/console/logout", data={"csrf": token})
        otp = ResetPassword(rt).run(ADMIN, "ann").one_time_password
        assert otp
        sign_in(c, "ann", otp)
        structlog.get_logger("t").info("end of test")
    finally:
        configure("console", "info")
    err = capsys.readouterr()
    logs = err.out + err.err
    assert "end of test" in logs and "console sign-in refused" in logs
    with rt.ledger.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM console_accounts").scalars()
        hashes = [h for h in stored if h]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    for secret in (PASSWORD, "canary-wrong-password-1", sid, token, otp, "canary-bad-csrf",
                   *hashes, *(h.rsplit("$", 1)[1] for h in hashes)):  # fmt: skip
        assert secret and secret not in logs
    assert "$argon2" not in logs


def test_errors_on_page_paths_are_html_and_api_paths_keep_json(world) -> None:
    _, app, _ = world
    c = browser(app)
    missing = c.get("/console/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "<h1>Not Found</h1>" in missing.text
    too_long = c.post("/console/login", data={"username": "x" * 500, "csrf": "x"})
    assert too_long.status_code == 400 and "text/html" in too_long.headers["content-type"]
    assert "username" in too_long.text and "x" * 500 not in too_long.text
    api = c.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json().keys() == {"error"}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DSRFLOW_CONSOLE_OIDC_ISSUER": "http://idp.example"}, "https:// URL"),
        ({"DSRFLOW_CONSOLE_OIDC_ISSUER": "https://idp.example"}, "OIDC_CLIENT_ID"),
        (
            {
                "DSRFLOW_CONSOLE_OIDC_ISSUER": "https://idp.example",
                "DSRFLOW_CONSOLE_OIDC_CLIENT_ID": "dsrflow",
            },
            "OIDC_REDIRECT_URL",
        ),
        ({"DSRFLOW_CONSOLE_OIDC_ROLE_MAP": "approvers"}, "VALUE=ROLE"),
    ],
)
def test_single_sign_on_settings_are_checked(tmp_path: Path, env, says: str) -> None:
    from dsrflow.errors import ConfigError

    with pytest.raises(ConfigError, match=says):
        console_runtime(tmp_path, **env)


def test_a_link_from_another_site_hops_once_to_bring_the_strict_cookie(world) -> None:
    """SameSite=Strict cookies stay home on a cross-site navigation (a link in an e-mail):
    one same-site hop to the same page, then the usual redirect if there is no session."""
    _, app, _ = world
    c = browser(app)
    hop = c.get(VIEW_PAGE, headers={"Sec-Fetch-Site": "cross-site"})
    assert hop.status_code == 200 and f'content="0;url={VIEW_PAGE}"' in hop.text
    again = c.get(VIEW_PAGE, headers={"Sec-Fetch-Site": "same-origin"})
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login")
    sign_in(c, "ann")
    assert c.get(VIEW_PAGE, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200

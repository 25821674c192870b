"""Single sign-on against a small OpenID Connect provider the tests run themselves
(tests/fixtures/oidc_provider.py): the happy path, and every forgery refused."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.responses import HTMLResponse

from dsrflow.api.context import declared
from dsrflow.console.session import console_principal
from dsrflow.service.accounts import CreateAccount, SetDisabled
from dsrflow.service.principal import Principal
from tests.fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider
from tests.unit.console_kit import PASSWORD, browser, console_runtime
from tests.unit.service_kit import ADMIN

PAGE = "/console/test/whoami"


@pytest.fixture
def world(tmp_path: Path):
    with running_provider() as provider:
        rt = console_runtime(
            tmp_path,
            DSRFLOW_CONSOLE_OIDC_ISSUER=provider.issuer,
            DSRFLOW_CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
            DSRFLOW_CONSOLE_OIDC_REDIRECT_URL="http://testserver/console/oidc/callback",
            DSRFLOW_CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            DSRFLOW_CONSOLE_OIDC_NAME="Test IdP",
        )
        app = rt.api_app()

        @app.get(PAGE, **declared("view"))
        def whoami(who: Annotated[Principal, Depends(console_principal)]) -> HTMLResponse:
            return HTMLResponse(f"{who.actor} {','.join(sorted(who.roles))}")

        yield rt, app, provider
        rt.ledger.close()


def _authorize(location: str) -> str:
    """Follow the console's redirect to the provider; the provider's redirect back."""
    url = urllib.parse.urlsplit(location)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("GET", f"{url.path}?{url.query}")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 302, answer.status
        return answer.getheader("Location") or ""
    finally:
        conn.close()


def _start(c, next_: str = PAGE) -> str:
    r = c.get(f"/console/oidc/start?next={next_}")
    assert r.status_code == 303, r.text
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("dsrflow_oidc="))
    assert (
        "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/;" in cookie
    )  # path / (a __Host- cookie over HTTPS)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["location"]).query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
    return _authorize(r.headers["location"])


def _callback(c, back: str):
    url = urllib.parse.urlsplit(back)
    assert url.path == "/console/oidc/callback"
    return c.get(f"{url.path}?{url.query}")


def test_sign_in_with_the_provider(world) -> None:
    rt, app, provider = world
    c = browser(app)
    page = c.get("/console/login")
    assert "Sign in with Test IdP" in page.text
    done = _callback(c, _start(c))
    assert done.status_code == 200, done.text
    assert f'content="0;url={PAGE}"' in done.text  # a same-site hop: Strict cookies then flow
    cookie = next(h for h in done.headers.get_list("set-cookie") if "dsrflow_session=" in h)
    assert "SameSite=strict" in cookie and "HttpOnly" in cookie
    assert c.get(PAGE).text == "sso:olga analyst"
    audit = [(e.actor, e.action, e.detail) for e in rt.ledger.audit_entries()]
    assert ("sso:olga", "console.signin", {"method": "oidc", "roles": ["analyst"]}) in audit
    assert provider.codes == {}  # redeemed


def test_a_code_redeemed_with_another_flows_verifier_is_refused(world) -> None:
    """PKCE: a stolen code injected into another browser's flow fails at the token endpoint."""
    _, app, provider = world
    victim, attacker = browser(app), browser(app)
    stolen = urllib.parse.parse_qs(urllib.parse.urlsplit(_start(victim)).query)["code"][0]
    own = urllib.parse.urlsplit(_start(attacker))
    state = urllib.parse.parse_qs(own.query)["state"][0]
    provider.codes.pop(urllib.parse.parse_qs(own.query)["code"][0])
    before = provider.token_requests
    r = attacker.get(f"{own.path}?{urllib.parse.urlencode({'code': stolen, 'state': state})}")
    assert provider.token_requests == before + 1  # it asked, and the provider said no
    assert r.status_code == 403 and "refused the sign-in" in r.text
    assert attacker.get(PAGE).status_code == 303


def test_a_wrong_or_missing_state_is_refused(world) -> None:
    _, app, provider = world
    c = browser(app)
    back = urllib.parse.urlsplit(_start(c))
    query = dict(urllib.parse.parse_qsl(back.query))
    before = provider.token_requests
    for state in ("forged-state", ""):
        r = c.get(f"{back.path}?{urllib.parse.urlencode({**query, 'state': state})}")
        assert r.status_code == 400 and "did not start here" in r.text
    other = browser(app)  # the right state, but in a browser that did not start the flow
    assert other.get(f"{back.path}?{back.query}").status_code == 400
    assert provider.token_requests == before  # no code was redeemed for them


@pytest.mark.parametrize(
    ("override", "other_key", "says"),
    [
        ({"nonce": "not-the-nonce"}, False, "nonce"),
        ({"nonce": None}, False, "nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, False, "expired"),
        ({}, True, "not valid for this console"),
        ({"aud": "another-client"}, False, "not valid for this console"),
        ({"iss": "https://evil.example"}, False, "not valid for this console"),
    ],
    ids=["wrong-nonce", "no-nonce", "expired", "wrong-key", "wrong-audience", "wrong-issuer"],
)
def test_a_bad_id_token_is_refused(world, override, other_key: bool, says: str) -> None:
    _, app, provider = world
    provider.override, provider.sign_with_other_key = override, other_key
    c = browser(app)
    r = _callback(c, _start(c))
    assert r.status_code == 403 and says in r.text, r.text
    assert "dsrflow_session=" not in r.headers.get("set-cookie", "")
    assert c.get(PAGE).status_code == 303


def test_a_replayed_callback_is_refused(world) -> None:
    _, app, _ = world
    c = browser(app)
    back = _start(c)
    assert _callback(c, back).status_code == 200
    assert _callback(c, back).status_code == 400  # the pending cookie was used up


def test_no_known_role_gets_a_clear_refusal(world) -> None:
    rt, app, provider = world
    provider.user = {"sub": "u-2", "preferred_username": "vic", "roles": ["visitor", "controller"]}
    c = browser(app)
    r = _callback(c, _start(c))
    assert r.status_code == 403 and "no role in this console" in r.text
    assert ("sso:vic", "console.signin_failed") in [
        (e.actor, e.action) for e in rt.ledger.audit_entries()
    ]


def test_roles_through_the_configured_map(tmp_path: Path) -> None:
    with running_provider() as provider:
        rt = console_runtime(
            tmp_path, DSRFLOW_CONSOLE_OIDC_ISSUER=provider.issuer,
            DSRFLOW_CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
            DSRFLOW_CONSOLE_OIDC_REDIRECT_URL="http://testserver/console/oidc/callback",
            DSRFLOW_CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            DSRFLOW_CONSOLE_OIDC_ROLE_MAP="dsr-approvers=approver,dsr-readers=auditor",
            DSRFLOW_CONSOLE_OIDC_ROLES_CLAIM="groups",
        )  # fmt: skip
        provider.user = {"sub": "u-3", "preferred_username": "max",
                         "groups": ["dsr-approvers", "admin", "staff"]}  # fmt: skip
        c = browser(rt.api_app())
        assert _callback(c, _start(c, "/console/")).status_code == 200
        [entry] = [e for e in rt.ledger.audit_entries() if e.action == "console.signin"]
        assert entry.detail["roles"] == ["approver"]  # "admin" is not mapped: ignored


def test_a_disabled_local_account_of_that_name_is_refused(world) -> None:
    rt, app, _ = world
    CreateAccount(rt).run(ADMIN, username="olga", roles=["analyst"], password=PASSWORD)
    SetDisabled(rt).run(ADMIN, "olga", disabled=True)
    c = browser(app)
    r = _callback(c, _start(c))
    assert r.status_code == 403 and "disabled" in r.text


def test_without_configuration_the_routes_say_so(tmp_path: Path) -> None:
    c = browser(console_runtime(tmp_path).api_app())
    assert "Sign in with" not in c.get("/console/login").text
    r = c.get("/console/oidc/start")
    assert r.status_code == 404 and "not configured" in r.text

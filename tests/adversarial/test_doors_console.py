"""Adversarial: the staff console attacked from outside and by staff with the role they hold.

Routes come from the app's table, so a page added later is attacked too: CSRF on every staff
POST (no token, another session's, one in the query string), an engineer or auditor looking for
the subject's data on every page and download, a disabled account's old cookie on every route.
Sign-in: a planted sign-in nonce with a field harvested from the attacker's own visit (login
CSRF by cookie tossing), a planted session id (fixation), refusals that tell accounts apart,
``next`` and ``Host`` redirects, guesses spread over one IPv6 network.

Unit tier: in-process TestClient, accounts signed in through the real form.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from dsrflow.api.context import declared
from dsrflow.console.session import console_principal
from dsrflow.console.web import STATIC
from dsrflow.service.accounts import SetDisabled
from dsrflow.service.principal import Principal
from dsrflow.service.sessions import ResumeSession
from tests.unit.api_kit import SUBJECT_EMAIL, SUBJECT_NAME, finished_request
from tests.unit.console_kit import (
    PASSWORD,
    account,
    browser,
    console_runtime,
    form_csrf,
    session_csrf,
    sign_in,
)
from tests.unit.service_kit import ADMIN

pytestmark = pytest.mark.unit  # in-process only: the tier guard refuses any subprocess

RID = "dsr-doors-console"
PATH_VALUES = {"request_id": RID, "store": "shop"}
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?}")
SIGN_IN_PATHS = ("/console/login", "/console/oidc/")
FIELDS = {"reason": "ticket 7: probing", "months": "1", "days": "5", "outcome": "done",
          "type": "access", "regulation": "gdpr", "note": "n"}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rt = console_runtime(tmp_path_factory.mktemp("doors-console"))
    finished_request(rt, RID)  # a package and an opening holding the subject's data
    app = rt.api_app()
    for role in ("admin", "analyst", "auditor", "engineer", "approver", "intake"):
        account(rt, f"d-{role}", role)
    yield {"rt": rt, "app": app}
    rt.ledger.close()


def staff_routes(app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every console route (static files and sign-in aside)."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path
        if not path.startswith("/console") or path.startswith(STATIC):
            continue
        if not isinstance(ctx.original_route, APIRoute):
            continue
        concrete = _PARAM.sub(lambda m: PATH_VALUES.get(m.group(1), "x"), path)
        out += [(m, concrete) for m in sorted(ctx.methods) if m != "HEAD"]
    return out


def signed(world: dict[str, Any], role: str, **kwargs: Any) -> TestClient:
    c = browser(world["app"], **kwargs)
    assert sign_in(c, f"d-{role}").status_code == 303
    return c


def _texts(response: Any) -> list[bytes]:
    out = [response.content]
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            out += [zf.read(name) for name in zf.namelist()]
    return out


def test_the_route_table_is_what_is_attacked(world) -> None:
    found = staff_routes(world["app"])
    posts = [p for m, p in found if m == "POST"]
    assert len(found) >= 15 and len(posts) >= 10, found
    assert ("GET", f"/console/requests/{RID}/package") in found


# --- insiders -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["engineer", "auditor", "approver", "intake"])
def test_no_console_route_hands_subject_data_to_a_role_without_download(world, role) -> None:
    c = signed(world, role)
    csrf = session_csrf(world["rt"], c)
    found = []
    for method, path in staff_routes(world["app"]):
        if path.startswith(SIGN_IN_PATHS) or path == "/console/logout":
            continue
        got = c.get(path) if method == "GET" else c.post(path, data={**FIELDS, "csrf": csrf})
        for text in _texts(got):
            low = text.lower()
            if SUBJECT_EMAIL.encode() in low or SUBJECT_NAME.lower().encode() in low:
                found.append(f"{method} {path} ({got.status_code})")
    assert found == []


def test_the_probe_finds_subject_data_where_an_analyst_may_download(world) -> None:
    c = signed(world, "analyst")
    got = c.get(f"/console/requests/{RID}/package")
    assert got.status_code == 200
    assert any(SUBJECT_EMAIL.encode() in t for t in _texts(got))


# --- CSRF on every staff POST ---------------------------------------------------------------


def test_every_staff_post_refuses_a_missing_foreign_or_query_token(world) -> None:
    rt = world["rt"]
    c, other = signed(world, "admin"), signed(world, "admin")
    foreign = session_csrf(rt, other)
    mine = session_csrf(rt, c)
    before = len(rt.ledger.audit_entries())
    wrong = []
    for method, path in staff_routes(world["app"]):
        if method != "POST" or path.startswith(SIGN_IN_PATHS):
            continue
        for data, query in (({}, ""), ({"csrf": foreign}, ""), ({}, f"?csrf={mine}"),
                            ({"csrf": mine.swapcase()}, ""), ({"csrf": ""}, "")):  # fmt: skip
            got = c.post(path + query, data={**FIELDS, **data})
            # 400: a query parameter the route does not take is refused even before CSRF
            if got.status_code not in ((400, 403) if query else (403,)):
                wrong.append(f"POST {path}{query[:6]} with {sorted(data)}: {got.status_code}")
    assert not wrong, "\n".join(wrong)
    # Nothing happened: no audit entry but the sign-ins' (a refused form is not an action).
    added = [e.action for e in rt.ledger.audit_entries()[before:]]
    assert all(a.startswith("console.") for a in added), added
    assert ResumeSession(rt).run(c.cookies.get("dsrflow_session")) is not None  # not signed out


# --- old sessions ---------------------------------------------------------------------------


def test_a_disabled_accounts_old_cookie_opens_nothing(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path)
    finished_request(rt, RID)
    account(rt, "gone", "admin")
    app = rt.api_app()
    c = browser(app)
    assert sign_in(c, "gone").status_code == 303
    csrf = session_csrf(rt, c)
    SetDisabled(rt).run(ADMIN, "gone", disabled=True)
    for method, path in staff_routes(app):
        if path.startswith(SIGN_IN_PATHS):
            continue
        got = c.get(path) if method == "GET" else c.post(path, data={**FIELDS, "csrf": csrf})
        to_sign_in = got.status_code == 303 and got.headers["location"].startswith("/console/login")
        assert to_sign_in or got.status_code in (401, 403), (method, path, got.status_code)
        assert SUBJECT_EMAIL.encode() not in got.content
    rt.ledger.close()


# --- sign-in --------------------------------------------------------------------------------


def test_a_planted_session_id_is_replaced_at_sign_in(world) -> None:
    """Session fixation: the attacker signs in, plants their session id in the victim's browser
    and waits for the victim to sign in on top of it."""
    rt, app = world["rt"], world["app"]
    attacker = signed(world, "intake")
    planted = attacker.cookies.get("dsrflow_session")
    victim = browser(app)
    victim.cookies.set("dsrflow_session", planted, domain="testserver.local")
    assert sign_in(victim, "d-admin").status_code == 303
    assert victim.cookies.get("dsrflow_session") != planted
    still = ResumeSession(rt).run(planted)
    assert still is None or still.principal.actor == "staff:d-intake"
    # A made-up id planted the same way is not adopted either.
    other = browser(app)
    other.cookies.set("dsrflow_session", "A" * 43, domain="testserver.local")
    assert sign_in(other, "d-admin").status_code == 303
    assert other.cookies.get("dsrflow_session") != "A" * 43


def test_every_refusal_reads_the_same_byte_for_byte(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path, DSRFLOW_CONSOLE_LOCKOUT_FAILURES="2")
    for name in ("real", "off", "locked"):
        account(rt, name, "analyst")
    SetDisabled(rt).run(ADMIN, "off", disabled=True)
    app = rt.api_app()
    for _ in range(2):
        sign_in(browser(app, client=("192.0.2.10", 1)), "locked", "wrong password!")
    pages = []
    for i, (user, pw) in enumerate([("nobody", "x" * 12), ("real", "wrong password!"),
                                    ("off", PASSWORD), ("locked", PASSWORD)]):  # fmt: skip
        got = sign_in(browser(app, client=(f"192.0.2.{20 + i}", 1)), user, pw)
        body = re.sub(r'name="csrf" value="[^"]+"', "", got.text).replace(user, "USER")
        cookies = [c.split("=", 1)[0] for c in got.headers.get_list("set-cookie")]
        pages.append((got.status_code, body, cookies))
    assert all(p == pages[0] for p in pages), [p[0] for p in pages]
    assert pages[0][0] == 401
    rt.ledger.close()


@pytest.mark.parametrize(
    "target",
    ["/console/%2F%2Fevil.example", "/console/..%2F..%2F%2Fevil.example", "/console/\\\\evil",
     "/console/\u3000//evil.example", "/console@evil.example", "/console.evil.example/",
     "/console/login?next=//evil.example", "/console/oidc/callback", "%2Fconsole%2F"],
)  # fmt: skip
def test_next_variants_never_leave_the_console(world, target: str) -> None:
    done = sign_in(browser(world["app"]), "d-analyst", next_=target)
    location = done.headers["location"]
    assert location.startswith("/console") and not location.startswith("//"), location
    assert "evil" not in location.split("?", 1)[0].replace("%2F", "/").split("/")[1], location


def test_the_sign_in_redirect_never_names_the_clients_host(world) -> None:
    c = browser(world["app"])
    for path in ("/console/", f"/console/requests/{RID}", "/console"):
        moved = c.get(path, headers={"Host": "evil.example"})
        assert moved.status_code in (303, 307), (path, moved.status_code)
        assert "evil" not in moved.headers["location"], moved.headers["location"]
    hop = c.get("/console/", headers={"Sec-Fetch-Site": "cross-site", "Host": "evil.example"})
    assert "evil" not in hop.text


HTTPS = "https://testserver"


def test_over_https_console_cookies_are_host_prefixed(world) -> None:
    c = browser(world["app"], base_url=HTTPS)
    page = c.get("/console/login")
    form_cookie = page.headers["set-cookie"]
    done = c.post("/console/login", data={"username": "d-analyst", "password": PASSWORD,
                                          "csrf": form_csrf(page.text)})  # fmt: skip
    session = next(s for s in done.headers.get_list("set-cookie") if "session" in s)
    for cookie in (form_cookie, session):
        assert cookie.startswith("__Host-") and "Path=/;" in cookie and "Domain" not in cookie


def test_login_csrf_with_a_harvested_pair_and_a_planted_nonce_fails(world) -> None:
    app = world["app"]
    attacker, victim = browser(app, base_url=HTTPS), browser(app, base_url=HTTPS)
    page = attacker.get("/console/login")
    nonce = next(v for k, v in attacker.cookies.items() if "signin" in k)
    victim.cookies.set("dsrflow_signin", nonce)  # as Domain=.example.com would put it there
    forged = victim.post("/console/login", data={"username": "d-intake", "password": PASSWORD,
                                                 "csrf": form_csrf(page.text)})  # fmt: skip
    assert forged.status_code == 403, "the victim's browser was signed in as the attacker"


def test_sign_in_guesses_from_one_ipv6_network_share_one_limit(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path, DSRFLOW_CONSOLE_SIGNIN_FAILURES_PER_ADDRESS="3")
    for i in range(5):
        account(rt, f"spray{i}", "analyst")
    app = rt.api_app()
    codes = [sign_in(browser(app, client=(f"2001:db8:5:5::{i + 1:x}", 1)), f"spray{i}",
                     "Winter2026!!").status_code for i in range(5)]  # fmt: skip
    rt.ledger.close()
    assert codes == [401, 401, 401, 429, 429]


# --- stored markup ------------------------------------------------------------------------

MARKUP_EMAIL = "<img/src=x/onerror=alert(1)>@example.org"
MARKUP = '"><script src=/console/static/x.js></script><img src=x onerror=alert(1)>'


def test_a_subjects_markup_address_is_escaped_where_staff_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored XSS: the privacy center takes any address without spaces, so a subject can file
    as ``<img/src=x/onerror=...>@example.org``; staff see it on the reveal pages."""
    from dsrflow.domain import HumanAction
    from tests.unit.console_pages_kit import NOW, fake_temporal, put
    from tests.unit.privacy_kit import center, file

    _, _, public = center(tmp_path / "center")
    assert file(public, email=MARKUP_EMAIL).status_code in (303, 400)  # taken or refused
    rt = console_runtime(tmp_path / "console")
    detail = f"reason={MARKUP}"
    put(rt, "dsr-x", actions=[HumanAction(1, NOW, "staff:eve", "denied", None, detail)])
    fake_temporal(rt, monkeypatch).started("dsr-x", MARKUP_EMAIL)
    account(rt, "ann", "analyst")
    c = browser(rt.api_app())
    assert sign_in(c, "ann").status_code == 303
    pages = [c.get("/console/requests/dsr-x"), c.get("/console/"), c.get("/console/tasks")]
    csrf = session_csrf(rt, c)
    for path in ("/console/requests/dsr-x/reveal", "/console/tasks/dsr-x/reveal"):
        pages.append(c.post(path, data={"csrf": csrf, "reason": f"ticket {MARKUP}"}))
    assert [p.status_code for p in pages] == [200] * 5
    assert "&lt;img/src=x/onerror=alert(1)&gt;@example.org" in pages[3].text  # shown, escaped
    for page in pages:
        assert "<img" not in page.text and "<script src=/console/static/x" not in page.text
    rt.ledger.close()


# --- single sign-on ------------------------------------------------------------------------


def test_a_single_sign_on_user_cannot_take_a_local_accounts_name(tmp_path: Path) -> None:
    from tests.fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider
    from tests.unit.test_console_oidc import _callback, _start

    with running_provider() as provider:
        rt = console_runtime(
            tmp_path, DSRFLOW_CONSOLE_OIDC_ISSUER=provider.issuer,
            DSRFLOW_CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
            DSRFLOW_CONSOLE_OIDC_REDIRECT_URL="http://testserver/console/oidc/callback",
            DSRFLOW_CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        )  # fmt: skip
        account(rt, "ann", "admin")  # a local password account
        app = rt.api_app()

        @app.get("/console/test/whoami", **declared("view"))
        def whoami(who: Annotated[Principal, Depends(console_principal)]) -> HTMLResponse:
            return HTMLResponse(who.actor)

        provider.user = {"sub": "someone-else", "preferred_username": "Ann", "roles": ["intake"]}
        c = browser(app)
        done = _callback(c, _start(c, "/console/test/whoami"))
        page = c.get("/console/test/whoami")
        assert done.status_code == 200 and page.status_code == 200, page.text[-300:]
        actor = page.text
        rt.ledger.close()
    assert actor != "staff:ann", "the IdP user acts, and is audited, as the local account ann"


def test_the_sso_redirect_uri_never_comes_from_the_clients_host(tmp_path: Path) -> None:
    import urllib.parse

    from tests.fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider

    with running_provider() as provider:
        rt = console_runtime(
            tmp_path, DSRFLOW_CONSOLE_OIDC_ISSUER=provider.issuer,
            DSRFLOW_CONSOLE_OIDC_CLIENT_ID=CLIENT_ID,
            DSRFLOW_CONSOLE_OIDC_REDIRECT_URL="http://testserver/console/oidc/callback",
            DSRFLOW_CONSOLE_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        )  # fmt: skip
        started = browser(rt.api_app()).get("/console/oidc/start", headers={"Host": "evil.example"})
        rt.ledger.close()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.headers["location"]).query))
    assert "evil" not in query["redirect_uri"], query["redirect_uri"]

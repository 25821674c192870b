"""OpenDSR v2 inbound, in process: a controller client talks to the API app (ASGI test client),
a tiny HTTP server on 127.0.0.1 plays the controller's callback endpoint and checks each
callback with dsrflow's own OpenDSR callback verifier. Temporal is replaced by a request client
that projects the workflow's snapshots into the ledger, as the real workflow would."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fastapi.routing import iter_route_contexts

from dsrflow.adapters.opendsr.callbacks import CallbackResult, CallbackVerifier, callback_handler
from dsrflow.adapters.opendsr.signing import SignatureError, verify_signature
from dsrflow.api.context import ApiContext
from dsrflow.domain import ProjectionEvent, RequestStatus, RequestType
from dsrflow.lifecycle import SubmissionAck, UpdateAck
from dsrflow.requests_client import Submitted
from dsrflow.service.messages import SendPending
from dsrflow.service.opendsr_controllers import AddController, ListControllers, RemoveController
from dsrflow.service.principal import ROLES
from tests.unit.api_kit import api_runtime, auth, client, role_tokens
from tests.unit.service_kit import ADMIN

DOMAIN = "processor.test"
PREFIX = "/opendsr"


class Workflows:
    """Stands in for Temporal: a submit or cancel projects a snapshot, as the workflow does."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.seq: dict[str, int] = {}
        self.submitted: list[Any] = []

    def project(self, request_id: str, status: RequestStatus) -> None:
        self.seq[request_id] = self.seq.get(request_id, 0) + 1
        now = datetime.now(UTC)
        self.rt.ledger.apply(ProjectionEvent(
            request_id=request_id, request_type=RequestType.ERASURE, status=status,
            received_at=now, stores=[], seq=self.seq[request_id],
            due_at=now + timedelta(days=30), actions=[],
        ))  # fmt: skip

    async def submit(self, inp: Any) -> Submitted:
        self.submitted.append(inp)
        self.project(inp.request_id, RequestStatus.AWAITING_VERIFICATION)
        ack = SubmissionAck(inp.request_id, RequestStatus.AWAITING_VERIFICATION,
                            inp.received_at, inp.received_at + timedelta(days=30))  # fmt: skip
        return Submitted(ack, created=True)

    async def act(self, request_id: str, update: str, arg: object) -> UpdateAck:
        assert update == "cancel"
        self.project(request_id, RequestStatus.CANCELLED)
        return UpdateAck(request_id, RequestStatus.CANCELLED, "cancelled")


class Receiver:
    """The controller's callback endpoint: verifies every callback before keeping it."""

    def __init__(self) -> None:
        self.got: list[CallbackResult] = []
        self.refuse_next = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_placeholder())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.verifier: CallbackVerifier | None = None

    def _handler_placeholder(self) -> Any:
        receiver = self

        def make(*args: Any) -> Any:
            assert receiver.verifier is not None
            handler = callback_handler(receiver.verifier, receiver.got.append)
            if receiver.refuse_next:  # the controller is down for a while: 503
                receiver.refuse_next -= 1

                class Down(handler):  # type: ignore[misc, valid-type]
                    def do_POST(self) -> None:
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))
                        self._answer(503)

                return Down(*args)
            return handler(*args)

        return make

    def trust(self, cert: x509.Certificate, urls: set[str]) -> None:
        self.verifier = CallbackVerifier({DOMAIN: cert}, urls)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    rt = api_runtime(tmp_path, DSRFLOW_API_OPENDSR_DOMAIN=DOMAIN)
    flows = Workflows(rt)

    async def requests(self: ApiContext) -> Workflows:
        return flows

    monkeypatch.setattr(ApiContext, "requests", requests)
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    url_a, url_b = f"{receiver.base}/cb/a", f"{receiver.base}/cb/b"
    _, tok_a = AddController(rt).run(ADMIN, domain="a.example", callback_urls=[url_a],
                                     expires_in="1d")  # fmt: skip
    _, tok_b = AddController(rt).run(ADMIN, domain="B.example", callback_urls=[url_b],
                                     expires_in="1d")  # fmt: skip
    app = rt.api_app()
    c = client(rt, app)
    cert = x509.load_pem_x509_certificate(c.get(_discovery_cert(c)).content)
    receiver.trust(cert, {url_a, url_b})
    yield {"rt": rt, "c": c, "a": tok_a, "b": tok_b, "url_a": url_a, "url_b": url_b,
           "cert": cert, "flows": flows, "receiver": receiver, "app": app}  # fmt: skip
    receiver.server.shutdown()
    receiver.server.server_close()
    rt.ledger.close()


def _discovery_cert(c: Any) -> str:
    doc = c.get(f"{PREFIX}/discovery").json()
    return str(doc["processor_certificate"]).removeprefix("http://testserver")


def checked(w: dict[str, Any], response: Any, *, legacy: bool = False) -> Any:
    """The response's JSON once its signature checked out against the published certificate."""
    prefix = "x-opengdpr" if legacy else "x-opendsr"
    assert response.headers[f"{prefix}-processor-domain"] == DOMAIN
    verify_signature(response.content, response.headers[f"{prefix}-signature"], w["cert"])
    return response.json()


def body(srid: str, callback: str, kind: str = "erasure") -> dict[str, Any]:
    return {
        "subject_request_id": srid, "subject_request_type": kind,
        "submitted_time": "2026-12-01T10:00:00Z", "api_version": "2.0", "regulation": "gdpr",
        "subject_identities": [{"identity_type": "email", "identity_value": "jo@example.org",
                                "identity_format": "raw"}],
        "status_callback_urls": [callback],
    }  # fmt: skip


def send(w: dict[str, Any], at: datetime | None = None) -> Any:
    return SendPending(w["rt"]).run(ADMIN, now=at)


def test_discovery_is_public_signed_and_names_what_is_supported(world) -> None:
    doc = checked(world, world["c"].get(f"{PREFIX}/discovery"))
    assert doc["api_version"] == "2.0"
    assert set(doc["supported_subject_request_types"]) == {"erasure", "access", "portability"}
    assert {"identity_type": "email", "identity_format": "raw"} in doc["supported_identities"]
    assert world["cert"].subject.rfc4514_string() == f"CN={DOMAIN}"


def test_round_trip_submit_poll_signed_callbacks(world) -> None:
    c, w, srid = world["c"], world, str(uuid.uuid4())
    sent = body(srid, w["url_a"])
    r = c.post(f"{PREFIX}/requests", json=sent, headers=auth(w["a"]))
    assert r.status_code == 201, r.text
    made = checked(w, r)
    assert made["subject_request_id"] == srid and made["controller_id"] == "a.example"
    assert json.loads(base64.b64decode(made["encoded_request"])) == sent
    assert datetime.fromisoformat(made["expected_completion_time"]) > datetime.fromisoformat(
        made["received_time"])  # fmt: skip
    inp = w["flows"].submitted[0]
    assert [(i.kind, i.value) for i in inp.identities] == [("email", "jo@example.org")]
    # A retry of the same request finds it rather than making another.
    assert c.post(f"{PREFIX}/requests", json=sent, headers=auth(w["a"])).status_code == 201
    assert len({i.request_id for i in w["flows"].submitted}) == 1

    def status() -> str:
        r = c.get(f"{PREFIX}/requests/{srid}", headers=auth(w["a"]))
        assert r.status_code == 200, r.text
        return str(checked(w, r)["request_status"])

    assert status() == "pending"
    w["flows"].project(inp.request_id, RequestStatus.RUNNING)
    assert status() == "in_progress"
    # The controller's endpoint is down at first: the sender retries with backoff.
    w["receiver"].refuse_next = 1
    report = send(w)
    assert report.retrying == 1 and w["receiver"].got == []
    assert send(w).retrying == 0 and w["receiver"].got == []  # not due yet: backoff
    assert send(w, datetime.now(UTC) + timedelta(hours=1)).sent == 1
    w["flows"].project(inp.request_id, RequestStatus.COMPLETED)
    assert status() == "completed"
    assert send(w).sent == 1
    got = w["receiver"].got
    assert [g.http_status for g in got] == [202, 202]  # each verified by the receiver
    assert [g.update["request_status"] for g in got] == ["in_progress", "completed"]  # type: ignore[index]
    assert {g.update["subject_request_id"] for g in got} == {srid}  # type: ignore[index]
    assert send(w).sent == 0  # each change is called back once


def test_a_tampered_or_foreign_signature_is_refused(world) -> None:
    r = world["c"].get(f"{PREFIX}/discovery")
    with pytest.raises(SignatureError):
        verify_signature(r.content.replace(b"2.0", b"9.9"), r.headers["x-opendsr-signature"],
                         world["cert"])  # fmt: skip
    verifier = world["receiver"].verifier
    raw = json.dumps({"status_callback_url": world["url_a"], "request_status": "completed"})
    forged = {"X-OpenDSR-Processor-Domain": DOMAIN,
              "X-OpenDSR-Signature": r.headers["x-opendsr-signature"]}  # fmt: skip
    assert verifier.handle(forged, raw.encode()).http_status == 403
    unknown = {**forged, "X-OpenDSR-Processor-Domain": "evil.example"}
    assert verifier.handle(unknown, raw.encode()).http_status == 401


def test_cancel_only_while_pending(world) -> None:
    c, w = world["c"], world
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for srid in (first, second):
        assert c.post(f"{PREFIX}/requests", json=body(srid, w["url_a"]),
                      headers=auth(w["a"])).status_code == 201  # fmt: skip
    r = c.delete(f"{PREFIX}/requests/{first}", headers=auth(w["a"]))
    assert r.status_code == 202, r.text
    assert checked(w, r)["subject_request_id"] == first
    shown = checked(w, c.get(f"{PREFIX}/requests/{first}", headers=auth(w["a"])))
    assert shown["request_status"] == "cancelled"
    rid = w["flows"].submitted[1].request_id
    w["flows"].project(rid, RequestStatus.RUNNING)
    r = c.delete(f"{PREFIX}/requests/{second}", headers=auth(w["a"]))
    assert r.status_code == 405
    assert checked(w, r)["error"]["errors"][0]["reason"] == "not_cancellable"
    assert c.delete(f"{PREFIX}/requests/{first}", headers=auth(w["a"])).status_code == 405
    assert send(w).sent == 2  # cancelled (first) and in_progress (second)
    assert sorted(g.update["request_status"] for g in w["receiver"].got) == [  # type: ignore[index]
        "cancelled", "in_progress"]  # fmt: skip


def test_a_controller_sees_only_its_own_requests(world) -> None:
    c, w, srid = world["c"], world, str(uuid.uuid4())
    assert c.post(f"{PREFIX}/requests", json=body(srid, w["url_a"]),
                  headers=auth(w["a"])).status_code == 201  # fmt: skip
    for method in ("GET", "DELETE"):
        r = c.request(method, f"{PREFIX}/requests/{srid}", headers=auth(w["b"]))
        assert r.status_code == 404, (method, r.text)
        assert checked(w, r)["error"]["code"] == 404
    # The same id from B is B's own request, not A's.
    assert c.post(f"{PREFIX}/requests", json=body(srid, w["url_b"]),
                  headers=auth(w["b"])).status_code == 201  # fmt: skip
    assert len({i.request_id for i in w["flows"].submitted}) == 2


def test_refusals_follow_the_spec(world) -> None:
    c, w, srid = world["c"], world, str(uuid.uuid4())
    r = c.post(f"{PREFIX}/requests", json=body(srid, w["url_a"]))
    assert r.status_code == 401 and checked(w, r)["error"]["code"] == 401
    r = c.post(f"{PREFIX}/requests", json=body(srid, w["url_a"]), headers=auth("dsr_x"))
    assert r.status_code == 401
    r = c.post(f"{PREFIX}/requests", json=body(srid, w["url_b"]), headers=auth(w["a"]))
    assert r.status_code == 400, r.text  # B's callback URL is not on A's list
    assert "jo@example.org" not in r.text
    bad = {**body(srid, w["url_a"]), "subject_request_type": "rectification"}
    assert c.post(f"{PREFIX}/requests", json=bad, headers=auth(w["a"])).status_code == 400
    hashed = body(srid, w["url_a"])
    hashed["subject_identities"][0]["identity_format"] = "sha256"
    assert c.post(f"{PREFIX}/requests", json=hashed, headers=auth(w["a"])).status_code == 400
    assert w["flows"].submitted == []
    RemoveController(w["rt"]).run(ADMIN, "a.example")
    r = c.get(f"{PREFIX}/requests/{srid}", headers=auth(w["a"]))
    assert r.status_code == 401  # its token was revoked with it
    assert [x.domain for x in ListControllers(w["rt"]).run(ADMIN)] == ["b.example"]


def test_legacy_opengdpr_route_and_headers(world) -> None:
    c, w, srid = world["c"], world, str(uuid.uuid4())
    r = c.post(f"{PREFIX}/opengdpr_requests", json=body(srid, w["url_a"]), headers=auth(w["a"]))
    assert r.status_code == 201
    assert "x-opendsr-signature" not in r.headers
    assert checked(w, r, legacy=True)["subject_request_id"] == srid
    r = c.get(f"{PREFIX}/opengdpr_requests/{srid}", headers=auth(w["a"]))
    assert checked(w, r, legacy=True)["request_status"] == "pending"
    w["flows"].project(w["flows"].submitted[0].request_id, RequestStatus.RUNNING)
    got: list[dict[str, str]] = []
    handle = w["receiver"].verifier.handle

    def legacy_names(headers: dict[str, str], raw: bytes) -> CallbackResult:
        """An OpenGDPR controller: reads the X-OpenGDPR-* names, checks the same signature."""
        lower = {k.lower(): v for k, v in headers.items()}
        got.append(lower)
        renamed = {k.replace("x-opengdpr-", "x-opendsr-"): v for k, v in lower.items()
                   if not k.startswith("x-opendsr-")}  # fmt: skip
        return handle(renamed, raw)

    w["receiver"].verifier.handle = legacy_names
    assert send(w).sent == 1
    assert "x-opengdpr-signature" in got[0] and "x-opendsr-signature" not in got[0]
    assert [g.http_status for g in w["receiver"].got] == [202]


def test_every_opendsr_route_by_role(world, tmp_path: Path) -> None:
    """Generated from the route table: only a controller gets through (discovery is public)."""
    tokens = role_tokens(world["rt"])
    public = {f"{PREFIX}/discovery", f"{PREFIX}/processor-cert.pem"}
    routes = [(ctx.path, m) for ctx in iter_route_contexts(world["app"].routes)
              if ctx.path.startswith(PREFIX + "/") for m in ctx.methods]  # fmt: skip
    assert len(routes) == 8
    wrong = []
    for path, method in routes:
        url = path.replace("{subject_request_id}", "x")
        for role in [None, *sorted(ROLES - {"controller"})]:
            status = world["c"].request(method, url, headers=auth(tokens[role]) if role else {},
                                        json=body("x", world["url_a"])).status_code  # fmt: skip
            want = 200 if path in public else 401 if role is None else 403
            if status != want:
                wrong.append(f"{method} {path} as {role}: {status}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_controllers_commands(tmp_path: Path) -> None:
    from tests.fixtures.cli import invoke
    from tests.unit.service_kit import env_of

    api_runtime(tmp_path).ledger.close()
    env = env_of(tmp_path)
    added = invoke("opendsr", "controllers", "add", "ctl.example", "--callback-url",
                   "https://ctl.example/cb/", env=env)  # fmt: skip
    assert added.returncode == 0, added.output
    [tok] = re.findall(r"dsr_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", added.stdout)
    assert "controller ctl.example added (token " in added.stdout
    again = invoke("opendsr", "controllers", "add", "ctl.example", env=env)
    assert again.returncode != 0 and "exists already" in again.stderr
    assert "Traceback" not in again.output
    listed = invoke("opendsr", "controllers", "list", env=env)
    assert "ctl.example" in listed.stdout and tok[4:16] in listed.stdout
    assert tok[17:] not in listed.stdout
    bad = invoke("opendsr", "controllers", "add", "not a domain", env=env)
    assert bad.returncode != 0 and "DOMAIN: expected a DNS name" in bad.stderr
    refused = invoke("opendsr", "controllers", "list", env={**env, "DSRFLOW_ROLES": "analyst"})
    assert refused.returncode == 5
    removed = invoke("opendsr", "controllers", "remove", "ctl.example", env=env)
    assert removed.returncode == 0 and "revoked" in removed.stdout
    assert "ctl.example" not in invoke("opendsr", "controllers", "list", env=env).stdout
    gone = invoke("opendsr", "controllers", "remove", "ctl.example", env=env)
    assert gone.returncode != 0 and "no such controller" in gone.stderr


def test_temporal_down_is_a_signed_503_after_the_checks(tmp_path: Path) -> None:
    """Without a reachable Temporal: input is still checked first, then 503 (spec's shape)."""
    rt = api_runtime(tmp_path, DSRFLOW_API_OPENDSR_DOMAIN=DOMAIN)
    url = "https://ctl.example/cb/"
    _, tok = AddController(rt).run(ADMIN, domain="ctl.example", callback_urls=[url],
                                   expires_in="1d")  # fmt: skip
    c = client(rt)
    w = {"cert": x509.load_pem_x509_certificate(c.get(_discovery_cert(c)).content)}
    srid = str(uuid.uuid4())
    r = c.post(f"{PREFIX}/requests", json=body(srid, "https://elsewhere.example/"),
               headers=auth(tok))  # fmt: skip
    assert r.status_code == 400 and "status_callback_urls" in r.text
    r = c.post(f"{PREFIX}/requests", json=body(srid, url), headers=auth(tok))
    assert r.status_code == 503, r.text
    assert (
        checked(w, r)["error"]["errors"][0]["message"] == "cannot reach Temporal; try again later"
    )
    assert "127.0.0.1:1" not in r.text
    rt.ledger.close()

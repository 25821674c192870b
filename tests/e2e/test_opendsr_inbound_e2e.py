"""OpenDSR inbound end to end: `dsrflow serve` (a real process) on a real Temporal dev server and
a worker on the demo stores. A controller submits an erasure over OpenDSR, staff verify and
approve it through /api/v1, the controller polls it to `completed` and receives signed status
callbacks on its own HTTP endpoint; every answer's and callback's signature is checked against
the certificate the processor publishes. A second request is cancelled while pending, and
cancelling the completed one is refused."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509

from dsrflow.adapters.opendsr.callbacks import CallbackResult, CallbackVerifier, callback_handler
from dsrflow.adapters.opendsr.signing import verify_signature
from dsrflow.runtime import Runtime
from dsrflow.service.messages import SendPending
from dsrflow.service.opendsr import request_id_for
from dsrflow.service.opendsr_controllers import AddController
from dsrflow.service.principal import Principal
from dsrflow.service.tokens import CreateToken
from tests.e2e.test_api_flow import Api, served  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

ADMIN = Principal.of("staff:root", ["admin"])


async def _signed(api: Api, cert: x509.Certificate, method: str, path: str, token: str,
                  body: Any = None) -> tuple[int, Any]:  # fmt: skip
    status, headers, raw = await api.call(method, path, token, body)
    assert headers["x-opendsr-processor-domain"] == "localhost"
    verify_signature(raw, headers["x-opendsr-signature"], cert)
    return status, json.loads(raw)


async def test_opendsr_round_trip_on_real_temporal(demo_stack: Runtime, served: Api) -> None:  # noqa: F811
    rt = demo_stack
    got: list[CallbackResult] = []
    verifier = CallbackVerifier({}, set())
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), callback_handler(verifier, got.append))
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
    try:
        _, ctl = AddController(rt).run(ADMIN, domain="ctl.example", callback_urls=[url],
                                       expires_in="1h")  # fmt: skip
        staff = {role: CreateToken(rt).run(ADMIN, actor=f"staff:{role}", roles=[role],
                                           expires_in="1h").token
                 for role in ("intake", "approver")}  # fmt: skip
        od = Api(served.base.replace("/api/v1", "/opendsr"))
        status, _, raw = await od.call("GET", "/discovery", None)
        doc = json.loads(raw)
        cert_path = doc["processor_certificate"].split("/opendsr", 1)[1]
        cert = x509.load_pem_x509_certificate((await od.call("GET", cert_path, None))[2])
        verifier.certificates["localhost"] = cert
        verifier.callback_urls.add(url)

        def request(srid: str) -> dict[str, Any]:
            return {"subject_request_id": srid, "subject_request_type": "erasure",
                    "submitted_time": "2026-12-02T10:00:00Z", "api_version": "2.0",
                    "subject_identities": [{"identity_type": "email", "identity_format": "raw",
                                            "identity_value": "alice@example.com"}],
                    "status_callback_urls": [url]}  # fmt: skip

        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        status, made = await _signed(api=od, cert=cert, method="POST", path="/requests",
                                     token=ctl, body=request(first))  # fmt: skip
        assert status == 201 and made["subject_request_id"] == first, made
        status, shown = await _signed(od, cert, "GET", f"/requests/{first}", ctl)
        assert status == 200 and shown["request_status"] == "pending"

        # Staff see it in their list, awaiting verification, and decide through /api/v1.
        rid = request_id_for("ctl.example", first)
        status, listing = await served.json("GET", "/requests", staff["intake"])
        assert status == 200 and rid in [r["id"] for r in listing], listing
        attested = {"method": "account_login", "reference": "verified by the controller"}
        status, body = await served.json(
            "POST", f"/requests/{rid}/verify-identity", staff["intake"], attested
        )
        assert status == 200, body
        status, body = await served.json("POST", f"/requests/{rid}/approve", staff["approver"],
                                         {"reason": "controller's instruction"})  # fmt: skip
        assert status == 200, body
        for _ in range(600):
            status, shown = await _signed(od, cert, "GET", f"/requests/{first}", ctl)
            if shown["request_status"] == "completed":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"not completed: {shown}")

        status, made = await _signed(od, cert, "POST", "/requests", ctl, request(second))
        assert status == 201
        status, gone = await _signed(od, cert, "DELETE", f"/requests/{second}", ctl)
        assert status == 202, gone
        status, refused = await _signed(od, cert, "DELETE", f"/requests/{first}", ctl)
        assert status == 405 and refused["error"]["errors"][0]["reason"] == "not_cancellable"

        for _ in range(100):
            await asyncio.to_thread(SendPending(rt).run, ADMIN)
            seen = {(g.update["subject_request_id"], g.update["request_status"])  # type: ignore[index]
                    for g in got}  # fmt: skip
            if {(first, "completed"), (second, "cancelled")} <= seen:
                break
            await asyncio.sleep(0.2)
        assert all(g.http_status == 202 for g in got)  # every callback's signature checked
        assert (first, "in_progress") in seen and (first, "completed") in seen, seen
        assert (second, "cancelled") in seen, seen
    finally:
        receiver.shutdown()
        receiver.server_close()

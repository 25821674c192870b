"""The OpenDSR adapter against a real OpenDSR processor running on 127.0.0.1 in the test."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dsrflow.adapters.opendsr import CallbackResult, CallbackVerifier, OpenDsrAdapter, OpenDsrConfig
from dsrflow.adapters.opendsr.signing import SignatureError, check_certificate, verify_signature
from dsrflow.adapters.sdk import (
    AdapterContext,
    PermanentAdapterError,
    RetryableAdapterError,
    Subject,
)
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded
from dsrflow.domain import Identity
from tests.fixtures.opendsr_processor import DOMAIN, Pki, Processor, make_pki, sign


def make(proc: Processor, base: Path, **extra: Any) -> OpenDsrAdapter:
    cfg = {"url": proc.base, "certificate_file": str(proc.pki.cert_pem),
           "identities": {"email": "email"}, "poll_interval": 0.01, **extra}  # fmt: skip
    return OpenDsrAdapter.create(
        OpenDsrConfig.model_validate(cfg), AdapterContext("vendor", base, {"TOKEN": "t0ken"})
    )


class OpenDsrHarness(Harness):
    # batch_size stays 0: batching a large subject is the processor's business, not ours.
    def __init__(self, proc: Processor, base: Path, **extra: Any) -> None:
        self.proc = proc
        self.adapter = make(proc, base, **extra)
        self.ids = itertools.count(1)

    def seed(self, tag: str) -> Seeded:
        email = f"{tag}-{next(self.ids)}@example.com"
        seeded = Seeded(Subject.of([Identity("email", email)]), records=2)
        with self.proc.lock:
            self.proc.data[email] = [{"event": "signup", "note": seeded.marker},
                                     {"event": "login", "note": "web"}]  # fmt: skip
        return seeded

    def raw_state(self, seeded: Seeded) -> Any:
        with self.proc.lock:
            return copy.deepcopy(self.proc.data.get(seeded.subject.values("email")[0]))


class TestOpenDsrConformance(AdapterConformance):
    @pytest.fixture(params=["raw", "sha256"])
    def harness(self, request: pytest.FixtureRequest, opendsr_processor: Processor,
                tmp_path: Path) -> OpenDsrHarness:  # fmt: skip
        return OpenDsrHarness(opendsr_processor, tmp_path, identity_format=request.param)


def test_erasure_records_the_signed_receipt(opendsr_processor: Processor, tmp_path: Path) -> None:
    h = OpenDsrHarness(opendsr_processor, tmp_path)
    seeded = h.seed("a")
    beats: list[int] = []
    receipt = h.adapter.erase(seeded.subject, progress=beats.append)
    assert (receipt.matched, receipt.affected) == (2, 2) and beats == [1]
    [pr] = receipt.processor_receipts
    assert pr.request_status == "completed" and pr.protocol == "opendsr-v2"
    body = base64.b64decode(pr.body or "")
    verify_signature(body, pr.signature, opendsr_processor.pki.cert)  # checkable offline
    assert json.loads(body)["subject_request_id"] == pr.subject_request_id
    assert "example.com" not in repr(receipt)


def test_retried_erasure_resumes_the_same_request(
    opendsr_processor: Processor, tmp_path: Path
) -> None:
    h = OpenDsrHarness(opendsr_processor, tmp_path, poll_timeout=0.001)
    subject = Subject.of([Identity("email", "slow@example.com")], request_id="dsr-1")
    opendsr_processor.polls_to_complete = 50
    with pytest.raises(RetryableAdapterError, match="polling resumes on retry"):
        h.adapter.erase(subject)
    opendsr_processor.polls_to_complete = 2
    assert h.adapter.erase(subject).processor_receipts[0].request_status == "completed"
    assert opendsr_processor.posts == 1  # the retry found its request instead of sending another
    other = Subject.of([Identity("email", "slow@example.com")], request_id="dsr-2")
    assert h.adapter.request_id(other, "erasure") != h.adapter.request_id(subject, "erasure")


def test_certificate_from_discovery_checked_against_ca(
    opendsr_processor: Processor, tmp_path: Path
) -> None:
    ca = str(opendsr_processor.pki.ca_pem)
    h = OpenDsrHarness(opendsr_processor, tmp_path, certificate_file=None, ca_file=ca,
                       processor_domain=DOMAIN)  # fmt: skip
    assert h.adapter.check_connection().ok
    wrong = OpenDsrHarness(opendsr_processor, tmp_path, certificate_file=None,
                           ca_file=str(opendsr_processor.pki.ca_pem),
                           processor_domain="other.test")  # fmt: skip
    with pytest.raises(PermanentAdapterError, match="vendor"):
        wrong.adapter.erase(wrong.seed("x").subject)


def test_forged_signature_is_refused(opendsr_processor: Processor, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other")  # a certificate the processor did not sign with
    h = OpenDsrHarness(opendsr_processor, tmp_path, certificate_file=str(other.cert_pem))
    with pytest.raises(PermanentAdapterError, match="signature rejected") as exc:
        h.adapter.erase(h.seed("a").subject)
    assert "example.com" not in str(exc.value)


def test_certificate_checks(tmp_path: Path, opendsr_pki: Pki) -> None:
    expired = make_pki(tmp_path / "old", offset_days=-400)
    with pytest.raises(SignatureError, match="validity period"):
        check_certificate(expired.cert, DOMAIN, None)
    from cryptography import x509

    [ca] = x509.load_pem_x509_certificates(opendsr_pki.ca_pem.read_bytes())
    check_certificate(opendsr_pki.cert, DOMAIN, [ca])
    with pytest.raises(SignatureError, match=r"not trusted for evil\.test"):
        check_certificate(opendsr_pki.cert, "evil.test", [ca])


def test_unreachable_processor_is_retryable(opendsr_pki: Pki, tmp_path: Path) -> None:
    cfg = OpenDsrConfig.model_validate({"url": "http://127.0.0.1:1/v2",
                                        "identities": {"email": "email"},
                                        "certificate_file": str(opendsr_pki.cert_pem)})  # fmt: skip
    adapter = OpenDsrAdapter.create(cfg, AdapterContext("vendor", tmp_path, {}))
    with pytest.raises(RetryableAdapterError, match="store 'vendor': cannot reach the processor"):
        adapter.erase(Subject.of([Identity("email", "x@example.com")]))


def test_signed_callbacks_are_verified(opendsr_processor: Processor, tmp_path: Path) -> None:
    """The processor POSTs signed status callbacks to a receiver built on CallbackVerifier."""
    got: list[CallbackResult] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{server.server_address[1]}/opendsr/callbacks"
    verifier = CallbackVerifier({DOMAIN: opendsr_processor.pki.cert}, {url})
    from dsrflow.adapters.opendsr import callback_handler

    server.RequestHandlerClass = callback_handler(verifier, got.append)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        h = OpenDsrHarness(opendsr_processor, tmp_path, status_callback_urls=[url])
        h.adapter.erase(h.seed("a").subject)
    finally:
        server.shutdown()
        server.server_close()
    assert [r.update["request_status"] for r in got if r.update] == ["in_progress", "completed"]
    assert got[-1].receipt is not None and got[-1].receipt.request_status == "completed"
    body = json.dumps({"status_callback_url": url, "request_status": "completed"}).encode()
    key = opendsr_processor.pki.key
    ok = {"X-OpenDSR-Processor-Domain": DOMAIN, "X-OpenDSR-Signature": sign(key, body)}
    assert verifier.handle(ok, body).http_status == 202
    assert (
        verifier.handle({**ok, "X-OpenDSR-Processor-Domain": "evil.test"}, body).http_status == 401
    )
    assert verifier.handle(ok, body.replace(b"completed", b"cancelled")).http_status == 403
    other = json.dumps({"status_callback_url": "http://elsewhere/cb"}).encode()
    assert (
        verifier.handle({**ok, "X-OpenDSR-Signature": sign(key, other)}, other).http_status == 400
    )

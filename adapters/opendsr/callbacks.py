"""Receiving OpenDSR status callbacks: verify before parsing, answer with the spec's codes.

``CallbackVerifier.handle`` is framework-free (headers + raw body in, HTTP status + verified
update out) so the HTTP API can mount it on any route; ``callback_handler`` wraps it for the
standard library's ``http.server`` (used by the tests and usable as a tiny standalone receiver).

Order of checks (OpenDSR security guidelines): the processor domain is on the allow-list (else
401), the signature over the raw bytes is valid for that domain's certificate (else 403), the
body is JSON naming one of our callback URLs (else 400); then 202 and the update is handed on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography import x509

from dsrflow.adapters.opendsr.signing import (
    DOMAIN_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    SignedBody,
    fingerprint,
    verify_signature,
)
from dsrflow.adapters.sdk.receipts import ProcessorReceipt

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class CallbackResult:
    """What to answer and, when accepted, the verified status update."""

    http_status: int
    reason: str
    update: dict[str, Any] | None = None
    receipt: ProcessorReceipt | None = None


class CallbackVerifier:
    """Checks callbacks from known processors.

    Args:
        certificates: processor domain -> its (already checked) signing certificate: the
            allow-list.
        callback_urls: Our own callback URLs; a callback naming another is refused.

    """

    def __init__(
        self, certificates: Mapping[str, x509.Certificate], callback_urls: set[str]
    ) -> None:
        self.certificates = dict(certificates)
        self.callback_urls = set(callback_urls)

    def handle(self, headers: Mapping[str, str], body: bytes) -> CallbackResult:
        """Verify one callback (header names are matched case-insensitively)."""
        lower = {k.lower(): v for k, v in headers.items()}
        domain = lower.get(DOMAIN_HEADER.lower())
        cert = self.certificates.get(domain or "")
        if cert is None:
            return CallbackResult(401, "processor domain not on the allow-list")
        try:
            signature = verify_signature(body, lower.get(SIGNATURE_HEADER.lower()), cert)
        except SignatureError as exc:
            return CallbackResult(403, str(exc))
        try:
            update = json.loads(body)
        except ValueError:
            return CallbackResult(400, "body is not JSON")
        if (
            not isinstance(update, dict)
            or update.get("status_callback_url") not in self.callback_urls
        ):
            return CallbackResult(400, "status_callback_url is not one of ours")
        signed = SignedBody(body, signature, cert)
        receipt = ProcessorReceipt(
            protocol="opendsr-v2",
            processor_domain=domain or "",
            subject_request_id=str(update.get("subject_request_id")),
            request_status=str(update.get("request_status")),
            body_sha256=signed.body_sha256,
            signature=signed.signature_b64,
            certificate_sha256=fingerprint(cert),
            body=None if "results_url" in update else base64.b64encode(body).decode(),
        )
        return CallbackResult(202, "accepted", update, receipt)


def callback_handler(
    verifier: CallbackVerifier, on_update: Callable[[CallbackResult], None]
) -> type[BaseHTTPRequestHandler]:
    """A ``http.server`` handler class that verifies POSTed callbacks and passes them on."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413)
                return
            result = verifier.handle(dict(self.headers.items()), self.rfile.read(length))
            if result.http_status == 202:
                on_update(result)
            self._answer(result.http_status)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return  # request lines may carry ids; dsrflow logs through structlog only

    return Handler

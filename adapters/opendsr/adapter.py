"""The OpenDSR processor adapter: tell a recipient (GDPR Art. 19) and record its signed receipt.

``erase``/``access`` submit an OpenDSR v2 request (``POST /requests``) and poll
``GET /requests/{id}`` until the processor reports ``completed``, heartbeating on every poll.
The request id is derived from the dsrflow request id (or, without one, from the subject's
identities) so a retried activity finds the request it already sent instead of sending another.
Every response signature is checked against the processor's certificate; the signed completion
is returned as a ``ProcessorReceipt`` for the evidence bundle.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlparse

from cryptography import x509

from dsrflow.adapters.opendsr.client import OpenDsrClient
from dsrflow.adapters.opendsr.config import OpenDsrConfig
from dsrflow.adapters.opendsr.signing import (
    SignatureError,
    SignedBody,
    check_certificate,
    fingerprint,
    load_certificate,
    load_certificates,
)
from dsrflow.adapters.sdk import (
    AdapterContext,
    AdapterError,
    Capability,
    Check,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    RetryableAdapterError,
    Subject,
    operation_digest,
)
from dsrflow.adapters.sdk.receipts import CollectionCount, ProcessorReceipt

PROTOCOL = "opendsr-v2"
DONE = "completed"
NAMESPACE = uuid.UUID("0f6c8a52-3d1e-4c55-9b7e-7d2f1f0e4a10")


class OpenDsrAdapter:
    """Forwards access/erasure to an external processor over OpenDSR v2."""

    name = "opendsr"
    version = "0.1.0"
    capabilities = frozenset({Capability.ACCESS, Capability.ERASE, Capability.VERIFY})
    config_model = OpenDsrConfig

    def __init__(self, config: OpenDsrConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self.store = ctx.store
        self._cert: x509.Certificate | None = None
        self._lock = threading.Lock()
        token = ctx.secret(config.api_key_env, "API token") if config.api_key_env else None
        self.client = OpenDsrClient(
            ctx.store, config.url, token, config.timeout, self.certificate, config.processor_domain
        )
        self.sleep = time.sleep

    @classmethod
    def identity_kinds_used(cls, config: OpenDsrConfig) -> list[tuple[tuple[str, ...], str, bool]]:
        """The subject kinds forwarded to the processor, for the catalog loader."""
        return [(("identities", kind), kind, False) for kind in config.identities]

    @classmethod
    def create(cls, config: OpenDsrConfig, ctx: AdapterContext) -> Self:
        """Build the adapter; contacts nothing yet."""
        return cls(config, ctx)

    def close(self) -> None:
        """Nothing pooled to release."""

    # -- trust -----------------------------------------------------------------------------

    def certificate(self) -> x509.Certificate:
        """The processor's signing certificate, checked (pinned, or fetched and chained)."""
        with self._lock:
            if self._cert is None:
                self._cert = self._load_certificate()
            return self._cert

    def _path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.ctx.base_dir / path

    def _load_certificate(self) -> x509.Certificate:
        cfg = self.config
        try:
            if cfg.certificate_file:
                cert = load_certificate(self._path(cfg.certificate_file))
                check_certificate(cert, cfg.processor_domain, None)
                return cert
            assert cfg.ca_file is not None  # validated: one of the two
            trust = load_certificates(self._path(cfg.ca_file))
            _, _, discovery = self.client.call("GET", "/discovery", signed=False)
            cert_url = (discovery or {}).get("processor_certificate")
            if not isinstance(cert_url, str) or not cert_url.startswith(("http://", "https://")):
                raise SignatureError("discovery names no processor_certificate URL")
            pem = _fetch(cert_url, cfg.timeout)
            cert = x509.load_pem_x509_certificate(pem)
            check_certificate(cert, cfg.processor_domain, trust)
            return cert
        except SignatureError as exc:
            raise PermanentAdapterError(f"store {self.store!r}: {exc}") from None
        except ValueError:
            raise PermanentAdapterError(
                f"store {self.store!r}: processor certificate is not PEM"
            ) from None
        except OSError as exc:
            raise RetryableAdapterError(
                f"store {self.store!r}: cannot fetch the processor certificate ({exc})"
            ) from None

    # -- requests --------------------------------------------------------------------------

    def _identities(self, subject: Subject) -> list[dict[str, str]]:
        out = []
        for kind, id_type in sorted(self.config.identities.items()):
            for value in subject.values(kind):
                if self.config.identity_format == "sha256":
                    value = hashlib.sha256(value.encode("utf-8")).hexdigest()
                out.append(
                    {
                        "identity_type": id_type,
                        "identity_value": value,
                        "identity_format": self.config.identity_format,
                    }
                )
        return out

    def request_id(self, subject: Subject, request_type: str) -> str:
        """The OpenDSR ``subject_request_id``: stable per (store, request, type), UUID v4 form."""
        basis = subject.request_id or repr(sorted(subject.identities.items()))
        digest = hashlib.sha256(f"{self.store}\0{request_type}\0{basis}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def _submit(self, subject: Subject, request_type: str) -> tuple[str, bool]:
        """Send the request unless an earlier attempt did; returns (id, already completed)."""
        sid = self.request_id(subject, request_type)
        status, _, answer = self.client.call("GET", f"/requests/{sid}")
        if status != 404:
            # Sent by an earlier attempt or call: resume waiting for it, never send it twice.
            return sid, isinstance(answer, dict) and answer.get("request_status") == DONE
        body = {
            "subject_request_id": sid,
            "subject_request_type": request_type,
            "subject_identities": self._identities(subject),
            "submitted_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "regulation": self.config.regulation,
            "api_version": "2.0",
            "status_callback_urls": list(self.config.status_callback_urls),
        }
        status, _, answer = self.client.call("POST", "/requests", body)
        if status != 201 or not isinstance(answer, dict) or answer.get("subject_request_id") != sid:
            raise PermanentAdapterError(
                f"store {self.store!r}: POST /requests: processor did not acknowledge the "
                f"request (HTTP {status})"
            )
        return sid, False

    def _await(self, sid: str, progress: Progress | None) -> tuple[SignedBody, dict[str, Any]]:
        deadline = time.monotonic() + self.config.poll_timeout
        polls = 0
        while True:
            status, signed, answer = self.client.call("GET", f"/requests/{sid}")
            if status == 404 or signed is None or not isinstance(answer, dict):
                raise PermanentAdapterError(
                    f"store {self.store!r}: processor lost request {sid} (HTTP {status})"
                )
            state = answer.get("request_status")
            if state == DONE:
                return signed, answer
            if state == "cancelled":
                raise PermanentAdapterError(
                    f"store {self.store!r}: processor cancelled request {sid}"
                )
            polls += 1
            if progress:
                progress(polls)  # a heartbeat per poll: the activity stays alive while waiting
            if time.monotonic() >= deadline:
                raise RetryableAdapterError(
                    f"store {self.store!r}: request {sid} still {state} after "
                    f"{self.config.poll_timeout:.0f}s; polling resumes on retry"
                )
            self.sleep(self.config.poll_interval)

    def _receipt_of(self, signed: SignedBody, answer: dict[str, Any]) -> ProcessorReceipt:
        domain = self.config.processor_domain or urlparse(self.config.url).hostname or ""
        return ProcessorReceipt(
            protocol=PROTOCOL,
            processor_domain=domain,
            subject_request_id=str(answer.get("subject_request_id")),
            request_status=str(answer.get("request_status")),
            body_sha256=signed.body_sha256,
            signature=signed.signature_b64,
            certificate_sha256=fingerprint(signed.certificate),
            body=None if "results_url" in answer else base64.b64encode(signed.body).decode(),
        )

    def access_digest(self, subject: Subject) -> str:
        """Digest of what ``access`` does (for the access receipt)."""
        return operation_digest([*self._templates(self.config.export_type), "GET results_url"])

    def _templates(self, request_type: str) -> list[str]:
        kinds = sorted(set(self.config.identities.values()))
        return [
            f"POST {self.config.url}/requests type={request_type} identities={kinds} "
            f"format={self.config.identity_format}",
            f"GET {self.config.url}/requests/{{id}} until {DONE}",
        ]

    # -- verbs -----------------------------------------------------------------------------

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Send an erasure request and wait for the processor's signed completion."""
        if not self._identities(subject):
            return OperationReceipt("erase", 0, 0, operation_digest(self._templates("erasure")))
        sid, already = self._submit(subject, "erasure")
        signed, answer = self._await(sid, progress)
        found = _count(answer)
        # A request completed before this call (a repeated erasure) changed nothing now.
        changed = 0 if already else found
        return OperationReceipt(
            action="erase",
            matched=found,
            affected=changed,
            operation_digest=operation_digest(self._templates("erasure")),
            collections=[CollectionCount("processor", "erasure", found, changed, residual=None)],
            processor_receipts=[self._receipt_of(signed, answer)],
        )

    def verify(self, subject: Subject) -> OperationReceipt:
        """Residual = 1 unless the processor attests (signed) that the erasure is completed."""
        digest = operation_digest([f"GET {self.config.url}/requests/{{id}}"])
        if not self._identities(subject):
            return OperationReceipt("verify", 0, 0, digest)
        sid = self.request_id(subject, "erasure")
        status, signed, answer = self.client.call("GET", f"/requests/{sid}")
        done = status == 200 and isinstance(answer, dict) and answer.get("request_status") == DONE
        residual = 0 if done else 1
        receipts = [self._receipt_of(signed, answer)] if done and signed else []
        return OperationReceipt(
            action="verify",
            matched=residual,
            affected=0,
            operation_digest=digest,
            collections=[CollectionCount("processor", "verify", residual, 0)],
            processor_receipts=receipts,
        )

    def access(self, subject: Subject) -> Iterator[Record]:
        """Send an access request, wait for completion, and stream the processor's results."""
        if not self._identities(subject):
            return
        sid, _ = self._submit(subject, self.config.export_type)
        _, answer = self._await(sid, None)
        url = answer.get("results_url")
        if not url or _count(answer) == 0:
            return
        _, _, results = self.client.call("GET", str(url), signed=False)
        rows = results.get("records", []) if isinstance(results, dict) else results
        if not isinstance(rows, list):
            raise PermanentAdapterError(f"store {self.store!r}: results are not a JSON list")
        for row in rows:
            yield Record("processor", row if isinstance(row, dict) else {"value": row})

    def check_connection(self) -> CheckReport:
        """Certificate valid and trusted; the processor answers a signed status call."""
        checks: list[Check] = []
        try:
            cert = self.certificate()
            checks.append(Check("certificate", True, f"valid ({fingerprint(cert)[:23]}…)"))
            probe = str(uuid.uuid4())
            status, _, _ = self.client.call("GET", f"/requests/{probe}")
            checks.append(Check("processor", True, f"{self.config.url} answers (HTTP {status})"))
        except AdapterError as exc:
            checks.append(Check("processor", False, str(exc)))
        return CheckReport(self.store, checks)


def _count(answer: dict[str, Any]) -> int:
    # results_count is optional in OpenDSR; without it the one completed request is the count.
    count = answer.get("results_count")
    return count if isinstance(count, int) and count >= 0 else 1


def _fetch(url: str, timeout: float) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http(s) checked
        body: bytes = resp.read()  # urlopen's result is untyped in the stubs
    return body

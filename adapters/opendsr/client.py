"""A small synchronous OpenDSR HTTP client whose every response signature is checked.

Standard library only (``urllib``): the adapter runs in an activity thread and makes a handful of
calls per request, so a connection pool would buy nothing.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from cryptography import x509

from dsrflow.adapters.opendsr.signing import (
    DOMAIN_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    SignedBody,
    verify_signature,
)
from dsrflow.adapters.sdk import PermanentAdapterError, RetryableAdapterError
from dsrflow.adapters.sdk.redact import first_line


class OpenDsrClient:
    """Calls one processor; maps transport and protocol failures to typed adapter errors."""

    def __init__(
        self,
        store: str,
        base_url: str,
        token: str | None,
        timeout: float,
        certificate: Callable[[], x509.Certificate],
        domain: str | None,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._certificate = certificate
        self._domain = domain
        self._lock = threading.Lock()

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, signed: bool = True
    ) -> tuple[int, SignedBody | None, Any]:
        """One HTTP call. Returns ``(status, signed body, parsed JSON)``; 404 gives ``None``s.

        Raises:
            RetryableAdapterError: Unreachable, timeout, 429 or 5xx.
            PermanentAdapterError: Refused credentials, other 4xx, bad or missing signature.

        """
        url = path if path.startswith("http") else self.base_url + path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        where = f"{method} {path if not path.startswith('http') else 'results'}"
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310
                raw, status, got = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return 404, None, None
            raise self._http_error(exc, where) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RetryableAdapterError(
                f"store {self.store!r}: cannot reach the processor at {self.base_url} "
                f"({first_line(str(reason))})"
            ) from None
        if not signed:
            return status, None, self._json(raw, where)
        try:
            domain = got.get(DOMAIN_HEADER)
            if self._domain and domain != self._domain:
                raise SignatureError(f"{DOMAIN_HEADER} is {domain!r}, expected {self._domain!r}")
            signature = verify_signature(raw, got.get(SIGNATURE_HEADER), self._certificate())
        except SignatureError as exc:
            raise PermanentAdapterError(
                f"store {self.store!r}: {where}: processor signature rejected: {exc}"
            ) from None
        return status, SignedBody(raw, signature, self._certificate()), self._json(raw, where)

    def _json(self, raw: bytes, where: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise PermanentAdapterError(
                f"store {self.store!r}: {where}: processor answered with invalid JSON"
            ) from None

    def _http_error(self, exc: urllib.error.HTTPError, where: str) -> Exception:
        text = f"store {self.store!r}: {where}: processor answered HTTP {exc.code}"
        try:
            message = json.loads(exc.read()).get("error", {}).get("message")
        except (ValueError, AttributeError, OSError):
            message = None
        if message:
            text += f" ({first_line(str(message), 120)})"
        if exc.code in (401, 403):
            return PermanentAdapterError(text + ": check the processor credentials")
        if exc.code == 429 or exc.code >= 500:
            return RetryableAdapterError(text)
        return PermanentAdapterError(text)

"""``/healthz``, ``/readyz`` and ``/metrics``: answered before routing, on the API and the worker.

One pure ASGI middleware: on the API it sits inside the hardening middleware (so the answers
carry the same security headers) and outside the route table (these paths are no API operation:
no token, no use case, not in the OpenAPI document). The worker serves it over an empty app.

Unauthenticated, so the answers say nothing sensitive: liveness is a constant, readiness names
each check and whether it passed (no address, no error text), and ``/metrics`` carries counts
labelled with store names and statuses; ``DSRFLOW_METRICS_TOKEN`` puts it behind a bearer token.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Checks = Callable[[], Awaitable[dict[str, bool]]]
"""Readiness: each check's name and whether it passed."""
Exposition = Callable[[], Awaitable[bytes]]
"""The Prometheus text of the process's series."""

PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class OpsEndpoints:
    """Answer the three operational paths; pass everything else to ``app``.

    Args:
        app: The application inside.
        ready: The readiness checks (all must pass for 200).
        metrics: The ``/metrics`` body; None: that path is the app's (a 404 there).
        token: When set, ``/metrics`` wants ``Authorization: Bearer <token>``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ready: Checks,
        metrics: Exposition | None = None,
        token: str | None = None,
    ) -> None:
        self.app = app
        self.ready = ready
        self.metrics = metrics
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an operational path, or hand the request on."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path not in PATHS or (path == "/metrics" and self.metrics is None):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, _json({"error": "use GET"}), headers=[(b"allow", b"GET")])
            return
        if path == "/healthz":
            await _answer(send, 200, _json({"status": "ok"}))
        elif path == "/readyz":
            checks = await self._checks()
            ok = all(checks.values())
            body = {
                "status": "ready" if ok else "not ready",
                "checks": {name: "ok" if passed else "failing" for name, passed in checks.items()},
            }
            await _answer(send, 200 if ok else 503, _json(body))
        else:
            await self._metrics(scope, send)

    async def _checks(self) -> dict[str, bool]:
        try:
            return await self.ready()
        except Exception:  # a check that raises is a failing check, not a 500
            return {"checks": False}

    async def _metrics(self, scope: Scope, send: Send) -> None:
        assert self.metrics is not None
        if self.token is not None and not _bearer_is(scope, self.token):
            await _answer(
                send, 401, _json({"error": "send the metrics token as a bearer token"}),
                headers=[(b"www-authenticate", b"Bearer")],
            )  # fmt: skip
            return
        await _answer(send, 200, await self.metrics(), ctype=CONTENT_TYPE_LATEST.encode())


def _bearer_is(scope: Scope, token: str) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, given = value.decode("latin-1").partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), token.encode()
            )
    return False


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    *,
    ctype: bytes = b"application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

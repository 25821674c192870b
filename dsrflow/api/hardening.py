"""What every API request and response goes through: headers, limits, the last line of defence.

One pure ASGI middleware, outermost in the app, so that every response (a route's, a 404 for an
unknown path, a 413 from here, the generic 500) carries the same security headers, and no
exception ever reaches the server's default error page with a trace.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    # Responses carry request state and personal data (packages): no cache may keep any of it.
    (b"cache-control", b"no-store"),
)
PAGE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
)
"""The console's and privacy center's pages: their own scripts and styles only, no inline."""
PAGE_PREFIXES = ("/console", "/privacy")
"""Paths served as HTML pages: page CSP, and forms (urlencoded POSTs) instead of JSON bodies."""
FORM = "application/x-www-form-urlencoded"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"

log = structlog.get_logger("dsrflow.api")


def error_body(message: str) -> bytes:
    """The API's error body: one line of JSON."""
    return json.dumps({"error": " ".join(message.split())}).encode()


class Hardening:
    """Security headers, a body size cap, strict JSON on POST, and a catch-all for exceptions.

    Args:
        app: The application inside.
        max_body_bytes: Larger request bodies get 413 (whether announced or streamed).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (lifespan and other scopes pass straight through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = SECURITY_HEADERS
        if is_page(scope.get("path", "")):
            headers = (PAGE_CSP, *headers[1:])
        extra = headers + ((HSTS,) if scope.get("scheme") == "https" else ())
        started = False

        async def send_hardened(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {h.lower() for h, _ in extra}
                kept = [
                    (k, _relative(v, scope) if k.lower() == b"location" else v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in names
                ]
                message["headers"] = kept + list(extra)
            await send(message)

        page = is_page(scope.get("path", ""))
        try:
            refusal = _refuse(scope)
            if refusal is not None:
                await _respond(send_hardened, *refusal, page=page)
                return
            if scope["method"] in BODY_METHODS:
                body = await self._read_body(scope, receive)
                if body is None:
                    await _respond(
                        send_hardened,
                        413,
                        f"request body larger than {self.max_body} bytes",
                        page=page,
                    )
                    return
                receive = _replay(body)
            await self.app(scope, receive, send_hardened)
        except Exception as exc:  # the last line: never a trace, never internals
            # The type only: a message may quote input or data.
            log.error("api internal error", error=type(exc).__name__)
            if not started:
                await _respond(send_hardened, 500, "internal error; see the server log", page=page)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is over the cap (read no further than that)."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return None
                except ValueError:
                    return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _relative(location: bytes, scope: Scope) -> bytes:
    """A redirect to this server, as a path.

    Starlette builds absolute URLs (the trailing-slash redirect) from the ``Host`` header the
    client chose, so ``Host: evil.example`` would send the browser, or a cache's next visitor,
    to that host.
    """
    host = next((v for k, v in scope.get("headers", []) if k == b"host"), None)
    if host is None:
        return location
    for scheme in (b"http://", b"https://"):
        prefix = scheme + host
        rest = location[len(prefix) :]
        if location.lower().startswith(prefix.lower()) and rest[:1] in (b"/", b"?", b""):
            return b"/" + rest.lstrip(b"/")  # never "//host": that is absolute again
    return location


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the HTML pages (``PAGE_PREFIXES``)."""
    return any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def _refuse(scope: Scope) -> tuple[int, str] | None:
    """A request refused before any route: a body that is not JSON (a form, on a page)."""
    if scope["method"] not in BODY_METHODS:
        return None
    types = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-type"]
    if len(types) > 1:
        # The app reads the first, this check would read one of them: two parsers disagreeing
        # let a multipart body past the "forms are urlencoded" rule.
        return 415, "send one Content-Type header"
    media = (types[0] if types else "").split(";", 1)[0].strip().lower()
    if is_page(scope.get("path", "")):
        return None if media == FORM else (415, f"send the form as {FORM}")
    if media != JSON:
        return 415, f"send the body as {JSON}"
    return None


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits for a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _respond(
    send: Send,
    status: int,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    page: bool = False,
) -> None:
    """Answer an error before (or instead of) the app: JSON, or a bare HTML page on a page path."""
    if page:
        text = html.escape(" ".join(message.split()))
        body = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error {status}'
            f"</title></head><body><h1>Error {status}</h1><p>{text}</p></body></html>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    else:
        body, ctype = error_body(message), JSON.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FailureLimiter:
    """Counts failed sign-ins per client address and per token id; refuses when over the limit.

    A fixed window per key, in memory (one per process: behind several API processes, each
    counts its own). Only presented-but-wrong tokens count: a request without a token is not a
    guess. A token id blocked by someone else's guesses is blocked for one window only.

    Args:
        limit: Failures allowed per key per window.
        window_s: The window, in seconds.
    """

    MAX_KEYS = 10_000

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window = window_s
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str | None) -> int | None:
        """Seconds until any of ``keys`` may try again, or None when none is blocked."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key in filter(None, keys):
                start, count = self._seen.get(key, (now, 0))
                if count >= self.limit and now - start < self.window:
                    waits.append(int(self.window - (now - start)) + 1)
        return max(waits) if waits else None

    def fail(self, *keys: str | None) -> None:
        """Count one failure against each of ``keys``."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > self.MAX_KEYS:  # forget finished windows (a spray of addresses)
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
            for key in filter(None, keys):
                start, count = self._seen.get(key, (now, 0))
                if now - start >= self.window:
                    start, count = now, 0
                self._seen[key] = (start, count + 1)

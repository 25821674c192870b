"""Signed webhooks for staff: Slack-compatible JSON (``{"text": ...}``), HMAC-SHA256 signed.

Each request carries ``X-Dsrflow-Timestamp`` (Unix seconds) and ``X-Dsrflow-Signature:
v1=<hex>``, the HMAC-SHA256 under the shared secret of ``v1:<timestamp>:<body>``. A receiver
recomputes it over the raw body, compares in constant time, and refuses old timestamps
(``verify``). Bodies carry ids, dates and store names only: never a subject's data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from dsrflow.messages.render import Rendered
from dsrflow.messages.smtp import Delivery

TIMESTAMP = "X-Dsrflow-Timestamp"
SIGNATURE = "X-Dsrflow-Signature"
VERSION = "v1"
TOLERANCE_S = 300


def body_of(msg: Rendered) -> bytes:
    """The JSON body: the subject line and the text, as Slack's ``text``."""
    return json.dumps({"text": f"*{msg.subject}*\n{msg.text.strip()}"}).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "v1:<timestamp>:<body>">``."""
    mac = hmac.new(secret.encode(), f"{VERSION}:{timestamp}:".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, sig: str, *, now: float | None = None) -> bool:
    """Whether a received webhook is authentic and fresh (for receivers, and the tests)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= TOLERANCE_S and hmac.compare_digest(signature(secret, timestamp, body), sig)


def post(url: str, secret: str, msg: Rendered, *, timeout_s: float = 10.0) -> Delivery:
    """POST one signed message; never raises for a delivery problem (nor names the URL)."""
    body = body_of(msg)
    ts = str(int(time.time()))
    signed = {TIMESTAMP: ts, SIGNATURE: signature(secret, ts, body)}
    return post_json(url, body, signed, what="webhook", agent="dsrflow-messages",
                     timeout_s=timeout_s)  # fmt: skip


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    what: str,
    agent: str,
    timeout_s: float = 10.0,
) -> Delivery:
    """POST a JSON body (webhooks, OpenDSR callbacks) and say how it went, without raising.

    A 4xx other than timeouts and rate limits is permanent: the receiver refuses this message
    for good. The error never names the URL (it can carry a token).
    """
    req = urllib.request.Request(  # noqa: S310 - the URL is an operator setting or allow-listed
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": agent, **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            status = resp.status
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        return Delivery(False, error=f"HTTP {exc.code}", permanent=permanent)
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else None
        return Delivery(False, error=f"{what} {type(reason).__name__}: {text or 'unreachable'}")
    except (OSError, ValueError) as exc:
        return Delivery(False, error=f"{what} {type(exc).__name__}")
    return Delivery(True, reference=f"HTTP {status}")

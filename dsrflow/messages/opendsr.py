"""Delivering an OpenDSR status callback: the signed JSON a controller's callback URL receives.

The body is the request's status as ``GET /requests/{id}`` shows it, plus
``status_callback_url``; it is signed with the processor key like every OpenDSR response
(``X-OpenDSR-Processor-Domain`` and ``X-OpenDSR-Signature``; ``X-OpenGDPR-*`` for a request
that came in on the legacy route). The outbox row's context holds ids, dates and the URL only.
"""

from __future__ import annotations

import json
from typing import Any

from dsrflow.keys.opendsr import ProcessorKey
from dsrflow.messages.smtp import Delivery
from dsrflow.messages.webhook import post_json

API_VERSION = "2.0"


def headers(key: ProcessorKey, body: bytes, *, legacy: bool = False) -> dict[str, str]:
    """The signature headers of a body (the legacy OpenGDPR names when ``legacy``)."""
    prefix = "X-OpenGDPR" if legacy else "X-OpenDSR"
    return {f"{prefix}-Processor-Domain": key.domain, f"{prefix}-Signature": key.sign(body)}


def callback_body(context: dict[str, Any]) -> bytes:
    """The callback's JSON from an outbox row's context."""
    return json.dumps(
        {
            "controller_id": context["controller"],
            "expected_completion_time": context["expected_completion_time"],
            "subject_request_id": context["subject_request_id"],
            "request_status": context["request_status"],
            "api_version": API_VERSION,
            "status_callback_url": context["url"],
        },
        separators=(",", ":"),
    ).encode()


def post(key: ProcessorKey, context: dict[str, Any], *, timeout_s: float = 10.0) -> Delivery:
    """POST one signed callback; never raises for a delivery problem (nor names the URL)."""
    body = callback_body(context)
    signed = headers(key, body, legacy=bool(context.get("legacy")))
    # The URL is on the controller's allow-list.
    return post_json(context["url"], body, signed, what="callback", agent="dsrflow-opendsr",
                     timeout_s=timeout_s)  # fmt: skip

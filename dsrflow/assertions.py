"""The caller assertion: proof that a start, update or signal came through dsrflow.

Every call that changes a request carries a Temporal header (``dsrflow-caller``) holding an
HMAC-SHA256 over the request id, the operation (``start`` or the update/signal name), the actor
the call names and the time it was made. Only processes holding the caller key (kept in the
keystore like the data keys, never in Temporal history) can make one, so an update sent from the
Temporal UI or CLI - with any actor it likes - is refused by the workflow, and so is a start that
did not come through dsrflow's client.

The header is deliberately not encrypted by the payload codec (Temporal's default for headers):
it holds no personal data, only a pseudonymous actor, an id and a time.

Checking is pure (no I/O, no clock of its own), so the workflow can run it deterministically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

HEADER = "dsrflow-caller"
KEY_OWNER = "dsrflow:caller-assertion"
"""Keystore owner of the caller key (a reserved name no request id can take: it has a colon)."""
START = "start"
MAX_AGE_S = 300
"""How old (or how far ahead, for clock skew) an assertion may be when the workflow sees it."""
VERSION = 1


@dataclass(frozen=True)
class Assertion:
    """A signed statement of who makes which call on which request, and when."""

    request_id: str
    operation: str
    actor: str
    at: int  # seconds since the epoch
    mac: str


def actor_of(args: Sequence[object]) -> str:
    """The actor an update's argument names (``actor`` or ``verifier``), or ''."""
    if not args:
        return ""
    first = args[0]
    for attr in ("actor", "verifier"):
        value = getattr(first, attr, None)
        if isinstance(value, str):
            return value
    if isinstance(first, Mapping):  # an argument not yet decoded into its dataclass
        value = first.get("actor") or first.get("verifier")
        return value if isinstance(value, str) else ""
    return ""


def _mac(key: bytes, request_id: str, operation: str, actor: str, at: int) -> str:
    msg = "\n".join((f"v{VERSION}", request_id, operation, actor, str(at))).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def sign(key: bytes, request_id: str, *, operation: str, actor: str, at: int) -> Payload:
    """The header payload asserting this call."""
    body = {
        "v": VERSION,
        "request_id": request_id,
        "operation": operation,
        "actor": actor,
        "at": at,
        "mac": _mac(key, request_id, operation, actor, at),
    }
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(body).encode())


def problem(
    headers: Mapping[str, Payload],
    key: bytes,
    *,
    request_id: str,
    operation: str,
    actor: str,
    now: datetime,
    max_age_s: int = MAX_AGE_S,
) -> str | None:
    """Why the call's assertion is not acceptable (one line), or None when it is.

    Args:
        headers: The call's Temporal headers.
        key: The caller key.
        request_id: The workflow id the call reached.
        operation: ``start`` or the update/signal name the call invoked.
        actor: The actor the call's argument names.
        now: The workflow's time (deterministic).
        max_age_s: How old (or early) the assertion may be; 0 skips the check.
    """
    payload = headers.get(HEADER)
    if payload is None:
        return "no dsrflow caller assertion (sent from outside dsrflow)"
    try:
        body = json.loads(payload.data)
        claimed = Assertion(
            str(body["request_id"]),
            str(body["operation"]),
            str(body["actor"]),
            int(body["at"]),
            str(body["mac"]),
        )
    except (ValueError, KeyError, TypeError):
        return "malformed dsrflow caller assertion"
    expected = _mac(key, claimed.request_id, claimed.operation, claimed.actor, claimed.at)
    if not hmac.compare_digest(expected, claimed.mac):
        return "caller assertion signature is not valid"
    if (claimed.request_id, claimed.operation) != (request_id, operation):
        return "caller assertion was made for another call"
    if claimed.actor != actor:
        return "caller assertion names another actor"
    if max_age_s and abs(now.timestamp() - claimed.at) > max_age_s:
        return f"caller assertion is stale (older than {max_age_s} s)"
    return None


KeySource = Callable[[], bytes]


class CallerSigner(Interceptor):
    """Client interceptor: signs every start, update and signal with the caller key.

    Args:
        key: Gives the caller key (read once, when first needed).
    """

    def __init__(self, key: KeySource) -> None:
        self._source = key
        self._key: bytes | None = None

    def key(self) -> bytes:
        """The caller key."""
        if self._key is None:
            self._key = self._source()
        return self._key

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        """Wrap the client's outbound calls."""
        return _SigningOutbound(next, self)


def _now() -> int:
    return int(time.time())


class _SigningOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, signer: CallerSigner) -> None:
        super().__init__(next)
        self._signer = signer

    def _headers(
        self, headers: Mapping[str, Payload], request_id: str, operation: str, actor: str
    ) -> dict[str, Payload]:
        signed = sign(self._signer.key(), request_id, operation=operation, actor=actor, at=_now())
        return {**headers, HEADER: signed}

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        input.headers = self._headers(input.headers, input.id, START, "")
        return await super().start_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        input.headers = self._headers(input.headers, input.id, input.update, actor_of(input.args))
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        start, update = input.start_workflow_input, input.update_workflow_input
        start.headers = self._headers(start.headers, start.id, START, "")
        update.headers = self._headers(
            update.headers, start.id, update.update, actor_of(update.args)
        )
        return await super().start_update_with_start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = self._headers(input.headers, input.id, input.signal, actor_of(input.args))
        await super().signal_workflow(input)


def with_signer(client: Client, key: KeySource) -> Client:
    """The same client, signing its calls too (for clients built outside ``Runtime.client``)."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], CallerSigner(key)]
    return Client(**config)

"""Revealing a request's subject: personal data is hidden by default, shown for a reason.

The ledger never holds a subject's identifiers; they exist only in the request's Temporal
history, encrypted under the request's data key (``dsrflow.crypto.codec``). ``RevealSubject``
reads the workflow's start input, decrypts it with the key store the way the codec server does,
and records an audit entry in the ``decode`` category with the reason given and the identity
kinds shown (never the values). Once a request is purged its key is gone and nothing can be
revealed, which is the point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsrflow.errors import NotFound, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from temporalio.api.common.v1 import Payload

    from dsrflow.domain import Identity
    from dsrflow.requests_client import RequestClient
    from dsrflow.runtime import Runtime
    from dsrflow.service.principal import Principal


class RevealSubject(UseCase):
    """Decode a request's subject identifiers for a person who gives a reason (audited)."""

    def check(self, principal: Principal, request_id: str, reason: str | None) -> str:
        """Authorise and validate before Temporal is contacted; returns the reason.

        Raises:
            NotAllowed: The principal may not reveal personal data.
            UserError: A bad id, or no reason (one line naming the option).
        """
        checks.request_id(request_id)
        self.allow(principal, "reveal")
        return checks.text(reason, "--reason", required=True).strip()

    async def run(
        self,
        principal: Principal,
        request_id: str,
        *,
        reason: str | None,
        rc: RequestClient | None = None,
    ) -> list[Identity]:
        """The subject's identifiers as submitted (normalised), after auditing the decode.

        Raises:
            NotAllowed: The principal may not reveal personal data.
            NotFound: No such request in Temporal (never started, or its history is gone).
            UserError: No reason; the request was purged (its key is destroyed); its start
                input is not a dsrflow request.
            Unavailable: Temporal cannot be reached.
        """
        why = self.check(principal, request_id, reason)
        rc = rc or await self.requests()
        payloads = await _start_input(rc, request_id)
        identities = await _decode(self.rt, request_id, payloads)
        # Audited before anything is returned: whoever sees the data is on record.
        self.audit(
            principal, "reveal", Category.DECODE, request_id, reason=why,
            kinds=sorted({i.kind for i in identities}),
        )  # fmt: skip
        return identities


async def _start_input(rc: RequestClient, request_id: str) -> list[Payload]:
    """The payloads of the workflow's start event (still encrypted)."""
    from temporalio.service import RPCError, RPCStatusCode

    handle = rc.client.get_workflow_handle(request_id)
    try:
        async for event in handle.fetch_history_events(page_size=1):
            attrs = event.workflow_execution_started_event_attributes
            return list(attrs.input.payloads)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(
                f"request {request_id}: not in Temporal (never started, or its history is gone)"
            ) from None
        raise UserError(
            f"request {request_id}: Temporal refused to read its history ({exc.status.name})"
        ) from None
    raise NotFound(f"request {request_id}: its history has no start event")


async def _decode(rt: Runtime, request_id: str, payloads: list[Payload]) -> list[Identity]:
    """Decrypt and convert the start input; never quotes it in an error."""
    from cryptography.exceptions import InvalidTag
    from temporalio.converter import PayloadConverter

    from dsrflow.crypto.codec import EncryptionCodec
    from dsrflow.crypto.keystore import KeyDestroyedError
    from dsrflow.domain import DsrInput

    try:
        plain = await EncryptionCodec(rt.keystore).decode(payloads)
    except KeyDestroyedError:
        raise UserError(
            f"request {request_id}: purged; its identifiers are crypto-shredded"
        ) from None
    except (InvalidTag, KeyError, ValueError):
        raise UserError(f"request {request_id}: its start input could not be decrypted") from None
    try:
        [inp] = PayloadConverter.default.from_payloads(plain, [DsrInput])
    except Exception:  # a foreign start input: its text (and the decoder's) may quote it
        inp = None
    if not isinstance(inp, DsrInput):
        raise UserError(f"request {request_id}: its start input is not a dsrflow request")
    return list(inp.identities)

"""OpenDSR v2 inbound: dsrflow as a processor taking requests from its controllers.

Controllers are added by an admin (``dsrflow.service.opendsr_controllers``): each gets an API
token acting as ``controller:<domain>`` with the ``controller`` role, and a callback allow-list. A
controller's request becomes an ordinary dsrflow request (the ``Submit`` use case, the same
rules and audit trail); ``opendsr_requests`` records which controller sent it, without any
personal data, so a controller only ever sees its own. Status callbacks are planned by the
projection (``dsrflow.ledger.opendsr``) and sent by the message sender.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import Conflict, NotFound, Unavailable, UserError
from dsrflow.ledger.opendsr import opendsr_status
from dsrflow.service.base import UseCase
from dsrflow.service.principal import DEFAULT_POLICY, NotAllowed, Principal

if TYPE_CHECKING:
    from dsrflow.domain import DsrInput
    from dsrflow.ledger.models import OpenDsrControllerRow, OpenDsrRequestRow
    from dsrflow.requests_client import RequestClient


KIND = "controller"
REQUEST_TYPES = {"erasure": "erasure", "access": "access", "portability": "export"}
IDENTITY_TYPES = {"email": "email", "phone_number": "phone"}
SRID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
# A controller's actions go through the ordinary use cases, which it may use on its own requests.
_AS_CONTROLLER = {**DEFAULT_POLICY, "submit": frozenset({KIND}), "cancel": frozenset({KIND})}


class NotCancellable(Conflict):
    """The request has left ``pending``: OpenDSR allows cancelling only before that."""


def controller_of(principal: Principal) -> str:
    """The controller domain a principal acts for (``controller:<domain>``).

    Raises:
        NotAllowed: The principal is not a controller.
    """
    kind, _, domain = principal.actor.partition(":")
    if kind != KIND or KIND not in principal.roles:
        raise NotAllowed(f"{principal.actor} is not an OpenDSR controller")
    return domain


@dataclass(frozen=True)
class InboundRequest:
    """A checked OpenDSR request (what the route's body model validated)."""

    subject_request_id: str
    subject_request_type: str
    identities: list[tuple[str, str]]
    """(identity_type, raw value)."""
    regulation: str
    callback_urls: list[str]
    legacy: bool = False


@dataclass(frozen=True)
class InboundStatus:
    """A request as its controller sees it."""

    subject_request_id: str
    request_status: str
    received_at: datetime
    expected_at: datetime
    created: bool = False


def request_id_for(controller: str, subject_request_id: str) -> str:
    """The dsrflow request id of a controller's request.

    Deterministic (a retry finds it) and distinct per controller (two may use the same UUID).
    """
    digest = hashlib.sha256(f"{controller}\n{subject_request_id}".encode()).hexdigest()
    return f"odsr-{digest[:24]}"


class _Inbound(UseCase):
    def _controller(self, principal: Principal) -> OpenDsrControllerRow:
        from dsrflow.ledger.models import OpenDsrControllerRow

        self.allow(principal, "opendsr")
        domain = controller_of(principal)
        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrControllerRow, domain)
            if row is None or row.removed_at is not None:
                raise NotAllowed(f"controller {domain}: not allowed (removed)")
            s.expunge(row)
            return row

    def _row(self, principal: Principal, subject_request_id: str) -> OpenDsrRequestRow:
        from sqlalchemy import select

        from dsrflow.ledger.models import OpenDsrRequestRow

        ctl = self._controller(principal)
        with self.rt.ledger.session() as s:
            row = s.scalars(
                select(OpenDsrRequestRow).where(
                    OpenDsrRequestRow.controller == ctl.domain,
                    OpenDsrRequestRow.subject_request_id == subject_request_id,
                )
            ).first()
            if row is None:  # another controller's request looks exactly like a missing one
                raise NotFound("subject_request_id: no such request")
            s.expunge(row)
            return row

    def _status(self, row: OpenDsrRequestRow, created: bool = False) -> InboundStatus:
        from dsrflow.ledger.models import RequestRow

        with self.rt.ledger.session() as s:
            req = s.get(RequestRow, row.request_id)
            status = opendsr_status(req.status if req is not None else None)
        return InboundStatus(
            row.subject_request_id, status, _aware(row.received_at), _aware(row.expected_at),
            created,
        )  # fmt: skip


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True)
class Prepared:
    """A checked inbound submission, ready to start (see ``SubmitInbound.check``)."""

    controller: str
    request: InboundRequest
    inp: DsrInput


class SubmitInbound(_Inbound):
    """A controller's ``POST /requests``: start the dsrflow request, remember who sent it."""

    def check(self, principal: Principal, req: InboundRequest) -> Prepared:
        """Authorise and validate (no Temporal contacted).

        Raises:
            NotAllowed: Not an active controller.
            UserError: A callback URL off the controller's allow-list, a bad identity.
        """
        from dsrflow.service.intake import Submit, SubmitCommand

        ctl = self._controller(principal)
        for url in req.callback_urls:
            if not any(url.startswith(prefix) for prefix in ctl.callback_urls):
                raise UserError("status_callback_urls: a URL is not on this controller's list")
        cmd = SubmitCommand(
            REQUEST_TYPES[req.subject_request_type],
            [v for t, v in req.identities if t == "email"],
            [f"{IDENTITY_TYPES[t]}={v}" for t, v in req.identities if t != "email"],
            request_id=request_id_for(ctl.domain, req.subject_request_id),
            case_ref=f"opendsr:{req.subject_request_id}",
            regulation=req.regulation,
        )
        return Prepared(
            ctl.domain, req, Submit(self.rt, policy=_AS_CONTROLLER).check(principal, cmd)
        )

    async def run(
        self, principal: Principal, prepared: Prepared, rc: RequestClient | None = None
    ) -> InboundStatus:
        """Submit (retry-safe: the same controller and id find the request already made).

        The controller's row is written before the workflow starts, so the workflow's first
        snapshot finds it; it is removed again only when Temporal refused for certain (after
        a timeout the request may exist, and the controller's retry finds it).

        Raises:
            NotAllowed: Not an active controller.
            Unavailable: Temporal did not answer.
            UserError: Temporal refused the submission.
        """
        import asyncio

        from dsrflow.service.intake import Submit

        made = await asyncio.to_thread(self._remember, prepared)
        try:
            done = await Submit(self.rt, policy=_AS_CONTROLLER).run(principal, prepared.inp, rc)
        except Unavailable:
            raise
        except UserError:
            if made:
                await asyncio.to_thread(self._forget, prepared.inp.request_id)
            raise
        row = await asyncio.to_thread(
            self._acknowledged, prepared.inp.request_id, done.ack.received_at, done.ack.due_at
        )
        return self._status(row, created=done.created)

    def _remember(self, prepared: Prepared) -> bool:
        from dsrflow.ledger.models import OpenDsrRequestRow

        inp, req = prepared.inp, prepared.request
        with self.rt.ledger.session() as s:
            if s.get(OpenDsrRequestRow, inp.request_id) is not None:
                return False
            s.add(OpenDsrRequestRow(
                request_id=inp.request_id, controller=prepared.controller,
                subject_request_id=req.subject_request_id, request_type=req.subject_request_type,
                callback_urls=req.callback_urls, received_at=inp.received_at,
                expected_at=inp.received_at, legacy=req.legacy,
            ))  # fmt: skip
            return True

    def _acknowledged(
        self, request_id: str, received_at: datetime, due_at: datetime
    ) -> OpenDsrRequestRow:
        from dsrflow.ledger.models import OpenDsrRequestRow

        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrRequestRow, request_id)
            assert row is not None
            row.received_at, row.expected_at = received_at, due_at
            s.flush()
            s.expunge(row)
            return row

    def _forget(self, rid: str) -> None:
        from dsrflow.ledger.models import OpenDsrRequestRow

        with self.rt.ledger.session() as s:
            row = s.get(OpenDsrRequestRow, rid)
            if row is not None:
                s.delete(row)


class ShowInbound(_Inbound):
    """A controller's ``GET /requests/{id}``: its own request's OpenDSR status."""

    def run(self, principal: Principal, subject_request_id: str) -> InboundStatus:
        """The status (404 for a request that is not this controller's)."""
        return self._status(self._row(principal, subject_request_id))


class CancelInbound(_Inbound):
    """A controller's ``DELETE /requests/{id}``: cancel, only while the request is pending."""

    def check(self, principal: Principal, subject_request_id: str) -> OpenDsrRequestRow:
        """The controller's request, if it may still be cancelled (no Temporal contacted).

        Raises:
            NotFound: Not this controller's request.
            NotCancellable: No longer pending.
        """
        row = self._row(principal, subject_request_id)
        if self._status(row).request_status != "pending":
            raise NotCancellable("the request is no longer pending; it cannot be cancelled")
        return row

    async def run(
        self, principal: Principal, subject_request_id: str, rc: RequestClient | None = None
    ) -> InboundStatus:
        """Cancel through the ``cancel`` decision (audited as the controller).

        Raises:
            NotFound: Not this controller's request.
            NotCancellable: No longer pending.
        """
        from dsrflow.service.decisions import Decide, DecisionInput

        row = self.check(principal, subject_request_id)
        await Decide(self.rt, policy=_AS_CONTROLLER).run(
            principal,
            DecisionInput("cancel", row.request_id, reason="cancelled by the controller"),
            rc,
        )
        return self._status(row)

"""The reconciler: makes the ledger agree with what Temporal says about every open request.

Temporal is the source of truth for progress; the ledger is a projection of it. Two things can
make them disagree, and the reconciler repairs both:

- a workflow closed without projecting its end (terminated or timed out in Temporal, outside
  dsrflow): the request is projected ``ended_outside`` with how it ended, the end is audited as
  "ended outside dsrflow", and the request becomes purgeable like any ended one. A member of an
  erasure batch (``DsrInput.batch_id``) ended that way never told its batch, which would wait
  for it for good: the reconciler signals the batch ``member_finished`` for it first (audited
  as ``batch_member_released``), and projects the end only once the batch was told or has ended;
- the ledger shows state the workflow does not have (a person's action whose workflow task was
  lost, a snapshot that never arrived): the projection is rebuilt from the workflow's own state.

It runs on a schedule beside the worker (``run_forever``) and on demand
(``dsrflow ledger reconcile``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from dsrflow.batches import MEMBER_FINISHED, MemberFinished
from dsrflow.crypto.keystore import KeyDestroyedError
from dsrflow.domain import (
    DsrInput,
    HumanAction,
    ProjectionEvent,
    RequestStatus,
    RequestType,
    StatusView,
)
from dsrflow.ledger import Ledger
from dsrflow.ledger.models import RequestActionRow, RequestRow
from dsrflow.requests_client import RequestClient

log = structlog.get_logger(__name__)

INTERVAL = timedelta(minutes=5)
"""How often the worker reconciles by default."""


@dataclass(frozen=True)
class Finding:
    """What the reconciler found for one request (``kind``: ok, ended_outside, rebuilt, missing)."""

    request_id: str
    kind: str
    detail: str = ""


class Reconciler:
    """Checks every open request of the ledger against its workflow.

    Args:
        ledger: The ledger database.
        requests: A request client on the same Temporal namespace.
    """

    def __init__(self, ledger: Ledger, requests: RequestClient) -> None:
        self.ledger = ledger
        self.requests = requests

    def open_requests(self, *, limit: int = 10_000) -> list[RequestRow]:
        """Requests the ledger shows as not ended (oldest first)."""
        with self.ledger.session() as s:
            stmt = select(RequestRow).where(RequestRow.completed_at.is_(None))
            return list(s.scalars(stmt.order_by(RequestRow.received_at).limit(limit)))

    async def run(self, request_ids: Sequence[str] | None = None) -> list[Finding]:
        """Reconcile the given requests, or every open one; one finding per request."""
        ids = list(request_ids) if request_ids else [r.id for r in self.open_requests()]
        return [await self.check(rid) for rid in ids]

    async def check(self, request_id: str) -> Finding:
        """Reconcile one request."""
        row = self.ledger.get_request(request_id)
        if row is None:
            return Finding(request_id, "missing", "not in the ledger")
        handle = self.requests.handle(request_id)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return Finding(request_id, "missing", "no workflow in Temporal")
            raise
        view = await self._view(request_id)
        closed = desc.status not in (None, WorkflowExecutionStatus.RUNNING)
        if closed and (view is None or not view.status.terminal):
            if RequestStatus(row.status).terminal:
                return Finding(request_id, "ok")  # already projected as ended
            how = desc.status.name.lower() if desc.status else "closed"
            # Before the end is projected: a failed signal leaves the request open in the
            # ledger, so the next round tries again (once projected, it is not looked at).
            batch_id = await self._release_batch(request_id)
            self._end_outside(row, view, how, batch_id)
            told = f"; batch {batch_id} no longer waits for it" if batch_id else ""
            return Finding(request_id, "ended_outside", how + told)
        if view is not None and _differs(self.ledger, row, view):
            self.ledger.apply(_snapshot(row, view, seq=row.projection_seq))
            return Finding(request_id, "rebuilt", "projection rebuilt from the workflow's state")
        return Finding(request_id, "ok")

    async def _view(self, request_id: str) -> StatusView | None:
        try:
            view: StatusView = await self.requests.handle(request_id).query(
                "status", result_type=StatusView
            )
            return view
        except (RPCError, WorkflowQueryFailedError):
            return None  # no worker can answer: the ledger's own record is used

    async def _batch_of(self, request_id: str) -> str | None:
        """The erasure batch a request was started in (its start input says), if any."""
        client = self.requests.client
        async for event in self.requests.handle(request_id).fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            try:
                [inp] = await client.data_converter.decode(payloads, [DsrInput])
            except KeyDestroyedError:  # purged: nothing of it is left for a batch to erase
                return None
            return inp.batch_id if isinstance(inp, DsrInput) else None
        return None

    async def _release_batch(self, request_id: str) -> str | None:
        """Tell the request's batch it ended (``member_finished``); the batch told, else None.

        Raises:
            RPCError: Temporal failed otherwise than "no such (running) batch": the round fails
                and the next one tries again.
        """
        batch_id = await self._batch_of(request_id)
        if batch_id is None:
            return None
        batch = self.requests.client.get_workflow_handle(batch_id)
        try:
            await batch.signal(MEMBER_FINISHED, MemberFinished(request_id))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None  # the batch has ended: nothing waits for this request
            raise
        log.info("batch member released", request_id=request_id, batch_id=batch_id)
        return batch_id

    def _end_outside(
        self, row: RequestRow, view: StatusView | None, how: str, batch_id: str | None = None
    ) -> None:
        reason = f"workflow {how} in Temporal, outside dsrflow"
        if view is None:
            actions = [_action(a) for a in self.ledger.actions(row.id)]
            base = ProjectionEvent(
                request_id=row.id,
                request_type=RequestType(row.type),
                status=RequestStatus(row.status),
                received_at=row.received_at,
                stores=[],  # the ledger's store rows stay as last projected
                regulation=row.regulation,
                due_at=row.due_at,
                overdue=row.overdue,
            )
        else:
            actions = list(view.actions)
            base = _snapshot(row, view, seq=0)
        actions.append(
            HumanAction(
                len(actions) + 1, datetime.now(UTC), f"temporal:{how}", "ended_outside_dsrflow",
                None, reason,
            )
        )  # fmt: skip
        if batch_id is not None:
            actions.append(
                HumanAction(
                    len(actions) + 1, datetime.now(UTC), "dsrflow:reconciler",
                    "batch_member_released", None,
                    f"erasure batch {batch_id} told the request ended (member_finished)",
                )
            )  # fmt: skip
        event = ProjectionEvent(
            **{
                **base.__dict__,
                "status": RequestStatus.ENDED_OUTSIDE,
                "reason": reason,
                "seq": row.projection_seq + 1,
                "actions": actions,
            }
        )
        self.ledger.apply(event)
        log.info("reconciled", request_id=row.id, ended=how)

    async def run_forever(self, interval: timedelta = INTERVAL) -> None:
        """Reconcile every ``interval`` until cancelled; a failed round is logged, not fatal."""
        while True:
            try:
                found = await self.run()
                changed = sum(f.kind in ("ended_outside", "rebuilt") for f in found)
                if changed:
                    log.info("reconcile round", checked=len(found), changed=changed)
            except Exception as exc:  # the worker must outlive a bad round
                log.warning("reconcile round failed", error=type(exc).__name__)
            await asyncio.sleep(interval.total_seconds())


def _action(r: RequestActionRow) -> HumanAction:
    return HumanAction(r.seq, r.at, r.actor, r.action, r.store, r.detail)


def _snapshot(row: RequestRow, view: StatusView, *, seq: int) -> ProjectionEvent:
    return ProjectionEvent(
        request_id=view.request_id,
        request_type=view.request_type,
        status=view.status,
        received_at=view.received_at or row.received_at,
        stores=list(view.stores),
        artifact=view.artifact,
        regulation=row.regulation,
        seq=seq,
        due_at=view.due_at,
        overdue=view.overdue,
        reason=view.reason,
        actions=list(view.actions),
    )


def _differs(ledger: Ledger, row: RequestRow, view: StatusView) -> bool:
    """Whether the ledger's view of the request is not the workflow's."""
    if row.status != str(view.status):
        return True
    mine = [(a.seq, a.actor, a.action, a.store) for a in ledger.actions(row.id)]
    theirs = [(a.seq, a.actor[:120], a.action[:60], a.store) for a in view.actions]
    if sorted(mine) != sorted(theirs):
        return True
    stores = {st.store: st.status for st in row.stores}
    return any(stores.get(o.store) != str(o.status) for o in view.stores)

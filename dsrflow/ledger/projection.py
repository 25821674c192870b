"""Apply the workflow's state snapshots to the ledger tables.

A snapshot is the workflow's whole view of the request, so applying it replaces what the ledger
showed: an action the ledger holds that the snapshot does not (a person's update whose workflow
task was lost) is removed, and one whose content changed is rewritten. Refusals of calls from
outside dsrflow, and ends outside it, also go to the audit log as they are first projected.
Messages the change causes (``dsrflow.messages.kinds``), and status callbacks to the OpenDSR
controller that sent the request (``dsrflow.ledger.opendsr``), go to the outbox in the same
transaction.
"""

from __future__ import annotations

from typing import overload

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dsrflow.domain import HumanAction, ProjectionEvent, StoreOutcome, StoreStatus
from dsrflow.ledger import audit_chain, outbox
from dsrflow.ledger.models import (
    HumanTaskRow,
    RequestActionRow,
    RequestRow,
    StoreStateRow,
    utcnow,
)
from dsrflow.ledger.opendsr import plan_callbacks
from dsrflow.messages import kinds

AUDITED = frozenset(
    {"start_rejected", "caller_refused", "cancelled_outside_dsrflow", "ended_outside_dsrflow",
     "batch_member_released"}
)  # fmt: skip
"""Recorded actions that are also audit entries: nobody in dsrflow did them (or the reconciler
did, on its own: it released an ended request's erasure batch)."""


def apply_event(s: Session, event: ProjectionEvent) -> bool:
    """Apply one snapshot unless a newer one (higher ``seq``) was applied already.

    A snapshot with the same ``seq`` is applied again: it is either a retry (no change) or the
    re-run of a workflow task whose first run was lost, which is the truth.
    """
    # FOR UPDATE (PostgreSQL): two snapshots of one request are applied one after the other, so
    # the sequence check below cannot be raced. SQLite serialises through BEGIN IMMEDIATE.
    row = s.get(RequestRow, event.request_id, with_for_update=True)
    created, before = row is None, row.status if row is not None else None
    if row is None:
        row = RequestRow(
            id=event.request_id,
            type=str(event.request_type),
            received_at=event.received_at,
            regulation=event.regulation,
            status=str(event.status),
        )
        s.add(row)
    elif row.projection_seq > event.seq:
        return False
    row.status = str(event.status)
    row.projection_seq = event.seq
    row.updated_at = utcnow()
    row.due_at = event.due_at or row.due_at
    row.overdue = event.overdue
    row.reason = event.reason or None
    if event.status.terminal:
        row.completed_at = row.completed_at or utcnow()
    if event.artifact is not None:
        row.artifact_kind = event.artifact.kind
        row.artifact_path = event.artifact.path
        row.artifact_sha256 = event.artifact.sha256
    existing = {st.store: st for st in row.stores}
    for outcome in event.stores:
        st = existing.get(outcome.store)
        if st is None:
            st = StoreStateRow(store=outcome.store, adapter=outcome.adapter)
            row.stores.append(st)
        _apply_store(st, outcome)
    s.flush()
    new = _apply_actions(s, event)
    _apply_tasks(s, event)
    # Messages go to the outbox in this transaction: written exactly when the change is.
    planned = kinds.plan(event, created=created, before=before, new=new)
    planned += plan_callbacks(s, event.request_id, before, str(event.status))
    outbox.enqueue(s, event.request_id, planned)
    return True


@overload
def _fit(text: str, width: int) -> str: ...
@overload
def _fit(text: str | None, width: int) -> str | None: ...
def _fit(text: str | None, width: int) -> str | None:
    """Cut free-form values to their column, so one long value cannot stall the projection."""
    return text[:width] if text else text


def _apply_store(st: StoreStateRow, outcome: StoreOutcome) -> None:
    st.status = str(outcome.status)
    st.attempts = outcome.attempts
    st.error_type = _fit(outcome.error_type, 80)
    st.error = outcome.error
    if outcome.receipt is not None:
        st.matched = outcome.receipt.matched
        st.affected = outcome.receipt.affected
    if outcome.verification is not None:
        st.residual = outcome.verification.residual
    st.updated_at = utcnow()


def _apply_actions(s: Session, event: ProjectionEvent) -> list[HumanAction]:
    """Bring the request's actions in line with the snapshot; returns the ones it added."""
    added: list[HumanAction] = []
    known = {
        r.seq: r
        for r in s.scalars(
            select(RequestActionRow).where(RequestActionRow.request_id == event.request_id)
        )
    }
    shown = {a.seq for a in event.actions}
    gone = [seq for seq in known if seq not in shown]
    if gone:
        s.execute(
            delete(RequestActionRow).where(
                RequestActionRow.request_id == event.request_id, RequestActionRow.seq.in_(gone)
            )
        )
    for a in event.actions:
        values = {
            "at": a.at,
            "actor": _fit(a.actor, 120),
            "action": _fit(a.action, 60),
            "store": a.store,
            "detail": a.detail,
        }
        row = known.get(a.seq)
        if row is None:
            s.add(RequestActionRow(request_id=event.request_id, seq=a.seq, **values))
            added.append(a)
            if a.action in AUDITED:
                audit_outside(s, event.request_id, a.actor, a.action, a.detail)
        elif (row.actor, row.action, row.store, row.detail) != (
            values["actor"], values["action"], a.store, a.detail
        ):  # fmt: skip
            for key, value in values.items():
                setattr(row, key, value)
    return added


def audit_outside(s: Session, request_id: str, actor: str, action: str, detail: str) -> None:
    """Append the audit entry of something done to a request from outside dsrflow."""
    audit_chain.append(
        s, actor=_fit(actor, 120), action=_fit(action, 60), category="system",
        request_id=request_id, detail={"reason": detail},
    )  # fmt: skip


def _apply_tasks(s: Session, event: ProjectionEvent) -> None:
    """Open a task for every store waiting for a person; close it when the store moves on."""
    escalated = {a.store: a.at for a in event.actions if a.action == "task_escalated"}
    # One query for the request's tasks (most requests have none), not one per store.
    tasks = {
        t.store: t
        for t in s.scalars(select(HumanTaskRow).where(HumanTaskRow.request_id == event.request_id))
    }
    for outcome in event.stores:
        task = tasks.get(outcome.store)
        waiting = outcome.status == StoreStatus.WAITING_FOR_HUMAN
        if waiting and task is None:
            task = HumanTaskRow(
                request_id=event.request_id, store=outcome.store, instructions=outcome.note or ""
            )
            s.add(task)
        if task is None:
            continue
        if outcome.store in escalated and task.escalated_at is None:
            task.escalated_at = escalated[outcome.store]
        if not waiting and task.closed_at is None:
            task.closed_at = utcnow()
            task.outcome = str(outcome.status)
            task.closed_by = _fit(outcome.actor, 120)

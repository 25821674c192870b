"""Apply the workflow's state snapshots to the ledger tables."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsrflow.domain import ProjectionEvent, StoreOutcome, StoreStatus
from dsrflow.ledger.models import (
    HumanTaskRow,
    RequestActionRow,
    RequestRow,
    StoreStateRow,
    utcnow,
)


def apply_event(s: Session, event: ProjectionEvent) -> bool:
    """Apply one snapshot unless a newer one (higher ``seq``) was applied already."""
    # FOR UPDATE (PostgreSQL): two snapshots of one request are applied one after the other, so
    # the sequence check below cannot be raced. SQLite serialises through BEGIN IMMEDIATE.
    row = s.get(RequestRow, event.request_id, with_for_update=True)
    if row is None:
        row = RequestRow(
            id=event.request_id,
            type=str(event.request_type),
            received_at=event.received_at,
            regulation=event.regulation,
            status=str(event.status),
        )
        s.add(row)
    elif row.projection_seq >= event.seq:
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
    _apply_actions(s, event)
    _apply_tasks(s, event)
    return True


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


def _apply_actions(s: Session, event: ProjectionEvent) -> None:
    known = set(
        s.scalars(
            select(RequestActionRow.seq).where(RequestActionRow.request_id == event.request_id)
        )
    )
    for a in event.actions:
        if a.seq not in known:
            s.add(
                RequestActionRow(
                    request_id=event.request_id,
                    seq=a.seq,
                    at=a.at,
                    actor=_fit(a.actor, 120),
                    action=_fit(a.action, 60),
                    store=a.store,
                    detail=a.detail,
                )
            )


def _apply_tasks(s: Session, event: ProjectionEvent) -> None:
    """Open a task for every store waiting for a person; close it when the store moves on."""
    escalated = {a.store: a.at for a in event.actions if a.action == "task_escalated"}
    for outcome in event.stores:
        task = s.get(HumanTaskRow, (event.request_id, outcome.store))
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

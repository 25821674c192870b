"""The request's legal clock: reminders, escalation of open manual tasks, the overdue flag.

A mixin of ``DataSubjectRequestWorkflow``; durable timers only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import StoreStatus

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

Event = tuple[datetime, str, float]  # (when, kind, offset before due in seconds)


class Clock(_Base):
    """Runs beside the lifecycle until the request ends; re-plans when the due date moves."""

    def _clock_events(self, due: datetime) -> list[Event]:
        assert self._policy is not None
        events = [
            (due - timedelta(seconds=s), "reminder", s) for s in self._policy.reminder_offsets_s
        ]
        esc = self._policy.escalation_offset_s
        events.append((due - timedelta(seconds=esc), "escalation", esc))
        events.append((due + timedelta(seconds=1), "overdue", 0.0))
        # Reminders whose time had passed before the request arrived are not sent late.
        return sorted(e for e in events if e[1] == "overdue" or e[0] >= self._inp.received_at)

    async def _watch_deadlines(self) -> None:
        fired: set[tuple[datetime, str, float]] = set()
        while not self._finished:
            due = self._due_at
            pending = [e for e in self._clock_events(due) if (due, e[1], e[2]) not in fired]
            if not pending:
                await workflow.wait_condition(lambda due=due: self._finished or self._due_at != due)
                continue
            when, kind, offset = pending[0]
            wait = (when - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(
                        lambda due=due: self._finished or self._due_at != due,
                        timeout=timedelta(seconds=wait),
                    )
                    continue  # ended, or the due date moved: plan again
                except TimeoutError:
                    pass
            fired.add((due, kind, offset))
            if not self._finished:
                await self._fire(kind, offset)

    async def _fire(self, kind: str, offset: float) -> None:
        if kind == "reminder":
            self._record("clock:deadline", "reminder", f"{offset / 86400:g} days before due")
            await self._notify("reminder", detail=f"{offset / 86400:g} days before due")
            await self._project()
        elif kind == "escalation":
            # Open manual tasks, and stores stuck on a failure, go to people before the deadline.
            waiting = [
                n for n, o in self._outcomes.items() if o.status == StoreStatus.WAITING_FOR_HUMAN
            ]
            stuck = [
                n
                for n, o in self._outcomes.items()
                if o.status in (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)
            ]
            if waiting:
                await self._escalate(waiting)
            if stuck:
                await self._escalate(stuck, "store_escalated")
        elif kind == "overdue":
            self._overdue = True
            self._record("clock:deadline", "overdue", f"due {self._due_at:%Y-%m-%d}")
            await self._notify("overdue")
            await self._set_status(self._status)  # re-publishes DsrStatus as overdue

"""The request's legal clock, driven: reminders, escalation of open work, the overdue flag.

When each event falls is the machine's (``dsrflow.workflows.machine.clock``); this module
sleeps on durable timers until then and carries the event out. It runs beside the lifecycle
until the request ends, and re-plans when the due date moves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow

from dsrflow.workflows.machine import RequestMachine
from dsrflow.workflows.machine.clock import days_before
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import StoreStatus

Escalate = Callable[[list[str], str], Awaitable[None]]


class DeadlineWatch:
    """Fires the clock's events for one request.

    Args:
        machine: The request's state.
        pub: Publishes each change.
        escalate: Tells people about stores (open tasks, stuck stores) near the due date.
    """

    def __init__(self, machine: RequestMachine, pub: Publisher, escalate: Escalate) -> None:
        self.m = machine
        self.pub = pub
        self.escalate = escalate

    async def watch(self) -> None:
        """Sleep until each event of the clock and fire it, until the request has finished."""
        m = self.m
        fired: set[tuple[datetime, str, float]] = set()
        while not m.finished:
            due = m.due_at
            pending = [e for e in m.clock_events(due) if (due, e[1], e[2]) not in fired]
            if not pending:
                await workflow.wait_condition(self._ended_or_moved(due))
                continue
            when, kind, offset = pending[0]
            wait = (when - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(
                        self._ended_or_moved(due),
                        timeout=timedelta(seconds=wait),
                    )
                    continue  # ended, or the due date moved: plan again
                except TimeoutError:
                    pass
            fired.add((due, kind, offset))
            if not m.finished:
                await self._fire(kind, offset)

    def _ended_or_moved(self, due: datetime) -> Callable[[], bool]:
        return lambda: self.m.finished or self.m.due_at != due

    async def _fire(self, kind: str, offset: float) -> None:
        m = self.m
        if kind == "reminder":
            self.pub.record("clock:deadline", "reminder", days_before(offset))
            await self.pub.notify("reminder", detail=days_before(offset))
            await self.pub.project()
        elif kind == "escalation":
            # Open manual tasks, and stores stuck on a failure, go to people before the deadline.
            waiting = m.stores.in_state(StoreStatus.WAITING_FOR_HUMAN)
            stuck = m.stores.in_state(StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)
            if waiting:
                await self.escalate(waiting, "task_escalated")
            if stuck:
                await self.escalate(stuck, "store_escalated")
        elif kind == "overdue":
            m.mark_overdue()
            self.pub.record("clock:deadline", "overdue", f"due {m.due_at:%Y-%m-%d}")
            await self.pub.notify("overdue")
            await self.pub.set_status(m.status)  # re-publishes DsrStatus as overdue

"""How the request's state reaches the ledger: snapshots, and people's actions once accepted.

A mixin of ``DataSubjectRequestWorkflow`` (its state lives there). Most snapshots go through a
local activity, in the workflow task that made the change: a lost task is re-run and projects
the same snapshot again (same ``seq``, which the ledger re-applies). A person's action is
different: its update is only durably accepted once the task that accepted it is in history, so
it is projected by a normal activity, which cannot run before that (patch
``project-accepted-actions``); snapshots taken meanwhile leave it out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import ProjectionEvent
    from dsrflow.lifecycle import UpdateAck

from dsrflow.workflows.common import SHORT, SHORT_RETRY

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

PATCH_ACCEPTED_FIRST = "project-accepted-actions"


class Projecting(_Base):
    """Projection of the request's state and of people's accepted actions."""

    async def _act(
        self, actor: str, action: str, detail: str, store: str | None = None
    ) -> UpdateAck:
        self._record(actor, action, detail, store)
        if self._accepted_first():
            # Projected by an activity, which runs only once the workflow task that accepted
            # the update is in history: a lost task cannot leave a phantom action in the ledger.
            seq, mine = len(self._actions), self._seq + 1
            self._unconfirmed.add(seq)
            await self._project(durable=True)
            self._unconfirmed.discard(seq)
            if self._seq > mine:  # a newer snapshot (without this action) overtook it
                await self._project()
        else:
            await self._project()
        return UpdateAck(self._inp.request_id, self._status, action, self._due_at)

    def _accepted_first(self) -> bool:
        return workflow.patched(PATCH_ACCEPTED_FIRST)

    async def _project(self, *, durable: bool = False) -> None:
        self._seq += 1
        pending = not durable and self._unconfirmed
        event = ProjectionEvent(
            request_id=self._inp.request_id,
            request_type=self._inp.request_type,
            status=self._status,
            received_at=self._inp.received_at,
            stores=list(self._outcomes.values()),
            artifact=self._artifact,
            regulation=self._inp.regulation,
            seq=self._seq,
            due_at=self._due_at,
            overdue=self._overdue,
            reason=self._reason,
            actions=[a for a in self._actions if not pending or a.seq not in self._unconfirmed],
        )
        if durable:
            await workflow.execute_activity(
                "project", event, result_type=bool, start_to_close_timeout=SHORT,
                retry_policy=SHORT_RETRY,
            )  # fmt: skip
            return
        await workflow.execute_local_activity(
            "project",
            event,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )

"""How the request's state leaves the workflow: status, snapshots, actions, notifications.

Most snapshots go through a local activity, in the workflow task that made the change: a lost
task is re-run and projects the same snapshot again (same ``seq``, which the ledger
re-applies). A person's action is different: its update is only durably accepted once the task
that accepted it is in history, so it is projected by a normal activity, which cannot run
before that (patch ``project-accepted-actions``); snapshots taken meanwhile leave it out.

Since patch ``publish-only-changes``, the status is published and a snapshot projected only
when it differs from the last one (the machine compares); requests started before keep
publishing on every change of any kind, as their recorded histories did.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dsrflow.workflows import acts
from dsrflow.workflows.common import DSR_DUE, DSR_STATUS, DSR_TYPE
from dsrflow.workflows.machine import Act, RequestMachine

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import RequestStatus
    from dsrflow.lifecycle import Notification, UpdateAck

PATCH_ACCEPTED_FIRST = "project-accepted-actions"
PATCH_PUBLISH_CHANGES = "publish-only-changes"


class Publisher:
    """Publishes the machine's state: search attributes, ledger snapshots, notifications.

    Args:
        machine: The request's state.
    """

    def __init__(self, machine: RequestMachine) -> None:
        self.m = machine

    @staticmethod
    def only_changes() -> bool:
        """Whether this run publishes only what changed (patch ``publish-only-changes``)."""
        return workflow.patched(PATCH_PUBLISH_CHANGES)

    @staticmethod
    def accepted_first() -> bool:
        """Whether people's actions are projected once accepted (``project-accepted-actions``)."""
        return workflow.patched(PATCH_ACCEPTED_FIRST)

    def record(self, actor: str, action: str, detail: str = "", store: str | None = None) -> None:
        """Put an action in the request's history (projected with the next snapshot)."""
        self.m.record(workflow.now(), actor, action, detail, store)

    async def set_status(self, status: RequestStatus, *, project: bool = True) -> None:
        """Move the request to ``status``; publish it, and project unless told not to."""
        self.m.status = status
        shown = self.m.status_to_publish(only_changes=self.only_changes())
        if shown is not None:
            workflow.upsert_search_attributes([DSR_STATUS.value_set(shown)])
        if project:
            await self.project()

    async def update_store(self, store: str, **changes: object) -> None:
        """Change a store's outcome (a legal transition), re-derive the status, publish."""
        self.m.stores.update(store, **changes)
        self.m.store_changed()
        await self.set_status(self.m.status)

    async def end(self, status: RequestStatus, reason: str) -> None:
        """End the request (open stores cancelled) and publish it."""
        self.m.end(status, reason)
        await self.set_status(status)

    def publish_start(self) -> None:
        """Publish the request's type and due date (once, when it starts)."""
        workflow.upsert_search_attributes(
            [DSR_TYPE.value_set(str(self.m.inp.request_type)), DSR_DUE.value_set(self.m.due_at)]
        )

    def publish_due(self) -> None:
        """Publish the due date (at the start, and after an extension)."""
        workflow.upsert_search_attributes([DSR_DUE.value_set(self.m.due_at)])

    async def project(self, *, durable: bool = False) -> None:
        """Project a snapshot to the ledger (durable: by a normal activity, held-back too)."""
        event = self.m.snapshot(durable=durable, only_changes=self.only_changes())
        if event is None:
            return
        if durable:
            await acts.project(event)
        else:
            await acts.project.local(event)

    async def act(self, act: Act) -> UpdateAck:
        """Record a person's accepted action, apply its status, project it; the update's ack."""
        if act.status is not None:
            # Projected with the recorded action, once the update is durably accepted.
            await self.set_status(act.status, project=not self.accepted_first())
        action = self.m.record(workflow.now(), act.actor, act.action, act.detail, act.store)
        if self.accepted_first():
            # Projected by an activity, which runs only once the workflow task that accepted
            # the update is in history: a lost task cannot leave a phantom action in the ledger.
            mine = self.m.seq + 1
            self.m.hold_back(action.seq)
            await self.project(durable=True)
            self.m.confirm(action.seq)
            if self.m.seq > mine:  # a newer snapshot (without this action) overtook it
                await self.project()
        else:
            await self.project()
        return UpdateAck(self.m.inp.request_id, self.m.status, act.action, self.m.due_at)

    async def notify(self, kind: str, stores: list[str] | None = None, detail: str = "") -> None:
        """Put a notification in the outbox; a broken outbox must not stop the clock."""
        m = self.m
        try:
            await acts.notify(Notification(m.inp.request_id, kind, m.due_at, stores or [], detail))
        except ActivityError:
            self.record("system:outbox", "notification_failed", kind)

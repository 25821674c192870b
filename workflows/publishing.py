"""How the request's state leaves the workflow: status, snapshots, actions, notifications.

Most snapshots go through a local activity, in the workflow task that made the change: a lost
task is re-run and projects the same snapshot again (same ``seq``, which the ledger
re-applies). A person's action is different: its update is only durably accepted once the task
that accepted it is in history, so it is projected by a normal activity, which cannot run
before that (patch ``project-accepted-actions``); snapshots taken meanwhile leave it out.

Since patch ``publish-only-changes``, the status is published and a snapshot projected only
when it differs from the last one (the machine compares); requests started before keep
publishing on every change of any kind, as their recorded histories did.

Since patch ``lean-history`` (issue 14) a request's history is leaner: that one marker stands
for every patch before it (each of which recorded a marker and a ``TemporalChangeVersion``
upsert of its own), and snapshots are coalesced: changes made while a workflow task runs are
projected once, by one local activity, when everything the task woke has gone as far as it can
(``project`` still waits for it, so nothing is seen outside earlier than before). Requests
started before replay as they ran.

Patch ``check-store`` (issue 14) is the newest such marker: it stands for ``lean-history`` (and
so for every patch before it) and checks a store after its verb with one ``check_store``
activity. A run asks it first and asks ``lean-history`` only if it is absent, so a new run
records one marker, and a request started before replays as it ran.
"""

from __future__ import annotations

import asyncio

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
PATCH_LEAN = "lean-history"
"""Stands for every older patch, and coalesces snapshots (one per workflow task)."""
PATCH_CHECK_STORE = "check-store"
"""Stands for ``lean-history``, and checks a store in one activity (``Checker``)."""


class Publisher:
    """Publishes the machine's state: search attributes, ledger snapshots, notifications.

    Args:
        machine: The request's state.
    """

    def __init__(self, machine: RequestMachine) -> None:
        self.m = machine
        self.lean: bool | None = None  # decided by the run's first patch question
        self.one_check = False  # patch ``check-store``, decided with ``lean``
        self._asked = 0  # coalesced snapshots asked for ...
        self._flushed = 0  # ... and projected
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None  # the flusher's, raised to its waiters

    def patched(self, patch: str) -> bool:
        """``workflow.patched(patch)``, except that a lean run has every older patch.

        The first call of a run asks for ``lean-history``; the driver makes that the first
        thing its run does, so a request started before the patch (replayed from its start)
        always answers no and keeps asking each older patch as it did.
        """
        return self.is_lean() or workflow.patched(patch)

    def is_lean(self) -> bool:
        """Whether this run has the lean history (patch ``lean-history``); asked once.

        ``check-store`` is asked first: it stands for ``lean-history``, so a new run records
        that one marker and a run recorded with ``lean-history`` (or before) replays as it ran.
        """
        if self.lean is None:
            self.one_check = workflow.patched(PATCH_CHECK_STORE)
            self.lean = self.one_check or workflow.patched(PATCH_LEAN)
        return self.lean

    def checks_at_once(self) -> bool:
        """Whether a store's checks are one ``check_store`` activity (patch ``check-store``)."""
        self.is_lean()
        return self.one_check

    def only_changes(self) -> bool:
        """Whether this run publishes only what changed (patch ``publish-only-changes``)."""
        return self.patched(PATCH_PUBLISH_CHANGES)

    def accepted_first(self) -> bool:
        """Whether people's actions are projected once accepted (``project-accepted-actions``)."""
        return self.patched(PATCH_ACCEPTED_FIRST)

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

    async def note_store(self, store: str, **changes: object) -> None:
        """Change a store's outcome like ``update_store``; a lean run projects it with the next.

        For a step on the way to the store's end state (its receipt before the checks run): the
        snapshot that settles the store, or parks it, carries it a moment later. Older runs
        project it at once, as they did.
        """
        if not self.is_lean():
            return await self.update_store(store, **changes)
        self.m.stores.update(store, **changes)
        self.m.store_changed()
        await self.set_status(self.m.status, project=False)

    async def end(self, status: RequestStatus, reason: str) -> None:
        """End the request (open stores cancelled) and publish it."""
        self.m.end(status, reason)
        await self.set_status(status)

    def publish_start(self) -> None:
        """Publish the request's type and due date (once, when it starts).

        A lean run leaves them alone when the start already set them (dsrflow's client does).
        """
        if self.is_lean():
            given = workflow.info().typed_search_attributes
            if (
                given.get(DSR_TYPE) == str(self.m.inp.request_type)
                and given.get(DSR_DUE) == self.m.due_at
            ):
                return
        workflow.upsert_search_attributes(
            [DSR_TYPE.value_set(str(self.m.inp.request_type)), DSR_DUE.value_set(self.m.due_at)]
        )

    def publish_due(self) -> None:
        """Publish the due date (at the start, and after an extension)."""
        workflow.upsert_search_attributes([DSR_DUE.value_set(self.m.due_at)])

    async def project(self, *, durable: bool = False) -> None:
        """Project a snapshot to the ledger (durable: by a normal activity, held-back too).

        In a lean run a local snapshot is coalesced with the others of the same workflow task;
        this returns once one that holds this change is projected.
        """
        if not durable and self.is_lean():
            if self._failed is not None:
                raise self._failed
            self._asked += 1
            mine = self._asked
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._flush_forever())
            await workflow.wait_condition(lambda: self._flushed >= mine)
            if self._failed is not None:
                raise self._failed
            return
        event = self.m.snapshot(durable=durable, only_changes=self.only_changes())
        if event is None:
            return
        if durable:
            await acts.project(event)
        else:
            await acts.project.local(event)

    async def _flush_forever(self) -> None:
        """Project the coalesced snapshots: one when the workflow task's work has settled."""
        while True:
            await workflow.wait_condition(lambda: self._asked > self._flushed)
            # Conditions are checked once nothing is ready to run; one more pass lets whatever
            # that same check woke make its changes before the snapshot is taken.
            await workflow.wait_condition(lambda: True)
            upto = self._asked
            event = self.m.snapshot(only_changes=True)
            try:
                if event is not None:
                    await acts.project.local(event)
            except Exception as exc:  # the callers fail as they did when each projected alone
                self._failed = exc
                return
            finally:
                self._flushed = upto

    def stop(self) -> None:
        """Stop projecting (the run is over; every snapshot asked for was projected)."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None

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

"""Carrying out a request's stores: plan, resolve identities, each store's verb, the result.

Drives the machine's ``StoreTable``: the machine says which store may start and what each
result means; this module runs the activities (through ``acts``) and waits for people.
Deterministic, no I/O.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from dsrflow.workflows import acts
from dsrflow.workflows.batched import BatchMember
from dsrflow.workflows.checking import PATCH_STORE_CHECKS, Checker
from dsrflow.workflows.common import MAX_IDENTITY_HOPS
from dsrflow.workflows.machine import RequestMachine
from dsrflow.workflows.machine.checks import failure
from dsrflow.workflows.machine.rules import CAPABILITY, WORKLOAD
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        ArtifactRef,
        AssembleInput,
        Attestation,
        EvidenceInput,
        Exemption,
        Identity,
        PlanInput,
        RequestType,
        StorePlan,
        StoreStatus,
        StoreTaskInput,
    )
    from dsrflow.lifecycle import StoreDecision

PATCH_HOLD_TASKS = "hold-stops-manual-tasks"


class StoreRunner:
    """Runs every store of a request to an end state (or to a person's decision).

    Args:
        machine: The request's state.
        pub: Publishes each change.
    """

    def __init__(self, machine: RequestMachine, pub: Publisher) -> None:
        self.m = machine
        self.pub = pub
        self.checker = Checker(machine, pub, self.fail)
        self.batch = BatchMember(machine, pub)

    async def execute(self) -> None:
        """Plan, resolve identities, then start each store once the ones it runs after settle."""
        m = self.m
        plan = await acts.plan_request(PlanInput(m.inp.request_id, m.inp.request_type))
        m.stores.load(plan)
        await self.pub.set_status(m.running_status())
        identities = await self._resolve_identities(m.inp.identities)
        m.stores.identities = identities  # exemptions restrict with the resolved identifiers too
        await asyncio.gather(*(self._after_deps(s, identities) for s in plan.stores))

    async def _after_deps(self, store: StorePlan, identities: list[Identity]) -> None:
        # Not level by level: a store waiting for a person must not hold up unrelated stores.
        await workflow.wait_condition(lambda: self.m.stores.ready(store))
        await self._run_store(store, identities)

    # -- identity resolution ---------------------------------------------------------

    async def _resolve_identities(self, start: list[Identity]) -> list[Identity]:
        """Hop through identity-source stores until no new identifier appears.

        A source that fails waits for a person like any failed store (retry or skip): the other
        stores must not run on a partial identity set without someone deciding so.
        """
        table = self.m.stores
        sources = table.identity_sources()
        known = {(i.kind, i.value): i for i in start}
        for _ in range(MAX_IDENTITY_HOPS):
            found = await asyncio.gather(
                *(self._resolve_one(s, list(known.values())) for s in sources)
            )
            for s, ids in zip(sources, found, strict=True):
                if ids is not None:
                    table.note_resolved(s.name, ids)
            sources = [s for s, ids in zip(sources, found, strict=True) if ids is not None]
            new = [i for ids in found if ids for i in ids if (i.kind, i.value) not in known]
            if not new:
                break
            known.update({(i.kind, i.value): i for i in new})
        return list(known.values())

    async def _resolve_one(self, store: StorePlan, ids: list[Identity]) -> list[Identity] | None:
        task = self.task(store, ids)
        while True:
            try:
                result = await acts.resolve_identities(task, store=store)
                return result.identities
            except ActivityError as err:
                await self.fail(store, err, "resolving identities")
            if self.m.dry_run:  # a dry run waits for nobody: the failure is its answer
                self.m.stores.dry_settled.add(store.name)
                return None
            decision = await self._await_decision(store.name)
            if decision is None or decision.kind != "retry":
                await self._close_by_decision(store.name, decision)
                return None
            await self.pub.update_store(store.name, status=StoreStatus.PENDING, error=None)

    # -- one store -------------------------------------------------------------------

    async def _run_store(self, store: StorePlan, identities: list[Identity]) -> None:
        m = self.m
        if m.stores.settled(store.name):
            return  # settled during identity resolution (skipped, exempt, cancelled)
        if m.cancel is not None:
            return await self.pub.update_store(store.name, status=StoreStatus.CANCELLED)
        if m.erasure and store.exemption is not None:
            return await self._exempt(store, store.exemption, "policy:catalog")
        capability = CAPABILITY[m.inp.request_type]
        if capability not in store.capabilities:
            return await self.pub.update_store(
                store.name,
                status=StoreStatus.NOT_SUPPORTED,
                error_type="NotSupported",
                error=f"store {store.name!r} ({store.adapter}) does not support {capability}",
            )
        if store.human_task:
            return await self._human_task(store)
        if self.batch.wants(store):  # only requests of a batch (batch_id): no old history has one
            res = await self.batch.run(store, identities)
            if res is None:
                return
            if res.receipt is not None and res.verification is not None:
                task = self.task(store, identities)
                checked = self.checker.check(
                    store, task, res.receipt, fresh=True, verified=res.verification
                )
                if await checked:
                    return
            if m.stores.outcomes[store.name].status == StoreStatus.FAILED_NEEDS_ATTENTION:
                decision = await self._await_decision(store.name)
                if decision is None or decision.kind != "retry":
                    return await self._close_by_decision(store.name, decision)
        task = self.task(store, identities)
        while True:
            if m.erasure:
                await workflow.wait_condition(m.released)
            if m.cancelled():
                return await self.pub.update_store(store.name, status=StoreStatus.CANCELLED)
            await self.pub.update_store(store.name, status=StoreStatus.RUNNING, error=None)
            if await self._attempt(store, task):
                return
            if m.dry_run:
                m.stores.dry_settled.add(store.name)
                return
            decision = await self._await_decision(store.name)
            if decision is None or decision.kind != "retry":
                return await self._close_by_decision(store.name, decision)

    def task(self, store: StorePlan, identities: list[Identity]) -> StoreTaskInput:
        """The input of a store's activities."""
        inp = self.m.inp
        return StoreTaskInput(
            inp.request_id, store.name, inp.request_type, identities, inp.changes,
            dry_run=inp.dry_run, catalog_digest=self.m.stores.digest,
        )  # fmt: skip

    async def _attempt(self, store: StorePlan, task: StoreTaskInput) -> bool:
        """Run the store's verb (and its checks); True when the store reached an end state."""
        checks = self.pub.patched(PATCH_STORE_CHECKS)
        # A retry resumes where the last attempt failed: a verb that succeeded is not re-run.
        kept = self.m.stores.resume.pop(store.name, None) if checks else None
        if kept is not None:
            return await self.checker.check(store, task, kept, fresh=False)
        verb = acts.VERBS[self.m.inp.request_type]
        try:
            receipt = await verb(task, store=store)
        except ActivityError as err:
            await self.fail(store, err, verb.name)
            return False
        if checks:
            return await self.checker.check(store, task, receipt, fresh=True)
        # Requests started before the checks patch keep their old behaviour when replayed.
        return await self.checker.legacy(store, task, receipt)

    async def fail(self, store: StorePlan, err: ActivityError, doing: str) -> None:
        """A store's activity failed for good: the store waits for a person."""
        cause = err.cause
        error_type, message, tries = "ActivityError", f"{doing} failed", store.retry.max_attempts
        if isinstance(cause, ApplicationError):
            error_type = cause.type or "ApplicationError"
            message = cause.message
            if cause.details and isinstance(cause.details[0], dict):
                tries = int(cause.details[0].get("attempt", tries))
        elif cause is not None:
            error_type, message = type(cause).__name__, f"{doing}: {cause}"
        attempts = self.m.stores.outcomes[store.name].attempts + tries
        await self.pub.update_store(store.name, **failure(error_type, message, attempts))
        if self.m.past_escalation(workflow.now()) and not self.m.dry_run:
            await self.escalate([store.name], "store_escalated")  # late failures go to people

    # -- people ----------------------------------------------------------------------

    async def _human_task(self, store: StorePlan) -> None:
        m = self.m
        if m.erasure and self.pub.patched(PATCH_HOLD_TASKS):
            # A legal hold stops erasure by people too: no task is opened until it is released.
            # (Requests started before this patch keep their old behaviour when replayed.)
            await workflow.wait_condition(m.released)
            if m.cancel is not None:
                return await self.pub.update_store(store.name, status=StoreStatus.CANCELLED)
        if m.dry_run:  # nobody is asked to act on a dry run
            note = "dry run: a person's task would open" + (
                f": {store.instructions}" if store.instructions else ""
            )
            return await self.pub.update_store(
                store.name, status=StoreStatus.SKIPPED, note=note, actor=WORKLOAD
            )
        await self.pub.update_store(
            store.name, status=StoreStatus.WAITING_FOR_HUMAN, note=store.instructions or None
        )
        if m.past_escalation(workflow.now()):
            await self.escalate([store.name])  # opened late: escalate at once
        decision = await self._await_decision(store.name)
        await self._close_by_decision(store.name, decision)

    async def _await_decision(self, store: str) -> StoreDecision | None:
        """Wait for a person's decision on a stuck store; None if the request is cancelled."""
        m = self.m
        await workflow.wait_condition(lambda: m.stores.decided(store) or m.cancel is not None)
        return m.stores.take_decision(store)

    async def _close_by_decision(self, store: str, d: StoreDecision | None) -> None:
        if d is None:
            await self.pub.update_store(store, status=StoreStatus.CANCELLED)
        elif d.kind == "skip":
            await self.pub.update_store(
                store, status=StoreStatus.SKIPPED, note=d.reason, actor=d.actor
            )
        elif d.kind == "exempt":
            exemption = Exemption(d.ground or "", d.reason, d.until)
            await self._exempt(self.m.stores.stores[store], exemption, d.actor)
        elif d.kind == "complete":
            status = StoreStatus.DONE if d.outcome == "done" else StoreStatus.NOT_FOUND
            attestation = None
            if d.outcome == "done" and d.method is not None:
                # The person's attested disposal is this manual store's verification in the
                # evidence (no command: replays of older requests are unchanged).
                attestation = Attestation(
                    d.actor, workflow.now(), d.method, d.certificate_ref or "", d.attachment_sha256
                )
            await self.pub.update_store(
                store, status=status, note=d.reason, actor=d.actor, attestation=attestation
            )

    async def _exempt(self, store: StorePlan, exemption: Exemption, actor: str) -> None:
        """Record the exemption; restrict the data where the store can (kept, not processed)."""
        m = self.m
        receipt = None
        if m.dry_run:  # a dry run restricts nothing either; it says it would
            exemption = replace(exemption, note=f"{exemption.note} (dry run)".strip())
        elif "restrict" in store.capabilities and not store.human_task:
            task = StoreTaskInput(
                m.inp.request_id, store.name, RequestType.RESTRICTION,
                m.stores.identities or m.inp.identities, catalog_digest=m.stores.digest,
            )  # fmt: skip
            try:
                receipt = await acts.restrict_store(task, store=store)
                if receipt.affected == 0 and receipt.matched == 0:
                    exemption = replace(
                        exemption, note=f"{exemption.note} (no records to restrict)".strip()
                    )
            except ActivityError:
                receipt = None  # the exemption stands; the note says restriction failed
                exemption = replace(
                    exemption, note=f"{exemption.note} (restriction failed)".strip()
                )
        await self.pub.update_store(
            store.name, status=StoreStatus.EXEMPT, exemption=exemption, actor=actor,
            receipt=receipt, error_type=None, error=None,
        )  # fmt: skip

    async def escalate(self, stores: list[str], action: str = "task_escalated") -> None:
        """Tell people about open tasks or stuck stores close to the due date."""
        for name in stores:
            self.pub.record("clock:deadline", action, f"due {self.m.due_at:%Y-%m-%d}", name)
        await self.pub.notify(
            "task_escalation" if action == "task_escalated" else "store_escalation", stores
        )
        await self.pub.project()

    # -- result ----------------------------------------------------------------------

    async def produce_result(self) -> ArtifactRef | None:
        """The access package or the evidence bundle (nothing for a dry run)."""
        m = self.m
        outcomes = list(m.stores.outcomes.values())
        rtype = m.inp.request_type
        if m.dry_run:
            return None  # no package, no signed bundle, nothing in the transparency log
        if rtype in (RequestType.ACCESS, RequestType.EXPORT) and m.cancel is None:
            return await acts.assemble_access_package(
                AssembleInput(m.inp.request_id, rtype, outcomes)
            )
        if rtype != RequestType.ERASURE:
            return None
        info = workflow.info()
        plan = m.stores.plan
        if plan is None:  # cancelled from outside while planning: no store ran
            return None
        return await acts.build_evidence_bundle(
            EvidenceInput(
                request=m.inp,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                catalog_digest=plan.catalog_digest,
                inventory=plan.stores,
                outcomes=outcomes,
                completed_at=workflow.now(),
                due_at=m.due_at,
            )
        )

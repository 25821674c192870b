"""The request workflow's execution steps: plan, resolve identities, run each store, result.

A mixin of ``DataSubjectRequestWorkflow`` (its state lives there); deterministic, no I/O.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from dsrflow.workflows.checks import PATCH_STORE_CHECKS, WORKLOAD
from dsrflow.workflows.common import MAX_IDENTITY_HOPS, SHORT, SHORT_RETRY, VERBS, store_options

with workflow.unsafe.imports_passed_through():
    from dsrflow.redact import first_line

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        ArtifactRef,
        AssembleInput,
        Attestation,
        EvidenceInput,
        Exemption,
        Identity,
        Plan,
        PlanInput,
        RequestType,
        ResolveResult,
        StoreOutcome,
        StorePlan,
        StoreReceipt,
        StoreStatus,
        StoreTaskInput,
        VerifyReceipt,
    )
    from dsrflow.lifecycle import StoreDecision

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

PATCH_HOLD_TASKS = "hold-stops-manual-tasks"


class StoreSteps(_Base):
    """Planning, identity resolution, per-store execution and the result."""

    async def _execute(self) -> None:
        inp = self._inp
        plan = await workflow.execute_activity(
            "plan_request",
            PlanInput(inp.request_id, inp.request_type),
            result_type=Plan,
            start_to_close_timeout=SHORT,
            retry_policy=SHORT_RETRY,
        )
        self._plan = plan
        self._stores = {s.name: s for s in plan.stores}
        self._outcomes = {
            s.name: StoreOutcome(store=s.name, adapter=s.adapter, status=StoreStatus.PENDING)
            for s in plan.stores
        }
        await self._set_status(self._running_status())
        identities = await self._resolve_identities(plan, inp.identities)
        self._identities = identities  # exemptions restrict with the resolved identifiers too
        await asyncio.gather(*(self._after_deps(s, identities) for s in plan.stores))

    async def _after_deps(self, store: StorePlan, identities: list[Identity]) -> None:
        """Start a store once every store it runs ``after`` has settled.

        Not level by level: a store waiting for a person must not hold up unrelated stores.
        """
        deps = [d for d in store.after if d in self._stores]
        await workflow.wait_condition(lambda: all(self._settled(d) for d in deps))
        await self._run_store(store, identities)

    def _settled(self, store: str) -> bool:
        """Whether nothing more will happen in a store (a dry run's failures wait for nobody)."""
        return self._outcomes[store].status.terminal or store in self._dry_settled

    # -- identity resolution ---------------------------------------------------------

    async def _resolve_identities(self, plan: Plan, start: list[Identity]) -> list[Identity]:
        """Hop through identity-source stores until no new identifier appears.

        A source that fails waits for a person like any failed store (retry or skip): the other
        stores must not run on a partial identity set without someone deciding so.
        """
        sources = [
            s for s in plan.stores if s.identity_source and "resolve_identities" in s.capabilities
        ]
        known = {(i.kind, i.value): i for i in start}
        for _ in range(MAX_IDENTITY_HOPS):
            found = await asyncio.gather(
                *(self._resolve_one(s, list(known.values())) for s in sources)
            )
            for s, ids in zip(sources, found, strict=True):
                if ids is not None:  # how many identifiers each source found (for warnings)
                    self._resolved[s.name] = max(self._resolved.get(s.name, 0), len(ids))
            sources = [s for s, ids in zip(sources, found, strict=True) if ids is not None]
            new = [i for ids in found if ids for i in ids if (i.kind, i.value) not in known]
            if not new:
                break
            known.update({(i.kind, i.value): i for i in new})
        return list(known.values())

    async def _resolve_one(self, store: StorePlan, ids: list[Identity]) -> list[Identity] | None:
        task = self._task(store, ids)
        while True:
            try:
                result = await workflow.execute_activity(
                    "resolve_identities", task, result_type=ResolveResult, **store_options(store)
                )
                return result.identities
            except ActivityError as err:
                await self._fail(store, err, "resolving identities")
            if self._inp.dry_run:  # a dry run waits for nobody: the failure is its answer
                self._dry_settled.add(store.name)
                return None
            decision = await self._await_decision(store.name)
            if decision is None or decision.kind != "retry":
                await self._close_by_decision(store.name, decision)
                return None
            await self._update_store(store.name, status=StoreStatus.PENDING, error=None)

    # -- one store -------------------------------------------------------------------

    async def _run_store(self, store: StorePlan, identities: list[Identity]) -> None:
        if self._settled(store.name):
            return  # settled during identity resolution (skipped, exempt, cancelled)
        if self._cancel is not None:
            return await self._update_store(store.name, status=StoreStatus.CANCELLED)
        erasure = self._inp.request_type == RequestType.ERASURE
        if erasure and store.exemption is not None:
            return await self._exempt(store, store.exemption, "policy:catalog")
        activity_name, capability = VERBS[self._inp.request_type]
        if capability not in store.capabilities:
            return await self._update_store(
                store.name,
                status=StoreStatus.NOT_SUPPORTED,
                error_type="NotSupported",
                error=f"store {store.name!r} ({store.adapter}) does not support {capability}",
            )
        if store.human_task:
            return await self._human_task(store)
        task = self._task(store, identities)
        while True:
            if erasure:
                await workflow.wait_condition(
                    lambda: self._hold is None or self._cancel is not None
                )
            if self._cancel is not None:
                return await self._update_store(store.name, status=StoreStatus.CANCELLED)
            await self._update_store(store.name, status=StoreStatus.RUNNING, error=None)
            if await self._attempt(store, activity_name, task):
                return
            if self._inp.dry_run:
                self._dry_settled.add(store.name)
                return
            decision = await self._await_decision(store.name)
            if decision is None or decision.kind != "retry":
                return await self._close_by_decision(store.name, decision)

    def _task(self, store: StorePlan, identities: list[Identity]) -> StoreTaskInput:
        return StoreTaskInput(
            self._inp.request_id, store.name, self._inp.request_type, identities,
            self._inp.changes, dry_run=self._inp.dry_run,
            catalog_digest=self._plan.catalog_digest if self._plan is not None else None,
        )  # fmt: skip

    async def _attempt(self, store: StorePlan, activity_name: str, task: StoreTaskInput) -> bool:
        """Run the store's verb (and its checks); True when the store reached an end state."""
        checks = workflow.patched(PATCH_STORE_CHECKS)
        # A retry resumes where the last attempt failed: a verb that succeeded is not re-run.
        kept = self._resume.pop(store.name, None) if checks else None
        if kept is not None:
            return await self._check_store(store, task, kept, fresh=False)
        try:
            receipt = await workflow.execute_activity(
                activity_name, task, result_type=StoreReceipt, **store_options(store)
            )
        except ActivityError as err:
            await self._fail(store, err, activity_name)
            return False
        if checks:
            receipt = self._combine(store.name, receipt)
            return await self._check_store(store, task, receipt, fresh=True)
        # Requests started before the checks patch keep their old behaviour when replayed.
        attempts = self._outcomes[store.name].attempts + receipt.attempt
        if receipt.matched == 0:
            await self._update_store(
                store.name, status=StoreStatus.NOT_FOUND, receipt=receipt, attempts=attempts,
                actor=WORKLOAD, error_type=None,
            )  # fmt: skip
            return True
        check = None
        if self._inp.request_type == RequestType.ERASURE and "verify" in store.capabilities:
            try:
                check = await workflow.execute_activity(
                    "verify_store", task, result_type=VerifyReceipt, **store_options(store)
                )
            except ActivityError as err:
                await self._fail(store, err, "verify_store")
                return False
            if check.residual > 0:
                await self._update_store(
                    store.name, status=StoreStatus.FAILED_NEEDS_ATTENTION, receipt=receipt,
                    verification=check, attempts=attempts, error_type="ResidualData",
                    error=f"{check.residual} matching records remain after erasure",
                )  # fmt: skip
                return False
        await self._update_store(
            store.name, status=StoreStatus.DONE, receipt=receipt, verification=check,
            attempts=attempts, actor=WORKLOAD, error_type=None,
        )  # fmt: skip
        return True

    async def _fail(self, store: StorePlan, err: ActivityError, doing: str) -> None:
        cause = err.cause
        error_type, message, tries = "ActivityError", f"{doing} failed", store.retry.max_attempts
        if isinstance(cause, ApplicationError):
            error_type = cause.type or "ApplicationError"
            message = cause.message
            if cause.details and isinstance(cause.details[0], dict):
                tries = int(cause.details[0].get("attempt", tries))
        elif cause is not None:
            error_type, message = type(cause).__name__, f"{doing}: {cause}"
        await self._update_store(
            store.name, status=StoreStatus.FAILED_NEEDS_ATTENTION, error_type=error_type,
            error=first_line(message), attempts=self._outcomes[store.name].attempts + tries,
        )  # fmt: skip
        if self._past_escalation() and not self._inp.dry_run:  # late failures go to people
            await self._escalate([store.name], "store_escalated")

    def _past_escalation(self) -> bool:
        assert self._policy is not None
        return workflow.now() >= self._due_at - timedelta(seconds=self._policy.escalation_offset_s)

    # -- people ----------------------------------------------------------------------

    async def _human_task(self, store: StorePlan) -> None:
        if self._inp.request_type == RequestType.ERASURE and workflow.patched(PATCH_HOLD_TASKS):
            # A legal hold stops erasure by people too: no task is opened until it is released.
            # (Requests started before this patch keep their old behaviour when replayed.)
            await workflow.wait_condition(lambda: self._hold is None or self._cancel is not None)
            if self._cancel is not None:
                return await self._update_store(store.name, status=StoreStatus.CANCELLED)
        if self._inp.dry_run:  # nobody is asked to act on a dry run
            note = "dry run: a person's task would open" + (
                f": {store.instructions}" if store.instructions else ""
            )
            return await self._update_store(
                store.name, status=StoreStatus.SKIPPED, note=note, actor=WORKLOAD
            )
        await self._update_store(
            store.name, status=StoreStatus.WAITING_FOR_HUMAN, note=store.instructions or None
        )
        if self._past_escalation():
            await self._escalate([store.name])  # opened late: escalate at once
        decision = await self._await_decision(store.name)
        await self._close_by_decision(store.name, decision)

    async def _await_decision(self, store: str) -> StoreDecision | None:
        """Wait for a person's decision on a stuck store; None if the request is cancelled."""
        await workflow.wait_condition(lambda: store in self._decisions or self._cancel is not None)
        return self._decisions.pop(store, None)

    async def _close_by_decision(self, store: str, d: StoreDecision | None) -> None:
        if d is None:
            await self._update_store(store, status=StoreStatus.CANCELLED)
        elif d.kind == "skip":
            await self._update_store(
                store, status=StoreStatus.SKIPPED, note=d.reason, actor=d.actor
            )
        elif d.kind == "exempt":
            exemption = Exemption(d.ground or "", d.reason, d.until)
            await self._exempt(self._stores[store], exemption, d.actor)
        elif d.kind == "complete":
            status = StoreStatus.DONE if d.outcome == "done" else StoreStatus.NOT_FOUND
            attestation = None
            if d.outcome == "done" and d.method is not None:
                # The person's attested disposal is this manual store's verification in the
                # evidence (no command: replays of older requests are unchanged).
                attestation = Attestation(
                    d.actor, workflow.now(), d.method, d.certificate_ref or "", d.attachment_sha256
                )
            await self._update_store(
                store, status=status, note=d.reason, actor=d.actor, attestation=attestation
            )

    async def _exempt(self, store: StorePlan, exemption: Exemption, actor: str) -> None:
        """Record the exemption; restrict the data where the store can (kept, not processed)."""
        receipt = None
        if self._inp.dry_run:  # a dry run restricts nothing either; it says it would
            exemption = replace(exemption, note=f"{exemption.note} (dry run)".strip())
        elif "restrict" in store.capabilities and not store.human_task:
            task = StoreTaskInput(
                self._inp.request_id,
                store.name,
                RequestType.RESTRICTION,
                self._identities or self._inp.identities,
                catalog_digest=self._plan.catalog_digest if self._plan is not None else None,
            )
            try:
                receipt = await workflow.execute_activity(
                    "restrict_store", task, result_type=StoreReceipt, **store_options(store)
                )
                if receipt.affected == 0 and receipt.matched == 0:
                    exemption = Exemption(
                        exemption.ground,
                        f"{exemption.note} (no records to restrict)".strip(),
                        exemption.until,
                    )
            except ActivityError:
                receipt = None  # the exemption stands; the note says restriction failed
                exemption = Exemption(
                    exemption.ground,
                    f"{exemption.note} (restriction failed)".strip(),
                    exemption.until,
                )
        await self._update_store(
            store.name, status=StoreStatus.EXEMPT, exemption=exemption, actor=actor,
            receipt=receipt, error_type=None, error=None,
        )  # fmt: skip

    async def _escalate(self, stores: list[str], action: str = "task_escalated") -> None:
        for name in stores:
            self._record("clock:deadline", action, f"due {self._due_at:%Y-%m-%d}", name)
        await self._notify(
            "task_escalation" if action == "task_escalated" else "store_escalation", stores
        )
        await self._project()

    # -- result ----------------------------------------------------------------------

    async def _produce_result(self) -> ArtifactRef | None:
        outcomes = list(self._outcomes.values())
        rtype = self._inp.request_type
        if self._inp.dry_run:
            return None  # no package, no signed bundle, nothing in the transparency log
        if rtype in (RequestType.ACCESS, RequestType.EXPORT) and self._cancel is None:
            return await workflow.execute_activity(
                "assemble_access_package",
                AssembleInput(self._inp.request_id, rtype, outcomes),
                result_type=ArtifactRef,
                start_to_close_timeout=timedelta(minutes=30),
                retry_policy=SHORT_RETRY,
            )
        if rtype != RequestType.ERASURE:
            return None
        info = workflow.info()
        return await workflow.execute_activity(
            "build_evidence_bundle",
            EvidenceInput(
                request=self._inp,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                catalog_digest=self._plan.catalog_digest,
                inventory=self._plan.stores,
                outcomes=outcomes,
                completed_at=workflow.now(),
                due_at=self._due_at,
            ),
            result_type=ArtifactRef,
            start_to_close_timeout=SHORT,
            retry_policy=SHORT_RETRY,
        )

"""``DataSubjectRequestWorkflow``: the durable life of one data-subject request.

Orchestration only. Every decision is deterministic; every side effect is an activity. The
workflow id is the request id, so Temporal itself refuses a duplicate submit.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        ArtifactRef,
        AssembleInput,
        DsrInput,
        DsrResult,
        EvidenceInput,
        Identity,
        Plan,
        PlanInput,
        ProjectionEvent,
        RequestStatus,
        RequestType,
        ResolveResult,
        StatusView,
        StoreOutcome,
        StorePlan,
        StoreReceipt,
        StoreStatus,
        StoreTaskInput,
        VerifyReceipt,
    )
    from dsrflow.graph import topo_levels

DSR_STATUS = SearchAttributeKey.for_keyword("DsrStatus")
DSR_TYPE = SearchAttributeKey.for_keyword("DsrType")

SHORT = timedelta(seconds=60)
SHORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
NON_RETRYABLE = ["PermanentStoreError", "NotSupported", "ConfigError"]
MAX_IDENTITY_HOPS = 5

VERB = {
    RequestType.ACCESS: ("access_store", "access"),
    RequestType.EXPORT: ("access_store", "access"),
    RequestType.ERASURE: ("erase_store", "erase"),
}


@workflow.defn(name="DataSubjectRequest")
class DataSubjectRequestWorkflow:
    """One workflow per request: plan, resolve identities, fan out, verify, produce the result."""

    @workflow.init
    def __init__(self, inp: DsrInput) -> None:
        self._inp = inp
        self._status = RequestStatus.RECEIVED
        self._plan: Plan | None = None
        self._outcomes: dict[str, StoreOutcome] = {}
        self._artifact: ArtifactRef | None = None
        self._seq = 0

    @workflow.query
    def status(self) -> StatusView:
        """Where the request stands, store by store."""
        return StatusView(
            request_id=self._inp.request_id,
            request_type=self._inp.request_type,
            status=self._status,
            stores=list(self._outcomes.values()),
            artifact=self._artifact,
        )

    @workflow.run
    async def run(self, inp: DsrInput) -> DsrResult:
        """Run the request to its end state."""
        workflow.upsert_search_attributes(
            [DSR_TYPE.value_set(str(inp.request_type)), DSR_STATUS.value_set(str(self._status))]
        )
        if inp.request_type not in VERB:
            raise ApplicationError(
                f"request type {inp.request_type} is not implemented yet",
                type="UnsupportedRequestType",
                non_retryable=True,
            )
        plan = await workflow.execute_activity(
            "plan_request",
            PlanInput(inp.request_id, inp.request_type),
            result_type=Plan,
            start_to_close_timeout=SHORT,
            retry_policy=SHORT_RETRY,
        )
        self._plan = plan
        self._outcomes = {
            s.name: StoreOutcome(store=s.name, adapter=s.adapter, status=StoreStatus.PENDING)
            for s in plan.stores
        }
        await self._set_status(RequestStatus.RUNNING)

        identities = await self._resolve_identities(plan, inp.identities)
        by_name = {s.name: s for s in plan.stores}
        levels = topo_levels({s.name: [d for d in s.after if d in by_name] for s in plan.stores})
        for level in levels:
            await asyncio.gather(*(self._run_store(by_name[n], identities) for n in level))

        final = (
            RequestStatus.COMPLETED
            if all(o.status != StoreStatus.FAILED_NEEDS_ATTENTION for o in self._outcomes.values())
            else RequestStatus.NEEDS_ATTENTION
        )
        self._artifact = await self._produce_result(plan)
        await self._set_status(final)
        return DsrResult(
            request_id=inp.request_id,
            status=final,
            stores=list(self._outcomes.values()),
            artifact=self._artifact,
        )

    # -- steps -------------------------------------------------------------------------

    async def _resolve_identities(self, plan: Plan, start: list[Identity]) -> list[Identity]:
        """Hop through identity-source stores until no new identifiers appear."""
        sources = [
            s for s in plan.stores if s.identity_source and "resolve_identities" in s.capabilities
        ]
        known = {(i.kind, i.value): i for i in start}
        for _ in range(MAX_IDENTITY_HOPS):
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "resolve_identities",
                        StoreTaskInput(
                            self._inp.request_id,
                            s.name,
                            self._inp.request_type,
                            list(known.values()),
                        ),
                        result_type=ResolveResult,
                        **_store_options(s),
                    )
                    for s in sources
                ),
                return_exceptions=True,
            )
            for source, result in zip(sources, results, strict=True):
                if isinstance(result, ActivityError):
                    # Recorded on the store, never dropped: the request ends needing attention.
                    await self._fail(source, result)
                elif isinstance(result, BaseException):
                    raise result
            sources = [
                s
                for s in sources
                if self._outcomes[s.name].status != StoreStatus.FAILED_NEEDS_ATTENTION
            ]
            new = [
                i
                for r in results
                if isinstance(r, ResolveResult)
                for i in r.identities
                if (i.kind, i.value) not in known
            ]
            if not new:
                break
            known.update({(i.kind, i.value): i for i in new})
        return list(known.values())

    async def _run_store(self, store: StorePlan, identities: list[Identity]) -> None:
        activity_name, capability = VERB[self._inp.request_type]
        if self._outcomes[store.name].status == StoreStatus.FAILED_NEEDS_ATTENTION:
            return  # its identity resolution already failed and is recorded
        if capability not in store.capabilities:
            await self._update(
                store.name, status=StoreStatus.NOT_SUPPORTED, error_type="NotSupported"
            )
            return
        await self._update(store.name, status=StoreStatus.RUNNING)
        task = StoreTaskInput(self._inp.request_id, store.name, self._inp.request_type, identities)
        try:
            receipt = await workflow.execute_activity(
                activity_name, task, result_type=StoreReceipt, **_store_options(store)
            )
        except ActivityError as err:
            await self._fail(store, err)
            return
        if receipt.matched == 0:
            await self._update(
                store.name, status=StoreStatus.NOT_FOUND, receipt=receipt, attempts=receipt.attempt
            )
            return
        verification = None
        if self._inp.request_type == RequestType.ERASURE and "verify" in store.capabilities:
            try:
                verification = await workflow.execute_activity(
                    "verify_store", task, result_type=VerifyReceipt, **_store_options(store)
                )
            except ActivityError as err:
                await self._fail(store, err)
                return
            if verification.residual > 0:
                await self._update(
                    store.name,
                    status=StoreStatus.FAILED_NEEDS_ATTENTION,
                    receipt=receipt,
                    verification=verification,
                    attempts=receipt.attempt,
                    error_type="ResidualData",
                    error=f"{verification.residual} matching rows remain after erasure",
                )
                return
        await self._update(
            store.name,
            status=StoreStatus.DONE,
            receipt=receipt,
            verification=verification,
            attempts=receipt.attempt,
        )

    async def _fail(self, store: StorePlan, err: ActivityError) -> None:
        cause = err.cause
        error_type, message, attempts = "ActivityError", str(err), store.retry.max_attempts
        if isinstance(cause, ApplicationError):
            error_type = cause.type or "ApplicationError"
            message = cause.message
            if cause.details and isinstance(cause.details[0], dict):
                attempts = int(cause.details[0].get("attempt", attempts))
        elif cause is not None:
            error_type, message = type(cause).__name__, str(cause)
        await self._update(
            store.name,
            status=StoreStatus.FAILED_NEEDS_ATTENTION,
            error_type=error_type,
            error=message,
            attempts=attempts,
        )

    async def _produce_result(self, plan: Plan) -> ArtifactRef | None:
        outcomes = list(self._outcomes.values())
        if self._inp.request_type in (RequestType.ACCESS, RequestType.EXPORT):
            return await workflow.execute_activity(
                "assemble_access_package",
                AssembleInput(self._inp.request_id, self._inp.request_type, outcomes),
                result_type=ArtifactRef,
                start_to_close_timeout=timedelta(minutes=30),
                heartbeat_timeout=None,
                retry_policy=SHORT_RETRY,
            )
        info = workflow.info()
        return await workflow.execute_activity(
            "build_evidence_bundle",
            EvidenceInput(
                request=self._inp,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                catalog_digest=plan.catalog_digest,
                inventory=plan.stores,
                outcomes=outcomes,
                completed_at=workflow.now(),
            ),
            result_type=ArtifactRef,
            start_to_close_timeout=SHORT,
            retry_policy=SHORT_RETRY,
        )

    # -- state -------------------------------------------------------------------------

    async def _update(self, store: str, **changes: object) -> None:
        self._outcomes[store] = replace(self._outcomes[store], **changes)  # type: ignore[arg-type]
        await self._project()

    async def _set_status(self, status: RequestStatus) -> None:
        self._status = status
        workflow.upsert_search_attributes([DSR_STATUS.value_set(str(status))])
        await self._project()

    async def _project(self) -> None:
        self._seq += 1
        await workflow.execute_local_activity(
            "project",
            ProjectionEvent(
                request_id=self._inp.request_id,
                request_type=self._inp.request_type,
                status=self._status,
                received_at=self._inp.received_at,
                stores=list(self._outcomes.values()),
                artifact=self._artifact,
                regulation=self._inp.regulation,
                seq=self._seq,
            ),
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SHORT_RETRY,
        )


def _store_options(store: StorePlan) -> dict[str, object]:
    r = store.retry
    return {
        "start_to_close_timeout": timedelta(seconds=r.timeout_s),
        "heartbeat_timeout": timedelta(seconds=r.heartbeat_s),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=r.initial_interval_s),
            backoff_coefficient=r.backoff,
            maximum_interval=timedelta(seconds=r.max_interval_s),
            maximum_attempts=r.max_attempts,
            non_retryable_error_types=NON_RETRYABLE,
        ),
    }

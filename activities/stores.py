"""Per-store activities: plan, resolve identities, access, erase, verify."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity

from activities.errors import store_errors
from adapters.base import Capability, NotSupportedError, OperationReceipt, Record, Subject
from dsrflow.artifacts import ArtifactStore
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import (
    Plan,
    PlanInput,
    RequestType,
    ResolveResult,
    StoreReceipt,
    StoreTaskInput,
    VerifyReceipt,
)
from dsrflow.lifecycle import Policy, PolicyInput

log = structlog.get_logger(__name__)

HEARTBEAT_EVERY = 1000


class StoreActivities:
    """Activities that talk to data stores through their adapters."""

    def __init__(self, pool: AdapterPool, artifacts: ArtifactStore) -> None:
        self.pool = pool
        self.artifacts = artifacts

    @activity.defn(name="plan_request")
    def plan_request(self, inp: PlanInput) -> Plan:
        """Fix the stores in scope for this request (the evidence inventory)."""
        catalog = self.pool.catalog
        stores = [entry.plan() for entry in catalog.enabled_stores()]
        log.info("planned", request_id=inp.request_id, stores=len(stores))
        return Plan(stores=stores, catalog_digest=catalog.digest)

    @activity.defn(name="get_policy")
    def get_policy(self, inp: PolicyInput) -> Policy:
        """The gates and clock settings for this request type (from the catalog's policies)."""
        return self.pool.catalog.policies.for_type(RequestType(inp.request_type))

    @activity.defn(name="resolve_identities")
    def resolve_identities(self, inp: StoreTaskInput) -> ResolveResult:
        """Turn the subject's identifiers into the ones other stores key on."""
        with store_errors(inp.store):
            adapter = self.pool.get(inp.store)
            if Capability.RESOLVE_IDENTITIES not in adapter.capabilities:
                raise NotSupportedError(f"store {inp.store!r} cannot resolve identities")
            found = adapter.resolve_identities(_subject(inp))  # type: ignore[attr-defined]
        log.info("resolved", request_id=inp.request_id, store=inp.store, identities=len(found))
        return ResolveResult(store=inp.store, identities=found)

    @activity.defn(name="access_store")
    def access_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Stream the subject's records into the request's encrypted staging area."""
        started = datetime.now(UTC)
        with store_errors(inp.store):
            adapter = self.pool.get(inp.store)
            if Capability.ACCESS not in adapter.capabilities:
                raise NotSupportedError(f"store {inp.store!r} does not support access")
            subject = _subject(inp)
            count = self.artifacts.stage_records(
                inp.request_id, inp.store, _heartbeating(adapter.access(subject))
            )
            digest_fn = getattr(adapter, "access_digest", None)
            digest = digest_fn(subject) if digest_fn else ""
        log.info("accessed", request_id=inp.request_id, store=inp.store, records=count)
        return StoreReceipt(
            store=inp.store,
            adapter=adapter.name,
            adapter_version=adapter.version,
            action="access",
            matched=count,
            affected=0,
            operation_digest=digest,
            started_at=started,
            finished_at=datetime.now(UTC),
            attempt=activity.info().attempt,
        )

    @activity.defn(name="erase_store")
    def erase_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Erase the subject's data in one store, per the catalog's strategies."""
        return self._run_verb(
            inp, Capability.ERASE, "erase", lambda a, s: a.erase(s, progress=activity.heartbeat)
        )

    @activity.defn(name="rectify_store")
    def rectify_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Set the requested fields to their new values wherever the store holds them."""
        changes = {c.field: c.value for c in inp.changes}
        return self._run_verb(
            inp, Capability.RECTIFY, "rectify", lambda a, s: a.rectify(s, changes)
        )

    @activity.defn(name="restrict_store")
    def restrict_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Mark the subject's data restricted (Art. 18; also used for exempt erasures)."""
        return self._run_verb(inp, Capability.RESTRICT, "restrict", lambda a, s: a.restrict(s))

    def _run_verb(
        self,
        inp: StoreTaskInput,
        capability: Capability,
        action: str,
        call: Callable[[Any, Subject], OperationReceipt],
    ) -> StoreReceipt:
        started = datetime.now(UTC)
        with store_errors(inp.store):
            adapter = self.pool.get(inp.store)
            if capability not in adapter.capabilities:
                raise NotSupportedError(f"store {inp.store!r} does not support {action}")
            receipt = call(adapter, _subject(inp))
        log.info(
            action,
            request_id=inp.request_id,
            store=inp.store,
            matched=receipt.matched,
            affected=receipt.affected,
        )
        return StoreReceipt(
            store=inp.store,
            adapter=adapter.name,
            adapter_version=adapter.version,
            action=action,
            matched=receipt.matched,
            affected=receipt.affected,
            operation_digest=receipt.operation_digest,
            started_at=started,
            finished_at=datetime.now(UTC),
            attempt=activity.info().attempt,
            collections=receipt.collections,
            processor_receipts=receipt.processor_receipts,
        )

    @activity.defn(name="verify_store")
    def verify_store(self, inp: StoreTaskInput) -> VerifyReceipt:
        """Ask the store again: how much of the subject is left?"""
        with store_errors(inp.store):
            adapter = self.pool.get(inp.store)
            if Capability.VERIFY not in adapter.capabilities:
                raise NotSupportedError(f"store {inp.store!r} cannot verify erasure")
            receipt = adapter.verify(_subject(inp))
        log.info("verified", request_id=inp.request_id, store=inp.store, residual=receipt.matched)
        return VerifyReceipt(
            store=inp.store,
            residual=receipt.matched,
            checked_at=datetime.now(UTC),
            operation_digest=receipt.operation_digest,
            processor_receipts=receipt.processor_receipts,
        )


def _subject(inp: StoreTaskInput) -> Subject:
    # The request id lets adapters that forward requests (OpenDSR) key them per request, so a
    # later request about the same person is sent again rather than matched to an old one.
    return Subject.of(inp.identities, request_id=inp.request_id)


def _heartbeating(records: Iterator[Record]) -> Iterator[Record]:
    for i, rec in enumerate(records, 1):
        if i % HEARTBEAT_EVERY == 0:
            activity.heartbeat(i)
        yield rec

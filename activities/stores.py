"""Per-store activities: plan, resolve identities, access, erase, verify."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity

from dsrflow.activities.errors import store_errors
from dsrflow.adapters.sdk import (
    Adapter,
    Capability,
    NotSupportedError,
    OperationReceipt,
    Record,
    RetryableAdapterError,
    Subject,
    require,
    spec_of,
)
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
from dsrflow.ledger.journal import ReceiptJournal
from dsrflow.lifecycle import Policy, PolicyInput

log = structlog.get_logger(__name__)

HEARTBEAT_EVERY = 1000


class StoreActivities:
    """Activities that talk to data stores through their adapters."""

    def __init__(
        self, pool: AdapterPool, artifacts: ArtifactStore, *, journal: ReceiptJournal
    ) -> None:
        self.pool = pool
        self.artifacts = artifacts
        self.journal = journal

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
            resolver = require(
                self.pool.get(inp.store), Capability.RESOLVE_IDENTITIES, store=inp.store
            )
            found = resolver.resolve_identities(_subject(inp))
        log.info("resolved", request_id=inp.request_id, store=inp.store, identities=len(found))
        return ResolveResult(store=inp.store, identities=found)

    @activity.defn(name="access_store")
    def access_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Stream the subject's records into the request's encrypted staging area."""
        started = datetime.now(UTC)
        with store_errors(inp.store):
            adapter, catalog = self.pool.checkout(inp.store)
            catalog_digest = catalog.digest
            accessor = require(adapter, Capability.ACCESS, store=inp.store)
            subject = _subject(inp)
            records = _heartbeating(accessor.access(subject))
            if inp.dry_run:
                # A dry run only counts: the orchestrator must not hold a copy of her data
                # that no package will ever consume (and no purge would find).
                count = sum(1 for _ in records)
            else:
                # Projections and redactions apply before the first write (docs/catalog.md).
                sheet = catalog.stores[inp.store].common.processing.sheet()
                count = self.artifacts.stage_records(
                    inp.request_id, inp.store, records, sheet=sheet
                )
            digest = spec_of(adapter).access_digest(adapter, subject)
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
            catalog_digest=catalog_digest,
            dry_run=inp.dry_run,
        )

    @activity.defn(name="erase_store")
    def erase_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Erase the subject's data in one store, per the catalog's strategies.

        The receipt is journaled durably (inside the store's transaction where the adapter
        offers ``on_commit``), and a re-run that changes nothing returns the journaled receipt
        (``recovered``): a committed erasure is never reported as "nothing found".
        """
        return self._run_verb(
            inp,
            Capability.ERASE,
            lambda a, s, opts: require(a, Capability.ERASE, store=inp.store).erase(
                s, progress=activity.heartbeat, **opts
            ),
        )

    @activity.defn(name="rectify_store")
    def rectify_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Set the requested fields to their new values wherever the store holds them."""
        changes = {c.field: c.value for c in inp.changes}
        return self._run_verb(
            inp,
            Capability.RECTIFY,
            lambda a, s, _: require(a, Capability.RECTIFY, store=inp.store).rectify(s, changes),
        )

    @activity.defn(name="restrict_store")
    def restrict_store(self, inp: StoreTaskInput) -> StoreReceipt:
        """Mark the subject's data restricted (Art. 18; also used for exempt erasures)."""
        return self._run_verb(
            inp,
            Capability.RESTRICT,
            lambda a, s, _: require(a, Capability.RESTRICT, store=inp.store).restrict(s),
        )

    def _run_verb(
        self,
        inp: StoreTaskInput,
        capability: Capability,
        call: Callable[[Adapter, Subject, dict[str, Any]], OperationReceipt],
    ) -> StoreReceipt:
        started = datetime.now(UTC)
        action = capability.value
        attempt = activity.info().attempt
        with store_errors(inp.store):
            # The catalog this run actually uses (a reload may have replaced the planned one).
            adapter, catalog = self.pool.checkout(inp.store)
            catalog_digest = catalog.digest
            spec = spec_of(adapter)
            require(adapter, capability, store=inp.store)  # before anything is journaled
            options = _dry_run_options(spec.supports_dry_run, inp, action)

            def receipt_of(op: OperationReceipt) -> StoreReceipt:
                return StoreReceipt(
                    store=inp.store,
                    adapter=adapter.name,
                    adapter_version=adapter.version,
                    action=action,
                    matched=op.matched,
                    affected=op.affected,
                    operation_digest=op.operation_digest,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    attempt=attempt,
                    collections=op.collections,
                    processor_receipts=op.processor_receipts,
                    catalog_digest=catalog_digest,
                    dry_run=inp.dry_run,
                )

            journaling = action == "erase" and not inp.dry_run  # a dry run changes nothing
            tokens = self.journal.blind_index(inp.identities) if journaling else []
            in_tx: list[StoreReceipt] = []
            if journaling and spec.supports_on_commit:

                def on_commit(op: OperationReceipt) -> None:
                    # Inside the store's transaction: if the journal cannot write, the adapter
                    # rolls back, so no erasure commits without its receipt.
                    in_tx.append(receipt_of(op))
                    self._record(in_tx[-1], inp, tokens, required=op.affected > 0)

                options["on_commit"] = on_commit
            op = call(adapter, _subject(inp), options)
            # The journaled receipt is the one returned, to the microsecond.
            receipt = in_tx[-1] if in_tx else receipt_of(op)
            if journaling:
                receipt = self._settle(receipt, inp, tokens, journaled=bool(in_tx))
        log.info(
            action,
            request_id=inp.request_id,
            store=inp.store,
            matched=receipt.matched,
            affected=receipt.affected,
            recovered=receipt.recovered,
            dry_run=receipt.dry_run,
        )
        return receipt

    def _record(
        self, receipt: StoreReceipt, inp: StoreTaskInput, tokens: list[str], *, required: bool
    ) -> None:
        """Journal a receipt; ``required`` inside a transaction that must not commit without it.

        Otherwise (the store already committed, or nothing changed) a failed write is logged and
        the receipt still goes back to the workflow: losing it would be worse.
        """
        try:
            self.journal.record(
                receipt, request_id=inp.request_id, operation=receipt.action, tokens=tokens
            )
        except Exception as exc:
            if required:
                raise RetryableAdapterError(
                    f"store {inp.store!r}: the receipt journal (ledger) could not record the "
                    f"erasure ({type(exc).__name__}); the erasure was rolled back"
                ) from None
            log.warning(
                "receipt journal write failed",
                request_id=inp.request_id,
                store=inp.store,
                error_type=type(exc).__name__,
            )

    def _settle(
        self, receipt: StoreReceipt, inp: StoreTaskInput, tokens: list[str], *, journaled: bool
    ) -> StoreReceipt:
        """Journal a fresh erasure, or tell an empty re-run from "never there"."""
        if receipt.affected > 0:
            if journaled:
                _best_effort(self.journal.confirm, inp.request_id, inp.store, receipt.action)
            else:  # adapters without the in-transaction hook: journaled right after
                self._record(receipt, inp, tokens, required=False)
            return receipt
        if not journaled:  # links this request to others about the same subject
            self._record(receipt, inp, tokens, required=False)
        try:
            earlier = self.journal.committed(inp.request_id, inp.store, receipt.action)
        except Exception as exc:
            # Without it a re-run after a commit would read as "never there": try again later.
            raise RetryableAdapterError(
                f"store {inp.store!r}: the receipt journal (ledger) cannot be read "
                f"({type(exc).__name__}); nothing was left to erase, but whether an earlier "
                "attempt erased it is unknown"
            ) from None
        if earlier is not None and earlier.receipt.affected > 0:
            log.info(
                "erase recovered",
                request_id=inp.request_id,
                store=inp.store,
                matched=earlier.receipt.matched,
                affected=earlier.receipt.affected,
            )
            return replace(earlier.receipt, recovered=True, attempt=receipt.attempt)
        if receipt.matched == 0:
            first = _best_effort(self.journal.erased_first, inp.request_id, inp.store, tokens)
            if first is not None:
                return replace(receipt, note=f"erased first by request {first}")
        return receipt

    @activity.defn(name="verify_store")
    def verify_store(self, inp: StoreTaskInput) -> VerifyReceipt:
        """Ask the store again: how much of the subject is left?"""
        with store_errors(inp.store):
            verifier = require(self.pool.get(inp.store), Capability.VERIFY, store=inp.store)
            receipt = verifier.verify(_subject(inp))
        log.info("verified", request_id=inp.request_id, store=inp.store, residual=receipt.matched)
        return VerifyReceipt(
            store=inp.store,
            residual=receipt.matched,
            checked_at=datetime.now(UTC),
            operation_digest=receipt.operation_digest,
            processor_receipts=receipt.processor_receipts,
        )


def _dry_run_options(supported: bool, inp: StoreTaskInput, action: str) -> dict[str, Any]:
    """``dry_run=True`` for adapters that declare it; refused (recorded) for the others."""
    if not inp.dry_run:
        return {}
    if action == "erase" and supported:
        return {"dry_run": True}
    raise NotSupportedError(f"store {inp.store!r} cannot do a dry run")


def _best_effort(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a journal method whose failure costs information, not correctness (None then)."""
    try:
        return fn(*args)
    except Exception as exc:
        log.warning("receipt journal call failed", call=fn.__name__, error_type=type(exc).__name__)
        return None


def _subject(inp: StoreTaskInput) -> Subject:
    # The request id lets adapters that forward requests (OpenDSR) key them per request, so a
    # later request about the same person is sent again rather than matched to an old one.
    return Subject.of(inp.identities, request_id=inp.request_id)


def _heartbeating(records: Iterator[Record]) -> Iterator[Record]:
    for i, rec in enumerate(records, 1):
        if i % HEARTBEAT_EVERY == 0:
            activity.heartbeat(i)
        yield rec

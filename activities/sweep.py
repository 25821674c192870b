"""The ``sweep_store`` activity: the independent residual sweep of one store.

After an erasure (or, read-only, after an access) the workflow asks each store that declares
``Capability.SWEEP`` to search itself, by a path independent of the catalog's mapping, for the
subject's strong identifiers. The report names locations and counts only; this activity stamps
when the sweep ran and which catalog its exclusions came from.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity

from dsrflow.activities.errors import store_errors
from dsrflow.adapters.sdk import Capability, Subject, require, spec_of
from dsrflow.adapters.sdk.sweeping import strong_kinds
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import SweepInput
from dsrflow.errors import ConfigError
from dsrflow.sweeps import SweepReport

log = structlog.get_logger(__name__)

AFTER = ("erasure", "access")


class SweepActivities:
    """The residual sweep, through each store's adapter."""

    def __init__(self, pool: AdapterPool) -> None:
        self.pool = pool

    @activity.defn(name="sweep_store")
    def sweep_store(self, inp: SweepInput) -> SweepReport:
        """Sweep one store for the subject's strong identifiers; locations and counts only.

        An adapter receives the strong identities only, unless it declares
        ``sweep_uses_all_identities = True`` (the built-ins): it then searches the strong kinds
        only itself and uses the others to recognise rows the catalog accounts for (a kept
        invoice found through the customer id).
        """
        with store_errors(inp.store):
            if inp.after not in AFTER:
                raise ConfigError(f"store {inp.store!r}: sweep after {inp.after!r}, not {AFTER}")
            adapter, catalog = self.pool.checkout(inp.store)  # read together: a reload races
            sweeper = require(adapter, Capability.SWEEP, store=inp.store)
            spec = spec_of(adapter)
            budget = catalog.stores[inp.store].common.sweep.budget()
            identities = inp.identities
            if not spec.sweep_uses_all_identities:
                strong = strong_kinds(catalog.identity_kinds)
                identities = [i for i in identities if i.kind in strong]
            subject = Subject.of(identities, request_id=inp.request_id)
            kwargs: dict[str, Any] = {"after": inp.after}
            if spec.sweep_takes_progress:
                kwargs["progress"] = activity.heartbeat
            report: SweepReport = sweeper.sweep(subject, budget, **kwargs)
        report = dataclasses.replace(
            report, checked_at=datetime.now(UTC), catalog_digest=catalog.digest
        )
        log.info(
            "swept",
            request_id=inp.request_id,
            store=inp.store,
            after=inp.after,
            kinds=len(report.kinds),
            searched=len(report.searched),
            hits=report.hit_count,
            excluded=sum(e.count for e in report.excluded),
            not_swept=len(report.not_swept),
        )
        return report

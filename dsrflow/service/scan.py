"""Discovery of personal data the catalog does not cover (``dsrflow scan``; docs/discovery.md)."""

from __future__ import annotations

import functools

from dsrflow.discovery.report import Budget, ScanResult, StoreScan
from dsrflow.errors import UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

SCANNABLE = frozenset({"sql", "redis", "files"})
NOT_SCANNED = "not a SQL, Redis or files store (not scanned)"


class ScanStores(UseCase):
    """Scan SQL, Redis and files stores for unmapped personal data (bounded, audited)."""

    def run(self, principal: Principal, store: str | None, *, all_stores: bool) -> ScanResult:
        """The coverage report of one store, or of every SQL store with ``all_stores``.

        Raises:
            UserError: Neither or both of a store and ``--all``; an unknown or non-SQL store.
            ConfigError: The catalog is invalid (every problem with file and line).
        """
        from dsrflow.adapters.sdk import AdapterContext
        from dsrflow.discovery.filescan import scan_files_store
        from dsrflow.discovery.redisscan import scan_redis_store
        from dsrflow.discovery.sqlscan import scan_sql_store

        scanners = {"sql": scan_sql_store, "redis": scan_redis_store, "files": scan_files_store}

        self.allow(principal, "scan")
        if (store is None) == (not all_stores):
            raise UserError("give a STORE or --all")
        catalog = self.rt.catalog
        if store is not None:
            checks.name(store, "STORE")
            entry = catalog.stores.get(store)
            if entry is None:
                raise UserError(f"STORE: unknown store {store!r} (not in {catalog.path})")
            if entry.common.adapter not in SCANNABLE:
                raise UserError(
                    f"STORE: {store!r} is not a SQL, Redis or files store (scan reads those only)"
                )
            entries = [entry]
        else:
            entries = [e for e in catalog.enabled_stores() if e.common.adapter in SCANNABLE]
        # Named in the report, so nobody reads "nothing unmapped" as "every store checked".
        skipped = [
            StoreScan(e.name, e.common.adapter, skipped=NOT_SCANNED)
            for e in catalog.enabled_stores()
            if store is None and e.common.adapter not in SCANNABLE
        ]
        s = self.rt.settings.scan
        budget = Budget(
            max_rows=s.max_rows, max_seconds=s.max_seconds, sample_rows=s.sample_rows,
            statement_timeout_s=s.statement_timeout_s,
        )  # fmt: skip
        reports: list[StoreScan] = []
        for entry in entries:
            ctx = AdapterContext(
                store=entry.name, base_dir=catalog.base_dir, env=self.rt.env,
                identity_kinds=catalog.identity_kinds,
                locate=functools.partial(catalog.locate, entry.name),
            )  # fmt: skip
            scan = scanners[entry.common.adapter]
            reports.append(scan(entry, ctx, budget, min_confidence=s.min_confidence))
        result = ScanResult((*reports, *skipped), s.min_confidence)
        # Counts and names of stores only: the findings themselves stay in the report.
        self.audit(
            principal, "scan", Category.SYSTEM, None, stores=[e.name for e in entries],
            unmapped_tables=result.unmapped_count, failed=result.failed,
        )  # fmt: skip
        return result

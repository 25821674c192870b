"""The record of processing activities (``dsrflow datamap``, console ``/console/datamap``)."""

from __future__ import annotations

from typing import Any

from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal


class DataMap(UseCase):
    """Art. 30(1) record from the catalog; stores with unmapped findings marked (audited)."""

    def run(
        self, principal: Principal, *, scan_report: Any = None, scan_source: str | None = None
    ) -> dict[str, Any]:
        """The record as JSON-ready data (``dsrflow.catalog.datamap.build``).

        Args:
            principal: The caller (auditor, engineer or admin).
            scan_report: The parsed JSON of ``dsrflow scan --format json``, or None.
            scan_source: The report's file name, stated in the record.

        Raises:
            NotAllowed: The caller may not read the data map.
            UserError: ``scan_report`` is not a scan report (the field is named).
            ConfigError: The catalog is invalid (every problem with file and line).
        """
        from dsrflow.catalog.datamap import build, unmapped_from_report

        self.allow(principal, "datamap")
        marks = None
        if scan_report is not None:
            marks = unmapped_from_report(scan_report, source=scan_source or "report")
        model = build(
            self.rt.catalog, controller=self.rt.settings.controller, unmapped=marks,
            scan_source=scan_source,
        )  # fmt: skip
        self.audit(
            principal, "datamap", Category.SYSTEM, None, stores=len(model["stores"]),
            marked=model["scan"]["stores_with_unmapped"],
        )  # fmt: skip
        return model

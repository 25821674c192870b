"""The verifier's report: what passed, the first failure, and what a bundle cannot prove."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIMITS = [
    "copies of the data outside the stores in the inventory (unknown systems, exports, e-mail)",
    "backups and replicas, until their stated expiry",
    "that the inventory itself was complete: it lists what the controller's catalog had in scope",
    "the signing time beyond the controller's claim; the transparency log orders bundles",
]


class VerificationError(Exception):
    """A check failed; the message says which and why (``<where>: <reason>``)."""


@dataclass
class Report:
    """What was checked, in order, and what a bundle cannot prove."""

    bundle: str
    passed: list[str] = field(default_factory=list)
    failure: str | None = None
    request_id: str | None = None
    notes: list[str] = field(default_factory=list)
    stores: list[dict[str, Any]] = field(default_factory=list)
    log: dict[str, Any] | None = None
    limits: list[str] = field(default_factory=lambda: list(LIMITS))

    @property
    def ok(self) -> bool:
        """True only when every check passed."""
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return {
            "bundle": self.bundle,
            "ok": self.ok,
            "request_id": self.request_id,
            "passed": self.passed,
            "failure": self.failure,
            "notes": self.notes,
            "stores": self.stores,
            "log": self.log,
            "cannot_prove": self.limits,
        }

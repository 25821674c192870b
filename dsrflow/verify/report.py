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

EXIT_VERIFIED, EXIT_FAILED, EXIT_UNUSABLE, EXIT_NOT_PINNED = 0, 1, 2, 3
"""Exit codes of ``dsrflow verify`` (docs/evidence-format.md, section 11)."""


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
    trust: str | None = None
    """How the keyring's root was trusted: expected, pinned, first-use or not-pinned."""
    format_version: int | None = None

    @property
    def ok(self) -> bool:
        """True when every check passed (the root may still be unpinned: see ``verdict``)."""
        return self.failure is None

    @property
    def verdict(self) -> str:
        """``VERIFIED``, ``VERIFIED (root key not pinned)`` or ``NOT VERIFIED``."""
        if not self.ok:
            return "NOT VERIFIED"
        return "VERIFIED (root key not pinned)" if self.trust == "not-pinned" else "VERIFIED"

    @property
    def exit_code(self) -> int:
        """0 verified, 1 a check failed, 3 verified but the root key is not pinned."""
        if not self.ok:
            return EXIT_FAILED
        return EXIT_NOT_PINNED if self.trust == "not-pinned" else EXIT_VERIFIED

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return {
            "bundle": self.bundle,
            "ok": self.ok,
            "verdict": self.verdict,
            "root_trust": self.trust,
            "format_version": self.format_version,
            "request_id": self.request_id,
            "passed": self.passed,
            "failure": self.failure,
            "notes": self.notes,
            "stores": self.stores,
            "log": self.log,
            "cannot_prove": self.limits,
        }

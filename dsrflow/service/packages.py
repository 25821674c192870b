"""Access packages for operators: list them, purge them; and their retention in the daily purge.

A package is deliverable for ``DSRFLOW_DELIVERY_WINDOW_DAYS`` after its request completed;
``dsrflow purge`` then deletes it (the encrypted file, its counts and any staging left over),
recording each deletion in the audit log (docs/access-package.md, "Retention").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.service.principal import Principal


@dataclass(frozen=True)
class PackageLine:
    """One access package as operators see it (no personal data).

    Attributes:
        request_id: Its request.
        request_type: access or export.
        size: The encrypted file's size in bytes (0 once purged).
        created_at: When the request completed (the package was assembled).
        expires_at: The end of its delivery window.
        delivered: How many times the subject downloaded it.
        purged_at: When retention (or an operator) deleted it.
    """

    request_id: str
    request_type: str
    size: int
    created_at: datetime | None
    expires_at: datetime | None
    delivered: int
    purged_at: datetime | None


class ListPackages(UseCase):
    """Every access package on disk, and those already deleted, oldest first."""

    def run(self, principal: Principal) -> list[PackageLine]:
        """The packages (request, kind, size, created, expires, delivered, purged)."""
        from dsrflow.artifacts import PACKAGE
        from dsrflow.ledger import deliveries
        from dsrflow.service.package_delivery import window_end

        self.allow(principal, "package.list")
        rows = deliveries.rows(self.rt.ledger)
        root = self.rt.artifacts.root
        on_disk = {p.parent.name for p in root.glob(f"*/{PACKAGE}")} if root.exists() else set()
        out = []
        for rid in sorted(on_disk | {r for r, d in rows.items() if d.purged_at is not None}):
            req = self.rt.ledger.get_request(rid)
            done = req.completed_at if req else None
            path = self.rt.artifacts.package(rid)
            row = rows.get(rid)
            out.append(PackageLine(
                rid, req.type if req else "?", path.stat().st_size if path else 0, done,
                window_end(self.rt, done) if done else None, row.downloads if row else 0,
                row.purged_at if row else None,
            ))  # fmt: skip
        return sorted(out, key=lambda p: (p.created_at is None, p.created_at or 0, p.request_id))


class PurgePackages(UseCase):
    """Delete access packages: one on an operator's word, or all past their delivery window."""

    def run(self, principal: Principal, *, request_id: str | None = None) -> list[str]:
        """Delete one request's package (any time), or every package past its window.

        Returns:
            The requests whose package was deleted.

        Raises:
            UserError: A malformed request id.
            NotFound: ``request_id`` has no package.
        """
        from dsrflow.errors import NotFound

        if request_id is not None:
            checks.request_id(request_id)
        self.allow(principal, "package.purge")
        if request_id is None:
            return self.expired(principal)
        if self.rt.artifacts.package(request_id) is None:
            raise NotFound(f"request {request_id}: no access package on disk")
        self._delete(principal, request_id, reason="operator")
        return [request_id]

    def expired(self, principal: Principal) -> list[str]:
        """Delete every package whose delivery window has ended (the daily purge calls this).

        The caller is authorised already (``purge`` or ``package.purge``).
        """
        from dsrflow.artifacts import PACKAGE
        from dsrflow.service.package_delivery import window_end

        now = datetime.now(UTC)
        root = self.rt.artifacts.root
        done = []
        for path in sorted(root.glob(f"*/{PACKAGE}")) if root.exists() else []:
            rid = path.parent.name
            req = self.rt.ledger.get_request(rid)
            if req is None or req.completed_at is None:
                continue  # still being built
            if window_end(self.rt, req.completed_at) <= now:
                self._delete(principal, rid, reason="delivery window ended")
                done.append(rid)
        return done

    def _delete(self, principal: Principal, request_id: str, *, reason: str) -> None:
        from dsrflow.ledger import deliveries

        removed = self.rt.artifacts.purge_package(request_id)
        deliveries.mark_purged(self.rt.ledger, request_id, datetime.now(UTC))
        self.audit(principal, "package_purged", Category.SYSTEM, request_id, files=removed,
                   reason=reason, window_days=self.rt.settings.delivery.window_days)  # fmt: skip

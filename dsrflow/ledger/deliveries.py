"""The ledger's side of package delivery: one row per request, the download code by hash only.

Every change that decides an attempt (claiming the code, counting a wrong one) is one UPDATE
with its conditions, so two concurrent attempts cannot both use one code or both miss a lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from dsrflow.ledger.models import PackageDeliveryRow

if TYPE_CHECKING:
    from dsrflow.ledger import Ledger


def row(ledger: Ledger, request_id: str) -> PackageDeliveryRow | None:
    """A request's delivery row, if any."""
    with ledger.session() as s:
        return s.get(PackageDeliveryRow, request_id)


def rows(ledger: Ledger) -> dict[str, PackageDeliveryRow]:
    """Every delivery row, by request."""
    with ledger.session() as s:
        return {r.request_id: r for r in s.scalars(select(PackageDeliveryRow))}


def _ensure(ledger: Ledger, request_id: str) -> None:
    with ledger.session() as s:
        if s.get(PackageDeliveryRow, request_id) is None:
            s.add(
                PackageDeliveryRow(
                    request_id=request_id, codes_asked=0, failed_attempts=0, downloads=0
                )
            )


def ask_code(ledger: Ledger, request_id: str, most: int) -> int | None:
    """Count one more code asked for; its number, or None past ``most``."""
    _ensure(ledger, request_id)
    with ledger.session() as s:
        done = s.execute(
            update(PackageDeliveryRow)
            .where(
                PackageDeliveryRow.request_id == request_id, PackageDeliveryRow.codes_asked < most
            )
            .values(codes_asked=PackageDeliveryRow.codes_asked + 1)
        )
        if int(getattr(done, "rowcount", 0) or 0) != 1:
            return None
        found = s.get(PackageDeliveryRow, request_id)
        return found.codes_asked if found else None


def save_code(ledger: Ledger, request_id: str, code_hash: str, expires_at: datetime) -> None:
    """Keep a new code's hash; it replaces any earlier code and lifts a lock."""
    _ensure(ledger, request_id)
    with ledger.session() as s:
        s.execute(
            update(PackageDeliveryRow)
            .where(PackageDeliveryRow.request_id == request_id)
            .values(
                code_sha256=code_hash, code_expires_at=expires_at, failed_attempts=0, locked_at=None
            )
        )


def claim_code(ledger: Ledger, request_id: str, code_hash: str, now: datetime) -> bool:
    """Use the code (once): True when it matched, was unexpired and the download not locked."""
    with ledger.session() as s:
        done = s.execute(
            update(PackageDeliveryRow)
            .where(
                PackageDeliveryRow.request_id == request_id,
                PackageDeliveryRow.code_sha256 == code_hash,
                PackageDeliveryRow.locked_at.is_(None),
                PackageDeliveryRow.code_expires_at > now,
            )
            .values(
                code_sha256=None, downloads=PackageDeliveryRow.downloads + 1, last_download_at=now
            )
        )
        return int(getattr(done, "rowcount", 0) or 0) == 1


def count_failure(ledger: Ledger, request_id: str, most: int, now: datetime) -> tuple[int, bool]:
    """Count a wrong code; (failures so far, whether the download is now locked)."""
    _ensure(ledger, request_id)
    with ledger.session() as s:
        s.execute(
            update(PackageDeliveryRow)
            .where(PackageDeliveryRow.request_id == request_id)
            .values(failed_attempts=PackageDeliveryRow.failed_attempts + 1)
        )
        s.execute(
            update(PackageDeliveryRow)
            .where(
                PackageDeliveryRow.request_id == request_id,
                PackageDeliveryRow.failed_attempts >= most,
                PackageDeliveryRow.locked_at.is_(None),
            )
            .values(locked_at=now, code_sha256=None)  # a locked code never works again
        )
        found = s.get(PackageDeliveryRow, request_id)
        assert found is not None
        return found.failed_attempts, found.locked_at is not None


def mark_purged(ledger: Ledger, request_id: str, now: datetime) -> None:
    """Record that retention deleted the package (and forget any code)."""
    _ensure(ledger, request_id)
    with ledger.session() as s:
        s.execute(
            update(PackageDeliveryRow)
            .where(PackageDeliveryRow.request_id == request_id)
            .values(purged_at=now, code_sha256=None, code_expires_at=None)
        )

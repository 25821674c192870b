"""Results and retention: downloading a finished request's deliverables, purging ended ones."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dsrflow.errors import Conflict, NotFound, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dsrflow.service.principal import Principal

ORPHAN_AGE = timedelta(days=1)
"""A contact with no request this old belongs to a submission that never started."""

NOT_FINISHED_EXIT = 3
"""``request result`` on a request that has not ended yet."""


DELIVERABLES = ("package", "opening", "bundle", "certificate")
"""What a finished request may deliver: the access package and the subject's commitment opening
(personal data: ``download``), the evidence bundle and its certificate (``download.evidence``).
"""
EVIDENCE = frozenset({"bundle", "certificate"})


@dataclass(frozen=True)
class Deliverable:
    """A deliverable being downloaded: its file name and its bytes, read as they are sent."""

    name: str
    chunks: Iterator[bytes]


class DownloadResult(UseCase):
    """Decrypt and write a finished request's deliverables (an audited download)."""

    def run(
        self, principal: Principal, request_id: str, out_dir: Path, *, settle_s: float = 0.0
    ) -> list[Path]:
        """Write the deliverables into ``out_dir``; audit the files written.

        Args:
            principal: The caller.
            request_id: The request.
            out_dir: Folder to write to.
            settle_s: Wait up to this long for the ledger to record the end (``submit --wait``
                saw the workflow end; its projection may land a moment later).

        Raises:
            UserError: Bad id, unknown request, not finished yet (exit 3), or purged.
        """
        checks.request_id(request_id)
        self.allow(principal, "download")
        self.finished(request_id, settle_s)
        written = self.rt.artifacts.export(request_id, out_dir)
        self.audit(
            principal, "download", Category.DOWNLOAD, request_id, files=[p.name for p in written]
        )
        return written

    def open(self, principal: Principal, request_id: str, which: str) -> Deliverable:
        """One deliverable (see ``DELIVERABLES``) to stream to the caller; audited.

        The evidence bundle and its certificate hold no personal data, so auditors may take
        them; the package and the opening need ``download``. Encrypted deliverables are
        decrypted as they are sent: no plaintext copy is written anywhere.

        Raises:
            NotFound: Unknown request, or the request has no such deliverable.
            Conflict: Not finished yet (exit 3), or purged.
        """
        checks.request_id(request_id)
        checks.one_of(which, DELIVERABLES, "deliverable")
        self.allow(principal, "download.evidence" if which in EVIDENCE else "download")
        self.finished(request_id)
        opened = self.rt.artifacts.open_one(request_id, which)
        if opened is None:
            raise NotFound(f"request {request_id}: has no {which}")
        name, chunks = opened
        self.audit(principal, "download", Category.DOWNLOAD, request_id, files=[name])
        return Deliverable(name, chunks)

    def finished(self, request_id: str, settle_s: float = 0.0) -> None:
        """Refuse unless the request has ended and was not purged."""
        row = self.rt.ledger.get_request(request_id)
        deadline = time.monotonic() + settle_s
        while row is not None and row.completed_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            row = self.rt.ledger.get_request(request_id)
        if row is None:
            raise NotFound(f"request {request_id}: not in the ledger")
        if row.completed_at is None:
            raise Conflict(
                f"request {request_id} has not finished ({row.status}); no result yet",
                exit_code=NOT_FINISHED_EXIT,
            )
        if row.purged_at is not None:
            raise Conflict(f"request {request_id}: purged; its deliverables were destroyed")


@dataclass(frozen=True)
class Purged:
    """One request purged (or that would be, in a dry run)."""

    request_id: str
    status: str
    completed_at: datetime | None
    key_id: str | None = None
    files: tuple[str, ...] = ()


class Purge(UseCase):
    """Crypto-shred requests whose retention period has passed."""

    def cutoff(self, older_than: int | None) -> tuple[int, datetime]:
        """Retention days used and the end date before which requests are purged.

        Raises:
            UserError: A negative or absurd number of days.
        """
        days = self.rt.settings.retention_days if older_than is None else older_than
        if not 0 <= days <= 36_500:
            raise UserError("--older-than: between 0 and 36500 days")
        return days, datetime.now(UTC) - timedelta(days=days)

    def run(
        self, principal: Principal, *, older_than: int | None = None, dry_run: bool = False
    ) -> list[Purged]:
        """Destroy keys, artifacts and blind-index tokens of requests that ended long enough ago.

        Each purge is audited (system) as it happens, so a crash half-way leaves a true log.
        """
        from dsrflow.ledger import outbox, subjects

        self.allow(principal, "purge")
        days, cutoff = self.cutoff(older_than)
        done = []
        for row in self.rt.ledger.purgeable(cutoff):
            if dry_run:
                done.append(Purged(row.id, row.status, row.completed_at))
                continue
            rt = self.rt
            key_id = rt.keystore.destroy(row.id)
            removed = rt.artifacts.purge(row.id)
            # The subject's blind index (keyed hashes) links requests only while they may overlap.
            tokens = rt.journal.forget_subject(row.id)
            indexed = subjects.remove(rt.ledger, row.id)  # `request list --subject` forgets it
            # The sealed address is unreadable already (its key is gone); drop it, and say of
            # any message still waiting for it that it will not be sent.
            unsent = outbox.forget_contact(rt.ledger, row.id)
            rt.ledger.mark_purged(row.id)
            self.audit(
                principal, "purge", Category.SYSTEM, row.id, key_id=key_id, files=removed,
                retention_days=days, blind_index_tokens=tokens, subject_index_tokens=indexed,
                messages_not_sent=unsent,
            )  # fmt: skip
            done.append(Purged(row.id, row.status, row.completed_at, key_id, tuple(removed)))
        done.extend(self._orphans(principal, min(cutoff, datetime.now(UTC) - ORPHAN_AGE), dry_run))
        if not dry_run:  # packages past their delivery window (shorter than the retention)
            from dsrflow.service.packages import PurgePackages

            for rid in PurgePackages(self.rt, policy=self.policy).expired(principal):
                done.append(Purged(rid, "package delivery window ended", None))
        return done

    def _orphans(self, principal: Principal, before: datetime, dry_run: bool) -> list[Purged]:
        """Contacts and subject index tokens kept for submissions that never started."""
        from dsrflow.ledger import outbox, subjects

        rt = self.rt
        found = []
        for request_id, kept_at in outbox.orphan_contacts(rt.ledger, before):
            if not dry_run:
                key_id = rt.keystore.destroy(request_id)
                outbox.drop_contact(rt.ledger, request_id)
                indexed = subjects.remove(rt.ledger, request_id)
                self.audit(
                    principal, "purge", Category.SYSTEM, request_id, key_id=key_id,
                    subject_index_tokens=indexed,
                    reason="contact of a submission that never started",
                )  # fmt: skip
            found.append(Purged(request_id, "never started", kept_at))
        seen = {p.request_id for p in found}
        for request_id in subjects.orphans(rt.ledger, before):  # no contact: a phone only
            if request_id in seen:  # a dry run left the contact's tokens in place
                continue
            if not dry_run:
                indexed = subjects.remove(rt.ledger, request_id)
                self.audit(
                    principal, "purge", Category.SYSTEM, request_id,
                    subject_index_tokens=indexed,
                    reason="subject index of a submission that never started",
                )  # fmt: skip
            found.append(Purged(request_id, "never started", None))
        return found

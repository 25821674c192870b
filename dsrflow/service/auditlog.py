"""Use cases on the audit log as a whole: anchor it, verify it, export it for a DPO."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

EXPORT_FIELDS = (
    "seq", "at", "actor", "action", "category", "request_id", "detail", "prev_hash", "entry_hash",
)  # fmt: skip


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of ``dsrflow audit verify``.

    Attributes:
        entries: Entries checked.
        head_seq: The chain's last entry.
        anchors: Anchors checked.
        anchored_seq: The highest anchored entry (entries after it rest on the chain alone).
        checkpoint_size: Size of the outside checkpoint the log was checked against, if given.
        problem: The first failure as one line; None when everything holds.
    """

    entries: int
    head_seq: int
    anchors: int
    anchored_seq: int
    checkpoint_size: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """Whether the log holds."""
        return self.problem is None


class AnchorAudit(UseCase):
    """Write the audit chain's head into the transparency log (the worker does it on a schedule)."""

    def run(self, principal: Principal) -> tuple[int, int | None]:
        """Anchor the head unless it is anchored already.

        Returns:
            The anchored entry's sequence number and the log index (None: nothing new).
        """
        from dsrflow.tlog.anchors import anchor

        self.allow(principal, "audit.anchor")
        keys = self.rt.keys
        keys.ensure(self.rt.settings.controller)
        # Not audited in the chain: an entry per anchor would move the head it just anchored,
        # so every round would anchor again. The anchor table and the log are its record.
        done = anchor(self.rt.ledger, self.rt.tlog, keys.signer("log"), keys.keyring().log_origin)
        return done.seq, done.log_index


class VerifyAudit(UseCase):
    """Walk the chain, check the anchors, and (given one) an outside checkpoint of the log."""

    def run(self, principal: Principal, *, checkpoint_note: str | None = None) -> AuditVerdict:
        """Check the whole audit log (read-only: writes no entry, so it can run on a copy)."""
        from sqlalchemy import select

        from dsrflow.ledger import audit_chain
        from dsrflow.ledger.models import AuditAnchorRow
        from dsrflow.tlog import anchors

        self.allow(principal, "audit.verify")
        size = self._checked_checkpoint(checkpoint_note) if checkpoint_note else None
        with self.rt.ledger.session() as s:
            keep = frozenset(s.scalars(select(AuditAnchorRow.seq)))
            chain = audit_chain.walk(s, keep)
            found = anchors.check(s, chain) if chain.problem is None else None
        return AuditVerdict(
            entries=chain.entries,
            head_seq=chain.head_seq,
            anchors=found.anchors if found else 0,
            anchored_seq=found.last_seq if found else 0,
            checkpoint_size=size,
            problem=chain.problem or (found.problem if found else None),
        )

    def _checked_checkpoint(self, note: str) -> int:
        """The checkpoint's size, once the log at that size is shown to have its root."""
        from dsrflow.errors import UserError
        from dsrflow.tlog import checkpoint

        ring = self.rt.keys.keyring()
        try:
            cp = checkpoint.open_note(note, ring.log_origin, ring.log_keys())
        except checkpoint.CheckpointError as exc:
            raise UserError(f"checkpoint: {exc}") from None
        log = self.rt.tlog
        if cp.size > log.size() or log.root(cp.size) != cp.root:
            raise UserError(
                f"checkpoint: the log at size {cp.size} does not have this root: "
                "the log (and the audit anchors in it) was rewritten"
            )
        return cp.size


class ExportAudit(UseCase):
    """The audit log for a DPO: JSON Lines or CSV, from a date on (the export is audited)."""

    def run(
        self, principal: Principal, *, since: datetime | None = None, fmt: str = "jsonl"
    ) -> Iterator[str]:
        """Authorise, record the export, then yield the export's text in pieces."""
        if fmt not in ("jsonl", "csv"):
            from dsrflow.errors import UserError

            raise UserError(f"--format {fmt}: expected jsonl or csv")
        self.allow(principal, "audit.export")
        self.audit(principal, "audit.export", Category.DOWNLOAD, None,
                   since=since.isoformat() if since else None, format=fmt)  # fmt: skip
        rows = self._rows(since)
        return _jsonl(rows) if fmt == "jsonl" else _csv(rows)

    def _rows(self, since: datetime | None) -> Iterator[dict[str, Any]]:
        from sqlalchemy import select

        from dsrflow.ledger.audit_chain import canonical_time
        from dsrflow.ledger.models import AuditRow

        if since is not None and self.rt.ledger.engine.dialect.name == "sqlite":
            # SQLite keeps naive UTC text: compare like with like.
            since = since.astimezone(UTC).replace(tzinfo=None)
        after = -1
        while True:
            with self.rt.ledger.session() as s:
                stmt = select(AuditRow).where(AuditRow.seq > after)
                if since is not None:
                    stmt = stmt.where(AuditRow.at >= since)
                rows = list(s.scalars(stmt.order_by(AuditRow.seq).limit(1000)))
            if not rows:
                return
            for r in rows:
                yield {
                    "seq": r.seq, "at": canonical_time(r.at), "actor": r.actor,
                    "action": r.action, "category": r.category, "request_id": r.request_id,
                    "detail": r.detail, "prev_hash": bytes(r.prev_hash).hex(),
                    "entry_hash": bytes(r.entry_hash).hex(),
                }  # fmt: skip
            after = rows[-1].seq


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    out.writeheader()
    for row in rows:
        out.writerow({**row, "detail": json.dumps(row["detail"], sort_keys=True)})
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()

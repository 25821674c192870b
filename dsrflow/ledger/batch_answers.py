"""Where an erasure batch keeps each member's answer (receipt, verification, tag).

``erase_batch`` writes one row per member and store after its chunk committed and was
verified; the member's ``check_batch_result`` reads her own row. The batch workflow only tells
each member that her answer is kept, so its history and workflow tasks stay small whatever the
chunk size (decoding a chunk's 1,000 receipts inside one workflow task overran Temporal's
deadlock timeout on a loaded machine). Rows hold counts, digests and an HMAC only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, insert

from dsrflow.domain import StoreReceipt, VerifyReceipt
from dsrflow.ledger.db import Ledger
from dsrflow.ledger.journal import from_plain, plain
from dsrflow.ledger.models import BatchAnswerRow

_TABLE = cast(Table, BatchAnswerRow.__table__)  # Core executemany: cheaper than the ORM's bulk path


@dataclass(frozen=True)
class KeptAnswer:
    """One member's kept answer for one store."""

    receipt: StoreReceipt
    verification: VerifyReceipt
    tag: str


class BatchAnswers:
    """The ``batch_answers`` table.

    Args:
        ledger: The ledger database.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def keep(
        self, batch_id: str, store: str, answers: list[tuple[str, StoreReceipt, VerifyReceipt, str]]
    ) -> None:
        """Keep ``(request_id, receipt, verification, tag)`` of a chunk's members, in one write.

        A retried ``erase_batch`` writes its members again: the newest answer replaces theirs
        (it carries the recovered receipt of the run that erased).
        """
        if not answers:
            return
        ids = [rid for rid, _, _, _ in answers]
        rows = [
            {"request_id": rid, "store": store, "batch_id": batch_id, "receipt": plain(receipt),
             "verification": plain(check), "tag": tag}
            for rid, receipt, check, tag in answers
        ]  # fmt: skip
        with self.ledger.session() as s:
            s.execute(
                delete(BatchAnswerRow).where(
                    BatchAnswerRow.request_id.in_(ids), BatchAnswerRow.store == store
                )
            )
            s.connection().execute(insert(_TABLE), rows)

    def kept(self, request_id: str, store: str) -> KeptAnswer | None:
        """A member's answer for a store, if the batch kept one."""
        with self.ledger.session() as s:
            row = s.get(BatchAnswerRow, (request_id, store))
            if row is None:
                return None
            receipt = from_plain(row.receipt, StoreReceipt)
            check = from_plain(row.verification, VerifyReceipt)
            return KeptAnswer(receipt, check, row.tag)

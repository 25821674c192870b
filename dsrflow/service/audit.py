"""The audit trail as the application layer writes and reads it.

Only use cases write here (``record``), each right after its operation succeeded. Reading folds
repeated views and decodes of a request into one line with a count, so that the decisions and
downloads a reader looks for are not buried under every ``request show`` anyone ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.service.principal import Principal


class AuditLedger(Protocol):
    """What the trail needs of a ledger.

    The SQLAlchemy ``Ledger`` or the plain-SQL reader (``dsrflow.ledger.sqlread``); both build
    entries with ``dsrflow.ledger.chain.next_entry``.
    """

    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        category: str,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the chain."""

    def audit_trail(self, request_id: str) -> list[tuple[datetime, str, str, str]]:
        """A request's entries as (at, actor, action, category), oldest first."""


FOLDED = frozenset({Category.VIEW.value, Category.DECODE.value})
"""Categories shown folded (one line per actor and action, with a count) by default."""


@dataclass(frozen=True)
class AuditLine:
    """One line of a request's audit trail as people read it.

    Attributes:
        at: When it happened (the first time, for a folded line).
        actor: Who.
        action: What (``approve``, ``view``, ``download``...).
        category: decision, view, download, decode or system.
        count: How many entries this line stands for (1 unless folded).
        last_at: The last time, for a folded line.
    """

    at: datetime
    actor: str
    action: str
    category: str
    count: int = 1
    last_at: datetime | None = None


class AuditTrail:
    """Writes and reads audit entries in the ledger."""

    def __init__(self, ledger: AuditLedger) -> None:
        self.ledger = ledger

    def record(
        self,
        principal: Principal,
        action: str,
        category: Category,
        request_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Append one entry (``detail`` holds counts, names and ids, never personal data)."""
        self.ledger.append_audit(
            actor=principal.actor, action=action, category=category.value,
            request_id=request_id, detail=detail,
        )  # fmt: skip

    def lines(self, request_id: str, *, everything: bool = False) -> list[AuditLine]:
        """A request's trail, oldest first; views and decodes folded unless ``everything``."""
        rows = [
            AuditLine(at, actor, action, category)
            for at, actor, action, category in self.ledger.audit_trail(request_id)
        ]
        return rows if everything else fold(rows)


def fold(lines: list[AuditLine]) -> list[AuditLine]:
    """Fold views and decodes into one line per (actor, action), kept where it first appeared."""
    out: list[AuditLine] = []
    index: dict[tuple[str, str], int] = {}
    for line in lines:
        if line.category not in FOLDED:
            out.append(line)
            continue
        key = (line.actor, line.action)
        if key not in index:
            index[key] = len(out)
            out.append(line)
            continue
        first = out[index[key]]
        out[index[key]] = AuditLine(
            first.at, first.actor, first.action, first.category, first.count + 1, line.at
        )
    return out

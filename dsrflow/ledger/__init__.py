"""The ledger database: request projection, audit log, key records.

``Ledger`` (SQLAlchemy) is imported on first use, so that the plain-SQL read path
(``dsrflow.ledger.sqlread``) and the audit categories load without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsrflow.ledger.db import Ledger

__all__ = ["Ledger"]


def __getattr__(name: str) -> Any:
    if name == "Ledger":
        from dsrflow.ledger.db import Ledger

        return Ledger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

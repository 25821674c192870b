"""Requests' case references (the privacy team's own references), kept at submission.

A case reference is not personal data (``SubmitCommand.case_ref``); the ledger keeps it so the
console's inbox can find a request by it without reading Temporal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from dsrflow.ledger.models import RequestCaseRow

if TYPE_CHECKING:
    from dsrflow.ledger import Ledger


def keep(ledger: Ledger, request_id: str, case_ref: str) -> bool:
    """Record ``request_id``'s case reference; False when it has one already (a retry)."""
    try:
        with ledger.session() as s:
            if s.get(RequestCaseRow, request_id) is not None:
                return False
            s.add(RequestCaseRow(request_id=request_id, case_ref=case_ref))
        return True
    except IntegrityError:  # a concurrent identical submission recorded it first
        return False


def remove(ledger: Ledger, request_id: str) -> None:
    """Forget ``request_id``'s case reference (its submission was refused)."""
    with ledger.session() as s:
        s.execute(delete(RequestCaseRow).where(RequestCaseRow.request_id == request_id))

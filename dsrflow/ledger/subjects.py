"""The request subject index: find every request about an e-mail or phone, without keeping it.

Each request's identifiers are kept only as the receipt journal's blind-index tokens
(``ReceiptJournal.blind_index``: HMAC-SHA256 of the kind and the normalised value under the
blind-index key in the key store). A search computes the same tokens from what staff typed and
looks them up. The ledger alone cannot tell who a request is about; with the key, one can test
a guessed identifier (that is what the index is for), so the key stays in the key store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import IntegrityError

from dsrflow.ledger.models import RequestRow, RequestSubjectRow

if TYPE_CHECKING:
    from dsrflow.ledger import Ledger


def add(ledger: Ledger, request_id: str, tokens: Iterable[str]) -> list[str]:
    """Index ``request_id`` under each token; returns the tokens this call added (sorted).

    Idempotent: a retried submission adds nothing. The caller removes exactly what it added
    if the submission is then refused, never tokens an earlier request under the id wrote.
    """
    wanted = sorted(set(tokens))
    for attempt in (1, 2):
        try:
            with ledger.session() as s:
                have = set(
                    s.scalars(
                        select(RequestSubjectRow.token).where(
                            RequestSubjectRow.request_id == request_id
                        )
                    )
                )
                new = [t for t in wanted if t not in have]
                s.add_all(RequestSubjectRow(request_id=request_id, token=t) for t in new)
            return new
        except IntegrityError:
            if attempt == 2:
                raise  # a concurrent identical submission raced us twice
    return []  # unreachable; keeps type checkers content


def remove(ledger: Ledger, request_id: str, tokens: Iterable[str] | None = None) -> int:
    """Drop a request's tokens (only ``tokens`` when given); returns how many went."""
    stmt = delete(RequestSubjectRow).where(RequestSubjectRow.request_id == request_id)
    if tokens is not None:
        stmt = stmt.where(RequestSubjectRow.token.in_(list(tokens)))
    with ledger.session() as s:
        # A DELETE gives a CursorResult at run time; Session.execute is typed as Result.
        result = cast(CursorResult[Any], s.execute(stmt))
        return result.rowcount or 0


def requests_for(ledger: Ledger, tokens: Iterable[str]) -> list[str]:
    """Ids of the requests indexed under any of ``tokens``, sorted."""
    stmt = (
        select(RequestSubjectRow.request_id)
        .where(RequestSubjectRow.token.in_(list(tokens)))
        .distinct()
    )
    with ledger.session() as s:
        return sorted(s.scalars(stmt))


def orphans(ledger: Ledger, before: datetime) -> list[str]:
    """Requests indexed before ``before`` that never reached the ledger (their start failed).

    A submission whose outcome was unknown (Temporal did not answer) keeps its tokens for the
    retry the error asks for; when none came, ``dsrflow purge`` removes them.
    """
    if ledger.is_sqlite:  # SQLite keeps naive UTC text: compare like with like
        before = before.astimezone(UTC).replace(tzinfo=None)
    stmt = (
        select(RequestSubjectRow.request_id)
        .where(
            RequestSubjectRow.created_at < before,
            RequestSubjectRow.request_id.not_in(select(RequestRow.id)),
        )
        .distinct()
    )
    with ledger.session() as s:
        return sorted(s.scalars(stmt))

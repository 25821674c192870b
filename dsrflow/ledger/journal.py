"""The receipt journal: a store operation's first success survives its own re-execution.

An erasure commits in the store, then the worker dies (or the server loses the completion)
before Temporal hears of it. The retry finds nothing left to erase. Without a durable record it
would report ``not_found`` and skip verification, and the evidence would say the subject was
never there. The SQL adapter therefore hands its receipt to ``record`` inside the erasure
transaction, just before the commit (if the journal cannot write, nothing commits); adapters
without that hook are journaled right after ``erase`` returns. A re-run that finds nothing asks
``committed`` for the earlier receipt and returns it as recovered.

Each entry also stores a keyed blind index of the subject (HMAC-SHA256 of every normalised
identifier under a server key; never the identifier), so a request that finds nothing can name
the other request, about the same subject, that erased first.

No personal data: receipts hold counts, collection names and digests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter

from dsrflow.domain import Identity, StoreReceipt
from dsrflow.identity import normalize_value
from dsrflow.ledger.db import Ledger
from dsrflow.ledger.models import JournalEntryRow, JournalSubjectRow

BLIND_INDEX_OWNER = "__blind_index__"
"""Owner name of the blind-index key in the key store (not a valid request id, never purged)."""

# Core inserts (executemany) for the bulk writes: the ORM's bulk path cost more than the rows.
_ENTRIES = cast(Table, JournalEntryRow.__table__)
_SUBJECTS = cast(Table, JournalSubjectRow.__table__)

_JSON = {"encoding": b"json/plain"}
_CONVERTER = PayloadConverter.default
T = TypeVar("T")


@dataclass(frozen=True)
class JournaledReceipt:
    """An entry of the journal: the receipt as it was when the store committed."""

    request_id: str
    store: str
    operation: str
    receipt: StoreReceipt
    committed_at: datetime
    confirmed: bool


class ReceiptJournal:
    """Durable receipts of store operations, in the ledger database.

    Args:
        ledger: The ledger database.
        index_key: The blind-index key, or a callable returning it (resolved on first use, so
            building the journal touches no database).
    """

    def __init__(self, ledger: Ledger, index_key: bytes | Callable[[], bytes]) -> None:
        self.ledger = ledger
        self._index_key = index_key

    def _key(self) -> bytes:
        if callable(self._index_key):
            self._index_key = self._index_key()
        return self._index_key

    def blind_index(self, identities: Iterable[Identity]) -> list[str]:
        """HMAC-SHA256 tokens of each normalised identifier (kind-separated), sorted."""
        key = self._key()
        tokens = {
            hmac.new(
                key, f"{i.kind}\x00{normalize_value(i.kind, i.value)}".encode(), hashlib.sha256
            ).hexdigest()
            for i in identities
        }
        return sorted(tokens)

    def record(
        self, receipt: StoreReceipt, *, request_id: str, operation: str, tokens: list[str]
    ) -> None:
        """Write (or replace) the receipt of ``operation`` on ``receipt.store`` for a request.

        The latest commit that changed something wins (a ``retry-store`` that erased more after
        a catalog fix replaces the first receipt); a run that changed nothing is recorded only
        where nothing was recorded before, so the request is still linked to others about the
        same subject. Raises whatever the ledger raises: the caller's transaction must then not
        commit.
        """
        data = json.loads(_CONVERTER.to_payloads([receipt])[0].data)
        key = (request_id, receipt.store, operation)
        for attempt in (1, 2):
            try:
                with self.ledger.session() as s:
                    row = s.get(JournalEntryRow, key)
                    if row is not None and row.affected > 0 and receipt.affected == 0:
                        return  # a re-run that changed nothing never hides one that did
                    if row is None:
                        row = JournalEntryRow(
                            request_id=request_id, store=receipt.store, operation=operation
                        )
                        s.add(row)
                    row.matched, row.affected, row.receipt = receipt.matched, receipt.affected, data
                    row.committed_at, row.confirmed_at = datetime.now(UTC), None
                    s.execute(delete(JournalSubjectRow).where(*_is(JournalSubjectRow, key)))
                    s.add_all(JournalSubjectRow(token=t, **_key_of(key)) for t in tokens)
                return
            except IntegrityError:
                if attempt == 2:
                    raise  # another writer raced us twice: let the activity retry

    def record_many(
        self, entries: list[tuple[StoreReceipt, str, list[str]]], *, operation: str
    ) -> None:
        """``record`` for many requests at once (an erasure batch's chunk): one transaction.

        ``entries`` are ``(receipt, request_id, tokens)``, all of one store. Same rules as
        ``record``: a run that changed nothing never hides one that did.
        """
        if not entries:
            return
        store = entries[0][0].store
        for attempt in (1, 2):
            try:
                with self.ledger.session() as s:
                    ids = [rid for _, rid, _ in entries]
                    rows = {
                        row.request_id: row
                        for row in s.scalars(
                            select(JournalEntryRow).where(
                                JournalEntryRow.request_id.in_(ids),
                                JournalEntryRow.store == store,
                                JournalEntryRow.operation == operation,
                            )
                        )
                    }
                    written, fresh = [], []
                    now = datetime.now(UTC)
                    for receipt, rid, _ in entries:
                        row = rows.get(rid)
                        if row is not None and row.affected > 0 and receipt.affected == 0:
                            continue
                        written.append(rid)
                        values = {"matched": receipt.matched, "affected": receipt.affected,
                                  "receipt": plain(receipt), "committed_at": now,
                                  "confirmed_at": None}  # fmt: skip
                        if row is None:  # the usual case: inserted in one executemany below
                            fresh.append({**_key_of((rid, store, operation)), **values})
                        else:
                            for name, value in values.items():
                                setattr(row, name, value)
                    if fresh:
                        s.connection().execute(insert(_ENTRIES), fresh)
                    s.execute(
                        delete(JournalSubjectRow).where(
                            JournalSubjectRow.request_id.in_(written),
                            JournalSubjectRow.store == store,
                            JournalSubjectRow.operation == operation,
                        )
                    )
                    subjects = {rid: tokens for _, rid, tokens in entries}
                    tokens = [
                        {"token": t, **_key_of((rid, store, operation))}
                        for rid in written
                        for t in subjects[rid]
                    ]
                    if tokens:
                        s.connection().execute(insert(_SUBJECTS), tokens)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def confirm(self, request_id: str, store: str, operation: str) -> None:
        """Mark an entry's store commit as having returned (informational; best effort)."""
        with self.ledger.session() as s:
            row = s.get(JournalEntryRow, (request_id, store, operation))
            if row is not None:
                row.confirmed_at = datetime.now(UTC)

    def committed(self, request_id: str, store: str, operation: str) -> JournaledReceipt | None:
        """The journaled receipt of an earlier run of this operation, if one committed.

        An entry is written just before the store's commit; an unconfirmed one means the worker
        stopped between the two. If the commit had failed the rows would still be there and the
        re-run would have matched them, so a re-run that finds nothing treats it as committed.
        """
        with self.ledger.session() as s:
            row = s.get(JournalEntryRow, (request_id, store, operation))
            if row is None:
                return None
            receipt = from_plain(row.receipt, StoreReceipt)
            confirmed = row.confirmed_at is not None
            return JournaledReceipt(
                request_id, store, operation, receipt, row.committed_at, confirmed
            )

    def erased_first(
        self, request_id: str, store: str, tokens: list[str], operation: str = "erase"
    ) -> str | None:
        """The earliest other request about an overlapping subject that changed this store."""
        if not tokens:
            return None
        e, sub = JournalEntryRow, JournalSubjectRow
        stmt = (
            select(e.request_id)
            .join(
                sub,
                (sub.request_id == e.request_id)
                & (sub.store == e.store)
                & (sub.operation == e.operation),
            )
            .where(
                e.store == store,
                e.operation == operation,
                e.request_id != request_id,
                e.affected > 0,
                sub.token.in_(tokens),
            )
            .order_by(e.committed_at, e.request_id)
            .limit(1)
        )
        with self.ledger.session() as s:
            return s.scalars(stmt).first()

    def linked(self, request_id: str) -> list[str]:
        """Other requests whose journaled subject overlaps this request's (any store)."""
        mine = select(JournalSubjectRow.token).where(JournalSubjectRow.request_id == request_id)
        stmt = (
            select(JournalSubjectRow.request_id)
            .where(JournalSubjectRow.token.in_(mine), JournalSubjectRow.request_id != request_id)
            .distinct()
        )
        with self.ledger.session() as s:
            return sorted(s.scalars(stmt))

    def forget_subject(self, request_id: str) -> int:
        """Drop a request's blind-index tokens (when its data is purged); returns how many."""
        with self.ledger.session() as s:
            # A DELETE without RETURNING gives a CursorResult at run time; Session.execute is
            # typed as the plain Result, so SQLAlchemy's docs say to cast for the row count.
            result = cast(
                CursorResult[Any],
                s.execute(
                    delete(JournalSubjectRow).where(JournalSubjectRow.request_id == request_id)
                ),
            )
            return result.rowcount or 0


def from_plain(data: Any, kind: type[T]) -> T:
    """What ``plain`` wrote, read back as ``kind`` (the payload converter's own JSON rules)."""
    payload = Payload(metadata=_JSON, data=json.dumps(data).encode())
    return cast(T, _CONVERTER.from_payloads([payload], [kind])[0])


def plain(value: Any) -> Any:
    """A receipt as the payload converter's JSON would hold it, without its deep copies.

    ``dataclasses.asdict`` deep-copies every nested value: for an erasure batch's thousands of
    receipts that was most of the journal's time. Same result (a unit test compares them).
    """
    names = _field_names(type(value))
    if names:
        out = {}
        for name in names:
            v = getattr(value, name)
            # Most fields are text, numbers or None: no call for them (thousands per batch).
            out[name] = v if type(v) in _SCALARS else plain(v)
        return out
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    """A dataclass type's field names (empty for anything else); looked up once per type."""
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else ()
    return names


def _key_of(key: tuple[str, str, str]) -> dict[str, str]:
    return {"request_id": key[0], "store": key[1], "operation": key[2]}


def _is(model: type[JournalSubjectRow], key: tuple[str, str, str]) -> list[ColumnElement[bool]]:
    return [model.request_id == key[0], model.store == key[1], model.operation == key[2]]

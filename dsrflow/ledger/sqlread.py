"""The ledger's reads for ``request list`` / ``request show``, as plain SQL on SQLite.

A command that only reads the projection (and writes the view's audit entry) should not pay for
importing SQLAlchemy, its ORM and the models (~150 ms, docs/benchmarks.md "CLI start-up"). This
reader offers the few operations those use cases call on ``Ledger`` (``list_requests``,
``get_request``, ``actions``, ``audit_trail``, ``append_audit``) through the ``sqlite3`` driver,
returning plain values with the attributes the ORM rows have. It opens the connection the way
``Ledger`` does (WAL, busy timeout, foreign keys, write transactions ``BEGIN IMMEDIATE``), stores
values the way SQLAlchemy's SQLite types do, and builds audit entries with the same
``dsrflow.ledger.chain.next_entry`` as ``audit_chain.append``. Anything else uses ``Ledger``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HEAD = "0013"
"""The migration this reader's SQL is written for: the newest one shipped. A unit test keeps it
equal to the migrations' head (``dsrflow.ledger.migrate.head``), so a new migration must look
here; on any other revision the caller uses ``Ledger``, which explains the mismatch."""

_STORED = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage format (naive UTC)
_REQUEST = (
    "id, type, status, received_at, due_at, overdue, completed_at, reason, artifact_kind, "
    "artifact_sha256, regulation"
)
_STORE = (
    "request_id, store, adapter, status, attempts, matched, affected, residual, error_type, error"
)


@dataclass(frozen=True)
class StoreRecord:
    """A ``store_states`` row."""

    store: str
    adapter: str
    status: str
    attempts: int
    matched: int | None
    affected: int | None
    residual: int | None
    error_type: str | None
    error: str | None


@dataclass(frozen=True)
class RequestRecord:
    """A ``requests`` row with its store states (ordered by store, as the ORM relationship)."""

    id: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime | None
    overdue: bool
    completed_at: datetime | None
    reason: str | None
    artifact_kind: str | None
    artifact_sha256: str | None
    stores: tuple[StoreRecord, ...]
    regulation: str


@dataclass(frozen=True)
class ActionRecord:
    """A ``request_actions`` row."""

    at: datetime
    actor: str
    action: str
    store: str | None
    detail: str


def _time(value: str | None) -> datetime | None:
    # SQLAlchemy hands SQLite's text back as naive datetimes; so does this.
    return datetime.fromisoformat(value) if value is not None else None


def stored_time(at: datetime) -> str:
    """``at`` as SQLAlchemy's SQLite ``DateTime`` stores it (UTC, no offset, microseconds)."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime(_STORED)


class SqliteReader:
    """Reads (and the audit entry of a view) on a SQLite ledger through ``sqlite3``.

    Args:
        path: The ledger file (must exist: opening never creates one).
    """

    def __init__(self, path: Path) -> None:
        # Read-write but never create: a missing ledger is the caller's to report.
        self.conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30, isolation_level=None
        )
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON"):
            self.conn.execute(f"PRAGMA {pragma}")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def revision(self) -> str | None:
        """The ledger's Alembic revision (None: no schema)."""
        try:
            row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # no such table
            return None
        return str(row[0]) if row else None

    def get_request(self, request_id: str) -> RequestRecord | None:
        """One request with its store states."""
        rows = self._requests(f"SELECT {_REQUEST} FROM requests WHERE id = ?", [request_id])  # noqa: S608
        return rows[0] if rows else None

    def list_requests(
        self,
        status: str | None = None,
        overdue: bool | None = None,
        limit: int = 100,
        *,
        open_only: bool = False,
        request_type: str | None = None,
        regulation: str | None = None,
        due_before: datetime | None = None,
        subject_tokens: list[str] | None = None,
        case_ref: str | None = None,
    ) -> list[RequestRecord]:
        """Most recent requests first, filtered as ``Ledger.list_requests`` filters."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("status", status), ("type", request_type),
                              ("regulation", regulation)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if overdue is not None:
            where.append("overdue = ?")
            args.append(int(overdue))
        if open_only:
            where.append("completed_at IS NULL")
        if due_before is not None:
            where.append("due_at < ?")
            args.append(stored_time(due_before))
        if subject_tokens is not None:
            marks = ", ".join("?" for _ in subject_tokens)
            indexed = f"SELECT request_id FROM request_subjects WHERE token IN ({marks})"  # noqa: S608
            where.append(f"id IN ({indexed})")
            args.extend(subject_tokens)
        if case_ref is not None:
            where.append("id IN (SELECT request_id FROM request_cases WHERE case_ref = ?)")
            args.append(case_ref)
        sql = f"SELECT {_REQUEST} FROM requests"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._requests(sql + " ORDER BY received_at DESC LIMIT ?", [*args, limit])

    def actions(self, request_id: str) -> list[ActionRecord]:
        """The request's history of actions, in order."""
        cur = self.conn.execute(
            "SELECT at, actor, action, store, detail FROM request_actions WHERE request_id = ? "
            "ORDER BY seq",
            [request_id],
        )
        return [ActionRecord(_time(r[0]) or datetime.min, r[1], r[2], r[3], r[4]) for r in cur]

    def audit_trail(self, request_id: str) -> list[tuple[datetime, str, str, str]]:
        """A request's audit entries as (at, actor, action, category), oldest first."""
        cur = self.conn.execute(
            "SELECT at, actor, action, category FROM audit_log WHERE request_id = ? ORDER BY seq",
            [request_id],
        )
        return [(_time(r[0]) or datetime.min, r[1], r[2], r[3]) for r in cur]

    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        category: str,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit chain, in one ``BEGIN IMMEDIATE`` transaction."""
        import json  # here, with the hashing: a list writes no entry and needs neither

        from dsrflow.ledger.chain import GENESIS, next_entry

        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")  # serialises appenders, as Ledger's sessions do
        try:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            if head is None:
                conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?)", [GENESIS])
                head = (0, GENESIS)
            e = next_entry(
                int(head[0]), bytes(head[1]), actor=actor, action=action, category=category,
                request_id=request_id, detail=detail,
            )  # fmt: skip
            conn.execute(
                "INSERT INTO audit_log (seq, prev_hash, entry_hash, at, actor, action, "
                "request_id, detail, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [e.seq, e.prev_hash, e.entry_hash, stored_time(e.at), e.actor, e.action,
                 e.request_id, json.dumps(e.detail), e.category],
            )  # fmt: skip
            conn.execute(
                "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", [e.seq, e.entry_hash]
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _requests(self, sql: str, args: list[Any]) -> list[RequestRecord]:
        # One read transaction: the requests and their store states from the same snapshot.
        conn = self.conn
        conn.execute("BEGIN")
        try:
            rows = conn.execute(sql, args).fetchall()
            stores: dict[str, list[StoreRecord]] = {}
            if rows:
                marks = ", ".join("?" for _ in rows)
                cur = conn.execute(
                    f"SELECT {_STORE} FROM store_states WHERE request_id IN ({marks}) "  # noqa: S608
                    "ORDER BY request_id, store",
                    [r[0] for r in rows],
                )
                for s in cur:
                    stores.setdefault(s[0], []).append(StoreRecord(*s[1:]))
        finally:
            conn.execute("COMMIT")
        return [_record(r, stores.get(r[0], [])) for r in rows]


def _record(r: Any, stores: list[StoreRecord]) -> RequestRecord:
    return RequestRecord(
        r[0], r[1], r[2], _time(r[3]) or datetime.min, _time(r[4]), bool(r[5]), _time(r[6]),
        r[7], r[8], r[9], tuple(stores), r[10],
    )  # fmt: skip

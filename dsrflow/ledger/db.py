"""The ledger database: engine, schema creation and the operations the rest of dsrflow uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dsrflow.domain import ProjectionEvent
from dsrflow.ledger.models import AuditRow, Base, RequestRow, StoreStateRow, utcnow


class Ledger:
    """Access to the ledger database (SQLite by default, PostgreSQL in production)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30} if self.is_sqlite else {}
        self.engine: Engine = create_engine(parsed, connect_args=connect_args)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        import dsrflow.tlog.models  # noqa: F401 - registers the transparency-log tables on Base

        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    # -- projection --------------------------------------------------------------------

    def apply(self, event_: ProjectionEvent, seq: int) -> bool:
        """Apply a projection event unless a newer one was already applied.

        Returns:
            Whether the event changed the ledger.

        """
        with self.session() as s:
            row = s.get(RequestRow, event_.request_id)
            if row is None:
                row = RequestRow(
                    id=event_.request_id,
                    type=str(event_.request_type),
                    received_at=event_.received_at,
                    regulation=event_.regulation,
                    status=str(event_.status),
                )
                s.add(row)
            elif row.projection_seq >= seq:
                return False
            row.status = str(event_.status)
            row.projection_seq = seq
            row.updated_at = utcnow()
            if event_.status.terminal:
                row.completed_at = row.completed_at or utcnow()
            if event_.artifact is not None:
                row.artifact_kind = event_.artifact.kind
                row.artifact_path = event_.artifact.path
                row.artifact_sha256 = event_.artifact.sha256
            existing = {st.store: st for st in row.stores}
            for outcome in event_.stores:
                st = existing.get(outcome.store)
                if st is None:
                    st = StoreStateRow(store=outcome.store, adapter=outcome.adapter)
                    row.stores.append(st)
                st.status = str(outcome.status)
                st.attempts = outcome.attempts
                st.error_type = outcome.error_type
                st.error = outcome.error
                if outcome.receipt is not None:
                    st.matched = outcome.receipt.matched
                    st.affected = outcome.receipt.affected
                if outcome.verification is not None:
                    st.residual = outcome.verification.residual
                st.updated_at = utcnow()
            return True

    def get_request(self, request_id: str) -> RequestRow | None:
        """One request with its store states."""
        with self.session() as s:
            row = s.get(RequestRow, request_id)
            if row is not None:
                _ = list(row.stores)  # load before the session closes
            return row

    def list_requests(self, status: str | None = None, limit: int = 100) -> list[RequestRow]:
        """Most recent requests first, optionally filtered by status."""
        with self.session() as s:
            stmt = select(RequestRow).order_by(RequestRow.received_at.desc()).limit(limit)
            if status:
                stmt = stmt.where(RequestRow.status == status)
            return list(s.scalars(stmt))

    # -- audit -------------------------------------------------------------------------

    def audit(self, actor: str, action: str, request_id: str | None = None, **detail: Any) -> None:
        """Append one entry to the audit log (detail must not hold personal data)."""
        with self.session() as s:
            s.add(
                AuditRow(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=action,
                    request_id=request_id,
                    detail=detail,
                )
            )

    def audit_entries(self, request_id: str | None = None) -> list[AuditRow]:
        """Audit entries, oldest first."""
        with self.session() as s:
            stmt = select(AuditRow).order_by(AuditRow.id)
            if request_id:
                stmt = stmt.where(AuditRow.request_id == request_id)
            return list(s.scalars(stmt))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the worker write while CLI processes read; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()

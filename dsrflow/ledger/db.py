"""The ledger database: engine, schema check and the operations the rest of dsrflow uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dsrflow.ledger.migrate import (
    UPGRADE_HINT,
    LedgerBehindError,
    Upgrade,
    require_current,
    upgrade,
)
from dsrflow.ledger.models import (
    AuditRow,
    HumanTaskRow,
    NotificationRow,
    RequestActionRow,
    RequestCaseRow,
    RequestRow,
    RequestSubjectRow,
)

if TYPE_CHECKING:
    from dsrflow.domain import ProjectionEvent
    from dsrflow.lifecycle import Notification


class Ledger:
    """Access to the ledger database (SQLite by default, PostgreSQL in production).

    Args:
        url: SQLAlchemy URL of the ledger.
        migrate: Bring the schema to this dsrflow's revision first (``dsrflow ledger upgrade``,
            ``dsrflow dev``, tests that make a new ledger). Otherwise a ledger whose revision
            is not this dsrflow's is refused with one line (``LedgerBehindError``).

    """

    def __init__(self, url: str, *, migrate: bool = False) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            if not migrate and not path.exists():  # checking must not leave an empty file
                raise LedgerBehindError(f"ledger {path} does not exist; {UPGRADE_HINT}")
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30} if self.is_sqlite else {}
        self.engine: Engine = create_engine(parsed, connect_args=connect_args)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.upgraded: Upgrade | None = None
        """What opening with ``migrate`` did (None when only checked)."""
        if migrate:
            self.upgraded = upgrade(self.engine)
        else:
            require_current(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    # -- projection --------------------------------------------------------------------

    def apply(self, event: ProjectionEvent) -> bool:
        """Apply a projection snapshot unless a newer one was already applied.

        Returns:
            Whether the event changed the ledger.
        """
        # Imported here: reading commands (list, show) need none of the workflow's types.
        from dsrflow.ledger.projection import apply_event

        with self.session() as s:
            return apply_event(s, event)

    def notify(self, n: Notification, key: str) -> bool:
        """Put a notification in the outbox once (``key`` makes activity retries idempotent)."""
        with self.session() as s:
            if s.scalars(select(NotificationRow).where(NotificationRow.key == key)).first():
                return False
            s.add(
                NotificationRow(
                    key=key,
                    request_id=n.request_id,
                    kind=n.kind,
                    due_at=n.due_at,
                    stores=list(n.stores),
                    detail=n.detail,
                )
            )
            return True

    def notifications(self, request_id: str | None = None) -> list[NotificationRow]:
        """Outbox entries, oldest first."""
        with self.session() as s:
            stmt = select(NotificationRow).order_by(NotificationRow.id)
            if request_id:
                stmt = stmt.where(NotificationRow.request_id == request_id)
            return list(s.scalars(stmt))

    def actions(self, request_id: str) -> list[RequestActionRow]:
        """The request's history of human actions, in order."""
        with self.session() as s:
            stmt = select(RequestActionRow).where(RequestActionRow.request_id == request_id)
            return list(s.scalars(stmt.order_by(RequestActionRow.seq)))

    def tasks(self, open_only: bool = True) -> list[HumanTaskRow]:
        """Manual tasks (open ones by default), oldest first."""
        with self.session() as s:
            stmt = select(HumanTaskRow).order_by(HumanTaskRow.opened_at)
            if open_only:
                stmt = stmt.where(HumanTaskRow.closed_at.is_(None))
            return list(s.scalars(stmt))

    def purgeable(self, ended_before: datetime) -> list[RequestRow]:
        """Requests that ended before ``ended_before`` and still hold a data key."""
        with self.session() as s:
            stmt = select(RequestRow).where(
                RequestRow.completed_at.is_not(None),
                RequestRow.completed_at < ended_before,
                RequestRow.purged_at.is_(None),
            )
            return list(s.scalars(stmt.order_by(RequestRow.completed_at)))

    def mark_purged(self, request_id: str) -> None:
        """Record that a request's key and artifacts were destroyed."""
        with self.session() as s:
            row = s.get(RequestRow, request_id)
            if row is not None:
                row.purged_at = datetime.now(UTC)

    def get_request(self, request_id: str) -> RequestRow | None:
        """One request with its store states."""
        with self.session() as s:
            row = s.get(RequestRow, request_id)
            return _loaded(row) if row is not None else None

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
    ) -> list[RequestRow]:
        """Most recent requests first, filtered by every criterion given.

        Args:
            status: This status only.
            overdue: The overdue flag's value.
            limit: At most this many.
            open_only: Requests that have not ended.
            request_type: This type only.
            regulation: This regulation only.
            due_before: Due strictly before this time.
            subject_tokens: Requests indexed under any of these blind-index tokens
                (``dsrflow.ledger.subjects``); an empty list matches nothing.
            case_ref: Requests submitted with this case reference (``dsrflow.ledger.cases``).
        """
        with self.session() as s:
            stmt = select(RequestRow).order_by(RequestRow.received_at.desc()).limit(limit)
            if status:
                stmt = stmt.where(RequestRow.status == status)
            if overdue is not None:
                stmt = stmt.where(RequestRow.overdue == overdue)
            if open_only:
                stmt = stmt.where(RequestRow.completed_at.is_(None))
            if request_type:
                stmt = stmt.where(RequestRow.type == request_type)
            if regulation:
                stmt = stmt.where(RequestRow.regulation == regulation)
            if due_before is not None:
                if self.is_sqlite:  # SQLite keeps naive UTC text: compare like with like
                    due_before = due_before.astimezone(UTC).replace(tzinfo=None)
                stmt = stmt.where(RequestRow.due_at < due_before)
            if subject_tokens is not None:
                indexed = select(RequestSubjectRow.request_id).where(
                    RequestSubjectRow.token.in_(subject_tokens)
                )
                stmt = stmt.where(RequestRow.id.in_(indexed))
            if case_ref is not None:
                cased = select(RequestCaseRow.request_id).where(RequestCaseRow.case_ref == case_ref)
                stmt = stmt.where(RequestRow.id.in_(cased))
            return [_loaded(r) for r in s.scalars(stmt)]

    def request_counts(self) -> tuple[dict[str, int], dict[str, int], int]:
        """Requests per status, per type, and how many are open and overdue."""
        from sqlalchemy import func

        with self.session() as s:
            counted = select(RequestRow.status, RequestRow.type, func.count()).group_by(
                RequestRow.status, RequestRow.type
            )
            by_status: dict[str, int] = {}
            by_type: dict[str, int] = {}
            for status, kind, n in s.execute(counted):
                by_status[status] = by_status.get(status, 0) + n
                by_type[kind] = by_type.get(kind, 0) + n
            overdue = s.scalar(select(func.count()).select_from(RequestRow).where(
                RequestRow.overdue.is_(True), RequestRow.completed_at.is_(None)))  # fmt: skip
        return by_status, by_type, int(overdue or 0)

    # -- audit -------------------------------------------------------------------------

    def audit(self, actor: str, action: str, request_id: str | None = None, **detail: Any) -> None:
        """Append one entry to the audit chain (detail must not hold personal data)."""
        from dsrflow.ledger.categories import category_for

        self.append_audit(
            actor=actor, action=action, category=category_for(action), request_id=request_id,
            detail=detail,
        )  # fmt: skip

    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        category: str,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit chain in its own transaction."""
        from dsrflow.ledger import audit_chain

        with self.session() as s:
            audit_chain.append(
                s, actor=actor, action=action, category=category, request_id=request_id,
                detail=detail,
            )  # fmt: skip

    def audit_trail(self, request_id: str) -> list[tuple[datetime, str, str, str]]:
        """A request's audit entries as (at, actor, action, category), oldest first."""
        with self.session() as s:
            stmt = select(AuditRow.at, AuditRow.actor, AuditRow.action, AuditRow.category)
            stmt = stmt.where(AuditRow.request_id == request_id).order_by(AuditRow.seq)
            return [(r.at, r.actor, r.action, r.category) for r in s.execute(stmt)]

    def audit_entries(self, request_id: str | None = None) -> list[AuditRow]:
        """Audit entries, oldest first."""
        with self.session() as s:
            stmt = select(AuditRow).order_by(AuditRow.seq)
            if request_id:
                stmt = stmt.where(AuditRow.request_id == request_id)
            return list(s.scalars(stmt))


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock up front: read-check-write sequences (projection order, key creation,
    # log appends) are then serialised across threads and processes.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _loaded(row: RequestRow) -> RequestRow:
    _ = list(row.stores)  # load store states before the session closes
    return row


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the worker write while CLI processes read; busy_timeout waits instead of failing.
    # pysqlite would otherwise run SELECTs outside the transaction and open it only at the first
    # write: a projection could then check a stale sequence number and overwrite a newer
    # snapshot. We take over transaction control (``begin`` below) instead.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()

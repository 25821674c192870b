"""Ledger tables: the projection lists and reports read, the audit log, and key records.

Temporal is the source of truth for progress; these tables are a projection the workflow keeps
current through an activity, so lists never have to scan Temporal. No table holds personal data
in clear: requests are keyed by opaque ids, data keys are stored wrapped, and the one subject
contact a request keeps (for messages) is sealed under that request's data key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now (the ledger stores UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the ledger schema."""


class RequestRow(Base):
    """One data-subject request as last projected."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    regulation: Mapped[str] = mapped_column(String(10), default="gdpr")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    projection_seq: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    artifact_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    artifact_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    artifact_sha256: Mapped[str | None] = mapped_column(String(80), nullable=True)

    stores: Mapped[list[StoreStateRow]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="StoreStateRow.store"
    )


class StoreStateRow(Base):
    """The state of one store within one request."""

    __tablename__ = "store_states"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    store: Mapped[str] = mapped_column(String(80), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(30), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int | None] = mapped_column(Integer, nullable=True)
    affected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    residual: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_type: Mapped[str | None] = mapped_column(String(80), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    request: Mapped[RequestRow] = relationship(back_populates="stores")


class AuditRow(Base):
    """Append-only record of every person's action: who, what, when, on which request.

    Entries form a hash chain (``dsrflow.ledger.audit_chain``): ``seq`` orders them, and each
    ``entry_hash`` covers the entry's content and ``prev_hash``, its predecessor's hash.
    """

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_log_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    request_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What kind of entry this is, for people reading the log (decision, view, download, decode,
    # system). Every writer goes through ``audit_chain.append``, which says which.
    category: Mapped[str] = mapped_column(String(20), server_default="system", nullable=False)


class AuditHeadRow(Base):
    """The audit chain's head: one row, locked by every append so writers take turns."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditAnchorRow(Base):
    """A chain head written into the transparency log, so a truncated tail is detectable.

    ``statement`` is the canonical JSON whose SHA-256 is the log leaf at ``log_index``.
    """

    __tablename__ = "audit_anchors"

    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    anchored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataKeyRow(Base):
    """A wrapped per-request data key (payload codec, artifacts). Destroying it crypto-shreds."""

    __tablename__ = "data_keys"

    key_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(80), nullable=True, unique=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RequestActionRow(Base):
    """A person's (or the clock's) action on a request, as the workflow recorded it."""

    __tablename__ = "request_actions"
    __table_args__ = (UniqueConstraint("request_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    store: Mapped[str | None] = mapped_column(String(80), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class HumanTaskRow(Base):
    """A manual store's task: opened when the store waits for a person, closed when done."""

    __tablename__ = "human_tasks"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    store: Mapped[str] = mapped_column(String(80), primary_key=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


class NotificationRow(Base):
    """Outbox of reminders, overdue flags, escalations and expiries for delivery channels."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    request_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stores: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JournalEntryRow(Base):
    """A store operation's receipt, written inside the store's transaction just before it commits.

    Keyed by request, store and operation, so that a re-run which finds nothing left to do (the
    first run committed, then the worker died before reporting) can return the first run's
    counts instead of claiming the subject was never there. Holds counts and digests only.
    """

    __tablename__ = "receipt_journal"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    store: Mapped[str] = mapped_column(String(80), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20), primary_key=True)
    matched: Mapped[int] = mapped_column(Integer)
    affected: Mapped[int] = mapped_column(Integer)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class BatchAnswerRow(Base):
    """An erasure batch's answer to one member for one store: her receipt and verification.

    ``erase_batch`` keeps each member's answer here instead of returning it through the batch
    workflow, whose history (and workflow task) then holds request ids only, whatever the
    chunk size; the member reads her own answer (``check_batch_result``). Counts, digests and
    an HMAC under the member's own key; no personal data.
    """

    __tablename__ = "batch_answers"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    store: Mapped[str] = mapped_column(String(80), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(80), index=True)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)
    verification: Mapped[dict[str, Any]] = mapped_column(JSON)
    tag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JournalSubjectRow(Base):
    """Keyed blind index of a journal entry's subject (HMAC of each identifier, never the value).

    Links requests about the same subject: a later request that finds nothing can say which
    request erased first.
    """

    __tablename__ = "receipt_journal_subjects"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    store: Mapped[str] = mapped_column(String(80), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class SubjectContactRow(Base):
    """How to reach a request's data subject: the address sealed under the request's data key.

    Written by the submit use case; ``dsrflow purge`` destroys the key (crypto-shredding) and
    the row. Only the sender opens it, at the moment it sends.
    """

    __tablename__ = "subject_contacts"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="email")
    key_id: Mapped[str] = mapped_column(String(80))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessageRow(Base):
    """One message to a data subject or to staff, written by the projection, sent by the sender.

    ``(request_id, kind, seq)`` is unique: a projection applied again writes nothing new.
    ``context`` holds the template's values (ids, dates, reasons staff gave), never an address;
    ``last_error`` is one line without personal data.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (UniqueConstraint("request_id", "kind", "seq", name="uq_outbox_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    channel: Mapped[str | None] = mapped_column(String(10), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# The edges' tables (one schema; see that module). Imported last: it subclasses ``Base``.
from dsrflow.ledger.models_edges import (  # noqa: E402
    ApiTokenRow,
    ConsoleAccountRow,
    ConsoleSessionRow,
    IntakeAttemptRow,
    IntakeNoteRow,
    OpenDsrControllerRow,
    OpenDsrRequestRow,
    PackageDeliveryRow,
    RequestCaseRow,
    RequestSubjectRow,
    VerificationLinkRow,
)

__all__ = [
    "ApiTokenRow",
    "AuditAnchorRow",
    "AuditHeadRow",
    "AuditRow",
    "Base",
    "ConsoleAccountRow",
    "ConsoleSessionRow",
    "DataKeyRow",
    "HumanTaskRow",
    "IntakeAttemptRow",
    "IntakeNoteRow",
    "JournalEntryRow",
    "JournalSubjectRow",
    "NotificationRow",
    "OpenDsrControllerRow",
    "OpenDsrRequestRow",
    "OutboxMessageRow",
    "PackageDeliveryRow",
    "RequestActionRow",
    "RequestCaseRow",
    "RequestRow",
    "RequestSubjectRow",
    "StoreStateRow",
    "SubjectContactRow",
    "VerificationLinkRow",
    "utcnow",
]

"""Ledger tables of the edges: tokens, controllers, subjects, intake, console, deliveries.

API tokens, OpenDSR controllers and their requests, the subject index, the privacy center,
case references, console accounts and sessions, package deliveries.

Part of the one ledger schema (``dsrflow.ledger.models`` imports this module, so
``Base.metadata`` holds every table); split out only to keep each module readable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dsrflow.ledger.models import Base, utcnow


class ApiTokenRow(Base):
    """An API token: who it acts as, with which roles, until when (``dsrflow tokens``).

    Only a SHA-256 of the token's random secret is kept: the token itself is shown once, when
    it is made. ``id`` is the public part of the token, so lookups need no scan.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    actor: Mapped[str] = mapped_column(String(120))
    roles: Mapped[str] = mapped_column(String(200))
    """Comma-separated, sorted."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OpenDsrControllerRow(Base):
    """A controller that may send OpenDSR requests to this processor (``dsrflow opendsr``).

    ``token_id`` names its API token (actor ``controller:<domain>``); ``callback_urls`` is the
    allow-list its ``status_callback_urls`` must come from (a URL prefix each).
    """

    __tablename__ = "opendsr_controllers"

    domain: Mapped[str] = mapped_column(String(100), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(24))
    callback_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OpenDsrRequestRow(Base):
    """Which controller sent an OpenDSR request, and where to tell it of status changes.

    No personal data: the controller's request id (a UUID), the dsrflow request id, the
    controller's domain and its callback URLs. The identities went to the workflow only.
    """

    __tablename__ = "opendsr_requests"
    __table_args__ = (
        UniqueConstraint("controller", "subject_request_id", name="uq_opendsr_request"),
    )

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    controller: Mapped[str] = mapped_column(String(100), index=True)
    subject_request_id: Mapped[str] = mapped_column(String(80))
    request_type: Mapped[str] = mapped_column(String(20))
    callback_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    legacy: Mapped[bool] = mapped_column(default=False)


class RequestSubjectRow(Base):
    """The subject blind index of a request: one keyed hash per normalised identifier.

    Written by the submit use case so staff can find every request for an e-mail or phone
    (``request list --subject``) without the ledger keeping the identifier: the token is the
    receipt journal's HMAC-SHA256 under the blind-index key. ``dsrflow purge`` removes a
    request's tokens.
    """

    __tablename__ = "request_subjects"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VerificationLinkRow(Base):
    """A verification link e-mailed to a privacy-center requester: only its token's SHA-256.

    Minted when the ``verification`` message is rendered for sending, so the token itself is
    never at rest here or in the outbox. ``used_at`` marks the link that confirmed the request
    (single use for verifying; it still opens the status page for the life of the request).
    """

    __tablename__ = "verification_links"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IntakeAttemptRow(Base):
    """One privacy-center submission attempt, for the intake rate limit.

    ``key`` is ``client:`` or ``email:`` and a blind-index HMAC: neither the address nor the
    client's IP is kept. Rows older than the window are deleted as new ones come in.
    """

    __tablename__ = "intake_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IntakeNoteRow(Base):
    """What a privacy-center requester typed beyond the e-mail (name, details), sealed.

    AES-256-GCM under the request's data key, like the subject's contact: ``dsrflow purge``
    destroys the key, after which no copy can be opened.
    """

    __tablename__ = "intake_notes"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(80))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RequestCaseRow(Base):
    """A request's case reference: the privacy team's own reference, given at submission.

    Written by the submit use case so the console's inbox can find a request by its case
    reference (``ListRequests`` ``case_ref``). A case reference must not hold personal data
    (``SubmitCommand.case_ref``).
    """

    __tablename__ = "request_cases"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    case_ref: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleAccountRow(Base):
    """A console account: a person who signs in with a password (``dsrflow accounts``).

    Only an argon2id hash of the password is kept. ``failed_signins`` and ``locked_until`` are
    the lockout's state, kept here so that it holds across processes; ``must_change_password``
    is set by an admin's reset (the one-time password works once, for choosing a new one).
    """

    __tablename__ = "console_accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    roles: Mapped[str] = mapped_column(String(200))
    """Comma-separated, sorted."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_signin_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsoleSessionRow(Base):
    """A signed-in console session. The id is the cookie's secret: only its SHA-256 is kept.

    ``roles`` is set for single sign-on sessions (the identity provider's roles at sign-in);
    a password session reads its account's roles on every request, so a change applies at once.
    """

    __tablename__ = "console_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Hex."""
    username: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(10))
    roles: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PackageDeliveryRow(Base):
    """How a request's access package reaches its subject: the one-time code, by hash only.

    The code is minted when the ``delivery_code`` message is rendered for sending; only its
    keyed hash is kept, with the failed attempts against it (past the limit, ``locked_at``).
    ``purged_at`` records that retention deleted the package after its delivery window.
    """

    __tablename__ = "package_deliveries"

    request_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    code_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    codes_asked: Mapped[int] = mapped_column(Integer, default=0)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_download_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

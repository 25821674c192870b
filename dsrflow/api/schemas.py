"""The API's request and response bodies (the shape only: the use cases check the content).

Bodies refuse unknown fields; strings are capped at the application layer's ``MAX_TEXT``. Each
request body carries one example, which the OpenAPI document shows and the tests send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from dsrflow.batches import CHUNK_SIZE, MAX_CHUNK
from dsrflow.service.checks import MAX_TEXT

RequestType = Literal["access", "export", "erasure", "rectification", "restriction"]
Regulation = Literal["gdpr", "ccpa"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# A field name as the CLI's FIELD=VALUE takes it (so never an "=").
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]


def _utc(at: datetime) -> datetime:
    """The ledger keeps UTC; SQLite hands it back without a zone (RFC 3339 needs one)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


Utc = Annotated[datetime, AfterValidator(_utc)]
"""A time in answers: always with its zone (UTC)."""


def _body(example: JsonDict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class ErrorBody(BaseModel):
    """Every error: one line, never a trace."""

    error: str


# -- requests in --------------------------------------------------------------------------


class IdentityIn(BaseModel):
    """One identifier of the data subject (kinds: email, phone, customer_id... per catalog)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    value: str = Field(min_length=1, max_length=MAX_TEXT)


class SubmitIn(BaseModel):
    """A new request (``dsrflow request submit``)."""

    model_config = _body(
        {"type": "erasure", "identities": [{"kind": "email", "value": "subject@example.com"}],
         "case_ref": "CASE-1042", "regulation": "gdpr"}
    )  # fmt: skip

    type: RequestType
    identities: list[IdentityIn] = Field(min_length=1, max_length=20)
    changes: dict[FieldName, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(
        default_factory=dict, max_length=50, description="Rectification: field -> new value."
    )
    request_id: str | None = Field(
        None, pattern=ID_PATTERN, description="Use this id (a retry reuses it)."
    )
    case_ref: str | None = Field(None, max_length=MAX_TEXT, description="No personal data.")
    regulation: Regulation = "gdpr"
    dry_run: bool = False


IdentityKind = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MAX_VALUES = 20


def _values(value: object) -> object:
    """One message for a value of the wrong shape (not pydantic's one per union member)."""
    values = value if isinstance(value, list) else [value]
    if not 0 < len(values) <= MAX_VALUES or not all(
        isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in values
    ):
        raise PydanticCustomError(
            "identity_values",
            f"expected text (1-{MAX_TEXT} characters) or a list of 1-{MAX_VALUES} of them",
        )
    return value


IdentityValues = Annotated[str | list[str], BeforeValidator(_values)]


class BatchSubmitIn(BaseModel):
    """An erasure batch (``dsrflow request submit-batch``): one request per member."""

    model_config = _body(
        {"members": [{"email": "subject@example.com"},
                     {"email": "other@example.com", "customer_id": ["1042", "1043"]}],
         "chunk_size": CHUNK_SIZE, "quiet_s": 5}
    )  # fmt: skip

    members: list[dict[IdentityKind, IdentityValues]] = Field(
        min_length=1,
        max_length=1000,
        description="One subject each, as a line of a .jsonl file: identity kind -> value(s).",
    )
    chunk_size: int = Field(CHUNK_SIZE, ge=1, le=MAX_CHUNK, description="Subjects erased together.")
    quiet_s: float = Field(5.0, ge=0.1, le=3600, description="Wait for more ready subjects.")


class VerifyIdentityIn(BaseModel):
    """How the requester's identity was checked."""

    model_config = _body({"method": "email_link", "reference": "TICKET-7"})

    method: str = Field(max_length=MAX_TEXT)
    reference: str | None = Field(None, max_length=MAX_TEXT)


class ReasonIn(BaseModel):
    """A decision with an optional reason (recorded; no personal data)."""

    model_config = _body({"reason": "checked against the contract"})

    reason: str = Field("", max_length=MAX_TEXT)


class RequiredReasonIn(BaseModel):
    """A decision that needs its reason (recorded; no personal data)."""

    model_config = _body({"reason": "duplicate of an earlier request"})

    reason: str = Field(max_length=MAX_TEXT)


class DenyIn(BaseModel):
    """A denial, citing the legal ground."""

    model_config = _body({"ground": "Art. 12(5)(b)", "note": "manifestly excessive"})

    ground: str = Field(max_length=MAX_TEXT)
    note: str = Field("", max_length=MAX_TEXT)


class ExtendIn(BaseModel):
    """An extension of the deadline: months (GDPR) or days (CCPA), one of them."""

    model_config = _body({"reason": "many stores to search", "months": 2})

    reason: str = Field(max_length=MAX_TEXT)
    months: int | None = Field(None, ge=1, le=2)
    days: int | None = Field(None, ge=1, le=45)


class ExemptIn(BaseModel):
    """A store exempted from erasure under Art. 17(3)."""

    model_config = _body({"ground": "Art. 17(3)(b)", "until": "2031-12-31", "note": "tax law"})

    ground: str = Field(max_length=MAX_TEXT)
    until: str | None = Field(None, pattern=DAY_PATTERN)
    note: str = Field("", max_length=MAX_TEXT)


class CompleteTaskIn(BaseModel):
    """A manual store's task closed (an erasure done is attested: method and certificate)."""

    model_config = _body(
        {"outcome": "done", "method": "shredded", "certificate_ref": "SHRED-2026-114"}
    )

    outcome: Literal["done", "not_found"]
    method: str | None = Field(None, max_length=MAX_TEXT)
    certificate_ref: str | None = Field(None, max_length=MAX_TEXT)
    attachment_digest: str | None = Field(None, max_length=MAX_TEXT)


class AuditVerifyIn(BaseModel):
    """Optionally, a log checkpoint kept outside dsrflow to check the log against."""

    model_config = _body({})

    checkpoint: str | None = Field(None, max_length=16384)


# -- answers -------------------------------------------------------------------------------


class SubmitOut(BaseModel):
    """The request as started (``created``: false when this exact submission existed)."""

    request_id: str
    type: str
    status: str
    received_at: Utc
    due_at: Utc
    created: bool


class BatchSubmitOut(BaseModel):
    """What a batch submission started: its batches, and one request id per member in order."""

    batch_ids: list[str]
    request_ids: list[str]
    created: int


class BatchOut(BaseModel):
    """How far a batch is (counts only) and its workflow's state (running, completed...)."""

    batch_id: str
    state: str
    members: int
    done: int
    erased: int
    fallbacks: int
    failed: int


class RevealOut(BaseModel):
    """The subject's identifiers, decoded for a reason (an audited ``decode``)."""

    request_id: str
    identities: list[IdentityIn]


class ActOut(BaseModel):
    """The workflow's answer to a decision."""

    request_id: str
    status: str
    message: str
    due_at: Utc | None


class StoreOut(BaseModel):
    """One store's projected state."""

    store: str
    adapter: str
    status: str
    attempts: int
    matched: int | None
    affected: int | None
    residual: int | None
    error_type: str | None
    error: str | None


class RequestOut(BaseModel):
    """A request as lists show it."""

    id: str
    type: str
    status: str
    received_at: Utc
    due_at: Utc | None
    overdue: bool
    completed_at: Utc | None
    reason: str | None
    stores: list[StoreOut]
    artifact_kind: str | None
    artifact_sha256: str | None


class ActionOut(BaseModel):
    """One entry of a request's history of actions."""

    at: Utc
    actor: str
    action: str
    store: str | None
    detail: str


class AuditLineOut(BaseModel):
    """One line of a request's audit trail (views and decodes folded unless ``all``)."""

    at: Utc
    actor: str
    action: str
    category: str
    count: int
    last_at: Utc | None


class ReportOut(BaseModel):
    """A request with its history and audit trail."""

    request: RequestOut
    dry_run: bool
    actions: list[ActionOut]
    audit: list[AuditLineOut]


class TaskOut(BaseModel):
    """A manual store's task."""

    request_id: str
    store: str
    instructions: str
    opened_at: Utc
    escalated_at: Utc | None
    closed_at: Utc | None
    outcome: str | None
    closed_by: str | None


class MetricsOut(BaseModel):
    """Request counts from the ledger."""

    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    overdue: int


class AuditVerdictOut(BaseModel):
    """The audit log's check (``ok`` false names the first problem)."""

    ok: bool
    entries: int
    head_seq: int
    anchors: int
    anchored_seq: int
    checkpoint_size: int | None
    problem: str | None

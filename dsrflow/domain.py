"""Domain types that cross the Temporal boundary.

Every workflow, activity, query, signal and update takes one frozen dataclass and returns one.
They carry no ORM objects and no adapter objects: workflows know stores and adapters by name.
Fields that can hold personal data are marked in their docstrings; the payload codec encrypts
them in Temporal history, and they never reach logs or evidence bundles.

The types an adapter itself takes or returns (``Identity``, ``CollectionCount``,
``ProcessorReceipt``, ``SweepReport``) are the adapter SDK's (``dsrflow.adapters.sdk``) and are
imported here: the core depends on the SDK, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dsrflow.adapters.sdk.subject import Identity as Identity
from dsrflow.receipts import Attestation as Attestation
from dsrflow.receipts import CollectionCount as CollectionCount
from dsrflow.receipts import ProcessorReceipt as ProcessorReceipt
from dsrflow.receipts import StoreReceipt as StoreReceipt
from dsrflow.receipts import VerifyReceipt as VerifyReceipt
from dsrflow.statuses import RequestStatus as RequestStatus
from dsrflow.statuses import RequestType as RequestType
from dsrflow.sweeps import SweepReport


class StoreStatus(StrEnum):
    """Lifecycle state of one store within a request.

    End states: ``done`` (acted, and for erasure verified with residual 0), ``not_found``
    (nothing matched), ``not_supported`` (the store cannot do the requested verb; recorded),
    ``exempt`` (an Art. 17(3) ground applies; the data is restricted, not erased), ``skipped``
    (a person moved it on with a reason), ``cancelled`` (the request was cancelled before this
    store ran). ``failed_needs_attention`` and ``waiting_for_human`` wait for a person.
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_SUPPORTED = "not_supported"
    EXEMPT = "exempt"
    FAILED_NEEDS_ATTENTION = "failed_needs_attention"
    WAITING_FOR_HUMAN = "waiting_for_human"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    """Access/export: the independent sweep found the subject's identifiers in rows the package
    does not contain. Waits for a person (fix the catalog and retry, or skip with a reason)."""

    @property
    def terminal(self) -> bool:
        """Whether the store has reached an end state (nothing more will happen by itself)."""
        return self not in (
            StoreStatus.PENDING,
            StoreStatus.RUNNING,
            StoreStatus.FAILED_NEEDS_ATTENTION,
            StoreStatus.WAITING_FOR_HUMAN,
            StoreStatus.INCOMPLETE,
        )


@dataclass(frozen=True)
class FieldChange:
    """One field a rectification request sets (personal data)."""

    field: str
    value: str


@dataclass(frozen=True)
class Exemption:
    """Why a store keeps the subject's data despite an erasure request.

    Attributes:
        ground: The legal ground, e.g. ``Art. 17(3)(b)`` (legal obligation) or ``Art. 17(3)(e)``.
        note: Free text for the record (no personal data).
        until: ISO date until which the data is retained (legal retention), if any.
    """

    ground: str
    note: str = ""
    until: str | None = None


@dataclass(frozen=True)
class RetrySpec:
    """A store's retry policy, as declared in the catalog."""

    max_attempts: int = 40
    initial_interval_s: float = 1.0
    backoff: float = 2.0
    max_interval_s: float = 60.0
    timeout_s: float = 600.0
    heartbeat_s: float = 60.0


@dataclass(frozen=True)
class DsrInput:
    """Workflow input: one data-subject request.

    Attributes:
        request_id: Opaque id, also the workflow id; never derived from personal data.
        request_type: What was asked.
        identities: The submitted identifiers (personal data).
        received_at: When the controller received the request (starts the legal clock).
        regulation: ``gdpr`` or ``ccpa``.
        case_ref: The privacy team's own case reference (must not hold personal data).

    """

    request_id: str
    request_type: RequestType
    identities: list[Identity]
    received_at: datetime
    regulation: str = "gdpr"
    case_ref: str | None = None
    changes: list[FieldChange] = field(default_factory=list)
    dry_run: bool = False
    """Run every store's real verb inside a transaction that is rolled back; change nothing."""
    batch_id: str | None = None
    """The erasure batch this request belongs to (its stores with ``batch_erase`` are erased
    by the batch, set-based); None for a request of its own."""


@dataclass(frozen=True)
class PlanInput:
    """Input of the planning activity."""

    request_id: str
    request_type: RequestType


@dataclass(frozen=True)
class StorePlan:
    """One store as the workflow sees it: a name, an adapter name, and how to call it."""

    name: str
    adapter: str
    capabilities: list[str]
    retry: RetrySpec = field(default_factory=RetrySpec)
    identity_source: bool = False
    after: list[str] = field(default_factory=list)
    human_task: bool = False
    instructions: str = ""
    exemption: Exemption | None = None
    kind: str | None = None
    """What kind of store this is (e.g. ``postgresql``), for evidence; the adapter name if unset."""
    batch_erase: bool = False
    """A batch erases this store set-based for all its members (``docs/batch-erasure.md``)."""


@dataclass(frozen=True)
class ResolveResult:
    """Identities an identity-source store resolved for the subject (personal data)."""

    store: str
    identities: list[Identity]


@dataclass(frozen=True)
class Plan:
    """The stores in scope for a request, fixed at execution time."""

    stores: list[StorePlan]
    catalog_digest: str


@dataclass(frozen=True)
class StoreTaskInput:
    """Input of a per-store activity (access, erase, verify)."""

    request_id: str
    store: str
    request_type: RequestType
    identities: list[Identity]
    changes: list[FieldChange] = field(default_factory=list)
    dry_run: bool = False
    catalog_digest: str | None = None
    """The catalog digest the request planned with (the activity says which one it ran under)."""


@dataclass(frozen=True)
class SweepInput:
    """Input of the ``sweep_store`` activity (the independent residual sweep).

    Attributes:
        request_id: The request.
        store: The store to sweep.
        identities: The subject's identifiers (personal data); the activity keeps the strong
            kinds only (e-mail, phone, and kinds the catalog marks ``strong: true``).
        after: ``erasure`` (hits keep the store ``failed_needs_attention``) or ``access`` (hits
            outside what the package holds make the store ``incomplete``).
        catalog_digest: The catalog the request planned with.
    """

    request_id: str
    store: str
    identities: list[Identity]
    after: str = "erasure"
    catalog_digest: str | None = None


@dataclass(frozen=True)
class CheckInput:
    """Input of the ``check_store`` activity: a store's checks after its verb, in one activity.

    Each check runs as it does alone (``verify_store``, ``sweep_store``); this only saves the
    round trips of a second activity.

    Attributes:
        request_id: The request.
        store: The store to check.
        identities: The subject's identifiers (personal data).
        verify: Whether the store verifies an erasure (something matched, it can verify).
        sweep_after: What the sweep's hits mean (``SweepInput.after``); None: no sweep.
        catalog_digest: The catalog the request planned with.
    """

    request_id: str
    store: str
    identities: list[Identity]
    verify: bool = False
    sweep_after: str | None = None
    catalog_digest: str | None = None

    def verify_task(self) -> StoreTaskInput:
        """What the verification is asked, as ``verify_store`` would be."""
        return StoreTaskInput(
            self.request_id, self.store, RequestType.ERASURE, self.identities,
            catalog_digest=self.catalog_digest,
        )  # fmt: skip

    def sweep_task(self, after: str) -> SweepInput:
        """What the sweep is asked, as ``sweep_store`` would be."""
        return SweepInput(self.request_id, self.store, self.identities, after, self.catalog_digest)


@dataclass(frozen=True)
class CheckResult:
    """What ``check_store`` found: each check's own result (None: it did not run).

    A verification that found records left ends it: the store waits for a person whatever a
    sweep would find, as it did when the sweep was an activity of its own.
    """

    verification: VerifyReceipt | None = None
    report: SweepReport | None = None


@dataclass(frozen=True)
class StoreOutcome:
    """A store's state within a request, as reported in the status query and the result.

    Attributes:
        actor: Who or what acted: ``workload:<worker identity>`` or ``staff:<pseudonym>``.
        note: A person's note (skip reason, manual task note); no personal data.
        exemption: Set when the store is ``exempt``.
    """

    store: str
    adapter: str
    status: StoreStatus
    attempts: int = 0
    receipt: StoreReceipt | None = None
    verification: VerifyReceipt | None = None
    error_type: str | None = None
    error: str | None = None
    actor: str | None = None
    note: str | None = None
    exemption: Exemption | None = None
    sweep: SweepReport | None = None
    """The independent residual sweep after erasure/access (None where none ran)."""
    warnings: list[str] = field(default_factory=list)
    """Things a person must see (no personal data), e.g. an identity source that matched 0 rows."""
    catalog_digest: str | None = None
    """The catalog digest this store last ran under."""
    attestation: Attestation | None = None
    """A person's attested completion (manual stores); their verification in the evidence."""


@dataclass(frozen=True)
class HumanAction:
    """One thing a person (or the clock) did to a request, for the ledger's history.

    ``detail`` holds reasons, grounds and methods, never personal data.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    store: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class StatusView:
    """Answer of the ``status`` query."""

    request_id: str
    request_type: RequestType
    status: RequestStatus
    stores: list[StoreOutcome]
    artifact: ArtifactRef | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    overdue: bool = False
    extended: bool = False
    on_hold: bool = False
    reason: str = ""
    actions: list[HumanAction] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactRef:
    """Where a request's result lives in the artifact store (no personal data)."""

    kind: str
    path: str
    sha256: str


@dataclass(frozen=True)
class AssembleInput:
    """Input of the access-package activity."""

    request_id: str
    request_type: RequestType
    stores: list[StoreOutcome]


@dataclass(frozen=True)
class OrchestratorCopy:
    """How the orchestrator's own copy of the request is protected and when it is destroyed.

    Temporal's history and the request's encrypted artifacts are under one data key; destroying
    it ``destroy_after_days`` after the request ends crypto-shreds them.
    """

    key_id: str
    encryption: str = "AES-256-GCM"
    destroy_after_days: int = 30


@dataclass(frozen=True)
class EvidenceInput:
    """Input of the evidence-bundle activity.

    ``identities`` are needed to compute the subject commitment; they are not written to the bundle.
    """

    request: DsrInput
    workflow_id: str
    run_id: str
    catalog_digest: str
    inventory: list[StorePlan]
    outcomes: list[StoreOutcome]
    completed_at: datetime
    due_at: datetime | None = None
    orchestrator_copy: OrchestratorCopy | None = None


@dataclass(frozen=True)
class ProjectionEvent:
    """A state change the workflow reports to the ledger projection."""

    request_id: str
    request_type: RequestType
    status: RequestStatus
    received_at: datetime
    stores: list[StoreOutcome]
    artifact: ArtifactRef | None = None
    regulation: str = "gdpr"
    seq: int = 0
    due_at: datetime | None = None
    overdue: bool = False
    reason: str = ""
    actions: list[HumanAction] = field(default_factory=list)


@dataclass(frozen=True)
class DsrResult:
    """Workflow result."""

    request_id: str
    status: RequestStatus
    stores: list[StoreOutcome]
    artifact: ArtifactRef | None
    reason: str = ""

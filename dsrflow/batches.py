"""Types of an erasure batch: many subjects' requests whose store work is coalesced.

A batch (``docs/batch-erasure.md``) is one ``ErasureBatch`` workflow over many ordinary
``DataSubjectRequest`` workflows, one per subject: each request keeps its own id, status, legal
clock and evidence bundle. A request of a batch does not erase a ``batch_erase`` store itself:
it hands the batch its identities *sealed under its own data key* (``MemberReady``), the batch
erases every ready member of a chunk with one set-based statement per collection
(``erase_batch``) and hands each request back its own counts and verification
(``BatchStoreResult``).

Nothing here holds an identity in clear: the batch workflow's history (encrypted under the
batch's own key) holds request ids, counts and sealed blobs that only each request's key opens,
so destroying a request's key (``dsrflow purge``) shreds its identities in the batch too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsrflow.domain import Identity, StorePlan, StoreReceipt, VerifyReceipt

BATCH_WORKFLOW = "ErasureBatch"
MEMBER_FINISHED = "member_finished"
"""The batch's signal: a member ended without (all of) its batch stores; do not wait for it."""
MAX_MEMBERS = 5000
"""Members per batch workflow: its history holds about three events per member and store."""
CHUNK_SIZE = 1000
"""Default members per chunk: one store transaction, one statement per collection."""
MAX_CHUNK = 2000
"""At most this many per chunk: the chunk's sealed identities are one activity input (about
250 bytes each, well under Temporal's 2 MB payload limit) and one statement's parameters."""


@dataclass(frozen=True)
class BatchInput:
    """Input of the batch workflow.

    Attributes:
        batch_id: The batch's id (its workflow id); never derived from personal data.
        request_ids: Its members' request ids (each its own request workflow).
        chunk_size: Members erased together in one transaction (one statement per collection).
            Their answers are kept in the ledger (``batch_answers``), not carried through the
            batch workflow, so its size is bounded by the store's transaction, not by what a
            workflow task can decode (batches started before that decoded every receipt in
            one workflow task and used 250 to stay inside Temporal's 2 s deadlock timeout).
        quiet_s: How long the batch waits for more members to become ready before erasing the
            ones that are (a member at a gate or on hold must not hold up the others).
    """

    batch_id: str
    request_ids: list[str]
    chunk_size: int = CHUNK_SIZE
    quiet_s: float = 5.0


@dataclass(frozen=True)
class SealInput:
    """Identities to seal under a request's own data key (personal data, encrypted payload)."""

    request_id: str
    identities: list[Identity]


@dataclass(frozen=True)
class Sealed:
    """``KEY_ID:BASE64``: AES-256-GCM under the request's data key, the request id as AAD."""

    sealed: str


@dataclass(frozen=True)
class MemberReady:
    """A member request's signal: this store waits for the batch (no personal data in clear).

    Attributes:
        request_id: The member.
        store: The store as the member planned it (its retry options apply to the batch's work).
        sealed: The member's resolved identities, sealed under its own key (``Sealed``).
        expect: How many ``batch_erase`` stores the member will report (the batch is done with
            a member once all of them were erased, or the member said it finished).
        catalog_digest: The catalog digest the member was planned under.
    """

    request_id: str
    store: StorePlan
    sealed: str
    expect: int = 1
    catalog_digest: str | None = None


@dataclass(frozen=True)
class MemberFinished:
    """A member request ended before reporting all its batch stores (denied, cancelled...)."""

    request_id: str


@dataclass(frozen=True)
class SealedMember:
    """One member of a chunk: its request id and sealed identities."""

    request_id: str
    sealed: str


@dataclass(frozen=True)
class BatchChunkInput:
    """Input of ``erase_batch``: one store, one chunk of members."""

    batch_id: str
    store: str
    members: list[SealedMember]
    catalog_digest: str | None = None


@dataclass(frozen=True)
class MemberResult:
    """One member's own receipt and verification from a chunk's set-based erasure."""

    request_id: str
    receipt: StoreReceipt
    verification: VerifyReceipt
    tag: str = ""
    """HMAC of the receipt and verification under the member's own data key (``result_tag``)."""


@dataclass(frozen=True)
class BatchChunkResult:
    """Result of ``erase_batch``.

    Attributes:
        store: The store.
        results: One per member, in the chunk's order (only from workers before ``kept``:
            replayed batches may hold them).
        fallback: The store cannot be erased in batches after all (e.g. a foreign key the
            catalog does not cover): each member erases it on its own, as a lone request would.
        kept: Every member's answer is kept in the ledger (``batch_answers``) for her to read.
    """

    store: str
    results: list[MemberResult] = field(default_factory=list)
    fallback: bool = False
    kept: bool = False


@dataclass(frozen=True)
class BatchStoreResult:
    """The batch's answer to one member for one store (a signal; counts only).

    Exactly one of: ``kept`` (the receipt and verification are in the ledger: read them with
    ``check_batch_result``); a receipt with its verification (batches before ``kept``);
    ``fallback`` (erase it yourself); an error (the batch's work failed for good: the store
    waits for a person, whose retry erases it per subject).
    """

    store: str
    receipt: StoreReceipt | None = None
    verification: VerifyReceipt | None = None
    fallback: bool = False
    error_type: str | None = None
    error: str | None = None
    tag: str = ""
    """``MemberResult.tag``: the member checks it (``check_batch_result``) before trusting the
    receipt, so a signal forged from outside the batch is not taken as an erasure."""
    kept: bool = False


@dataclass(frozen=True)
class BatchResultCheck:
    """Input of ``check_batch_result``: a member's request id and the batch's answer."""

    request_id: str
    result: BatchStoreResult


@dataclass(frozen=True)
class BatchResultChecked:
    """Whether the answer's tag is the one only the batch's activity could compute.

    For a ``kept`` answer, also the member's receipt and verification read from the ledger
    (None when nothing valid was kept for her).
    """

    valid: bool
    receipt: StoreReceipt | None = None
    verification: VerifyReceipt | None = None


@dataclass(frozen=True)
class BatchView:
    """What the batch workflow answers a query with (counts and request ids only)."""

    batch_id: str
    members: int
    done: int
    erased: int
    fallbacks: int
    failed: int

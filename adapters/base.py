"""The adapter contract (v1; see ``docs/writing-an-adapter.md``).

An adapter is a class that satisfies the ``Adapter`` protocol: it declares what it can do
(``capabilities``), validates its own part of the catalog (``config_model``), and answers a few
verbs for one subject at a time. It returns receipts with counts and a digest of the operation
template it used, never the personal data itself (except ``access``, which streams records to the
activity that encrypts them straight into the access package).

Errors are typed so the orchestrator knows what to do: ``RetryableAdapterError`` (try again later:
timeouts, lock conflicts), ``PermanentAdapterError`` (a human must fix something: bad credentials,
missing table) and ``NotSupportedError`` (this store cannot do that verb; recorded, not hidden).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import rfc8785
from pydantic import BaseModel

from dsrflow.domain import CollectionCount, Identity, ProcessorReceipt
from dsrflow.identity import DEFAULT_KINDS, IdentityKinds
from dsrflow.sweeps import SweepReport


class Capability(StrEnum):
    """A verb an adapter may support."""

    ACCESS = "access"
    ERASE = "erase"
    VERIFY = "verify"
    RECTIFY = "rectify"
    RESTRICT = "restrict"
    RESOLVE_IDENTITIES = "resolve_identities"
    SWEEP = "sweep"


class AdapterError(Exception):
    """Base of every error an adapter raises on purpose.

    The message must not contain personal data: it ends up in the ledger and, encrypted, in
    Temporal history. Name the store, table and column, not the values.
    """

    retryable: ClassVar[bool] = False
    kind: ClassVar[str] = "AdapterError"


class RetryableAdapterError(AdapterError):
    """A transient failure (timeout, deadlock, connection reset): the call may be retried."""

    retryable = True
    kind = "RetryableStoreError"


class PermanentAdapterError(AdapterError):
    """A failure that retrying will not fix (bad credentials, missing table, bad config)."""

    kind = "PermanentStoreError"


class NotSupportedError(AdapterError):
    """The store cannot perform the requested verb."""

    kind = "NotSupported"


@dataclass(frozen=True)
class Subject:
    """The identifiers of one data subject, grouped by kind (personal data).

    Attributes:
        identities: identity kind -> normalised values, e.g. ``{"email": ("a@b.c",)}``.
        request_id: The request this call serves, when the caller knows it. Adapters that
            forward requests to someone else (OpenDSR) derive their idempotent request id from
            it; without it they fall back to one derived from the identities.

    """

    identities: Mapping[str, tuple[str, ...]]
    request_id: str | None = None

    @classmethod
    def of(cls, identities: list[Identity], request_id: str | None = None) -> Subject:
        """Group a flat identity list by kind, de-duplicated and sorted for determinism."""
        grouped: dict[str, set[str]] = {}
        for ident in identities:
            grouped.setdefault(ident.kind, set()).add(ident.value)
        return cls({k: tuple(sorted(v)) for k, v in sorted(grouped.items())}, request_id)

    def values(self, kind: str) -> tuple[str, ...]:
        """The values of one kind (empty when the subject has none)."""
        return self.identities.get(kind, ())

    def __repr__(self) -> str:  # never print identifiers by accident
        return f"Subject(kinds={sorted(self.identities)})"


@dataclass(frozen=True)
class Record:
    """One record of the subject's data, as returned by ``access`` (personal data)."""

    collection: str
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"Record(collection={self.collection!r}, fields={sorted(self.data)})"


@dataclass(frozen=True)
class OperationReceipt:
    """What a verb did: counts per collection and a digest of the operation templates.

    For ``erase``, ``matched`` is the rows found before and ``affected`` the rows changed; for
    ``verify``, ``matched`` is the residual: rows that still hold the subject's data.
    ``processor_receipts`` carries the signed statements of processors the request was forwarded
    to (OpenDSR), for the evidence bundle.
    """

    action: str
    matched: int
    affected: int
    operation_digest: str
    collections: list[CollectionCount] = field(default_factory=list)
    processor_receipts: list[ProcessorReceipt] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """One check of ``check_connection`` / ``dsrflow stores test``."""

    name: str
    ok: bool
    detail: str = ""
    warning: bool = False
    """Passed, but a person should look (``stores test`` prints WARN)."""


@dataclass(frozen=True)
class CheckReport:
    """Result of ``check_connection``."""

    store: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)


@dataclass(frozen=True)
class AdapterContext:
    """What the composition root gives every adapter instance.

    Attributes:
        store: The store's name in the catalog.
        base_dir: The catalog file's folder; relative paths in store config resolve against it.
        env: Environment to resolve ``*_env`` secret references from (never read os.environ
            directly).
        identity_kinds: The catalog's identity kinds: match mode per kind, strong kinds and the
            default phone country code.

    """

    store: str
    base_dir: Path
    env: Mapping[str, str]
    identity_kinds: IdentityKinds = DEFAULT_KINDS
    locate: Callable[[tuple[str | int, ...]], str | None] | None = None
    """``FILE:LINE`` of a field of this store's catalog entry (path under the entry), if known."""

    def where(self, *path: str | int) -> str:
        """``"FILE:LINE: "`` of a field of this store's catalog entry, or ``""`` when unknown.

        Errors found online (a column the table lacks) name the catalog line to fix, as
        ``catalog validate`` does for what it can check offline.
        """
        found = self.locate(path) if self.locate is not None else None
        return f"{found}: " if found else ""

    def secret(self, var: str, what: str) -> str:
        """Resolve a secret by env-var name.

        Raises:
            PermanentAdapterError: The variable is not set.

        """
        value = self.env.get(var)
        if value is None:
            raise PermanentAdapterError(f"store {self.store!r}: {what} env var {var} is not set")
        return value


Progress = Callable[[int], None]
"""Called by long-running verbs with a running count so the activity can heartbeat."""


@runtime_checkable
class Adapter(Protocol):
    """The contract every store adapter satisfies.

    Two optional class-level hooks: ``human_task = True`` marks an adapter whose verbs a person
    performs (the workflow opens a human task instead of calling it), and a classmethod
    ``capabilities_for(config)`` narrows ``capabilities`` per store when they depend on config.
    A classmethod ``identity_kinds_used(config)`` returns ``(path, kind, provides)`` for every
    identity kind the config names (path under the store entry), so the catalog loader rejects
    unknown kinds with file and line.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    config_model: ClassVar[type[BaseModel]]

    @classmethod
    def create(cls, config: BaseModel, ctx: AdapterContext) -> Self:
        """Build an instance from validated config; must not connect yet."""
        ...

    def check_connection(self) -> CheckReport:
        """Connect and check that every declared table/column/key exists and is usable."""
        ...

    def access(self, subject: Subject) -> Iterator[Record]:
        """Stream every record the store holds about the subject."""
        ...

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Erase (or anonymise, per the catalog) the subject's data; idempotent.

        Adapters that can also accept keyword-only ``on_commit`` (a callable taking the
        ``OperationReceipt``, called inside the transaction just before it commits; if it
        raises, nothing commits) and ``dry_run`` (run everything, then roll back) declare them
        with the class attributes ``supports_on_commit = True`` / ``supports_dry_run = True``.
        """
        ...

    def verify(self, subject: Subject) -> OperationReceipt:
        """Count what is left of the subject after erasure (``matched`` = residual)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class SweepBudget:
    """Bounds of one residual sweep (the catalog can raise them per store).

    Attributes:
        statement_timeout_s: Per-statement timeout; a column that times out is named in
            ``not_swept``, never silently skipped.
        max_rows: Tables with more rows than this are not swept (named in ``not_swept``).
        max_bytes: Files larger than this are not read (named in ``not_swept``).
        max_keys: Redis keys scanned at most.
        free_text_min_length: Text columns at least this long (declared length) are searched by
            substring, not only equality.
        free_text: More ``table.column`` free-text columns (searched by substring whatever
            their declared type), from the store's ``sweep.free_text``.
    """

    statement_timeout_s: float = 30.0
    max_rows: int = 10_000_000
    max_bytes: int = 50_000_000
    max_keys: int = 10_000_000
    free_text_min_length: int = 256
    free_text: tuple[str, ...] = ()


@runtime_checkable
class Sweeper(Protocol):
    """Optional verb, declared with ``Capability.SWEEP``: the independent residual sweep.

    Searches the whole store (not only what the catalog maps) for the subject's strong
    identifiers by a path independent of ``access``/``erase``/``verify``, and reports locations
    and counts only. ``exclude`` lists what the caller accounts for elsewhere (rows the access
    package holds, kept-by-policy collections, pointer rows of other people).
    """

    def sweep(
        self,
        subject: Subject,
        budget: SweepBudget,
        *,
        after: str = "erasure",
        progress: Progress | None = None,
    ) -> SweepReport:
        """Sweep the store; ``after`` is ``erasure`` or ``access``; ``progress`` heartbeats."""
        ...


@runtime_checkable
class IdentityResolver(Protocol):
    """Optional verb, declared with ``Capability.RESOLVE_IDENTITIES``."""

    def resolve_identities(self, subject: Subject) -> list[Identity]:
        """Identifiers other stores key on (e.g. e-mail -> customer id), as new identities."""
        ...


@runtime_checkable
class Rectifier(Protocol):
    """Optional verb (GDPR Art. 16), declared with ``Capability.RECTIFY``."""

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """Set the given logical fields to the given values wherever the store holds them.

        ``changes`` maps the catalog's logical field names (e.g. ``full_name``) to new values;
        fields the store does not hold are ignored and not counted.
        """
        ...


@runtime_checkable
class Restrictor(Protocol):
    """Optional verb (GDPR Art. 18), declared with ``Capability.RESTRICT``."""

    def restrict(self, subject: Subject) -> OperationReceipt:
        """Mark the subject's data as restricted (kept, not processed) where the store can."""
        ...


def operation_digest(templates: list[str] | dict[str, Any]) -> str:
    """Digest of the operation templates an adapter ran (statements with placeholders, no values).

    Canonical JSON (RFC 8785) so that the same templates always give the same digest.
    """
    return "sha256:" + hashlib.sha256(rfc8785.dumps(templates)).hexdigest()

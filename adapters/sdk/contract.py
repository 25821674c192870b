"""The adapter contract (v1; see ``docs/writing-an-adapter.md``).

An adapter is a class that satisfies ``Adapter``: it names itself (``name``, ``version``),
declares the verbs it performs (``capabilities``), validates its own part of the catalog
(``config_model``) and checks its store (``check_connection``). Each verb it declares is a
method named like the capability, with the signature of the matching protocol below (``access``
for ``Capability.ACCESS``, ``sweep`` for ``Capability.SWEEP``...). When the adapter registers,
the declaration is checked against the methods the class has (``capabilities.describe``).

Verbs return receipts with counts and a digest of the operation templates used, never the
personal data itself (except ``access``, which streams records to the activity that encrypts
them straight into the access package).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

from dsrflow.adapters.sdk.context import Progress
from dsrflow.adapters.sdk.receipts import CheckReport, OperationReceipt
from dsrflow.adapters.sdk.subject import Identity, Record, Subject
from dsrflow.adapters.sdk.sweeps import SweepBudget, SweepReport

if TYPE_CHECKING:  # the SDK itself never imports pydantic; a config model is one
    from pydantic import BaseModel


class Capability(StrEnum):
    """A verb an adapter may declare; its method has the same name."""

    ACCESS = "access"
    ERASE = "erase"
    VERIFY = "verify"
    RECTIFY = "rectify"
    RESTRICT = "restrict"
    RESOLVE_IDENTITIES = "resolve_identities"
    SWEEP = "sweep"


class Adapter(Protocol):
    """What every store adapter has, whatever verbs it declares.

    Optional class-level hooks (read once, when the adapter registers; see
    ``capabilities.AdapterSpec``):

    - ``create(config, ctx)`` classmethod: builds an instance; without one the registry calls
      ``cls(config, ctx)``. Either way it must not connect yet.
    - ``human_task = True``: a person performs the verbs (the workflow opens a human task).
    - ``capabilities_for(config)`` classmethod: narrows ``capabilities`` per store.
    - ``identity_kinds_used(config)`` classmethod: ``(path, kind, provides)`` for every
      identity kind the config names (path under the store entry), so the catalog loader rejects
      unknown kinds with file and line.
    - ``store_kind(config)`` classmethod: what the store is (``postgresql``), for evidence.
    - ``access_digest(subject)``: the access receipt's operation digest.
    - ``supports_on_commit`` / ``supports_dry_run = True``: ``erase`` takes the keyword
      ``on_commit`` / ``dry_run`` (see ``Eraser``).
    - ``sweep_uses_all_identities = True``: ``sweep`` gets every identity, not the strong ones.
    - ``dry_run_store(subject, *, erase, budget)``: a whole-store dry run for ``stores test``.
    - ``supports_erase_many = True``: the adapter erases many subjects at once, set-based
      (``BatchEraser``); ``erase_many_for(config)`` classmethod narrows it per store. Not a
      ``Capability``: it is how ``erase`` is carried out, not a verb of its own, and the evidence
      inventory lists verbs only.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    config_model: ClassVar[type[BaseModel]]

    def check_connection(self) -> CheckReport:
        """Connect and check that every declared table/column/key exists and is usable."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Accessor(Protocol):
    """``Capability.ACCESS``."""

    def access(self, subject: Subject) -> Iterator[Record]:
        """Stream every record the store holds about the subject."""
        ...


class Eraser(Protocol):
    """``Capability.ERASE``."""

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Erase (or anonymise, per the catalog) the subject's data; idempotent.

        Adapters that can also accept keyword-only ``on_commit`` (a callable taking the
        ``OperationReceipt``, called inside the transaction just before it commits; if it
        raises, nothing commits) and ``dry_run`` (run everything, then roll back) declare them
        with the class attributes ``supports_on_commit = True`` / ``supports_dry_run = True``.
        """
        ...


class Verifier(Protocol):
    """``Capability.VERIFY``."""

    def verify(self, subject: Subject) -> OperationReceipt:
        """Count what is left of the subject after erasure (``matched`` = residual)."""
        ...


class Rectifier(Protocol):
    """``Capability.RECTIFY`` (GDPR Art. 16)."""

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """Set the given logical fields to the given values wherever the store holds them.

        ``changes`` maps the catalog's logical field names (e.g. ``full_name``) to new values;
        fields the store does not hold are ignored and not counted.
        """
        ...


class Restrictor(Protocol):
    """``Capability.RESTRICT`` (GDPR Art. 18)."""

    def restrict(self, subject: Subject) -> OperationReceipt:
        """Mark the subject's data as restricted (kept, not processed) where the store can."""
        ...


class IdentityResolver(Protocol):
    """``Capability.RESOLVE_IDENTITIES``."""

    def resolve_identities(self, subject: Subject) -> list[Identity]:
        """Identifiers other stores key on (e.g. e-mail -> customer id), as new identities."""
        ...


class Sweeper(Protocol):
    """``Capability.SWEEP``: the independent residual sweep.

    Searches the whole store (not only what the catalog maps) for the subject's strong
    identifiers by a path independent of ``access``/``erase``/``verify``, and reports locations
    and counts only. Hits the catalog accounts for elsewhere (rows the access package holds,
    kept-by-policy collections, pointer rows of other people) go in the report's ``excluded``.
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


class BatchEraser(Protocol):
    """``supports_erase_many = True``: many subjects' erasure coalesced into set-based work.

    The orchestrator still keeps one request (and one evidence record) per subject, so both
    methods answer per subject, in the order given: ``erase_many`` one ``OperationReceipt`` per
    subject (its own counts, as ``erase`` would give), ``verify_many`` one residual receipt per
    subject, read by a path independent of the erasing statements.
    """

    def erase_many(
        self,
        subjects: Sequence[Subject],
        progress: Progress | None = None,
        *,
        on_commit: Callable[[list[OperationReceipt]], None] | None = None,
    ) -> list[OperationReceipt]:
        """Erase every subject's data in one transaction; one receipt per subject.

        ``on_commit`` gets the receipts inside the transaction, just before it commits; if it
        raises, nothing commits (as ``Eraser.erase``'s). Raises ``NotSupportedError`` when this
        store cannot be erased set-based after all (the orchestrator then erases per subject).
        """
        ...

    def verify_many(self, subjects: Sequence[Subject]) -> list[OperationReceipt]:
        """What is left of each subject (``matched`` = residual), one receipt per subject."""
        ...


VERB_PROTOCOLS: Mapping[Capability, type] = {
    Capability.ACCESS: Accessor,
    Capability.ERASE: Eraser,
    Capability.VERIFY: Verifier,
    Capability.RECTIFY: Rectifier,
    Capability.RESTRICT: Restrictor,
    Capability.RESOLVE_IDENTITIES: IdentityResolver,
    Capability.SWEEP: Sweeper,
}
"""The protocol of each capability's verb (its one method is named like the capability)."""

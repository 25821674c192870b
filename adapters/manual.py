"""The manual adapter: a store without an API, where a person does the work.

Example::

    paper-archive:
      adapter: manual
      instructions: >
        Find the customer's folder in cabinet B by customer number, shred it, and note the
        shredding certificate number in the task.
      assignee_role: analyst
      verbs: [erase]

The adapter performs no I/O. Its class says ``human_task = True``; the workflow sees that and,
instead of calling a verb, opens a human task (store state ``waiting_for_human``) carrying the
instructions, which a person with ``assignee_role`` completes. The store's capabilities are the
``verbs`` the person performs, so a request for any other verb is recorded as ``not_supported``.
There is no ``verify``: the person's attested completion is the store's verification.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from dsrflow.adapters.sdk import (
    AdapterContext,
    Capability,
    Check,
    CheckReport,
    NotSupportedError,
    OperationReceipt,
    Progress,
    Record,
    Subject,
)

Verb = Literal["access", "erase", "rectify", "restrict"]


class ManualConfig(BaseModel):
    """A store handled by a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instructions: str = Field(min_length=10, description="What the person must do, and where.")
    assignee_role: str | None = Field(
        None, description="Role expected to do it (e.g. analyst); anyone with the task if unset."
    )
    verbs: list[Verb] = Field(default_factory=lambda: list[Verb](["erase"]), min_length=1)
    evidence: str | None = Field(
        None, description="What the person records on completion (e.g. a certificate number)."
    )


class ManualAdapter:
    """A human task marker: no I/O; every verb is performed by a person."""

    name = "manual"
    version = "0.1.0"
    #: Everything a person could be asked to do; ``capabilities_for`` narrows it per store.
    capabilities = frozenset(
        {Capability.ACCESS, Capability.ERASE, Capability.RECTIFY, Capability.RESTRICT}
    )
    config_model = ManualConfig
    human_task: ClassVar[bool] = True

    def __init__(self, config: ManualConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.store = ctx.store

    @classmethod
    def create(cls, config: ManualConfig, ctx: AdapterContext) -> Self:
        """Build the marker; nothing to connect to."""
        return cls(config, ctx)

    @classmethod
    def capabilities_for(cls, config: ManualConfig) -> frozenset[Capability]:
        """The verbs this store's person performs (the catalog records these)."""
        return frozenset(Capability(v) for v in config.verbs)

    def check_connection(self) -> CheckReport:
        """Nothing to connect to: report what the person is asked to do."""
        role = self.config.assignee_role or "any role"
        return CheckReport(
            self.store,
            [Check("human task", True, f"{', '.join(self.config.verbs)} by {role}")],
        )

    def _not_here(self, verb: str) -> NotSupportedError:
        return NotSupportedError(
            f"store {self.store!r} is a manual store: a person performs {verb} through a "
            "human task; the adapter is never called for it"
        )

    def access(self, subject: Subject) -> Iterator[Record]:
        """Not called: the workflow opens a human task instead."""
        raise self._not_here("access")

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Not called: the workflow opens a human task instead."""
        raise self._not_here("erase")

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """Not called: the workflow opens a human task instead."""
        raise self._not_here("rectify")

    def restrict(self, subject: Subject) -> OperationReceipt:
        """Not called: the workflow opens a human task instead."""
        raise self._not_here("restrict")

    def close(self) -> None:
        """Nothing to release."""

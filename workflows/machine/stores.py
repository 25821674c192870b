"""The stores of one request: their outcomes, legal transitions, readiness and decisions.

Pure: no Temporal import, no I/O. The request machine owns one ``StoreTable``; the workflow
reads it to know which store may start and writes each step's result into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dsrflow.domain import Identity, Plan, StoreOutcome, StorePlan, StoreReceipt, StoreStatus
from dsrflow.lifecycle import StoreDecision
from dsrflow.workflows.machine.rules import STUCK, Refused

S = StoreStatus
NEXT: dict[StoreStatus, frozenset[StoreStatus]] = {
    S.PENDING: frozenset(
        {
            S.RUNNING,
            S.CANCELLED,
            S.EXEMPT,
            S.NOT_SUPPORTED,
            S.WAITING_FOR_HUMAN,
            S.SKIPPED,
            S.FAILED_NEEDS_ATTENTION,
        }
    ),
    S.RUNNING: frozenset(
        {S.DONE, S.NOT_FOUND, S.FAILED_NEEDS_ATTENTION, S.INCOMPLETE, S.CANCELLED}
    ),
    # A failed identity source goes back to pending when retried; a failed store re-runs.
    S.FAILED_NEEDS_ATTENTION: frozenset({S.PENDING, S.RUNNING, S.SKIPPED, S.EXEMPT, S.CANCELLED}),
    S.INCOMPLETE: frozenset({S.RUNNING, S.SKIPPED, S.CANCELLED}),
    S.WAITING_FOR_HUMAN: frozenset({S.DONE, S.NOT_FOUND, S.SKIPPED, S.EXEMPT, S.CANCELLED}),
}
"""Where each store state may go; end states go nowhere."""


class IllegalTransition(Refused):
    """A store was asked to move to a state its current one does not lead to."""


@dataclass
class StoreTable:
    """Every store in scope of one request, and what people decided about stuck ones.

    Attributes:
        plan: The planned inventory (None until planning ran).
        outcomes: Each store's state, in the plan's order.
        identities: The subject's identifiers after resolution (exemptions restrict with them).
    """

    plan: Plan | None = None
    stores: dict[str, StorePlan] = field(default_factory=dict)
    outcomes: dict[str, StoreOutcome] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    decisions: dict[str, StoreDecision] = field(default_factory=dict)
    resume: dict[str, StoreReceipt] = field(default_factory=dict)
    """Receipts of verbs that succeeded while a later check failed: a retry resumes there."""
    resolved: dict[str, int] = field(default_factory=dict)
    """How many identifiers each identity source found (for warnings)."""
    warned: set[tuple[str, str]] = field(default_factory=set)
    dry_settled: set[str] = field(default_factory=set)
    """A dry run's stores that failed: nobody is asked, the failure is the answer."""

    def load(self, plan: Plan) -> None:
        """Take the planned inventory: every store starts ``pending``."""
        self.plan = plan
        self.stores = {s.name: s for s in plan.stores}
        self.outcomes = {
            s.name: StoreOutcome(store=s.name, adapter=s.adapter, status=StoreStatus.PENDING)
            for s in plan.stores
        }

    @property
    def digest(self) -> str | None:
        """The catalog digest the request was planned under."""
        return self.plan.catalog_digest if self.plan is not None else None

    def update(self, name: str, **changes: Any) -> StoreOutcome:
        """Change a store's outcome; a status change must follow ``NEXT``.

        Raises:
            IllegalTransition: The store cannot go from its status to the new one.
        """
        old = self.outcomes[name]
        new = replace(old, **changes)
        if new.status != old.status and new.status not in NEXT.get(old.status, frozenset()):
            raise IllegalTransition(f"store {name!r} cannot go from {old.status} to {new.status}")
        self.outcomes[name] = new
        return new

    def settled(self, name: str) -> bool:
        """Whether nothing more will happen in a store (a dry run's failures wait for nobody)."""
        return self.outcomes[name].status.terminal or name in self.dry_settled

    def ready(self, store: StorePlan) -> bool:
        """Whether every store this one runs ``after`` has settled (not level by level)."""
        return all(self.settled(d) for d in store.after if d in self.stores)

    def any_stuck(self) -> bool:
        """Whether a store waits for a person after a failure."""
        return any(o.status in STUCK for o in self.outcomes.values())

    def in_state(self, *states: StoreStatus) -> list[str]:
        """The stores in one of ``states``, in the plan's order."""
        return [n for n, o in self.outcomes.items() if o.status in states]

    def cancel_open(self) -> None:
        """Cancel every store that has not ended (a dry run's failures stay as they were)."""
        for name, outcome in self.outcomes.items():
            if name not in self.dry_settled and not outcome.status.terminal:
                self.update(name, status=StoreStatus.CANCELLED)

    # -- people's decisions on stuck stores ----------------------------------------------

    def check_decision(
        self, d: StoreDecision, kind: str, states: tuple[StoreStatus, ...], *, dry_run: bool
    ) -> None:
        """Refuse a decision the store is not waiting for."""
        if d.kind != kind:
            raise Refused(f"decision kind must be {kind!r}")
        if dry_run:
            raise Refused("this is a dry run: nothing waits for a decision (submit it for real)")
        outcome = self.outcomes.get(d.store)
        if outcome is None:
            raise Refused(f"store {d.store!r} is not part of this request")
        if outcome.status not in states or d.store in self.decisions:
            raise Refused(f"store {d.store!r} is {outcome.status}; cannot {kind} it now")

    def decide(self, d: StoreDecision) -> None:
        """Hold a person's decision until the store's coroutine takes it."""
        self.decisions[d.store] = d

    def decided(self, name: str) -> bool:
        """Whether a decision on the store waits to be taken."""
        return name in self.decisions

    def take_decision(self, name: str) -> StoreDecision | None:
        """The decision on a store, once (None: there is none, the request was cancelled)."""
        return self.decisions.pop(name, None)

    # -- identity resolution -------------------------------------------------------------

    def identity_sources(self) -> list[StorePlan]:
        """The stores that resolve identities, in the plan's order."""
        assert self.plan is not None
        return [
            s
            for s in self.plan.stores
            if s.identity_source and "resolve_identities" in s.capabilities
        ]

    def note_resolved(self, name: str, found: list[Identity]) -> None:
        """Remember how many identifiers a source found (the most over all hops)."""
        self.resolved[name] = max(self.resolved.get(name, 0), len(found))

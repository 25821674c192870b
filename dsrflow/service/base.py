"""What every use case shares: the runtime it acts through, authorisation and the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dsrflow.service.audit import AuditTrail
from dsrflow.service.categories import Category
from dsrflow.service.principal import DEFAULT_POLICY, Principal, authorise

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dsrflow.requests_client import RequestClient
    from dsrflow.runtime import Runtime


class UseCase:
    """Base of the use cases: validate, authorise, perform, audit, in one place.

    Subclasses call ``allow`` before touching anything and ``audit`` once the operation took
    effect; an edge (CLI, API, console) calls nothing else.
    """

    def __init__(
        self, rt: Runtime, *, policy: Mapping[str, frozenset[str]] = DEFAULT_POLICY
    ) -> None:
        self.rt = rt
        self.policy = policy

    def allow(self, principal: Principal | None, use_case: str) -> Principal:
        """Authorise ``principal`` for ``use_case`` (see ``principal.DEFAULT_POLICY``)."""
        return authorise(principal, use_case, self.policy)

    def audit(
        self,
        principal: Principal,
        action: str,
        category: Category,
        request_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Write the use case's audit entry."""
        AuditTrail(self.rt.ledger).record(principal, action, category, request_id, **detail)

    async def requests(self) -> RequestClient:
        """A connected request client (Temporal)."""
        from dsrflow.requests_client import RequestClient

        return RequestClient(await self.rt.client(), self.rt.settings.task_queue)

"""Each person's decision on a request, as a validated, authorised and audited Temporal update.

The workflow's own validators have the last word (a decision the request's state does not allow
is refused there, with its reason); here the input is checked as data, the principal's roles
against the decision, and the audit entry is written once the workflow accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dsrflow.errors import UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.lifecycle import UpdateAck
    from dsrflow.requests_client import RequestClient
    from dsrflow.service.principal import Principal

TASK_OUTCOMES = ("done", "not_found")


@dataclass(frozen=True)
class DecisionInput:
    """What a person decided, as typed (unchecked strings).

    Attributes:
        update: The decision: verify_identity, approve, deny, extend, cancel, hold, release,
            retry_store, skip_store, exempt_store or complete_task.
        request_id: The request.
        reason: Why (approve, cancel, hold, release, extend, store decisions); deny's note.
        method: verify_identity's check method; complete_task's disposal method.
        reference: verify_identity's ticket reference; complete_task's certificate reference.
        ground: deny's and exempt_store's legal ground.
        until: exempt_store's retention end date (YYYY-MM-DD).
        months: extend (GDPR).
        days: extend (CCPA).
        store: The store of a store decision.
        outcome: complete_task: done or not_found.
        attachment_digest: complete_task: sha256:<hex> of the certificate kept.
    """

    update: str
    request_id: str
    reason: str = ""
    method: str | None = None
    reference: str | None = None
    ground: str | None = None
    until: str | None = None
    months: int | None = None
    days: int | None = None
    store: str | None = None
    outcome: str | None = None
    attachment_digest: str | None = None


def _arg(actor: str, d: DecisionInput) -> object:
    """The workflow update's argument for a checked decision."""
    from dsrflow.lifecycle import Decision, Denial, ExtensionRequest, IdentityVerification

    if d.update == "verify_identity":
        method = checks.text(d.method, "--method", required=True)
        return IdentityVerification(method, actor, checks.text(d.reference, "--reference") or None)
    if d.update == "deny":
        ground = checks.text(d.ground, "--ground", required=True)
        return Denial(actor, ground, checks.text(d.reason, "--note"))
    if d.update == "extend":
        if (d.months is None) == (d.days is None):
            raise UserError("give one of --months (GDPR) or --days (CCPA)")
        unit, amount = ("months", d.months) if d.months is not None else ("days", d.days)
        assert amount is not None
        return ExtensionRequest(
            actor, checks.text(d.reason, "--reason", required=True), amount, unit
        )
    required = d.update in ("cancel", "hold")
    return Decision(actor, checks.text(d.reason, "--reason", required=required))


def _store_arg(actor: str, d: DecisionInput) -> object:
    from dsrflow.lifecycle import StoreDecision

    store = checks.name(d.store or "", "STORE")
    kind = {"retry_store": "retry", "skip_store": "skip", "exempt_store": "exempt"}.get(
        d.update, "complete"
    )
    if d.update == "skip_store":
        checks.text(d.reason, "--reason", required=True)
    fields: dict[str, str | None] = {"reason": checks.text(d.reason, "--reason")}
    if d.update == "exempt_store":
        fields["ground"] = checks.text(d.ground, "--ground", required=True)
        fields["until"] = checks.day(d.until, "--until")
    if d.update == "complete_task":
        fields = {
            "outcome": checks.one_of(d.outcome or "", TASK_OUTCOMES, "--outcome"),
            "method": checks.text(d.method, "--method") or None,
            "certificate_ref": checks.text(d.reference, "--certificate-ref") or None,
            "attachment_sha256": checks.text(d.attachment_digest, "--attachment-digest") or None,
        }
    return StoreDecision(store=store, actor=actor, kind=kind, **fields)  # type: ignore[arg-type]


REQUEST_DECISIONS = (
    "verify_identity", "approve", "deny", "extend", "cancel", "hold", "release",
)  # fmt: skip
STORE_DECISIONS = ("retry_store", "skip_store", "exempt_store", "complete_task")


class Decide(UseCase):
    """A person's decision on a request (one of ``REQUEST_DECISIONS`` or ``STORE_DECISIONS``).

    ``complete_task`` (a manual store's task closed, with its attestation) is one of them: the
    workflow records it as the store's verification.
    """

    def check(self, principal: Principal, d: DecisionInput) -> object:
        """Validate and authorise; the update's argument, carrying the principal as actor.

        Raises:
            NotAllowed: The principal's roles do not allow this decision.
            UserError: Bad input, naming the option.
        """
        checks.one_of(d.update, REQUEST_DECISIONS + STORE_DECISIONS, "decision")
        checks.request_id(d.request_id)
        self.allow(principal, d.update)
        if d.update in STORE_DECISIONS:
            return _store_arg(principal.actor, d)
        return _arg(principal.actor, d)

    async def run(
        self, principal: Principal, d: DecisionInput, rc: RequestClient | None = None
    ) -> UpdateAck:
        """Send the decision to the request's workflow; audit it once accepted.

        Raises:
            NotAllowed: Not allowed.
            UserError: Bad input, or the workflow refused (its reason, on one line).
        """
        arg = self.check(principal, d)
        rc = rc or await self.requests()
        ack = await rc.act(d.request_id, d.update, arg)
        detail = {"store": d.store} if d.update in STORE_DECISIONS else {}
        self.audit(principal, d.update, Category.DECISION, d.request_id, **detail)
        return ack

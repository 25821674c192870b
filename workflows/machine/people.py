"""People's actions on a request: when each is allowed (with the reason when not), its effect.

Pure: no Temporal import, no I/O. Each update of the workflow has a ``check`` (its validator:
a refused action tells the person why at once, and changes nothing) and an ``accept`` (applied
once the update is accepted; returns what to record). ``RequestMachine.check`` and
``RequestMachine.accept`` dispatch here by the update's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dsrflow.domain import RequestStatus, StoreStatus
from dsrflow.lifecycle import (
    Decision,
    Denial,
    ExtensionRequest,
    IdentityVerification,
    StoreDecision,
    due_date,
    extension_problem,
)
from dsrflow.workflows.machine.rules import Refused, check_attestation, need_actor

if TYPE_CHECKING:
    from dsrflow.workflows.machine.request import RequestMachine

S = RequestStatus


@dataclass(frozen=True)
class Act:
    """A person's accepted action, to record: who, what, the detail, and its effect.

    Attributes:
        status: The status the action moves the request to (None: unchanged).
    """

    actor: str
    action: str
    detail: str = ""
    store: str | None = None
    status: RequestStatus | None = None


def _expect(m: RequestMachine, status: RequestStatus, what: str) -> None:
    if m.status != status:
        raise Refused(f"request is {m.status}, not waiting for {what}")


def check_submit(m: RequestMachine, fp: str) -> None:
    """A retried submission must be the same request."""
    if fp != m.fingerprint:
        raise Refused(f"request id {m.inp.request_id} already names a different request")


# -- gates ------------------------------------------------------------------------------


def check_verify(m: RequestMachine, v: IdentityVerification, now: datetime) -> None:
    """Identity is verified while the request waits for it, by an accepted method."""
    _expect(m, S.AWAITING_VERIFICATION, "identity verification")
    assert m.policy is not None
    if v.method not in m.policy.verification_methods:
        raise Refused(
            f"method {v.method!r} is not accepted (use one of "
            f"{', '.join(m.policy.verification_methods)})"
        )
    need_actor(v.verifier)


def accept_verify(m: RequestMachine, v: IdentityVerification) -> Act:
    """Record the verification."""
    m.verified = v
    detail = f"method={v.method}" + (f" ref={v.reference}" if v.reference else "")
    return Act(v.verifier, "identity_verified", detail)


def check_approve(m: RequestMachine, d: Decision, now: datetime) -> None:
    """Approval while the request waits for it, once."""
    _expect(m, S.AWAITING_APPROVAL, "approval")
    if m.denied is not None or m.approved is not None or m.cancel is not None:
        raise Refused("the request was already decided")
    need_actor(d.actor)
    if m.four_eyes and m.verified is not None and same_person(m.verified.verifier, d.actor):
        raise Refused(
            f"four eyes: {d.actor} verified the identity; another person must approve the erasure"
        )


def same_person(a: str, b: str) -> bool:
    """Whether two actor names name one person (``staff:Ann`` is ``staff:ann``)."""
    return a.strip().casefold() == b.strip().casefold()


def accept_approve(m: RequestMachine, d: Decision) -> Act:
    """Record the approval."""
    m.approved = d
    return Act(d.actor, "approved", d.reason)


def check_deny(m: RequestMachine, d: Denial, now: datetime) -> None:
    """A denial before execution, citing its ground, unless already decided."""
    if m.executing or m.status.terminal:
        raise Refused(f"request is {m.status}; it can only be denied before execution")
    if m.denied is not None or m.approved is not None:
        raise Refused("the request was already " + ("denied" if m.denied else "approved"))
    need_actor(d.actor)
    if not d.ground.strip():
        raise Refused("a denial must cite its ground (e.g. 'Art. 12(5)(b)')")


def accept_deny(m: RequestMachine, d: Denial) -> Act:
    """Record the denial."""
    m.denied = d
    return Act(d.actor, "denied", f"{d.ground} {d.note}".strip())


# -- the request as a whole -------------------------------------------------------------


def check_extend(m: RequestMachine, e: ExtensionRequest, now: datetime) -> None:
    """One extension, before the original due date, with a reason, in the law's unit."""
    if m.status.terminal:
        raise Refused(f"request is {m.status}")
    need_actor(e.actor)
    if not e.reason.strip():
        raise Refused("an extension needs a reason (it is recorded and told to the subject)")
    problem = extension_problem(m.inp.regulation, e.amount, m.extended, now, m.original_due, e.unit)
    if problem:
        raise Refused(problem)


def accept_extend(m: RequestMachine, e: ExtensionRequest) -> Act:
    """Move the due date."""
    m.extended = True
    m.due_at = due_date(m.inp.received_at, m.inp.regulation, e.amount)
    return Act(e.actor, "deadline_extended", f"+{e.amount} {e.unit}: {e.reason}")


def check_hold(m: RequestMachine, d: Decision, now: datetime) -> None:
    """A legal hold on an open erasure, with a reason."""
    if not m.erasure:
        raise Refused("legal hold applies to erasure requests")
    if m.status.terminal or m.hold is not None:
        raise Refused(f"request is {m.status}{' and on hold' if m.hold else ''}")
    need_actor(d.actor)
    if not d.reason.strip():
        raise Refused("a legal hold needs a reason")


def accept_hold(m: RequestMachine, d: Decision) -> Act:
    """Put the hold in place; a running request shows it at once."""
    m.hold = d
    moved = S.ON_HOLD if m.status in (S.RUNNING, S.NEEDS_ATTENTION) else None
    return Act(d.actor, "hold", d.reason, status=moved)


def check_release(m: RequestMachine, d: Decision, now: datetime) -> None:
    """Release a hold that is in place."""
    if m.hold is None or m.status.terminal:
        raise Refused(f"request is {m.status} and not on hold")
    need_actor(d.actor)


def accept_release(m: RequestMachine, d: Decision) -> Act:
    """Lift the hold; a running request resumes."""
    m.hold = None
    moved = m.running_status() if m.status == S.ON_HOLD and m.executing else None
    return Act(d.actor, "released", d.reason, status=moved)


def check_cancel(m: RequestMachine, d: Decision, now: datetime) -> None:
    """A cancel while something is left to cancel."""
    if m.status.terminal or m.cancel is not None:
        raise Refused(f"request is already {m.status}")
    if m.finishing:
        raise Refused("every store has finished; the request is producing its result")
    need_actor(d.actor)


def accept_cancel(m: RequestMachine, d: Decision) -> Act:
    """Record the cancel (the coroutines waiting stop)."""
    m.cancel = d
    return Act(d.actor, "cancelled", d.reason)


# -- stuck stores -----------------------------------------------------------------------

_FAILED = (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)


def check_retry(m: RequestMachine, d: StoreDecision, now: datetime) -> None:
    """Run a failed store again (after someone fixed it)."""
    _decision(m, d, "retry", _FAILED)


def check_skip(m: RequestMachine, d: StoreDecision, now: datetime) -> None:
    """Move a stuck store on without acting in it, with a reason."""
    _decision(m, d, "skip", (*_FAILED, StoreStatus.WAITING_FOR_HUMAN))
    if not d.reason.strip():
        raise Refused("skipping a store needs a reason")


def check_exempt(m: RequestMachine, d: StoreDecision, now: datetime) -> None:
    """Exempt a stuck erasure store under an Art. 17(3) ground."""
    stuck = (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.WAITING_FOR_HUMAN)
    _decision(m, d, "exempt", stuck)
    if not m.erasure:
        raise Refused("exemptions apply to erasure requests")
    if not (d.ground or "").startswith("Art. 17(3)("):
        raise Refused("an exemption cites its Art. 17(3) ground, e.g. 'Art. 17(3)(b)'")


def check_complete(m: RequestMachine, d: StoreDecision, now: datetime) -> None:
    """Close a manual store's task: done (an erasure attested in fixed terms) or not found."""
    _decision(m, d, "complete", (StoreStatus.WAITING_FOR_HUMAN,))
    if d.outcome not in ("done", "not_found"):
        raise Refused("a task's outcome is 'done' or 'not_found'")
    if m.held():
        raise Refused("the request is on legal hold: nothing may be erased until released")
    attested = (d.method, d.certificate_ref, d.attachment_sha256) != (None, None, None)
    if d.outcome == "done" and m.erasure:
        check_attestation(d)
    elif attested:
        raise Refused("--method and --certificate-ref attest an erasure that was done")


def _decision(
    m: RequestMachine, d: StoreDecision, kind: str, states: tuple[StoreStatus, ...]
) -> None:
    need_actor(d.actor)
    m.stores.check_decision(d, kind, states, dry_run=m.dry_run)


def _accept_decision(m: RequestMachine, d: StoreDecision) -> Act:
    return m.decide(d)


CHECKS: dict[str, Callable[[RequestMachine, Any, datetime], None]] = {
    "verify_identity": check_verify,
    "approve": check_approve,
    "deny": check_deny,
    "extend": check_extend,
    "hold": check_hold,
    "release": check_release,
    "cancel": check_cancel,
    "retry_store": check_retry,
    "skip_store": check_skip,
    "exempt_store": check_exempt,
    "complete_task": check_complete,
}
"""Each people's update's check, by the workflow update's name."""
ACCEPTS: dict[str, Callable[[RequestMachine, Any], Act]] = {
    "verify_identity": accept_verify,
    "approve": accept_approve,
    "deny": accept_deny,
    "extend": accept_extend,
    "hold": accept_hold,
    "release": accept_release,
    "cancel": accept_cancel,
    "retry_store": _accept_decision,
    "skip_store": _accept_decision,
    "exempt_store": _accept_decision,
    "complete_task": _accept_decision,
}
"""Each people's update's effect, by the workflow update's name."""

"""People's decisions while a request runs: extend, hold, release, cancel, and store decisions.

Store decisions are retry, skip, exempt, and completing a manual task.

A mixin of ``DataSubjectRequestWorkflow`` (its state lives there). Each decision is a validated
update: a refused one tells the person why at once; an accepted one is recorded with who and
when, then acted on by the coroutines waiting in ``dsr.py`` and ``steps.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import RequestStatus, RequestType, StoreStatus
    from dsrflow.evidence import schemas
    from dsrflow.lifecycle import (
        Decision,
        ExtensionRequest,
        StoreDecision,
        UpdateAck,
        due_date,
        extension_problem,
    )
    from dsrflow.verify.schema import SchemaError, validate

from dsrflow.workflows.common import DSR_DUE

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

MAX_ACTOR = 120  # the ledger's actor column


class StoreDecisions(_Base):
    """Update handlers for the decisions people take while a request runs."""

    @workflow.update
    async def extend(self, e: ExtensionRequest) -> UpdateAck:
        """Extend the deadline once, before the original due date, with a recorded reason."""
        self._extended = True
        self._due_at = due_date(self._inp.received_at, self._inp.regulation, e.amount)
        workflow.upsert_search_attributes([DSR_DUE.value_set(self._due_at)])
        return await self._act(e.actor, "deadline_extended", f"+{e.amount} {e.unit}: {e.reason}")

    @extend.validator
    def _check_extend(self, e: ExtensionRequest) -> None:
        if self._status.terminal:
            raise ValueError(f"request is {self._status}")
        need_actor(e.actor)
        if not e.reason.strip():
            raise ValueError("an extension needs a reason (it is recorded and told to the subject)")
        problem = extension_problem(
            self._inp.regulation,
            e.amount,
            self._extended,
            workflow.now(),
            self._original_due,
            e.unit,
        )
        if problem:
            raise ValueError(problem)

    @workflow.update
    async def hold(self, d: Decision) -> UpdateAck:
        """Put the request under legal hold: erasure pauses until released."""
        self._hold = d
        if self._status in (RequestStatus.RUNNING, RequestStatus.NEEDS_ATTENTION):
            # Projected with the recorded action, once the update is durably accepted.
            await self._set_status(RequestStatus.ON_HOLD, project=not self._accepted_first())
        return await self._act(d.actor, "hold", d.reason)

    @hold.validator
    def _check_hold(self, d: Decision) -> None:
        if self._inp.request_type != RequestType.ERASURE:
            raise ValueError("legal hold applies to erasure requests")
        if self._status.terminal or self._hold is not None:
            raise ValueError(f"request is {self._status}{' and on hold' if self._hold else ''}")
        need_actor(d.actor)
        if not d.reason.strip():
            raise ValueError("a legal hold needs a reason")

    @workflow.update
    async def release(self, d: Decision) -> UpdateAck:
        """Release the legal hold."""
        self._hold = None
        if self._status == RequestStatus.ON_HOLD and self._executing:
            await self._set_status(self._running_status(), project=not self._accepted_first())
        return await self._act(d.actor, "released", d.reason)

    @release.validator
    def _check_release(self, d: Decision) -> None:
        if self._hold is None or self._status.terminal:
            raise ValueError(f"request is {self._status} and not on hold")
        need_actor(d.actor)

    @workflow.update
    async def cancel(self, d: Decision) -> UpdateAck:
        """Cancel: before execution everything stops; after, no further store starts."""
        self._cancel = d
        return await self._act(d.actor, "cancelled", d.reason)

    @cancel.validator
    def _check_cancel(self, d: Decision) -> None:
        if self._status.terminal or self._cancel is not None:
            raise ValueError(f"request is already {self._status}")
        if self._finishing:
            raise ValueError("every store has finished; the request is producing its result")
        need_actor(d.actor)

    @workflow.update
    async def retry_store(self, d: StoreDecision) -> UpdateAck:
        """Run a failed store again (after someone fixed it)."""
        return await self._decide(d)

    @retry_store.validator
    def _check_retry(self, d: StoreDecision) -> None:
        self._check_decision(
            d, "retry", (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)
        )

    @workflow.update
    async def skip_store(self, d: StoreDecision) -> UpdateAck:
        """Move a stuck store on without acting in it; the reason is recorded."""
        return await self._decide(d)

    @skip_store.validator
    def _check_skip(self, d: StoreDecision) -> None:
        stuck = (
            StoreStatus.FAILED_NEEDS_ATTENTION,
            StoreStatus.WAITING_FOR_HUMAN,
            StoreStatus.INCOMPLETE,
        )
        self._check_decision(d, "skip", stuck)
        if not d.reason.strip():
            raise ValueError("skipping a store needs a reason")

    @workflow.update
    async def exempt_store(self, d: StoreDecision) -> UpdateAck:
        """Exempt a store from erasure under Art. 17(3); its data is restricted, not erased."""
        return await self._decide(d)

    @exempt_store.validator
    def _check_exempt(self, d: StoreDecision) -> None:
        stuck = (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.WAITING_FOR_HUMAN)
        self._check_decision(d, "exempt", stuck)
        if self._inp.request_type != RequestType.ERASURE:
            raise ValueError("exemptions apply to erasure requests")
        if not (d.ground or "").startswith("Art. 17(3)("):
            raise ValueError("an exemption cites its Art. 17(3) ground, e.g. 'Art. 17(3)(b)'")

    @workflow.update
    async def complete_task(self, d: StoreDecision) -> UpdateAck:
        """Close a manual store's task: done (an erasure: how, which certificate) or not found."""
        return await self._decide(d)

    @complete_task.validator
    def _check_complete(self, d: StoreDecision) -> None:
        self._check_decision(d, "complete", (StoreStatus.WAITING_FOR_HUMAN,))
        if d.outcome not in ("done", "not_found"):
            raise ValueError("a task's outcome is 'done' or 'not_found'")
        if self._hold is not None and self._inp.request_type == RequestType.ERASURE:
            raise ValueError("the request is on legal hold: nothing may be erased until released")
        attested = (d.method, d.certificate_ref, d.attachment_sha256) != (None, None, None)
        if d.outcome == "done" and self._inp.request_type == RequestType.ERASURE:
            check_attestation(d)
        elif attested:
            raise ValueError("--method and --certificate-ref attest an erasure that was done")

    def _check_decision(self, d: StoreDecision, kind: str, states: tuple[StoreStatus, ...]) -> None:
        need_actor(d.actor)
        if d.kind != kind:
            raise ValueError(f"decision kind must be {kind!r}")
        if self._inp.dry_run:
            raise ValueError("this is a dry run: nothing waits for a decision (submit it for real)")
        outcome = self._outcomes.get(d.store)
        if outcome is None:
            raise ValueError(f"store {d.store!r} is not part of this request")
        if outcome.status not in states or d.store in self._decisions:
            raise ValueError(f"store {d.store!r} is {outcome.status}; cannot {kind} it now")

    async def _decide(self, d: StoreDecision) -> UpdateAck:
        self._decisions[d.store] = d
        detail = " ".join(x for x in (d.outcome, d.ground, d.until, d.reason) if x)
        return await self._act(d.actor, f"store_{d.kind}", detail, store=d.store)


def check_attestation(d: StoreDecision) -> None:
    """Refuse a manual erasure's completion that does not say how it was done, in fixed terms.

    The method comes from a fixed list, the certificate reference is a short token and the
    attachment a digest: no free text that could name the subject goes into the evidence.
    """
    if d.method not in schemas.DISPOSAL_METHODS:
        raise ValueError(
            f"say how the data was disposed of: --method {'|'.join(schemas.DISPOSAL_METHODS)}"
        )
    checks = (
        ("by", d.actor, "a manual erasure is attested by a person ('staff:<pseudonym>')"),
        ("certificate_ref", d.certificate_ref, "--certificate-ref: a reference such as "
         "SHRED-2026-0142 (letters, digits, . _ : / # -; no spaces, at most 80)"),
        ("attachment_sha256", d.attachment_sha256, "--attachment-digest: sha256:<64 hex digits>"),
    )  # fmt: skip
    for key, value, hint in checks:
        try:
            validate(value, schemas.ATTESTED["properties"][key], schemas.ATTESTED)
        except SchemaError:
            raise ValueError(hint) from None


def need_actor(actor: str) -> None:
    """Refuse an action without a well-formed actor (it is recorded in the audit history)."""
    if not actor or ":" not in actor or len(actor) > MAX_ACTOR:
        raise ValueError(
            f"say who acts, as 'staff:<pseudonym>' (at most {MAX_ACTOR} characters; "
            "it goes in the audit history)"
        )

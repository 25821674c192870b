"""Submitting a request: parse and check the subject's identifiers, start the workflow, audit."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import Unavailable, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.domain import DsrInput, FieldChange, Identity
    from dsrflow.identity import IdentityKinds
    from dsrflow.requests_client import RequestClient, Submitted
    from dsrflow.service.principal import Principal

DRY_RUN_TYPES = ("access", "export", "erasure")
REGULATIONS = ("gdpr", "ccpa")


def new_request_id(now: datetime | None = None) -> str:
    """An opaque request id: date plus randomness, never derived from personal data."""
    now = now or datetime.now(UTC)
    return f"dsr-{now:%Y%m%d}-{secrets.token_hex(4)}"


def parse_identities(
    email: list[str], identity: list[str], kinds: IdentityKinds | None = None
) -> list[Identity]:
    """Turn ``--email`` and ``--identity kind=value`` options into normalised identities.

    Args:
        email: ``--email`` values.
        identity: ``--identity KIND=VALUE`` values.
        kinds: The catalog's identity kinds (normalisers, default country code). With them, a
            kind the catalog does not know is refused; without, built-in rules apply.

    Raises:
        UserError: A malformed pair, an unknown kind, or a value that normalises to nothing
            (the value itself is never echoed).
    """
    from dsrflow.domain import Identity
    from dsrflow.identity import DEFAULT_KINDS, valid_kind

    registry = kinds or DEFAULT_KINDS

    pairs = [("email", e) for e in email]
    for i, item in enumerate(identity, 1):
        kind, sep, value = item.partition("=")
        if not valid_kind(kind):
            raise UserError(f"--identity #{i}: expected KIND=VALUE with a short lower-case kind")
        if not sep or not value.strip():
            raise UserError(f"--identity {kind}=...: expected KIND=VALUE")
        if kinds is not None and not kinds.known(kind):
            known = ", ".join(kinds.names())
            raise UserError(f"--identity: unknown identity kind {kind!r} (known: {known})")
        pairs.append((kind, value))
    if not pairs:
        raise UserError("give the subject's identifier: --email ADDRESS or --identity KIND=VALUE")
    ids = []
    for kind, value in pairs:
        label = "--email" if kind == "email" else f"--identity {kind}=..."
        checks.text(value, label)
        refuse_foreign_digits(registry, kind, value, label)
        norm = registry.normalize(kind, value)
        if kind == "email" and ("@" not in norm or norm.startswith("@") or norm.endswith("@")):
            raise UserError("--email: not an e-mail address")
        if not norm:
            raise UserError(f"{label}: no value left after normalising")
        ids.append(Identity(kind, norm))
    return list(dict.fromkeys(ids))


def refuse_foreign_digits(kinds: IdentityKinds, kind: str, value: str, label: str) -> None:
    """Refuse a phone number written with digits other than ASCII 0-9.

    The phone normaliser keeps only ASCII digits, in Python and in SQL alike (the SQL form
    cannot map every script's digits), so ``+44 20 7946 \u0660\u0661`` would lose its last digits
    and could match someone else's shorter number: the subject is asked to retype it instead.

    Raises:
        UserError: Names the option, never the value.
    """
    if kinds.mode(kind) != "phone":
        return
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        raise UserError(f"{label}: write the phone number with the digits 0-9")


def parse_changes(items: list[str]) -> list[FieldChange]:
    """``--set field=value`` options of a rectification request.

    Raises:
        UserError: Not FIELD=VALUE, or a field that is not a plain name.
    """
    from dsrflow.domain import FieldChange

    changes = []
    for i, item in enumerate(items, 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--set #{i}: expected FIELD=VALUE")
        checks.name(name.strip(), f"--set #{i}: field")
        checks.text(value, f"--set {name.strip()}=...")
        changes.append(FieldChange(name.strip(), value))
    return changes


@dataclass(frozen=True)
class SubmitCommand:
    """A submission as a person typed it (strings, unchecked)."""

    request_type: str
    email: list[str] = field(default_factory=list)
    identity: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    request_id: str | None = None
    case_ref: str | None = None
    regulation: str = "gdpr"
    dry_run: bool = False


class Submit(UseCase):
    """Submit a request: one durable workflow whose id is the request id (retry-safe)."""

    def check(self, principal: Principal, cmd: SubmitCommand) -> DsrInput:
        """Authorise, and validate a submission into the workflow's input (no Temporal contacted).

        Raises:
            NotAllowed: The principal may not submit.
            UserError: One line naming the option at fault.
        """
        from dsrflow.domain import DsrInput, RequestType

        self.allow(principal, "submit")
        kinds = tuple(t.value for t in RequestType)
        rtype = RequestType(checks.one_of(cmd.request_type, kinds, "--type"))
        checks.one_of(cmd.regulation, REGULATIONS, "--regulation")
        changes = parse_changes(cmd.changes)
        if (rtype == RequestType.RECTIFICATION) != bool(changes):
            raise UserError("--set FIELD=VALUE is required for rectification, and only for it")
        if cmd.dry_run and rtype not in DRY_RUN_TYPES:
            raise UserError(
                f"--dry-run: {rtype} cannot run as a dry run (access, export, erasure can)"
            )
        if cmd.case_ref is not None:
            checks.text(cmd.case_ref, "--case-ref", required=True)
        rid = checks.request_id(cmd.request_id) if cmd.request_id is not None else None
        return DsrInput(
            request_id=rid or new_request_id(),
            request_type=rtype,
            identities=parse_identities(cmd.email, cmd.identity, self._kinds()),
            received_at=datetime.now(UTC),
            regulation=cmd.regulation,
            case_ref=cmd.case_ref,
            changes=changes,
            dry_run=cmd.dry_run,
        )

    def _kinds(self) -> IdentityKinds | None:
        """The catalog's identity kinds, or None without a catalog file (built-in rules)."""
        if not self.rt.settings.catalog.exists():
            return None
        return self.rt.catalog.identity_kinds

    async def run(
        self, principal: Principal, inp: DsrInput, rc: RequestClient | None = None
    ) -> Submitted:
        """Start the request (or find the same submission already started); audit a creation.

        Raises:
            NotAllowed: The principal may not submit.
            UserError: Temporal refused (an ended or different request under this id).
        """
        from dsrflow.requests_client import SubmitRefused

        self.allow(principal, "submit")
        rc = rc or await self.requests()
        kept = await asyncio.to_thread(self._keep_contact, inp)
        indexed = await asyncio.to_thread(self._index_subject, inp)
        cased = await asyncio.to_thread(self._keep_case, inp)
        try:
            done = await self._start(rc, inp)
        except SubmitRefused:
            # Refused for certain: a contact kept for it must not stay behind under an id that
            # names someone else's request. (When the outcome is unknown, a timeout, the contact
            # stays for the retry the error asks for; `dsrflow purge` removes it if none comes.)
            if kept:
                from dsrflow.ledger import outbox

                await asyncio.to_thread(outbox.drop_contact, self.rt.ledger, inp.request_id)
            if indexed:  # only what this call added: the earlier request keeps its own
                from dsrflow.ledger import subjects

                await asyncio.to_thread(subjects.remove, self.rt.ledger, inp.request_id, indexed)
            if cased:
                from dsrflow.ledger import cases

                await asyncio.to_thread(cases.remove, self.rt.ledger, inp.request_id)
            raise
        if done.created:
            self.audit(
                principal, "submit", Category.DECISION, inp.request_id,
                type=str(inp.request_type), dry_run=inp.dry_run,
            )  # fmt: skip
        return done

    @staticmethod
    async def _start(rc: RequestClient, inp: DsrInput) -> Submitted:
        from temporalio.service import RPCError, RPCStatusCode

        from dsrflow.requests_client import SubmitRefused

        try:
            return await rc.submit(inp)
        except RPCError as exc:
            # Update-with-start on a closed workflow id comes back as a bare ALREADY_EXISTS.
            if exc.status == RPCStatusCode.ALREADY_EXISTS:
                raise SubmitRefused(
                    f"request {inp.request_id} already exists and has ended; not submitted again"
                ) from None
            if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                raise Unavailable(
                    f"request {inp.request_id}: Temporal did not answer ({exc.status.name})"
                ) from None
            raise UserError(
                f"request {inp.request_id}: Temporal refused the submission ({exc.status.name})"
            ) from None

    def _index_subject(self, inp: DsrInput) -> list[str]:
        """Index the request under the blind-index tokens of its subject's identifiers.

        Written before the workflow starts, like the contact, so a request is findable from
        the moment it exists (``request list --subject``). The identities are already
        normalised by the catalog's kinds, exactly as a search normalises what staff type.

        Returns:
            The tokens this call added (none when a retried submission indexed them already).
        """
        from dsrflow.ledger import subjects

        tokens = self.rt.journal.blind_index(inp.identities)
        return subjects.add(self.rt.ledger, inp.request_id, tokens)

    def _keep_case(self, inp: DsrInput) -> bool:
        """Record the case reference, so the console's inbox finds the request by it.

        Returns:
            Whether this call recorded it (False: none given, or kept by an earlier try).
        """
        from dsrflow.ledger import cases

        if not inp.case_ref:
            return False
        return cases.keep(self.rt.ledger, inp.request_id, inp.case_ref.strip())

    def _keep_contact(self, inp: DsrInput) -> bool:
        """Seal the subject's e-mail under the request's data key before Temporal sees it.

        Kept before the workflow starts, so the acknowledgement its first projection puts in
        the outbox finds it. A dry run sends the subject nothing, so keeps nothing.

        Returns:
            Whether this call stored it (False: no e-mail, a dry run, or already kept).
        """
        from dsrflow.crypto.keystore import KeyDestroyedError
        from dsrflow.messages import contact

        address = None if inp.dry_run else contact.email_of(inp.identities)
        if address is None:
            return False
        try:
            return contact.keep(self.rt.ledger, self.rt.keystore, inp.request_id, address)
        except KeyDestroyedError:  # a purged request's id: Temporal refuses the submit below
            return False

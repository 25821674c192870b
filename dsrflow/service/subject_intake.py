"""The privacy center's use cases: a data subject files a request, confirms it, follows it.

The subject signs in nowhere, so every use case acts as one service principal,
``system:privacy-center`` (role ``intake``): its submissions go through ``Submit`` and its
confirmations through ``Decide``, exactly as staff's do, and the audit log names it.

The confirmation link's token is minted when the ``verification`` message is rendered for
sending (``mint_link``, called by the sender): the outbox row never holds it and the ledger keeps
only its SHA-256, so a copy of the database cannot be turned into working links
(docs/privacy-center.md).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from dsrflow.errors import Unavailable, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.requests_client import RequestClient, Submitted
    from dsrflow.runtime import Runtime

log = structlog.get_logger("dsrflow.privacy")

PRIVACY_CENTER = Principal("system:privacy-center", frozenset({"intake"}))
"""Who the privacy center acts as (the subject has no account)."""
PUBLIC_TYPES = ("access", "export", "erasure", "restriction")
"""What a subject may ask for here. Rectification needs field-by-field changes: staff enter it."""
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{40,64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
RATE_LIMITED = "too many requests from here just now; please try again later"

# link and page states
OK, UNKNOWN, EXPIRED, USED, NOT_NEEDED = "ok", "unknown", "expired", "used", "not_needed"
GONE, REGISTERING = "gone", "registering"


class FieldProblem(UserError):
    """One form field is wrong (the message names the field, never echoes the value)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name


class RateLimited(UserError):
    """Too many submissions from one client address or for one e-mail address."""


@dataclass(frozen=True)
class IntakeForm:
    """The privacy center's form as the subject filled it in (strings, unchecked).

    Attributes:
        request_type: One of ``PUBLIC_TYPES``.
        email: The subject's address (required: the link goes there).
        name: Optional; sealed with the details, never sent to Temporal.
        regulation: gdpr or ccpa.
        details: Optional free text, sealed under the request's key.
        client: The client's address (for the rate limit; kept only as a keyed hash).
    """

    request_type: str
    email: str
    name: str = ""
    regulation: str = "gdpr"
    details: str = ""
    client: str = ""


def token_hash(token: str) -> str:
    """The hex SHA-256 a link is kept under (a 256-bit random token needs no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint_link(rt: Runtime, request_id: str, *, now: datetime | None = None) -> dict[str, str]:
    """A new verification link for ``request_id``; the template values that carry it.

    Keeps only the token's hash. Called by the sender for each attempt at the ``verification``
    message, so a retried message carries a fresh link (every one works until it expires).
    """
    from dsrflow.ledger import privacy

    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=rt.settings.intake.link_ttl_hours)
    privacy.save_link(rt.ledger, request_id, token_hash(token), expires)
    return {
        "verify_url": f"{rt.settings.intake.public_url}/privacy/verify/{token}",
        "link_expires_on": f"{expires:%d %B %Y %H:%M} UTC",
    }


def client_key(rt: Runtime, client: str) -> str:
    """A client address as the rate limit keeps it: its blind-index HMAC, never the IP."""
    from dsrflow.domain import Identity

    (key,) = rt.journal.blind_index([Identity("client", client or "?")])
    return key


def _one_line(value: str, name: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise FieldProblem(name, "required")
    if len(value) > limit:
        raise FieldProblem(name, f"at most {limit} characters")
    try:
        return checks.text(value, name)
    except UserError:
        raise FieldProblem(name, "one line of printable text, please") from None


def _details(value: str, limit: int) -> str:
    value = value.strip().replace("\r\n", "\n")
    if len(value) > limit:
        raise FieldProblem("details", f"at most {limit} characters")
    for line in value.split("\n"):
        try:
            checks.text(line.replace("\t", " "), "details")
        except UserError:
            raise FieldProblem("details", "printable text only, please") from None
    return value


class FileRequest(UseCase):
    """A subject files a request through the privacy center (rate limited, then ``Submit``)."""

    def check(self, form: IntakeForm) -> IntakeForm:
        """Validate the form; the cleaned form.

        Raises:
            FieldProblem: One field, named, with what is wrong (the value is never echoed).
        """
        from dsrflow.service.intake import REGULATIONS

        cfg = self.rt.settings.intake
        if form.request_type not in PUBLIC_TYPES:
            raise FieldProblem("type", f"choose one of {', '.join(PUBLIC_TYPES)}")
        email = _one_line(form.email, "email", cfg.email_max_chars, required=True)
        if not _EMAIL.fullmatch(email):
            raise FieldProblem("email", "this does not look like an e-mail address")
        if form.regulation not in REGULATIONS:
            raise FieldProblem("regulation", f"choose one of {', '.join(REGULATIONS)}")
        return IntakeForm(
            form.request_type, email, _one_line(form.name, "name", cfg.name_max_chars),
            form.regulation, _details(form.details, cfg.details_max_chars), form.client,
        )  # fmt: skip

    async def run(self, form: IntakeForm, rc: RequestClient | None = None) -> Submitted:
        """File the request; put its verification e-mail in the outbox.

        The answer the subject sees is the same whether or not the address filed before.

        Raises:
            FieldProblem: A field is wrong.
            RateLimited: Too many submissions from this client or for this address.
            Unavailable: Temporal did not answer.
        """
        from dsrflow.service.intake import Submit, SubmitCommand

        self.allow(PRIVACY_CENTER, "submit")
        form = self.check(form)
        self._limit(form)
        submit = Submit(self.rt, policy=self.policy)
        cmd = SubmitCommand(form.request_type, [form.email], regulation=form.regulation)
        try:
            inp = submit.check(PRIVACY_CENTER, cmd)
        except UserError:  # the address normalised to nothing, say
            raise FieldProblem("email", "this does not look like an e-mail address") from None
        done = await submit.run(PRIVACY_CENTER, inp, rc)
        if form.name or form.details:
            from dsrflow.service.intake_note import keep_note

            keep_note(self.rt, inp.request_id, name=form.name, details=form.details)
        self._queue_verification(form, done)
        log.info("privacy center request filed", request_id=inp.request_id)
        return done

    def _limit(self, form: IntakeForm) -> None:
        from dsrflow.domain import Identity
        from dsrflow.ledger import privacy

        cfg = self.rt.settings.intake
        now = datetime.now(UTC)
        since = now - timedelta(seconds=cfg.rate_window_s)
        (email,) = self.rt.journal.blind_index([Identity("email", form.email.lower())])
        keys = {
            f"client:{client_key(self.rt, form.client)}": cfg.rate_per_client,
            f"email:{email}": cfg.rate_per_email,
        }
        for key, most in keys.items():
            if privacy.attempts(self.rt.ledger, key, since) >= most:
                # One message for both limits: which one was hit would tell whether the
                # address filed recently.
                log.info("privacy center rate limited", limit=key.partition(":")[0])
                raise RateLimited(RATE_LIMITED)
        privacy.record_attempt(self.rt.ledger, keys, now, before=since)

    def _queue_verification(self, form: IntakeForm, done: Submitted) -> None:
        """Put the verification e-mail in the outbox (once per request: kind and seq 0).

        Written here rather than planned by the projection: only the privacy center's requests
        get one, and the projection cannot tell where a request came from.
        """
        from dsrflow.ledger import outbox
        from dsrflow.messages import kinds

        ack = done.ack
        context = {
            "request_type": form.request_type,
            "regulation": form.regulation,
            "received_at": ack.received_at.isoformat(),
            "due_at": ack.due_at.isoformat() if ack.due_at else "",
        }
        with self.rt.ledger.session() as s:
            outbox.enqueue(s, ack.request_id, [kinds.Planned(kinds.VERIFICATION, 0, context)])


@dataclass(frozen=True)
class LinkOutcome:
    """What following a verification link did.

    Attributes:
        state: ``ok`` (identity verified now), ``not_needed`` (the request was not waiting for
            it: verified already, or ended), ``unknown``, ``expired`` or ``used``.
        request_id: The link's request, when the link is known.
    """

    state: str
    request_id: str | None = None


class ConfirmByLink(UseCase):
    """The subject confirms a request with the e-mailed link: identity verified, ``email_link``."""

    def look(self, token: str) -> LinkOutcome:
        """What the link would do (read only: the GET page, which mail scanners prefetch)."""
        from dsrflow.ledger import privacy

        self.allow(PRIVACY_CENTER, "view")
        if not TOKEN_FORMAT.fullmatch(token):
            return LinkOutcome(UNKNOWN)
        row = privacy.link(self.rt.ledger, token_hash(token))
        state = privacy.state(row, datetime.now(UTC))
        return LinkOutcome(state, row.request_id if row else None)

    async def run(
        self, token: str, rc: RequestClient | None = None, *, client: str = ""
    ) -> LinkOutcome:
        """Use the link: claim it (once), then record the verification through ``Decide``.

        A refused attempt is audited (``verify_link_refused``, with why), never with the token,
        and counted against the client: past ``rate_per_client`` refusals in the window, the
        client is refused before any lookup (guessing links would also flood the audit log).

        Args:
            token: The link's token, as in its path.
            rc: A connected request client (None: connect when needed).
            client: The client's address (kept only as a keyed hash).

        Raises:
            RateLimited: Too many refused links from this client.
            Unavailable: Temporal did not answer (the link stays usable).
        """
        from dsrflow.ledger import privacy
        from dsrflow.service.decisions import Decide, DecisionInput

        self.allow(PRIVACY_CENTER, "verify_identity")
        cfg = self.rt.settings.intake
        now = datetime.now(UTC)
        since = now - timedelta(seconds=cfg.rate_window_s)
        key = f"link:{client_key(self.rt, client)}"
        if privacy.attempts(self.rt.ledger, key, since) >= cfg.rate_per_client:
            log.info("privacy center rate limited", limit="link")
            raise RateLimited(RATE_LIMITED)
        digest = token_hash(token) if TOKEN_FORMAT.fullmatch(token) else None
        got = privacy.claim_link(self.rt.ledger, digest, now) if digest else UNKNOWN
        row = privacy.link(self.rt.ledger, digest) if digest else None
        rid = row.request_id if row else None
        if got != OK:
            privacy.record_attempt(self.rt.ledger, [key], now, before=since)
            self._refused(rid, got)
            return LinkOutcome(got, rid)
        assert rid is not None
        decision = DecisionInput(
            "verify_identity", rid, method="email_link", reference="privacy-center-link"
        )
        try:
            await Decide(self.rt, policy=self.policy).run(PRIVACY_CENTER, decision, rc)
        except Unavailable:
            privacy.release_link(self.rt.ledger, digest or "")
            raise
        except UserError:  # the workflow refused: not awaiting verification (any more)
            self._refused(rid, "not awaiting verification")
            return LinkOutcome(NOT_NEEDED, rid)
        return LinkOutcome(OK, rid)

    def _refused(self, request_id: str | None, why: str) -> None:
        self.audit(PRIVACY_CENTER, "verify_link_refused", Category.SYSTEM, request_id, reason=why)
        log.info("verification link refused", request_id=request_id, reason=why)

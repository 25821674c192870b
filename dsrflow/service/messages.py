"""Use cases on the message outbox: send what is due, list what was sent, check the templates.

The worker runs ``SendPending`` on a schedule (``DSRFLOW_MESSAGES_SEND_INTERVAL_S``);
``dsrflow messages send-pending`` runs one round on demand. Every outcome (sent, failed, not
sent) is recorded on the outbox row and in the audit log; a retry is recorded on the row. No
address and no body ever reaches a log line, an audit entry or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from dsrflow.messages import kinds
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.ledger.models import OutboxMessageRow
    from dsrflow.messages.render import Rendered
    from dsrflow.messages.smtp import Delivery, Mailer
    from dsrflow.service.principal import Principal

log = structlog.get_logger("dsrflow.messages")

LEASE = timedelta(minutes=5)
"""How long a claimed message is reserved for the sender that claimed it."""
BATCH = 50
MAX_ROUNDS = 20
NO_SMTP = "no SMTP server configured (DSRFLOW_SMTP_HOST)"
NO_CONTACT = "no contact: the subject gave no e-mail address"
NO_STAFF = "no staff channel configured (DSRFLOW_MESSAGES_WEBHOOK_URL or _STAFF_EMAIL)"


@dataclass(frozen=True)
class SendReport:
    """What one sender round did."""

    sent: int = 0
    failed: int = 0
    not_sent: int = 0
    retrying: int = 0


@dataclass(frozen=True)
class _Outcome:
    status: str
    channel: str | None = None
    error: str | None = None
    reference: str | None = None
    permanent: bool = False


def backoff(attempts: int, initial_s: float, max_s: float) -> timedelta:
    """Delay before the next attempt: ``initial * 2**(attempts-1)``, at most ``max``."""
    return timedelta(seconds=min(initial_s * 2 ** max(attempts - 1, 0), max_s))


class SendPending(UseCase):
    """Deliver the messages that are due, with retries and backoff, recording every outcome."""

    def run(self, principal: Principal, *, now: datetime | None = None) -> SendReport:
        """Send every due message (several batches; each message at most once per call).

        Args:
            principal: The caller (the worker's system principal, or an admin).
            now: The time to send as of (tests move it forward to reach retries).
        """
        from dsrflow.ledger import outbox
        from dsrflow.messages.smtp import Mailer

        self.allow(principal, "messages.send")
        mailer = Mailer(self.rt.settings.smtp)
        tried: set[int] = set()
        counts = dict.fromkeys(("sent", "failed", "not_sent", "retrying"), 0)
        for _ in range(MAX_ROUNDS):
            # Each batch as of its own time: staff escalations written by the last one are due.
            at = now or datetime.now(UTC)
            rows = outbox.claim(self.rt.ledger, at, limit=BATCH, lease=LEASE, skip=tried)
            if not rows:
                break
            for row in rows:
                tried.add(row.id)
                counts[self._deliver(principal, row, mailer, at)] += 1
        return SendReport(**counts)

    def _deliver(
        self, principal: Principal, row: OutboxMessageRow, mailer: Mailer, now: datetime
    ) -> str:
        from dsrflow.ledger import outbox

        cfg = self.rt.settings.messages
        attempts = row.attempts + 1
        out = self._attempt(row, mailer)
        escalate = None
        gave_up = out.permanent or attempts >= cfg.max_attempts
        if out.status == kinds.PENDING and gave_up:  # a failed attempt that is not retried
            out = _Outcome(kinds.FAILED, out.channel, out.error)
            if row.recipient == kinds.SUBJECT:
                escalate = kinds.Planned(
                    kinds.MESSAGE_FAILED, row.id,
                    {**row.context, "failed_kind": row.kind, "failed_error": out.error or ""},
                )  # fmt: skip
        retry_at = None
        if out.status == kinds.PENDING:
            retry_at = now + backoff(attempts, cfg.retry_initial_s, cfg.retry_max_s)
        outbox.settle(
            self.rt.ledger, row.id, status=out.status, attempts=attempts, channel=out.channel,
            error=out.error, retry_at=retry_at, reference=out.reference, escalate=escalate,
        )  # fmt: skip
        fields = {"request_id": row.request_id, "kind": row.kind, "recipient": row.recipient,
                  "channel": out.channel, "attempts": attempts}  # fmt: skip
        if out.status == kinds.PENDING:
            log.info("message deferred", retry_at=retry_at.isoformat() if retry_at else None,
                     problem=out.error, **fields)  # fmt: skip
            return "retrying"
        self.audit(
            principal, f"message_{out.status}", Category.SYSTEM, row.request_id, kind=row.kind,
            recipient=row.recipient, channel=out.channel, attempts=attempts, outbox_id=row.id,
            reference=out.reference, problem=out.error,
        )  # fmt: skip
        log.info(f"message {out.status}", problem=out.error, **fields)
        return out.status

    def _attempt(self, row: OutboxMessageRow, mailer: Mailer) -> _Outcome:
        """One delivery attempt: ``pending`` (with the problem) when it did not go through."""
        from dsrflow.ledger.opendsr import CONTROLLER
        from dsrflow.messages.render import TemplateProblem

        if row.recipient == CONTROLLER:
            return self._to_controller(row)
        try:
            msg = self.rt.templates.render(row.kind, self._values(row))
        except TemplateProblem as exc:  # a template edited after start-up: fixable, so retried
            return _Outcome(kinds.PENDING, error=f"template {exc}")
        if row.recipient == kinds.SUBJECT:
            return self._to_subject(row, msg, mailer)
        return self._to_staff(row, msg, mailer)

    def _to_subject(self, row: OutboxMessageRow, msg: Rendered, mailer: Mailer) -> _Outcome:
        from dsrflow.crypto.keystore import KeyDestroyedError
        from dsrflow.ledger.outbox import CONTACT_ERASED
        from dsrflow.messages import contact

        if not mailer.configured:
            return _Outcome(kinds.NOT_SENT, error=NO_SMTP)
        try:
            address = contact.read(self.rt.ledger, self.rt.keystore, row.request_id)
        except KeyDestroyedError:
            return _Outcome(kinds.NOT_SENT, error=CONTACT_ERASED)
        if address is None:
            return _Outcome(kinds.NOT_SENT, error=NO_CONTACT)
        return _outcome(mailer.send([address], msg, row.request_id), "email")

    def _to_staff(self, row: OutboxMessageRow, msg: Rendered, mailer: Mailer) -> _Outcome:
        from dsrflow.messages import webhook

        cfg = self.rt.settings.messages
        if cfg.webhook_url is not None and cfg.webhook_secret is not None:
            url, secret = cfg.webhook_url.get_secret_value(), cfg.webhook_secret
            return _outcome(webhook.post(url, secret.get_secret_value(), msg), "webhook")
        staff = [a.strip() for a in cfg.staff_email.split(",") if a.strip()]
        if staff and mailer.configured:
            return _outcome(mailer.send(staff, msg, row.request_id), "email")
        return _Outcome(kinds.NOT_SENT, error=NO_STAFF if not staff else NO_SMTP)

    def _to_controller(self, row: OutboxMessageRow) -> _Outcome:
        from dsrflow.keys.opendsr import processor_key
        from dsrflow.messages import opendsr

        return _outcome(opendsr.post(processor_key(self.rt.settings), row.context), "opendsr")

    def _values(self, row: OutboxMessageRow) -> dict[str, object]:
        from dsrflow.messages.render import values_for

        s = self.rt.settings
        values = values_for(
            row.kind, row.request_id, row.context, controller=s.controller,
            status_url=s.messages.status_url, authority=s.messages.authority,
        )  # fmt: skip
        if row.kind == kinds.VERIFICATION:
            # The link's token is minted now, for this attempt only: the outbox never holds it
            # and the ledger keeps only its hash (docs/privacy-center.md).
            from dsrflow.service.subject_intake import mint_link

            values.update(mint_link(self.rt, row.request_id))
        elif row.kind == kinds.DELIVERY_CODE:
            # The same for the package's download code: minted per attempt, kept as a hash.
            from dsrflow.service.package_delivery import mint_code

            values.update(mint_code(self.rt, row.request_id))
        return values


def _outcome(d: Delivery, channel: str) -> _Outcome:
    if d.ok:
        return _Outcome(kinds.SENT, channel, d.error, d.reference)
    return _Outcome(kinds.PENDING, channel, d.error, permanent=d.permanent)


@dataclass(frozen=True)
class MessageLine:
    """One outbox message as staff see it (no address, no body)."""

    id: int
    request_id: str
    kind: str
    recipient: str
    status: str
    channel: str | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


class ListMessages(UseCase):
    """The outbox, newest first: what was sent to whom (by kind), when, and what went wrong."""

    def run(self, principal: Principal, *, request_id: str | None = None) -> list[MessageLine]:
        """List one request's messages, or the latest of all.

        Raises:
            UserError: A malformed request id.
        """
        from dsrflow.ledger import outbox
        from dsrflow.service import checks

        if request_id is not None:
            checks.request_id(request_id)
        self.allow(principal, "messages.list")
        return [_line(r) for r in outbox.messages(self.rt.ledger, request_id)]


def _line(r: OutboxMessageRow) -> MessageLine:
    return MessageLine(
        r.id, r.request_id, r.kind, r.recipient, r.status, r.channel, r.attempts, r.created_at,
        r.next_attempt_at if r.status == kinds.PENDING else None, r.sent_at, r.last_error,
    )  # fmt: skip


class CheckTemplates(UseCase):
    """Compile and render every message template (shipped and overridden) with sample values."""

    def run(self, principal: Principal) -> list[str]:
        """The template files in use.

        Raises:
            TemplateProblem: The first broken one, as ``file:line: what``.
        """
        self.allow(principal, "messages.check")
        return self.rt.templates.check()

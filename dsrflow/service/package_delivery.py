"""Delivering the access package to its subject: the status page, a code by e-mail, one download.

The subject's status-page link (the verification link's token) shows the package while its
delivery window is open. Asking for it sends a one-time code in a separate ``delivery_code``
e-mail, minted when that message is rendered for sending (``mint_code``, as the verification
link is): the outbox never holds it and the ledger keeps only its keyed hash. Entering the code
downloads the package in that same request, decrypted on the fly; the code is then spent. Wrong
codes are counted and lock the download (a new code lifts the lock). Every download and every
refusal is audited, never with the code or the link (docs/access-package.md, "Delivery").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.subject_intake import OK, PRIVACY_CENTER

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime

log = structlog.get_logger("dsrflow.privacy")

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
"""No 0/O, 1/I/L or U: a code read off a phone and typed by hand survives."""
CODE_LENGTH = 10
"""About 49 bits: with a handful of attempts before the lock, guessing is hopeless."""
DELIVERABLE_TYPES = ("access", "export")

# offer and download states (besides the status page's own: unknown, expired, gone, ...)
NONE, WINDOW_CLOSED, PURGED, LOCKED, WRONG, CODE_EXPIRED, NO_CODE, LIMITED = (
    "none", "window_closed", "purged", "locked", "wrong_code", "code_expired", "no_code",
    "codes_limited",
)  # fmt: skip
RATE_LIMITED = "limited"
"""Too many unknown links from this client (the privacy center's "try again later" page)."""


def normal_code(text: str) -> str:
    """A code as typed (any case, spaces or dashes) in its canonical form."""
    return re.sub(r"[\s-]", "", text).upper()


def code_hash(rt: Runtime, request_id: str, code: str) -> str:
    """The code as the ledger keeps it: a keyed HMAC (the blind-index key), bound to its request.

    A plain hash of a short code could be reversed by trying every code; the keyed one cannot
    be without the key, which a copy of the database does not hold.
    """
    from dsrflow.domain import Identity

    (digest,) = rt.journal.blind_index([Identity("delivery_code", f"{request_id}:{code}")])
    return digest


def mint_code(rt: Runtime, request_id: str, *, now: datetime | None = None) -> dict[str, str]:
    """A new download code for ``request_id``; the template values that carry it.

    Called by the sender for each attempt at the ``delivery_code`` message: only the latest
    code works, and only its hash is kept.
    """
    from dsrflow.ledger import deliveries

    now = now or datetime.now(UTC)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + timedelta(minutes=rt.settings.delivery.code_ttl_minutes)
    deliveries.save_code(rt.ledger, request_id, code_hash(rt, request_id, code), expires)
    return {
        "delivery_code": f"{code[:5]}-{code[5:]}",
        "code_expires_on": f"{expires:%d %B %Y %H:%M} UTC",
    }


def window_end(rt: Runtime, completed_at: datetime) -> datetime:
    """When a package completed at ``completed_at`` stops being deliverable."""
    from dsrflow.ledger.privacy import aware

    return aware(completed_at) + timedelta(days=rt.settings.delivery.window_days)


@dataclass(frozen=True)
class Offer:
    """What the status page offers for download.

    Attributes:
        state: ``ok`` (downloadable), ``none`` (nothing to deliver, or not yet), or why not:
            ``window_closed``, ``purged``, ``locked``; or the status page's own state.
        request_id: The link's request, when known.
        expires_at: The end of the delivery window.
        size: The encrypted package's size in bytes.
    """

    state: str
    request_id: str | None = None
    expires_at: datetime | None = None
    size: int = 0


@dataclass(frozen=True)
class Download:
    """A download the subject may take (``state`` ok), or why not.

    Attributes:
        state: ``ok``, or why not (``wrong_code``, ``locked``, ``code_expired``, ...).
        request_id: The request, when known.
        filename: The ZIP's name for the browser.
        chunks: The decrypted ZIP, streamed (never written to disk in clear).
        attempts_left: Wrong codes still allowed before the lock.
    """

    state: str
    request_id: str | None = None
    filename: str = ""
    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    attempts_left: int = 0


class PackageOffer(UseCase):
    """Whether the link's request has a package to deliver, and until when."""

    def run(self, token: str) -> Offer:
        """The offer behind a status-page link (read only)."""
        from dsrflow.ledger import deliveries
        from dsrflow.service.subject_status import SubjectStatus

        view = SubjectStatus(self.rt, policy=self.policy).run(token)
        if view.state != OK or view.request_id is None:
            return Offer(view.state, view.request_id)
        rid = view.request_id
        req = self.rt.ledger.get_request(rid)
        if req is None or req.completed_at is None or view.request_type not in DELIVERABLE_TYPES:
            return Offer(NONE, rid)
        ends = window_end(self.rt, req.completed_at)
        row = deliveries.row(self.rt.ledger, rid)
        path = self.rt.artifacts.package(rid)
        if row is not None and row.purged_at is not None:
            return Offer(PURGED, rid, ends)
        if ends <= datetime.now(UTC):
            return Offer(WINDOW_CLOSED, rid, ends)
        if path is None:
            return Offer(NONE, rid, ends)
        if row is not None and row.locked_at is not None:
            return Offer(LOCKED, rid, ends, path.stat().st_size)
        return Offer(OK, rid, ends, path.stat().st_size)


def guarded_offer(use_case: UseCase, token: str, client: str) -> Offer:
    """The offer, for a POST: a client whose links keep failing is refused before any lookup.

    Refused links count against the client in the same table, under the same key, as refused
    verification links (``ConfirmByLink``): guessing status links would otherwise flood the
    audit log with refusals.
    """
    from dsrflow.ledger import privacy
    from dsrflow.service.subject_intake import UNKNOWN, client_key

    rt = use_case.rt
    cfg = rt.settings.intake
    now = datetime.now(UTC)
    since = now - timedelta(seconds=cfg.rate_window_s)
    key = f"link:{client_key(rt, client)}"
    if privacy.attempts(rt.ledger, key, since) >= cfg.rate_per_client:
        log.info("privacy center rate limited", limit="link")
        return Offer(RATE_LIMITED)
    offer = PackageOffer(rt, policy=use_case.policy).run(token)
    if offer.state == UNKNOWN:
        privacy.record_attempt(rt.ledger, [key], now, before=since)
    return offer


class SendDeliveryCode(UseCase):
    """The subject asks for a download code: a ``delivery_code`` e-mail goes in the outbox."""

    def run(self, token: str, *, client: str = "") -> Offer:
        """Queue the code's message; the offer (``codes_limited`` past the per-request limit).

        The code itself is minted when the sender renders the message (``mint_code``).

        Args:
            token: The status page's link token.
            client: The client's address (kept only as a keyed hash, for the rate limit).
        """
        from dsrflow.ledger import deliveries, outbox
        from dsrflow.messages import kinds

        self.allow(PRIVACY_CENTER, "package.deliver")
        offer = guarded_offer(self, token, client)
        if offer.state == RATE_LIMITED:
            return offer
        if offer.state not in (OK, LOCKED) or offer.request_id is None:
            self._refused(offer.request_id, offer.state)
            return offer
        rid = offer.request_id
        seq = deliveries.ask_code(self.rt.ledger, rid, self.rt.settings.delivery.codes_per_request)
        if seq is None:
            self._refused(rid, LIMITED)
            return Offer(LIMITED, rid, offer.expires_at)
        req = self.rt.ledger.get_request(rid)
        context = {"request_type": req.type if req else "", "regulation": req.regulation if req
                   else ""}  # fmt: skip
        with self.rt.ledger.session() as s:
            outbox.enqueue(s, rid, [kinds.Planned(kinds.DELIVERY_CODE, seq, context)])
        self.audit(PRIVACY_CENTER, "delivery_code_requested", Category.SYSTEM, rid, number=seq)
        return offer

    def _refused(self, request_id: str | None, why: str) -> None:
        self.audit(PRIVACY_CENTER, "package_download_refused", Category.DOWNLOAD, request_id,
                   reason=why, step="code")  # fmt: skip
        log.info("package delivery refused", request_id=request_id, reason=why)


class DownloadPackage(UseCase):
    """The subject enters the code: the package, decrypted as it streams, in this one request."""

    def run(self, token: str, code: str, *, client: str = "") -> Download:
        """Check the code and hand out the package, or say why not (each outcome audited).

        Args:
            token: The status page's link token.
            code: The code as typed.
            client: The client's address (kept only as a keyed hash, for the rate limit).
        """
        from dsrflow.crypto.files import decrypt_chunks, read_key_id
        from dsrflow.ledger import deliveries

        self.allow(PRIVACY_CENTER, "package.deliver")
        offer = guarded_offer(self, token, client)
        if offer.state == RATE_LIMITED:
            return Download(RATE_LIMITED)
        rid = offer.request_id
        if offer.state != OK or rid is None:
            return self._refused(rid, offer.state)
        cfg = self.rt.settings.delivery
        now = datetime.now(UTC)
        typed = normal_code(code)
        ok = bool(re.fullmatch(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", typed))
        if ok and deliveries.claim_code(self.rt.ledger, rid, code_hash(self.rt, rid, typed), now):
            path = self.rt.artifacts.package(rid)
            if path is None:  # purged between the offer and now
                return self._refused(rid, PURGED)
            key = self.rt.keystore.get(read_key_id(path))
            self.audit(PRIVACY_CENTER, "package_downloaded", Category.DOWNLOAD, rid,
                       channel="privacy-center", encrypted_bytes=path.stat().st_size)  # fmt: skip
            log.info("package downloaded", request_id=rid)
            return Download(OK, rid, f"{rid}-access-package.zip", decrypt_chunks(path, key))
        row = deliveries.row(self.rt.ledger, rid)
        if row is None or row.code_expires_at is None:
            return self._refused(rid, NO_CODE)
        from dsrflow.ledger.privacy import aware

        if ok and row.code_sha256 == code_hash(self.rt, rid, typed):
            return self._refused(rid, CODE_EXPIRED)  # the right code, too late
        failures, locked = deliveries.count_failure(self.rt.ledger, rid, cfg.code_attempts, now)
        if not locked and aware(row.code_expires_at) <= now:
            return self._refused(rid, CODE_EXPIRED, failures=failures)
        return self._refused(rid, LOCKED if locked else WRONG, failures=failures,
                             left=max(cfg.code_attempts - failures, 0))  # fmt: skip

    def page(self, token: str) -> Offer:
        """The offer behind the code page; a refusal of a known link is audited.

        Opening the page after the window or the purge is an attempt to download, so it is
        recorded like one; an unknown link is not (anyone can make those up).
        """
        from dsrflow.service.subject_intake import UNKNOWN

        self.allow(PRIVACY_CENTER, "package.deliver")
        offer = PackageOffer(self.rt, policy=self.policy).run(token)
        if offer.state not in (OK, UNKNOWN):
            self._refused(offer.request_id, offer.state)
        return offer

    def _refused(
        self, request_id: str | None, why: str, *, failures: int = 0, left: int = 0
    ) -> Download:
        detail = {"failed_attempts": failures} if failures else {}
        self.audit(PRIVACY_CENTER, "package_download_refused", Category.DOWNLOAD, request_id,
                   reason=why, step="download", **detail)  # fmt: skip
        log.info("package download refused", request_id=request_id, reason=why)
        return Download(why, request_id, attempts_left=left)

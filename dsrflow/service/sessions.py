"""Console sessions: opened by a sign-in, resumed on every page, ended by sign-out or an admin.

The session id is 32 random bytes (URL-safe base64) that only the browser's cookie holds; the
ledger keeps its SHA-256 (a fast hash is right for a uniformly random secret, see
``service.tokens``). A session ends at the first of: its absolute lifetime
(``ConsoleSettings.session_ttl_s``), an idle spell (``session_idle_s``), sign-out, its account
being disabled or its password reset. A password session takes its roles from its account on
every request (a change applies at once); a single sign-on session keeps the roles the
identity provider gave at sign-in.

The keys the console signs its forms with (CSRF tokens, the sign-in form's cookie, the single
sign-on's state cookie) derive from one random key kept like the data keys (``KeyStore``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dsrflow.errors import UserError
from dsrflow.service.accounts import aware
from dsrflow.service.audit import AuditTrail
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime

Clock = Callable[[], datetime]
KEY_OWNER = "__console__"
"""The key store's owner name of the console's signing key."""
SEEN_EVERY = timedelta(seconds=15)
"""``last_seen_at`` is written at most this often (every page would be a write)."""
_DOMAIN = b"dsrflow.console-session/v1\n"


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def digest(session_id: str) -> str:
    """What the ledger keeps of a session id (hex: a portable primary key)."""
    return hashlib.sha256(_DOMAIN + session_id.encode()).hexdigest()


def console_key(rt: Runtime, purpose: str) -> bytes:
    """The console's key for ``purpose`` (``csrf``, ``signin-form``, ``oidc``...)."""
    master = rt.keystore.key_for(KEY_OWNER)[1]
    return hmac.new(master, b"dsrflow.console/" + purpose.encode(), hashlib.sha256).digest()


def mac(key: bytes, message: str) -> str:
    """HMAC-SHA256 of ``message`` as URL-safe base64 (no padding)."""
    raw = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def csrf_for(rt: Runtime, session_id: str) -> str:
    """The CSRF token of a session: derived from its id, so nothing more is stored."""
    return mac(console_key(rt, "csrf"), session_id)


@dataclass(frozen=True)
class Resumed:
    """A live session.

    Attributes:
        principal: Who is signed in (``staff:<username>``, ``sso:<username>``; see ``actor_of``)
            with their current roles.
        username: The account's name.
        method: ``password`` or ``oidc``.
        must_change_password: Only the password page may be used until it is changed.
    """

    principal: Principal
    username: str
    method: str
    must_change_password: bool


def actor_of(username: str, method: str) -> str:
    """The actor a console user acts as: ``staff:NAME`` (password) or ``sso:NAME`` (OIDC).

    Distinct kinds, because an identity provider's username claim is not unique: an IdP user
    who can pick ``preferred_username=ann`` must not act, nor be audited, as the local account
    ``ann``.
    """
    return f"{'staff' if method == 'password' else 'sso'}:{username}"


def open_session(
    rt: Runtime, username: str, *, method: str, roles: frozenset[str] | None, now: datetime
) -> str:
    """Store a new session (forgetting ended ones) and return its id (for the cookie only)."""
    from sqlalchemy import delete

    from dsrflow.ledger.models import ConsoleSessionRow

    console = rt.settings.console
    session_id = secrets.token_urlsafe(32)
    with rt.ledger.session() as s:
        s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < _db(rt, now)))
        s.add(ConsoleSessionRow(
            id_sha256=digest(session_id), username=username, method=method,
            roles=",".join(sorted(roles)) if roles is not None else None, created_at=now,
            last_seen_at=now, expires_at=now + timedelta(seconds=console.session_ttl_s),
        ))  # fmt: skip
    return session_id


def _db(rt: Runtime, at: datetime) -> datetime:
    # SQLite keeps naive UTC text: compare like with like.
    return at.astimezone(UTC).replace(tzinfo=None) if rt.ledger.is_sqlite else at


class ResumeSession:
    """Turn a session cookie into the signed-in person (how the console authenticates).

    Not audited (every page would write an entry); the sign-in and sign-out are.

    Args:
        rt: The runtime whose ledger holds the sessions.
        clock: The time source (tests move it instead of sleeping).
    """

    def __init__(self, rt: Runtime, clock: Clock = utc_now) -> None:
        self.rt = rt
        self.clock = clock

    def run(self, session_id: str | None) -> Resumed | None:
        """The live session named by ``session_id``, or None (ended ones are deleted)."""
        from dsrflow.ledger.models import ConsoleAccountRow, ConsoleSessionRow

        if not session_id or len(session_id) > 100:
            return None
        console, now = self.rt.settings.console, self.clock()
        with self.rt.ledger.session() as s:
            row = s.get(ConsoleSessionRow, digest(session_id))
            if row is None:
                return None
            expires, seen = aware(row.expires_at), aware(row.last_seen_at)
            assert expires is not None and seen is not None  # NOT NULL
            account = s.get(ConsoleAccountRow, row.username)
            idle = now - seen >= timedelta(seconds=console.session_idle_s)
            gone = account is None and row.method == "password"
            if now >= expires or idle or gone or (account is not None and account.disabled):
                s.delete(row)
                return None
            roles = row.roles if row.method != "password" or account is None else account.roles
            try:
                principal = Principal.of(
                    actor_of(row.username, row.method), (roles or "").split(",")
                )
            except UserError:  # no role left (or one this dsrflow no longer knows): refuse
                return None
            must_change = row.method == "password" and bool(
                account and account.must_change_password
            )
            if now - seen >= SEEN_EVERY:
                row.last_seen_at = now
        return Resumed(principal, row.username, row.method, must_change)


class EndSession:
    """Sign out: delete the session (audited when there was one).

    Args:
        rt: The runtime whose ledger holds the sessions.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def run(self, session_id: str | None) -> bool:
        """Delete the session; whether there was one."""
        from dsrflow.ledger.models import ConsoleSessionRow

        if not session_id or len(session_id) > 100:
            return False
        with self.rt.ledger.session() as s:
            row = s.get(ConsoleSessionRow, digest(session_id))
            if row is None:
                return False
            actor = actor_of(row.username, row.method)
            s.delete(row)
        who = Principal(actor, frozenset())
        AuditTrail(self.rt.ledger).record(who, "console.signout", Category.SYSTEM)
        return True

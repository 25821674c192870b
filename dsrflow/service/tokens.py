"""API tokens: made, listed and revoked by an admin (each audited), checked on every API call.

A token reads ``dsr_<id>_<secret>``. ``id`` (12 hex digits) is public: it names the ledger row,
appears in ``dsrflow tokens list`` and in the audit log, and lets a check find its row without a
scan. ``secret`` is 32 random bytes (URL-safe base64). The ledger keeps only SHA-256 of the
secret: for a uniformly random 256-bit secret a fast hash is the right tool (there is no
dictionary to try and no feasible brute force), unlike a password, which needs a slow salted
hash such as argon2id. The token itself is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dsrflow.errors import Conflict, NotFound, UserError
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.ledger.models import ApiTokenRow
    from dsrflow.runtime import Runtime

TOKEN = re.compile(r"dsr_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOKEN_ID = re.compile(r"[0-9a-f]{12}")
MAX_LIFETIME = timedelta(days=366)
LAST_USED_EVERY = timedelta(seconds=60)
"""``last_used_at`` is written at most this often per token (every call would be a write)."""

_DOMAIN = b"dsrflow.api-token/v1\n"
_LIFETIME = re.compile(r"([1-9]\d{0,3})([hdw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_NOBODY = hashlib.sha256(_DOMAIN).digest()


def digest(secret: str) -> bytes:
    """What the ledger keeps of a token's secret."""
    return hashlib.sha256(_DOMAIN + secret.encode()).digest()


def parse_lifetime(text: str, what: str = "--expires-in") -> timedelta:
    """``12h``, ``30d`` or ``8w``: how long a new token lives (at most 366 days).

    Raises:
        UserError: Anything else.
    """
    m = _LIFETIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise UserError(f"{what}: expected a number and h, d or w (such as 30d)")
    life = int(m.group(1)) * _UNITS[m.group(2)]
    if life > MAX_LIFETIME:
        raise UserError(f"{what}: at most {MAX_LIFETIME.days}d")
    return life


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware times."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it (never its secret)."""

    id: str
    actor: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (now or datetime.now(UTC)) else "active"

    @classmethod
    def of(cls, row: ApiTokenRow) -> TokenInfo:
        """A ledger row as a plain value."""
        created, expires = _aware(row.created_at), _aware(row.expires_at)
        assert created is not None and expires is not None  # both NOT NULL
        return cls(
            row.id, row.actor, tuple(row.roles.split(",")), created, row.created_by, expires,
            _aware(row.revoked_at), row.revoked_by, _aware(row.last_used_at),
        )  # fmt: skip


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is the only time the secret is seen."""

    info: TokenInfo
    token: str


class CreateToken(UseCase):
    """Make a token that acts as ``actor`` with ``roles`` until it expires (admin only)."""

    def run(
        self, principal: Principal, *, actor: str, roles: list[str], expires_in: str
    ) -> NewToken:
        """Check, store the secret's digest, audit; the token to show once.

        Raises:
            NotAllowed: Not an admin.
            UserError: A malformed actor, an unknown role, a bad lifetime.
        """
        from dsrflow.ledger.models import ApiTokenRow

        self.allow(principal, "tokens.manage")
        holder = Principal.of(actor, roles)
        life = parse_lifetime(expires_in)
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiTokenRow(
            id=token_id, secret_sha256=digest(secret), actor=holder.actor,
            roles=",".join(sorted(holder.roles)), created_at=now, created_by=principal.actor,
            expires_at=now + life,
        )  # fmt: skip
        with self.rt.ledger.session() as s:
            s.add(row)
        info = TokenInfo.of(row)
        self.audit(
            principal, "tokens.create", Category.SYSTEM, None, token=token_id,
            token_actor=holder.actor, roles=list(info.roles),
            expires_at=info.expires_at.isoformat(),
        )  # fmt: skip
        return NewToken(info, f"dsr_{token_id}_{secret}")


class ListTokens(UseCase):
    """Every token, newest first, with its state (admin only; audited)."""

    def run(self, principal: Principal) -> list[TokenInfo]:
        """The tokens (never their secrets)."""
        from sqlalchemy import select

        from dsrflow.ledger.models import ApiTokenRow

        self.allow(principal, "tokens.manage")
        with self.rt.ledger.session() as s:
            rows = list(s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at.desc())))
        self.audit(principal, "tokens.list", Category.SYSTEM, None, count=len(rows))
        return [TokenInfo.of(r) for r in rows]


class RevokeToken(UseCase):
    """Revoke a token at once (admin only; audited)."""

    def run(self, principal: Principal, token_id: str) -> TokenInfo:
        """Mark the token revoked.

        Raises:
            NotFound: No such token.
            Conflict: Revoked already.
        """
        from dsrflow.ledger.models import ApiTokenRow

        self.allow(principal, "tokens.manage")
        if not isinstance(token_id, str) or not TOKEN_ID.fullmatch(token_id):
            raise UserError("ID: a token id is 12 hex digits (see `dsrflow tokens list`)")
        with self.rt.ledger.session() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound(f"token {token_id}: no such token")
            if row.revoked_at is not None:
                raise Conflict(f"token {token_id}: revoked already")
            row.revoked_at, row.revoked_by = datetime.now(UTC), principal.actor
            info = TokenInfo.of(row)
        self.audit(principal, "tokens.revoke", Category.SYSTEM, None, token=token_id,
                   token_actor=info.actor)  # fmt: skip
        return info


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a presented token.

    Attributes:
        principal: Who the token acts as; None when refused.
        refusal: Why it was refused (``malformed``, ``unknown``, ``expired``, ``revoked``), for
            the caller's counters and logs; never the token.
        token_id: The token's public id, when the text had one.
    """

    principal: Principal | None
    refusal: str | None = None
    token_id: str | None = None


def token_id_of(presented: str) -> str | None:
    """The public id of a presented token (for per-token limits), if it is shaped like one."""
    m = TOKEN.fullmatch(presented)
    return m.group(1) if m else None


class Authenticate:
    """Turn a presented bearer token into a principal (how edges get one; not audited).

    Args:
        rt: The runtime whose ledger holds the tokens.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def run(self, presented: str, *, now: datetime | None = None) -> Verdict:
        """Check a token: known, secret matching (constant time), not revoked, not expired.

        Records the time of use (at most once a minute per token).
        """
        from dsrflow.ledger.models import ApiTokenRow

        m = TOKEN.fullmatch(presented)
        if m is None:
            return Verdict(None, "malformed")
        token_id, given = m.group(1), digest(m.group(2))
        now = now or datetime.now(UTC)
        with self.rt.ledger.session() as s:
            row = s.get(ApiTokenRow, token_id)
            # Compared even for an unknown id, so the answer takes as long either way.
            match = hmac.compare_digest(row.secret_sha256 if row else _NOBODY, given)
            if row is None or not match:
                return Verdict(None, "unknown", token_id)
            if row.revoked_at is not None:
                return Verdict(None, "revoked", token_id)
            if (_aware(row.expires_at) or now) <= now:
                return Verdict(None, "expired", token_id)
            try:
                principal = Principal.of(row.actor, row.roles.split(","))
            except UserError:  # a role this dsrflow no longer knows: refuse, never widen
                return Verdict(None, "unknown", token_id)
            last = _aware(row.last_used_at)
            if last is None or now - last >= LAST_USED_EVERY:
                row.last_used_at = now
        return Verdict(principal, None, token_id)

"""Console accounts: made, listed, changed, disabled and reset by an admin (each audited).

An account is a username (acting as ``staff:<username>``), console roles (any of ``ROLES``
but ``controller``), an argon2id password hash (``service.passwords``) and a disabled flag.
A new account's password is either given by the admin or made here as a one-time password
that must be replaced at the first sign-in; a reset always makes a one-time password.
Disabling an account or resetting its password ends its sessions at once.

Audit entries name the account and the roles, never a password or a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import Conflict, NotFound
from dsrflow.service import passwords
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dsrflow.ledger.models import ConsoleAccountRow

MANAGE = "accounts.manage"


def aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware times."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@dataclass(frozen=True)
class AccountInfo:
    """An account as lists show it (never its password hash)."""

    username: str
    roles: tuple[str, ...]
    disabled: bool
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime
    created_by: str
    last_signin_at: datetime | None

    @property
    def actor(self) -> str:
        """Who the account acts as in the audit log."""
        return f"staff:{self.username}"

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``locked`` or ``disabled``."""
        if self.disabled:
            return "disabled"
        locked = self.locked_until is not None and self.locked_until > (now or datetime.now(UTC))
        return "locked" if locked else "active"

    @classmethod
    def of(cls, row: ConsoleAccountRow) -> AccountInfo:
        """A ledger row as a plain value."""
        created = aware(row.created_at)
        assert created is not None  # NOT NULL
        return cls(
            row.username, tuple(filter(None, row.roles.split(","))), row.disabled,
            row.must_change_password, aware(row.locked_until), created, row.created_by,
            aware(row.last_signin_at),
        )  # fmt: skip


@dataclass(frozen=True)
class NewPassword:
    """An account and, when dsrflow made it, the one-time password to hand over (shown once)."""

    info: AccountInfo
    one_time_password: str | None


def end_sessions(s: Session, username: str) -> int:
    """Delete every session of ``username`` (in the caller's transaction); how many there were."""
    from sqlalchemy import delete

    from dsrflow.ledger.models import ConsoleSessionRow

    result = s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.username == username))
    return int(getattr(result, "rowcount", 0) or 0)


class _AccountCase(UseCase):
    def _row(self, s: Session, username: str) -> ConsoleAccountRow:
        from dsrflow.ledger.models import ConsoleAccountRow

        passwords.check_username(username)
        row = s.get(ConsoleAccountRow, username)
        if row is None:
            raise NotFound(f"account {username}: no such account")
        return row


class CreateAccount(_AccountCase):
    """Make a console account (admin only; audited)."""

    def run(
        self, principal: Principal, *, username: str, roles: list[str], password: str | None = None
    ) -> NewPassword:
        """Check, hash, store, audit.

        Args:
            principal: The admin.
            username: The new account's name (its actor is ``staff:<username>``).
            roles: Its console roles.
            password: Its password; None makes a one-time password to be replaced at the
                first sign-in.

        Raises:
            NotAllowed: Not an admin.
            UserError: A bad username, role or password.
            Conflict: The username is taken.
        """
        from dsrflow.ledger.models import ConsoleAccountRow

        self.allow(principal, MANAGE)
        passwords.check_username(username)
        chosen = passwords.check_roles(roles)
        console = self.rt.settings.console
        made = password is None
        if password is None:
            password = passwords.one_time()
        else:
            passwords.check_new(password, console)
        hashed = passwords.hasher(console).hash(password)
        now = datetime.now(UTC)
        with self.rt.ledger.session() as s:
            if s.get(ConsoleAccountRow, username) is not None:
                raise Conflict(f"account {username}: exists already")
            row = ConsoleAccountRow(
                username=username, password_hash=hashed, roles=",".join(sorted(chosen)),
                disabled=False, must_change_password=made, failed_signins=0, created_at=now,
                created_by=principal.actor, password_changed_at=now,
            )  # fmt: skip
            s.add(row)
        info = AccountInfo.of(row)
        self.audit(principal, "accounts.create", Category.SYSTEM, None, account=username,
                   roles=list(info.roles), one_time_password=made)  # fmt: skip
        return NewPassword(info, password if made else None)


class ListAccounts(UseCase):
    """Every console account, by username (admin only; audited)."""

    def run(self, principal: Principal) -> list[AccountInfo]:
        """The accounts (never their hashes)."""
        from sqlalchemy import select

        from dsrflow.ledger.models import ConsoleAccountRow

        self.allow(principal, MANAGE)
        with self.rt.ledger.session() as s:
            rows = list(s.scalars(select(ConsoleAccountRow).order_by(ConsoleAccountRow.username)))
            infos = [AccountInfo.of(r) for r in rows]
        self.audit(principal, "accounts.list", Category.SYSTEM, None, count=len(infos))
        return infos


class SetRoles(_AccountCase):
    """Replace an account's roles (admin only; audited); its sessions see them at once."""

    def run(self, principal: Principal, username: str, *, roles: list[str]) -> AccountInfo:
        """Store the new roles.

        Raises:
            NotFound: No such account.
            UserError: A role a console account may not hold.
        """
        self.allow(principal, MANAGE)
        chosen = passwords.check_roles(roles)
        with self.rt.ledger.session() as s:
            row = self._row(s, username)
            before = row.roles
            row.roles = ",".join(sorted(chosen))
            info = AccountInfo.of(row)
        self.audit(principal, "accounts.roles", Category.SYSTEM, None, account=username,
                   roles=list(info.roles), before=before.split(","))  # fmt: skip
        return info


class SetDisabled(_AccountCase):
    """Disable an account (its sessions end at once) or enable it again (admin; audited)."""

    def run(self, principal: Principal, username: str, *, disabled: bool) -> AccountInfo:
        """Set the flag.

        Raises:
            NotFound: No such account.
            Conflict: It is in that state already, or an admin would disable themselves.
        """
        self.allow(principal, MANAGE)
        with self.rt.ledger.session() as s:
            row = self._row(s, username)
            if row.disabled == disabled:
                raise Conflict(f"account {username}: {'disabled' if disabled else 'enabled'} "
                               "already")  # fmt: skip
            if disabled and principal.actor == f"staff:{username}":
                raise Conflict(f"account {username}: you cannot disable your own account")
            row.disabled = disabled
            ended = end_sessions(s, username) if disabled else 0
            info = AccountInfo.of(row)
        action = "accounts.disable" if disabled else "accounts.enable"
        self.audit(principal, action, Category.SYSTEM, None, account=username,
                   sessions_ended=ended)  # fmt: skip
        return info


class ResetPassword(_AccountCase):
    """Give an account a one-time password to replace at its next sign-in (admin; audited).

    Its sessions end, and a lockout is lifted (the reset is how a locked-out person gets back).
    """

    def run(self, principal: Principal, username: str) -> NewPassword:
        """Make and store the one-time password; it is returned once.

        Raises:
            NotFound: No such account.
        """
        self.allow(principal, MANAGE)
        password = passwords.one_time()
        hashed = passwords.hasher(self.rt.settings.console).hash(password)
        with self.rt.ledger.session() as s:
            row = self._row(s, username)
            row.password_hash, row.must_change_password = hashed, True
            row.password_changed_at = datetime.now(UTC)
            row.failed_signins, row.locked_until = 0, None
            ended = end_sessions(s, username)
            info = AccountInfo.of(row)
        self.audit(principal, "accounts.reset", Category.SYSTEM, None, account=username,
                   sessions_ended=ended)  # fmt: skip
        return NewPassword(info, password)


class UnlockAccount(_AccountCase):
    """Lift a lockout before it runs out (admin only; audited).

    Raises:
        NotFound: No such account.
    """

    def run(self, principal: Principal, username: str) -> AccountInfo:
        """Clear the failure count and the lock."""
        self.allow(principal, MANAGE)
        with self.rt.ledger.session() as s:
            row = self._row(s, username)
            was_locked = row.locked_until is not None
            row.failed_signins, row.locked_until = 0, None
            info = AccountInfo.of(row)
        self.audit(principal, "accounts.unlock", Category.SYSTEM, None, account=username,
                   was_locked=was_locked)  # fmt: skip
        return info

"""Signing in to the console: by password (with lockout) or single sign-on; own password changes.

Every refusal looks the same to the person signing in (``Refused``): an unknown username, a
wrong password, a disabled account and a locked one are not told apart, so the page cannot be
used to find out which accounts exist. The audit log tells them apart for the admins: failures
are recorded against the account (``console.signin_failed``), or against ``system:console``
when no account has that name (the text typed is not recorded: it may be a password typed in
the wrong box), and a lockout as ``console.locked``.

The lockout is kept in the ledger (``failed_signins``, ``locked_until``): after
``ConsoleSettings.lockout_failures`` failures in a row an account refuses every password for
``lockout_s`` seconds, in every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from dsrflow.errors import UserError
from dsrflow.service import passwords
from dsrflow.service.accounts import aware
from dsrflow.service.audit import AuditTrail
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category
from dsrflow.service.passwords import CONSOLE_ROLES, USERNAME
from dsrflow.service.principal import Principal
from dsrflow.service.sessions import Clock, actor_of, open_session, utc_now

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime

SYSTEM = Principal("system:console", frozenset())
"""The actor of failures that name no account."""


@dataclass(frozen=True)
class SignedIn:
    """A sign-in that worked.

    Attributes:
        session_id: The new session's id (for the cookie, nothing else).
        principal: Who signed in.
        must_change_password: They must choose a new password before anything else.
    """

    session_id: str
    principal: Principal
    must_change_password: bool


class Refused(UserError):
    """A sign-in refused: one message for every reason (see the module doc)."""

    def __init__(self, message: str = "the username or password is not right") -> None:
        super().__init__(message)


class PasswordSignIn:
    """Check a username and password; open a session (audited either way).

    Args:
        rt: The runtime.
        clock: The time source (tests move it instead of sleeping).
    """

    def __init__(self, rt: Runtime, clock: Clock = utc_now) -> None:
        self.rt = rt
        self.clock = clock

    def run(self, username: str, password: str) -> SignedIn:
        """Sign in.

        Raises:
            Refused: Unknown, wrong, disabled or locked (not told apart).
        """
        from dsrflow.ledger.models import ConsoleAccountRow

        console, now = self.rt.settings.console, self.clock()
        ph = passwords.hasher(console)
        name = username.strip().lower() if isinstance(username, str) else ""
        trail = AuditTrail(self.rt.ledger)
        if not USERNAME.fullmatch(name):
            passwords.verify(ph, None, password)  # same time as a real check
            trail.record(SYSTEM, "console.signin_failed", Category.SYSTEM, reason="unknown")
            raise Refused
        with self.rt.ledger.session() as s:
            row = s.get(ConsoleAccountRow, name, with_for_update=True)
            ok = passwords.verify(ph, row.password_hash if row else None, password)
            if row is None:
                reason = "unknown"
            elif row.disabled:
                reason = "disabled"
            elif (aware(row.locked_until) or now) > now:
                reason = "locked"
            elif not ok:
                reason = "password"
                row.failed_signins += 1
                if row.failed_signins >= console.lockout_failures:
                    row.failed_signins = 0
                    row.locked_until = now + timedelta(seconds=console.lockout_s)
                    reason = "password_locked"
            else:
                reason = ""
                row.failed_signins, row.locked_until, row.last_signin_at = 0, None, now
                assert row.password_hash is not None  # verify() is False without one
                if ph.check_needs_rehash(row.password_hash):  # parameters changed since
                    row.password_hash = ph.hash(password)
                roles, must_change = row.roles, row.must_change_password
        if reason:
            who = SYSTEM if reason == "unknown" else Principal(f"staff:{name}", frozenset())
            trail.record(who, "console.signin_failed", Category.SYSTEM,
                         reason=reason.removesuffix("_locked"))  # fmt: skip
            if reason == "password_locked":
                trail.record(
                    who, "console.locked", Category.SYSTEM,
                    failures=console.lockout_failures, seconds=console.lockout_s,
                )  # fmt: skip
            raise Refused
        principal = Principal.of(f"staff:{name}", roles.split(","))
        session_id = open_session(self.rt, name, method="password", roles=None, now=now)
        trail.record(principal, "console.signin", Category.SYSTEM, method="password")
        return SignedIn(session_id, principal, must_change)


class ChangePassword(UseCase):
    """A signed-in person replaces their own password (audited; their other sessions end)."""

    def run(
        self, principal: Principal, *, current: str, new: str, keep_session: str | None = None
    ) -> None:
        """Check the current password and store the new one.

        Args:
            principal: The signed-in person (``staff:<username>``).
            current: Their password now (the one-time one after a reset).
            new: The new password.
            keep_session: The id of the session making the change (the others end).

        Raises:
            UserError: The current password is wrong, or the new one too short or unchanged.
        """
        from sqlalchemy import delete

        from dsrflow.ledger.models import ConsoleAccountRow, ConsoleSessionRow
        from dsrflow.service.sessions import digest

        self.allow(principal, "account.self")
        console = self.rt.settings.console
        passwords.check_new(new, console, field="new password")
        if new == current:
            raise UserError("new password: must differ from the current one")
        username = principal.actor.removeprefix("staff:")
        ph = passwords.hasher(console)
        with self.rt.ledger.session() as s:
            row = s.get(ConsoleAccountRow, username)
            if row is None or not passwords.verify(ph, row.password_hash, current):
                raise UserError("current password: not right")
            row.password_hash, row.must_change_password = ph.hash(new), False
            row.password_changed_at = utc_now()
            others = delete(ConsoleSessionRow).where(ConsoleSessionRow.username == username)
            if keep_session:
                others = others.where(ConsoleSessionRow.id_sha256 != digest(keep_session))
            s.execute(others)
        self.audit(principal, "console.password_changed", Category.SYSTEM)


class SsoSignIn:
    """Open a session for a person the identity provider vouched for (audited either way).

    Args:
        rt: The runtime.
        clock: The time source.
    """

    def __init__(self, rt: Runtime, clock: Clock = utc_now) -> None:
        self.rt = rt
        self.clock = clock

    def roles_of(self, claimed: list[str]) -> frozenset[str]:
        """The console roles the claim's values give (``ConsoleSettings.oidc_role_map``)."""
        mapping = self.rt.settings.console.role_map
        values = (mapping.get(v) if mapping else v for v in claimed)
        return frozenset(v for v in values if v in CONSOLE_ROLES)

    def run(self, username: str, claimed: list[str]) -> SignedIn:
        """Sign in ``username`` with the roles ``claimed`` gives.

        Raises:
            Refused: No console role, an unusable username, or a disabled local account.
        """
        from dsrflow.ledger.models import ConsoleAccountRow

        trail = AuditTrail(self.rt.ledger)
        name = username.strip().lower()
        if not USERNAME.fullmatch(name):
            trail.record(SYSTEM, "console.signin_failed", Category.SYSTEM, method="oidc",
                         reason="username")  # fmt: skip
            raise Refused("the identity provider's username cannot be used here")
        who = Principal(actor_of(name, "oidc"), frozenset())
        roles = self.roles_of(claimed)
        if not roles:
            trail.record(who, "console.signin_failed", Category.SYSTEM, method="oidc",
                         reason="no_role")  # fmt: skip
            raise Refused("your account has no role in this console; ask an administrator")
        with self.rt.ledger.session() as s:
            account = s.get(ConsoleAccountRow, name)
            disabled = account is not None and account.disabled
        if disabled:
            trail.record(who, "console.signin_failed", Category.SYSTEM, method="oidc",
                         reason="disabled")  # fmt: skip
            raise Refused("this account is disabled here; ask an administrator")
        principal = Principal.of(who.actor, roles)
        session_id = open_session(self.rt, name, method="oidc", roles=roles, now=self.clock())
        trail.record(principal, "console.signin", Category.SYSTEM, method="oidc",
                     roles=sorted(roles))  # fmt: skip
        return SignedIn(session_id, principal, False)

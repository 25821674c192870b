"""Console passwords: argon2id hashes, the length rule, one-time passwords, usernames.

A password is kept only as an argon2id hash (argon2-cffi's ``PasswordHasher``) with the
parameters of ``ConsoleSettings`` (``password_time_cost``, ``password_memory_kib``,
``password_parallelism``); a hash made with other parameters is replaced at the next
successful sign-in. Nothing here logs or returns a password or a hash to anyone.
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from dsrflow.errors import UserError
from dsrflow.service.principal import ROLES
from dsrflow.settings import ConsoleSettings

CONSOLE_ROLES = ROLES - {"controller"}
"""Roles a console account may hold (``controller`` is an OpenDSR machine client's)."""
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
"""A console username: lower case, so that ``Ann`` and ``ann`` are one person."""
MAX_PASSWORD = 1024
"""Longer passwords are refused before hashing (hashing a megabyte is a denial of service)."""


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def hasher(console: ConsoleSettings) -> PasswordHasher:
    """The argon2id hasher with the configured parameters."""
    return _hasher(
        console.password_time_cost, console.password_memory_kib, console.password_parallelism
    )


def verify(ph: PasswordHasher, stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (False for a missing or damaged hash).

    With no stored hash a throwaway one is still checked, so an unknown or password-less
    account takes as long to refuse as a wrong password (no enumeration by timing).
    """
    target = stored or _decoy(ph)
    try:
        ok = ph.verify(target, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def _decoy(ph: PasswordHasher) -> str:
    return _decoy_for(ph.time_cost, ph.memory_cost, ph.parallelism)


@lru_cache(maxsize=4)
def _decoy_for(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


def check_new(password: str, console: ConsoleSettings, *, field: str = "password") -> None:
    """Refuse a password that is too short or too long (one line naming the field).

    Raises:
        UserError: Shorter than ``password_min_length`` or longer than ``MAX_PASSWORD``.
    """
    if not isinstance(password, str) or len(password) < console.password_min_length:
        raise UserError(f"{field}: at least {console.password_min_length} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"{field}: at most {MAX_PASSWORD} characters")


def one_time() -> str:
    """A random one-time password (shown once; its holder must replace it at sign-in)."""
    return secrets.token_urlsafe(18)


def check_username(username: str, *, field: str = "username") -> str:
    """A valid username, or one line saying what one looks like (never echoing the input).

    Raises:
        UserError: Not a username.
    """
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise UserError(
            f"{field}: 1 to 64 lower-case letters, digits and . _ @ + - (starting with a "
            "letter or digit)"
        )
    return username


def check_roles(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The console roles given, checked.

    Raises:
        UserError: None given, or one a console account may not hold.
    """
    chosen = frozenset(r.strip() for r in roles if r.strip())
    if not chosen:
        raise UserError("role: give at least one")
    bad = sorted(chosen - CONSOLE_ROLES)
    if bad:
        shown = ", ".join(r if re.fullmatch(r"[a-z_-]{1,30}", r) else "(unprintable)" for r in bad)
        known = ", ".join(sorted(CONSOLE_ROLES))
        raise UserError(f"role: {shown} is not a console role; known: {known}")
    return chosen

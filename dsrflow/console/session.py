"""Who is signed in to the console, and CSRF for its forms (the contract the pages rely on).

``console_principal`` is the dependency every staff page takes: the signed-in person's
``Principal``, or a redirect to the sign-in page. ``csrf_token`` gives the token a form
carries in its hidden ``csrf`` field; ``require_csrf`` is the dependency of every POST.

(Sign-in itself is not built yet: until it is, nobody is signed in.)
"""

from __future__ import annotations

from fastapi import Request

from dsrflow.service.principal import Principal


class SignInRequired(Exception):
    """No one is signed in (or the session ended): the page answers a redirect to sign in."""


def console_principal(request: Request) -> Principal:
    """The signed-in person's principal.

    Raises:
        SignInRequired: Nobody is signed in.
    """
    raise SignInRequired


def csrf_token(request: Request) -> str:
    """The CSRF token a form of this session carries (hidden field ``csrf``)."""
    raise SignInRequired


async def require_csrf(request: Request) -> None:
    """Refuse a POST whose ``csrf`` field does not match the session's token (403)."""
    raise SignInRequired

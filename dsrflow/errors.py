"""User-facing errors.

Every error a person can cause (bad config, bad input, a busy port) is a ``UserError``: the CLI
prints its message on one line and exits non-zero, never a stack trace.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input or environment that the user can fix.

    Attributes:
        exit_code: Process exit code the CLI uses for this error.

    """

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    """The catalog or settings are invalid; the message names file, line and field."""


class NotFound(UserError):
    """What the input names does not exist (a request not in the ledger, an unknown token)."""


class Conflict(UserError):
    """The current state does not allow what was asked (a request not finished, a refusal)."""


class Unavailable(UserError):
    """A service dsrflow depends on cannot be reached now (Temporal); trying later may work.

    Attributes:
        public: What a remote caller (the HTTP API's client) is told; the message itself, which
            may name internal addresses, is for the operator and the server log.
    """

    def __init__(
        self, message: str, *, exit_code: int | None = None, public: str | None = None
    ) -> None:
        super().__init__(message, exit_code=exit_code)
        self.public = public or message

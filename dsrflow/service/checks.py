"""Input checks shared by the use cases: every user-supplied string is data, never structure.

Each check refuses with one line naming the option and what is expected, and never echoes a
value that could be personal data or terminal control sequences.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from dsrflow.errors import UserError

MAX_TEXT = 1000
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def request_id(value: str, what: str = "request id") -> str:
    """A request id: 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit.

    Request ids become workflow ids and file names, so no control character, newline, path
    separator or markup can be part of one.

    Raises:
        UserError: Anything else. The value is never echoed: what gets pasted where a request
            id goes is, often enough, the subject's e-mail address.
    """
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise UserError(
            f"{what}: not a request id; use 1-80 letters, digits, '.', '_' or '-' "
            "(and no personal data)"
        )
    return value


def name(value: str, what: str) -> str:
    """A store (or similar) name, same charset as request ids.

    Raises:
        UserError: Not a plain name.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise UserError(f"{what} {_shown(value)}: not a name (letters, digits, '.', '_', '-')")
    return value


def text(value: str | None, what: str, *, required: bool = False) -> str:
    """Free text a person writes (a reason, a ground, a reference): printable, one line.

    Markup is fine (it is printed as data); control characters, line breaks and overlong text
    are refused because they would corrupt one-line output and the audit trail.

    Raises:
        UserError: Empty when required, too long, or with a control/format character.
    """
    value = value or ""
    if required and not value.strip():
        raise UserError(f"{what}: required")
    if len(value) > MAX_TEXT:
        raise UserError(f"{what}: at most {MAX_TEXT} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            raise UserError(
                f"{what}: control or formatting character U+{ord(ch):04X} is not allowed "
                "(one line of printable text)"
            )
    return value


def day(value: str | None, what: str) -> str | None:
    """An ISO calendar date ``YYYY-MM-DD`` (a real one), or None.

    Raises:
        UserError: Not a date (``tomorrow``, month 13, Feb 30...).
    """
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise UserError(f"{what}: expected a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{what}: {value} is not a calendar date") from None
    return value


def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    """A value from a fixed list.

    Raises:
        UserError: Naming the allowed values.
    """
    if value not in allowed:
        raise UserError(f"{what}: {_shown(value)} is not one of {', '.join(allowed)}")
    return value


def _shown(value: object) -> str:
    """The value quoted if it is short and printable, else a placeholder."""
    if isinstance(value, str) and len(value) <= 80 and value.isprintable():
        return repr(value)
    return "(not printable or too long)"


def printable(value: str) -> str:
    r"""``value`` with control and formatting characters shown as escapes (``\x1b``, ``\u202e``).

    For text that reaches a terminal from elsewhere (a catalog key in an error message, a
    driver's message): it can never move the cursor, recolour or reorder what follows.
    """
    out = []
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)

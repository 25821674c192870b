"""Scrub personal data out of free text (error messages, log lines).

Adapters and drivers put values in their messages (``Key (email)=(a@b.c) already exists``,
``[parameters: ('a@b.c',)]``). Anything that leaves an activity as text goes through ``scrub``.
Part of the adapter SDK (adapters describe their drivers' errors with ``describe_driver_error``
and ``first_line``); the core imports it as ``dsrflow.redact``. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_PARAMS = re.compile(r"\[parameters: .*?\]", re.DOTALL)
_KEY_DETAIL = re.compile(r"\)=\((.*?)\)")
# International numbers (+44 20 7946 0101) and spaced national ones (020 7946 0101); plain digit
# runs, dates and ids (2026-11-22, 20261122-151318) are left alone.
_PHONE = re.compile(r"(?<![\w+])\+\d[\d ().\-]{6,}\d|\b\d{3,5} \d{3,4} \d{3,4}\b")

REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """Replace personal data in free text with ``[redacted]``.

    E-mail addresses, quoted literals, bound parameters and phone numbers go; quoted strings that
    look like SQL identifiers (table and column names) stay, because they help and identify no one.
    """
    text = _PARAMS.sub("[parameters: " + REDACTED + "]", text)
    text = _KEY_DETAIL.sub(")=(" + REDACTED + ")", text)
    text = _EMAIL.sub(REDACTED, text)
    text = _QUOTED.sub(_quoted, text)
    return _PHONE.sub(REDACTED, text)


# A quoted word is kept only when the word before it says it is a name of ours or the
# database's (store 'shop', table "customers", column 'email'); a value ('jsmith') is redacted.
_NAME_WORDS = re.compile(
    r"(?:store|table|tables|column|columns|collection|adapter|relation|database|schema|index|"
    r"constraint|field|type|role|user|key|named|pattern|template|verb|strategy|function)\s*:?\s*$",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,62}")


def _quoted(match: re.Match[str]) -> str:
    body = match.group(0)[1:-1]
    before = match.string[max(0, match.start() - 40) : match.start()]
    if _IDENTIFIER.fullmatch(body) and _NAME_WORDS.search(before):
        return match.group(0)
    return REDACTED


def first_line(text: str, limit: int = 300) -> str:
    """First line of a (scrubbed) message, cut to ``limit`` characters."""
    line = scrub(text).strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- database driver errors -------------------------------------------------------------------
#
# A driver's message can quote row data: a trigger's RAISE/SIGNAL text (free text a schema
# author wrote, often naming the person), a constraint's DETAIL (``Key (email)=(a@b.c)``,
# ``Failing row contains (...)``), MariaDB's ``Duplicate entry 'x' for key 'k'``. Pattern
# scrubbing cannot vouch for free text, so driver errors are described from their structured
# parts (class, SQLSTATE or error code, table/column/constraint names) and a message is kept
# only for error codes whose text is a fixed template naming objects, never values.

# PostgreSQL SQLSTATE classes whose primary message names objects only: connection, auth,
# unknown database/schema, syntax or access rule (unknown table/column, permission denied),
# rollback (deadlock, serialization), resources, locks, operator intervention, transaction state.
_PG_TRUSTED_CLASSES = frozenset({"08", "0A", "25", "28", "3D", "3F", "40", "42", "53", "55", "57"})

# MariaDB/MySQL error codes whose message names objects only (connection, grants, unknown
# database/table/column, foreign-key failures, locks, timeouts).
_MYSQL_TRUSTED = frozenset(
    {1040, 1044, 1045, 1046, 1048, 1049, 1054, 1142, 1143, 1146, 1205, 1213, 1216, 1217, 1317,
     1451, 1452, 2002, 2003, 2005, 2006, 2013, 3024}
)  # fmt: skip
# Messages that quote a value but also name the object: keep the name only.
_MYSQL_NAME = re.compile(r"for key '([A-Za-z0-9_$.]{1,64})'|for column [`']?([A-Za-z0-9_$.`]+)")


@dataclass(frozen=True)
class DriverError:
    """What may be said about a database error: class, code and object names, no values."""

    cls: str
    code: str | None
    detail: str

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.cls}{code}" + (f": {self.detail}" if self.detail else "")


def describe_driver_error(exc: BaseException) -> DriverError | None:
    """Describe a DB-API driver error safely; None if ``exc`` is not one we recognise.

    Recognised: psycopg (``sqlstate`` and ``diag``), PyMySQL/mysqlclient (``(code, message)``
    args) and sqlite3 (``sqlite_errorname``). SQLAlchemy's wrapper is unwrapped.
    """
    orig = getattr(exc, "orig", None)
    if orig is not None and isinstance(orig, BaseException):
        exc = orig
    cls = type(exc).__name__
    if hasattr(exc, "diag") and hasattr(exc, "sqlstate"):
        return _postgres(exc, cls)
    errname = getattr(exc, "sqlite_errorname", None)
    if isinstance(errname, str):
        # A trigger's RAISE(ABORT, '...') is SQLITE_CONSTRAINT_TRIGGER: free text, dropped.
        trusted = errname != "SQLITE_CONSTRAINT_TRIGGER"
        return DriverError(cls, errname, first_line(str(exc)) if trusted else "")
    args = exc.args  # PyMySQL/mysqlclient: (code, message)
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        code, message = args[0], args[1]
        if code in _MYSQL_TRUSTED:
            return DriverError(cls, f"MySQL {code}", first_line(message))
        names = _MYSQL_NAME.search(message)
        detail = ""
        if names:
            detail = f"key {names.group(1)}" if names.group(1) else f"column {names.group(2)}"
        return DriverError(cls, f"MySQL {code}", detail.replace("`", ""))
    return None


def _postgres(exc: BaseException, cls: str) -> DriverError:
    diag = exc.diag  # type: ignore[attr-defined]
    state: str | None = exc.sqlstate  # type: ignore[attr-defined]
    if state is None:
        # Raised by the client before the server said anything (connection refused, timeout):
        # the message is about the host, never about rows.
        return DriverError(cls, None, first_line(str(exc)))
    # An error raised inside a function or trigger (it has a CONTEXT: "PL/pgSQL function ...
    # at RAISE") carries a message its author wrote, whatever SQLSTATE the author picked
    # (``RAISE ... USING ERRCODE = 'insufficient_privilege'`` is class 42): never trusted.
    from_code = bool(getattr(diag, "context", None))
    if state[:2] in _PG_TRUSTED_CLASSES and diag.message_primary and not from_code:
        return DriverError(cls, f"SQLSTATE {state}", first_line(diag.message_primary))
    parts = [
        f"{label} {value}"
        for label, value in (
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("constraint", diag.constraint_name),
            ("type", diag.datatype_name),
        )
        if value and _IDENTIFIER.fullmatch(value)
    ]
    return DriverError(cls, f"SQLSTATE {state}", ", ".join(parts))


def describe_exception(exc: BaseException) -> str:
    """One line about any exception: a driver error from its safe parts, else scrubbed text."""
    driver = describe_driver_error(exc)
    if driver is not None:
        return str(driver)
    text = first_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

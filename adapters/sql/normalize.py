"""The SQL form of identity normalisation: one expression per match mode and dialect.

``normalized(column, mode, dialect)`` is what a column is compared by; the values it is
compared with go through the same rule in Python (``dsrflow.identity.normalize_mode``), so
``normalized(col, mode, d).in_(values)`` matches exactly the rows whose value normalises to one
of the subject's.

- ``exact``: the column itself (index-friendly).
- ``binary``: exact, byte for byte: on MariaDB/MySQL ``utf8mb4_bin``, elsewhere the column.
- ``casefold``: the column trimmed of every white space (``dsrflow.identity.TRIMMED``: a CRLF
  import's CR, tabs, no-break spaces...) and lower-cased, with the look-alikes that fold
  onto ASCII (``FOLD_GUARDED``: KELVIN SIGN...) kept as they are, exactly as Python's
  ``casefold``. PostgreSQL: ``btrim`` + ``lower`` (immutable: an expression index on exactly the
  expression ``dsrflow stores test`` prints serves it); MariaDB/MySQL: ``REGEXP_REPLACE`` +
  ``lower``, compared byte-wise (``utf8mb4_bin``: a column's accent-insensitive collation would
  otherwise make ``josé@`` equal ``jose@``, two people); SQLite, whose ``lower`` folds ASCII
  only: the function ``dsrflow_casefold`` (Python's own ``casefold``) registered on every
  connection.
- ``phone``: the E.164 form ``+<digits>``, computed with ``regexp_replace`` and ``CASE`` on
  PostgreSQL/MariaDB, and by the function ``dsrflow_e164`` that ``engine.py`` registers on every
  SQLite connection (the Python normaliser itself, declared deterministic).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, case, cast, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import Function, FunctionElement

from dsrflow.adapters.sdk.identity import (
    DEFAULT_KINDS,
    FOLD_GUARDED,
    MODES,
    TRIMMED,
    IdentityKinds,
    casefold,
    normalize_phone,
)

SQLITE_E164 = "dsrflow_e164"
SQLITE_CASEFOLD = "dsrflow_casefold"
# Private-use stand-ins that lower() leaves alone: the guarded look-alikes ride through it.
_STAND_INS = {ch: chr(0xE000 + i) for i, ch in enumerate(FOLD_GUARDED)}


class _Utf8Bin(FunctionElement[str]):
    """``CONVERT(x USING utf8mb4) COLLATE utf8mb4_bin``: byte-wise comparison on MySQL/MariaDB."""

    type = String()
    name = "utf8_bin"
    inherit_cache = True


@compiles(_Utf8Bin)
def _compile_utf8_bin(element: _Utf8Bin, compiler: Any, **kw: Any) -> str:
    return f"CONVERT({compiler.process(element.clauses, **kw)} USING utf8mb4) COLLATE utf8mb4_bin"


def mode_for(kind: str, kinds: IdentityKinds | None = None) -> str:
    """Default match mode of an identity kind (email casefold, phone phone, else exact)."""
    return (kinds or DEFAULT_KINDS).mode(kind)


def is_mysql(dialect: str) -> bool:
    """MySQL and MariaDB share the SQL used here."""
    return dialect in ("mysql", "mariadb")


def normalized(
    column: ColumnElement[Any], mode: str, dialect: str, *, country_code: str | None = None
) -> ColumnElement[Any]:
    """The SQL expression of a column's normalised form under a match mode.

    Args:
        column: A column (or any SQL expression).
        mode: ``exact``, ``casefold`` or ``phone`` (or ``binary``: exact, byte for byte).
        dialect: SQLAlchemy dialect name: ``postgresql``, ``mysql``, ``mariadb`` or ``sqlite``.
        country_code: Phone only: the catalog's default country code (digits).

    Raises:
        ValueError: An unknown mode, or a country code that is not digits.

    """
    if mode == "exact":
        return column
    if mode == "binary":  # exact, byte for byte (MySQL/MariaDB collations may fold case)
        return _Utf8Bin(_as_text(column)) if is_mysql(dialect) else column
    if country_code is not None and not country_code.isdigit():
        raise ValueError("country_code must be digits")
    text = _as_text(column)
    if mode == "casefold":
        return _casefold_sql(text, dialect)
    if mode == "phone":
        if dialect == "sqlite":
            return Function(SQLITE_E164, text, _lit(country_code or ""))
        return _phone_sql(text, dialect, country_code)
    raise ValueError(f"unknown match mode {mode!r} (expected one of {', '.join(MODES)})")


def _casefold_sql(text: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Python's ``casefold`` in SQL: trim ``TRIMMED``, lower-case all but ``FOLD_GUARDED``."""
    if dialect == "sqlite":
        return Function(SQLITE_CASEFOLD, text)
    if is_mysql(dialect):
        chars = "".join(TRIMMED)
        trimmed = func.regexp_replace(text, _lit(f"^[{chars}]+|[{chars}]+$"), _lit(""))
    else:
        trimmed = func.btrim(text, _pg_lit(TRIMMED))
    guarded: Any = trimmed
    for ch, stand_in in _STAND_INS.items():
        guarded = func.replace(guarded, _any_lit(dialect, ch), _any_lit(dialect, stand_in))
    folded: Any = func.lower(guarded)
    for ch, stand_in in _STAND_INS.items():
        folded = func.replace(folded, _any_lit(dialect, stand_in), _any_lit(dialect, ch))
    return _Utf8Bin(folded) if is_mysql(dialect) else folded


def _pg_lit(text: str) -> ColumnElement[str]:
    """A PostgreSQL ``E'...'`` literal, every non-printable or non-ASCII character escaped.

    The same constant as the raw characters, but readable in ``stores test``'s index advice.
    """
    out = []
    for ch in text:
        if ch == "'" or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return literal_column("E'" + "".join(out) + "'", String)


def _any_lit(dialect: str, text: str) -> ColumnElement[str]:
    return _pg_lit(text) if dialect == "postgresql" else _lit(text)


def _as_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return column if isinstance(column.type, String) else cast(column, String)


def _phone_sql(
    text: ColumnElement[Any], dialect: str, country_code: str | None
) -> ColumnElement[Any]:
    """``normalize_phone`` in SQL (PostgreSQL and MySQL/MariaDB); keep the two in step."""
    flags = (_lit("g"),) if dialect == "postgresql" else ()
    raw = func.replace(text, _lit("(0)"), _lit(""))
    kept = func.regexp_replace(raw, _lit("[^0-9+]"), _lit(""), *flags)
    digits = func.regexp_replace(raw, _lit("[^0-9]"), _lit(""), *flags)
    national: Any = digits
    trunk: Any = digits
    if country_code:
        national = _concat(
            dialect, _lit("+" + country_code), func.substr(digits, literal_column("2", Integer))
        )
        trunk = _concat(dialect, _lit("+" + country_code), digits)
    whens: list[tuple[Any, Any]] = [
        (digits == _lit(""), _lit("")),
        (kept.like(_lit("+%")), _concat(dialect, _lit("+"), digits)),
        (digits == _lit("00"), _lit("")),
        (
            digits.like(_lit("00%")),
            _concat(dialect, _lit("+"), func.substr(digits, literal_column("3", Integer))),
        ),
    ]
    if country_code:
        whens.append((digits.like(_lit("0%")), national))
    return case(*whens, else_=trunk)


def _lit(text: str) -> ColumnElement[str]:
    # Literals, not bound parameters: a PostgreSQL expression index must see the same text.
    # Only constants of this module and digit-only country codes ever get here.
    return literal_column("'" + text.replace("'", "''") + "'", String)


def _concat(dialect: str, *parts: ColumnElement[Any]) -> ColumnElement[Any]:
    # PostgreSQL: '||' (concat() is only STABLE, so an expression index could not use it).
    if is_mysql(dialect):
        return func.concat(*parts)
    out = parts[0]
    for part in parts[1:]:
        out = out.op("||")(part)
    return out


def sqlite_casefold(value: Any) -> str | None:
    """The ``dsrflow_casefold(value)`` SQL function registered on SQLite (Python's own rule)."""
    if value is None:
        return None
    return casefold(str(value))


def sqlite_e164(value: Any, country_code: str | None) -> str | None:
    """The ``dsrflow_e164(value, country_code)`` SQL function registered on SQLite."""
    if value is None:
        return None
    return normalize_phone(str(value), country_code or None)

"""The SQL form of identity normalisation (minimal stand-in; helper "match" owns this file).

``normalized(column, mode, dialect)`` is what a column is compared by: ``exact`` (the column),
``casefold`` (``lower(trim(col))``) or ``phone`` (``+`` and digits only). The integrator keeps
the full version from the match branch; this one has the same signature so the residual sweep
can be built and tested against it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

MODES = ("exact", "casefold", "phone")


def mode_for(kind: str, kinds: Any = None) -> str:
    """Default match mode of an identity kind (email casefold, phone phone, else exact)."""
    if kinds is not None and hasattr(kinds, "mode"):
        return str(kinds.mode(kind))
    return {"email": "casefold", "phone": "phone"}.get(kind, "exact")


def normalized(
    column: Any, mode: str, dialect: str, *, country_code: str | None = None
) -> ColumnElement[Any]:
    """The SQL expression of a column's normalised form under a match mode."""
    del country_code  # the minimal version keeps digits only; match's version places numbers
    if mode == "exact":
        return column
    text = column if isinstance(getattr(column, "type", None), String) else cast(column, String)
    if mode == "casefold":
        return func.lower(func.trim(text))
    if mode == "phone":
        if dialect == "sqlite":
            out = text
            for ch in (" ", "-", "(", ")", ".", "/"):
                out = func.replace(out, _lit(ch), _lit(""))
            return out
        flags = (_lit("g"),) if dialect == "postgresql" else ()
        return func.regexp_replace(text, _lit("[^0-9+]"), _lit(""), *flags)
    raise ValueError(f"unknown match mode {mode!r} (expected one of {', '.join(MODES)})")


def _lit(text: str) -> ColumnElement[str]:
    return literal_column("'" + text.replace("'", "''") + "'", String)

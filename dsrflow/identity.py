"""Normalisation of subject identifiers (standard library only; the verifier uses it too)."""

from __future__ import annotations

import re

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def normalize_value(kind: str, value: str) -> str:
    """Normalise an identifier so the same person always gives the same string.

    E-mail addresses are trimmed and lower-cased; phone numbers keep digits and a leading '+';
    everything else is trimmed.
    """
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return ("+" if value.startswith("+") else "") + re.sub(r"\D", "", value)
    return value


def valid_kind(kind: str) -> bool:
    """Identity kinds are short lower-case names (they appear in config, never personal data)."""
    return bool(_KIND.match(kind))

"""Scrub personal data out of free text (error messages, log lines).

Adapters and drivers put values in their messages (``Key (email)=(a@b.c) already exists``,
``[parameters: ('a@b.c',)]``). Anything that leaves an activity as text goes through ``scrub``.
"""

from __future__ import annotations

import re

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

"""Identity kinds and the normalisation of subject identifiers (standard library only).

Part of the adapter SDK (adapters match identifiers by these rules); the core imports them as
``dsrflow.identity``, and the offline verifier's evidence format uses ``normalize_value`` too, so
nothing here may import anything but the standard library.

Every identity kind has a match mode, which is also its normaliser:

- ``casefold`` (built-in ``email``): trimmed (every white space, ``TRIMMED``) and lower-cased
  (never onto ASCII from a look-alike, ``FOLD_GUARDED``). Nothing else: plus-tags, dots and
  anything that could merge two people are kept (``mia.park+shop@example.org`` and
  ``mia.park@example.org`` are different people).
- ``phone`` (built-in ``phone``): E.164, ``+<digits>``. ``00`` is the international prefix;
  with a default country code a leading ``0`` is the national trunk prefix.
- ``exact`` (every other kind): trimmed only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PHONE_KEEP = re.compile(r"[^0-9+]")

MODES = ("exact", "casefold", "phone")
BUILTIN_MODES: Mapping[str, str] = {"email": "casefold", "phone": "phone"}


def normalize_phone(value: str, default_country_code: str | None = None) -> str:
    """E.164 form ``+<digits>`` of a phone number ('' when it holds no digit).

    ``+44 20 7946 0018`` and ``0044 20 7946 0018`` give ``+442079460018``; so does
    ``020 7946 0018`` with default country code ``44`` (its ``0`` is the trunk prefix). The
    written-out trunk prefix ``+44 (0)20 ...`` is dropped. Without a default country code a
    national number cannot be placed, so it stays as its digits (it matches only itself).
    Only ASCII digits count, exactly as in the SQL form (``adapters/sql/normalize.py``).
    """
    text = value.replace("(0)", "")
    kept = _PHONE_KEEP.sub("", text)
    digits = kept.replace("+", "")
    if not digits:
        return ""
    if kept.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:] if len(digits) > 2 else ""
    if default_country_code:
        return "+" + default_country_code + (digits[1:] if digits.startswith("0") else digits)
    return digits


TRIMMED = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u200b\ufeff"
"""What ``casefold`` trims at both ends: every Unicode white space (a CRLF import's ``\\r``, a
tab, a no-break space...) plus the zero-width space and the byte-order mark. The SQL form
(``adapters/sql/normalize.py``) trims exactly these characters, so a padded value in a store is
found by the matcher and by the sweep."""

FOLD_GUARDED = "\u212a\u0130"
"""Characters whose lower case contains an ASCII letter (KELVIN SIGN, CAPITAL I WITH DOT):
never folded, in Python or in SQL."""


def _folds_onto_ascii(ch: str) -> bool:
    # KELVIN SIGN lower-cases to ASCII "k", DOTTED CAPITAL I to "i" + a combining dot: folding
    # them would make a different address equal someone's plain ASCII one.
    return not ch.isascii() and any(c.isascii() for c in ch.lower())


def casefold(value: str) -> str:
    """Trim and lower-case an identifier, never onto another person's address.

    A non-ASCII character whose lower case contains an ASCII letter (``K`` KELVIN SIGN -> ``k``)
    is kept as it is: ``mia.par\u212a@example.org`` is not ``mia.park@example.org``.
    """
    return "".join(ch if _folds_onto_ascii(ch) else ch.lower() for ch in value.strip(TRIMMED))


def normalize_mode(mode: str, value: str, *, default_country_code: str | None = None) -> str:
    """Normalise a value by a match mode (``exact``, ``casefold`` or ``phone``)."""
    if mode == "casefold":
        return casefold(value)
    if mode == "phone":
        return normalize_phone(value, default_country_code)
    return value.strip()


def normalize_value(kind: str, value: str, *, default_country_code: str | None = None) -> str:
    """Normalise an identifier of a built-in or exact kind so one person gives one string.

    E-mail addresses are trimmed and lower-cased; phone numbers become E.164 (see
    ``normalize_phone``); everything else is trimmed. Kinds a catalog declares with another mode
    go through ``IdentityKinds.normalize``.
    """
    mode = BUILTIN_MODES.get(kind, "exact")
    return normalize_mode(mode, value, default_country_code=default_country_code)


def valid_kind(kind: str) -> bool:
    """Identity kinds are short lower-case names (they appear in config, never personal data)."""
    return bool(_KIND.match(kind))


@dataclass(frozen=True)
class KindRule:
    """How one identity kind is matched.

    Attributes:
        name: The kind.
        mode: ``exact``, ``casefold`` or ``phone``: the normaliser of submitted values and the
            default match mode of identity columns of this kind.
        strong: Whether the kind identifies one person on its own (the residual sweep looks
            for strong kinds everywhere).
        origin: ``builtin``, ``declared`` (catalog ``identity_kinds``) or ``provided`` (only
            produced by some store's ``provides``).

    """

    name: str
    mode: str = "exact"
    strong: bool = False
    origin: str = "declared"


BUILTIN_KINDS: Mapping[str, KindRule] = {
    "email": KindRule("email", "casefold", strong=True, origin="builtin"),
    "phone": KindRule("phone", "phone", strong=True, origin="builtin"),
}


@dataclass(frozen=True)
class IdentityKinds:
    """The registry of identity kinds one catalog knows (``Catalog.identity_kinds``).

    Attributes:
        rules: kind -> rule, built-ins included.
        default_country_code: Digits of the country code national phone numbers belong to.

    """

    rules: Mapping[str, KindRule] = field(default_factory=lambda: dict(BUILTIN_KINDS))
    default_country_code: str | None = None

    def known(self, kind: str) -> bool:
        """Whether the kind is built in, declared or provided by some store."""
        return kind in self.rules

    def names(self) -> list[str]:
        """Every known kind, sorted (for error messages)."""
        return sorted(self.rules)

    def strong_kinds(self) -> frozenset[str]:
        """Kinds that identify one person on their own: ``email``, ``phone`` and declared ones."""
        return frozenset(k for k, r in self.rules.items() if r.strong)

    def mode(self, kind: str) -> str:
        """Default match mode of a kind (``exact`` for a kind this registry does not know)."""
        rule = self.rules.get(kind)
        return rule.mode if rule else BUILTIN_MODES.get(kind, "exact")

    def normalize(self, kind: str, value: str) -> str:
        """Normalise a submitted identifier of this kind."""
        return normalize_mode(
            self.mode(kind), value, default_country_code=self.default_country_code
        )

    def normalize_for(self, mode: str, value: str) -> str:
        """Normalise a value for a column compared in ``mode`` (may differ from its kind's)."""
        return normalize_mode(mode, value, default_country_code=self.default_country_code)


def casefold_glob(value: str, escape: Callable[[str], str]) -> str:
    """A glob matching ``value`` in any letter case (``a@b`` -> ``[aA]@[bB]``).

    Every other character goes through ``escape`` (the store's glob escaping), so a value can
    never widen the match beyond its own case variants.
    """
    out = []
    for ch in value:
        low, up = ch.lower(), ch.upper()
        if _folds_onto_ascii(ch) or _folds_onto_ascii(up):
            out.append(escape(ch))  # never a class that takes in another address's letter
            continue
        # Only an upper case that lower-cases back to the same letter: never a class wider
        # than what lower(trim(...)) would call equal.
        if len(low) == 1 and len(up) == 1 and low != up and up.lower() == low:
            out.append(f"[{low}{up}]")
        else:
            out.append(escape(ch))
    return "".join(out)


DEFAULT_KINDS = IdentityKinds()
"""Built-ins only, no default country code: for code that runs without a catalog."""

"""What every adapter's residual sweep shares: which identifiers it looks for, and how.

The sweep looks only for *strong* identifiers (built-in ``email`` and ``phone``, plus every kind
the catalog marks ``strong: true``): a weak one (a customer number ``42``) would be found in
every free-text column of the store and prove nothing. Values are normalised by their kind's
match mode (``casefold``, ``phone``, ``exact``), the same rule the matcher uses, so a padded or
mixed-case copy is found and a plus-tag neighbour (a different person) is not.
"""

from __future__ import annotations

from dsrflow.adapters.sdk.identity import IdentityKinds, casefold, normalize_value
from dsrflow.adapters.sdk.subject import Subject

BUILTIN_STRONG = frozenset({"email", "phone"})


def strong_kinds(kinds: IdentityKinds | None = None) -> frozenset[str]:
    """Strong identity kinds of a catalog's registry (``Catalog.identity_kinds``).

    Without a registry, the built-ins ``email`` and ``phone``.
    """
    extra = kinds.strong_kinds() if kinds is not None else frozenset()
    return BUILTIN_STRONG | extra


def mode_of(kind: str, kinds: IdentityKinds | None = None) -> str:
    """Match mode of a kind: the registry's, else e-mail casefold, phone E.164, other exact."""
    if kinds is not None:
        return kinds.mode(kind)
    return {"email": "casefold", "phone": "phone"}.get(kind, "exact")


def normalize(mode: str, value: str, country_code: str | None = None) -> str:
    """Normalise one value by a match mode (what the column's normalised form is compared to)."""
    if mode == "casefold":
        return casefold(value)
    if mode == "phone":
        extra = {"default_country_code": country_code} if country_code else {}
        return normalize_value("phone", value, **extra)
    return value.strip()


def searchable(
    subject: Subject, kinds: IdentityKinds | None = None
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The subject's strong identifiers: kind -> (match mode, normalised values), sorted.

    Kinds that are not strong are dropped here, whoever calls the sweep; empty values too.
    """
    strong = strong_kinds(kinds)
    country = kinds.default_country_code if kinds is not None else None
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for kind in sorted(subject.identities):
        if kind not in strong:
            continue
        mode = mode_of(kind, kinds)
        values = sorted(
            {v for v in (normalize(mode, x, country) for x in subject.values(kind)) if v}
        )
        if values:
            out[kind] = (mode, tuple(values))
    return out


def needles(found: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """Lower-cased values per kind, for case-insensitive substring search in text."""
    return {kind: tuple(sorted({casefold(v) for v in vals})) for kind, (_, vals) in found.items()}


def escape_like(value: str, escape: str = "!") -> str:
    """A value with LIKE's ``%`` and ``_`` (and the escape character) escaped."""
    return (
        value.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
    )


NO_STRONG_IDENTIFIER = (
    "*: the subject has no strong identifier (e-mail, phone or a kind marked strong) to search for"
)

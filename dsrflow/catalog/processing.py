"""Processing information per store and collection: what an access package tells the subject.

Art. 15(1) wants more than the data: purposes, categories, recipients (and transfers outside
the EEA with their safeguard), retention and source; Art. 20 covers only what the subject
*provided*; Art. 15(4) forbids revealing other people's data. The catalog says all of that per
store (defaults) and per collection (overrides), next to the store's adapter config::

    processing:
      purposes: [Order fulfilment]
      legal_basis: Art. 6(1)(b) contract
      retention: 6 years after the last order (tax law)
      recipients:
        - {name: ParcelCo, country: US, outside_eea: true, safeguard: SCC Art. 46(2)(c)}
      collections:
        customer:
          fields: {email: [user.contact.email], name: [user.name]}
          provided: [email, name]
          exclude: [{field: password_hash, reason: internal helper column}]
          redact: [{field: referrer_email, ground: other_people, reason: another customer}]

Data categories use the Fides taxonomy names, so ``catalog import-fides`` carries them over.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATEGORY_PATTERN = r"^(user|system|data)(\.[a-z0-9_]+)*$"
"""A Fides taxonomy data category (``user.contact.email``, ``system.operations``...)."""


class Recipient(BaseModel):
    """Someone the data is disclosed to (Art. 15(1)(c)).

    A transfer outside the EEA names its safeguard (Art. 15(2), Art. 44-49).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    country: str = Field("", pattern=r"^([A-Z]{2})?$", description="ISO 3166 alpha-2.")
    outside_eea: bool = False
    safeguard: str = ""

    @model_validator(mode="after")
    def _safeguard(self) -> Recipient:
        if self.outside_eea and not self.safeguard.strip():
            raise ValueError(
                "a transfer outside the EEA needs its 'safeguard' (adequacy decision, SCC...)"
            )
        return self


class FieldRule(BaseModel):
    """A field left out of the package (projection), with the reason the package states."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class RedactRule(FieldRule):
    """A field redacted: it would reveal other people's data (Art. 15(4)) or internal secrets.

    Internal secrets: staff logins, security signals, fraud scores.
    """

    ground: Literal["other_people", "internal_secret"]


class _Info(BaseModel):
    """Fields a store sets as defaults and a collection may override (None: inherit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purposes: list[str] | None = None
    legal_basis: str | None = Field(
        None, pattern=r"^Art\. 6\(1\)\([a-f]\)", description="e.g. 'Art. 6(1)(b) contract'"
    )
    recipients: list[Recipient] | None = None
    retention: str | None = Field(None, min_length=1)
    source: str | None = Field(None, min_length=1)
    subjects: list[str] | None = Field(
        None, description="Categories of data subjects (Art. 30(1)(c)): customers, staff..."
    )

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not s.strip() for s in value):
            raise ValueError("subjects: an entry is empty (name the category, e.g. customers)")
        return value


class CollectionProcessing(_Info):
    """One collection's processing information and package rules."""

    fields: dict[str, list[str]] = Field(
        default_factory=dict, description="Data categories per field (Fides names)."
    )
    categories: list[str] = Field(default_factory=list, description="Categories of no field.")
    provided: list[str] | None = Field(
        None, description="Fields the subject provided (Art. 20); None: not declared."
    )
    exclude: list[FieldRule] = Field(default_factory=list)
    redact: list[RedactRule] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _field_categories(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, cats in value.items():
            _check_categories(cats, f"fields.{name}")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        return _check_categories(value, "categories")

    @model_validator(mode="after")
    def _rules(self) -> CollectionProcessing:
        excluded = [r.field for r in self.exclude]
        redacted = [r.field for r in self.redact]
        both = sorted(set(excluded) & set(redacted))
        if both:
            raise ValueError(f"field(s) {', '.join(both)} both excluded and redacted: pick one")
        for names, what in ((excluded, "exclude"), (redacted, "redact")):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{what}: field(s) {', '.join(dup)} listed twice")
        return self


class StoreProcessing(_Info):
    """A store's processing information: defaults plus per-collection entries."""

    categories: list[str] = Field(default_factory=list)
    collections: dict[str, CollectionProcessing] = Field(default_factory=dict)
    security: str | None = Field(
        None, min_length=1, description="Security measures of this store (Art. 30(1)(g))."
    )

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        return _check_categories(value, "categories")

    def collection(self, name: str) -> CollectionProcessing:
        """The collection's entry (an empty one when the catalog has none)."""
        return self.collections.get(name) or CollectionProcessing()

    def resolved(self, name: str) -> dict[str, Any]:
        """The collection's processing information with the store's defaults filled in (JSON)."""
        coll = self.collection(name)
        cats = sorted({c for cs in coll.fields.values() for c in cs} | set(coll.categories))
        return {
            "purposes": list(_pick(coll.purposes, self.purposes, [])),
            "legal_basis": _pick(coll.legal_basis, self.legal_basis, None),
            "data_categories": cats or sorted(self.categories),
            "field_categories": {k: list(v) for k, v in sorted(coll.fields.items())},
            "recipients": [r.model_dump() for r in _pick(coll.recipients, self.recipients, [])],
            "retention": _pick(coll.retention, self.retention, None),
            "source": _pick(coll.source, self.source, None),
            "provided_fields": None if coll.provided is None else list(coll.provided),
        }

    def sheet(self) -> dict[str, Any]:
        """Everything the access package needs from the catalog, as plain JSON.

        The artifact store reads this (it must not import the catalog): ``default`` is what a
        collection without an entry gets; each listed collection adds its projection
        (``excluded``) and ``redacted`` rules.
        """
        return {
            "default": self.resolved("\x00 no entry"),
            "collections": {
                name: {
                    "processing": self.resolved(name),
                    "excluded": [r.model_dump() for r in coll.exclude],
                    "redacted": [r.model_dump() for r in coll.redact],
                }
                for name, coll in self.collections.items()
            },
        }


def _pick(own: Any, default: Any, missing: Any) -> Any:
    if own is not None:
        return own
    return default if default is not None else missing


def _check_categories(value: list[str], where: str) -> list[str]:
    for cat in value:
        if not re.match(CATEGORY_PATTERN, cat):
            raise ValueError(
                f"{where}: {cat!r} is not a Fides data category (e.g. user.contact.email)"
            )
    return value

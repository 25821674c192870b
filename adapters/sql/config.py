"""Catalog schema of the SQL adapter.

Example::

    shop:
      adapter: sql
      connection: {url: "sqlite:///stores/shop.db"}
      collections:
        customers:
          identities: {email: email}          # column -> identity kind it is matched by
          provides: {id: customer_id}         # column -> identity kind it resolves to
          erase: delete
        addresses:
          references: {id: customers.address_id}   # row belongs to the subject if id = a
                                                   # subject's customers.address_id
          erase: delete
        orders:
          references: {customer_id: customers.id}
          erase: {strategy: anonymize, fields: {shipping_name: null}}
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dsrflow.graph import find_cycle

_REF = re.compile(r"^([^.\s]+)\.([^.\s]+)$")


class Connection(BaseModel):
    """Where the database is. Secrets by env-var reference only, never inline."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str | None = Field(None, description="SQLAlchemy URL without a password.")
    url_env: str | None = Field(None, description="Env var holding the whole URL.")
    password_env: str | None = Field(None, description="Env var holding the password.")
    schema_: str | None = Field(None, alias="schema")

    @model_validator(mode="after")
    def _one_source(self) -> Connection:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of 'url' or 'url_env'")
        if self.url is not None:
            try:
                parsed = make_url(self.url)
            except ArgumentError:
                raise ValueError("'url' is not a valid SQLAlchemy URL") from None
            if parsed.password:
                raise ValueError(
                    "'url' must not contain a password; put it in an env var and name it "
                    "with 'password_env'"
                )
        return self


class FixedValue(BaseModel):
    """Rewrite a field to a fixed value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fixed: str | int | float | bool


FieldRule = FixedValue | None


class EraseSpec(BaseModel):
    """What erasure does to one collection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["delete", "anonymize", "keep"] = "delete"
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    basis: str | None = Field(None, description="Legal basis for keep, e.g. 'Art. 17(3)(b)'.")
    until: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EraseSpec:
        if self.strategy == "anonymize" and not self.fields:
            raise ValueError("strategy 'anonymize' needs 'fields'")
        if self.strategy != "anonymize" and self.fields:
            raise ValueError("'fields' only applies to strategy 'anonymize'")
        if self.strategy == "keep" and not self.basis:
            raise ValueError("strategy 'keep' needs a legal 'basis'")
        return self


class CollectionConfig(BaseModel):
    """One table and how it relates to the subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = Field(None, description="Table name; defaults to the collection name.")
    identities: dict[str, str] = Field(default_factory=dict)
    provides: dict[str, str] = Field(default_factory=dict)
    references: dict[str, str] = Field(default_factory=dict)
    erase: EraseSpec = Field(default_factory=EraseSpec)

    @field_validator("erase", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "delete":
            return {"strategy": "delete"}
        return value

    @field_validator("references")
    @classmethod
    def _ref_format(cls, value: dict[str, str]) -> dict[str, str]:
        for column, target in value.items():
            if not _REF.match(target):
                raise ValueError(f"reference {column}: {target!r} must be 'collection.column'")
        return value

    def referenced(self) -> list[tuple[str, str, str]]:
        """``(local column, parent collection, parent column)`` for every reference."""
        out = []
        for column, target in self.references.items():
            m = _REF.match(target)
            assert m is not None  # validated above
            out.append((column, m.group(1), m.group(2)))
        return out


class SqlConfig(BaseModel):
    """The SQL adapter's part of a store entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: Connection
    collections: dict[str, CollectionConfig] = Field(min_length=1)
    batch_size: int = Field(5000, ge=1, description="Rows per batch when streaming access.")

    @field_validator("collections")
    @classmethod
    def _graph(cls, collections: dict[str, CollectionConfig]) -> dict[str, CollectionConfig]:
        names = set(collections)
        for name, coll in collections.items():
            for column, parent, _ in coll.referenced():
                if parent not in names:
                    raise ValueError(f"collection {name}: reference {column} -> unknown {parent!r}")
                if parent == name:
                    raise ValueError(f"collection {name}: reference {column} points at itself")
        # Every collection must be reachable from an identity, else it can never match anything.
        reach = {n for n, c in collections.items() if c.identities}
        changed = True
        while changed:
            changed = False
            for n, c in collections.items():
                if n not in reach and any(p in reach for _, p, _ in c.referenced()):
                    reach.add(n)
                    changed = True
        orphans = sorted(names - reach)
        if orphans:
            raise ValueError(
                "collections not reachable from any identity column: " + ", ".join(orphans)
            )
        cycle = find_cycle({n: [p for _, p, _ in c.referenced()] for n, c in collections.items()})
        if cycle:
            raise ValueError("reference cycle: " + " -> ".join(cycle))
        return collections

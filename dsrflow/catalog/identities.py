"""The catalog's ``identity_kinds`` section and the registry built from it.

Example::

    identity_kinds:
      phone: {default_country_code: "44"}     # national numbers (020 ...) are +44
      loyalty_no: {strong: true, match: exact}

Built-in kinds: ``email`` (casefold, strong) and ``phone`` (E.164, strong). A kind some store
``provides`` is known as exact and weak. Any other kind a store names must be declared here, so
a typo (``emial``, ``Email``) is an error naming file and line instead of a silent non-match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from dsrflow.identity import BUILTIN_KINDS, IdentityKinds, KindRule, valid_kind


class KindConfig(BaseModel):
    """One entry of ``identity_kinds``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strong: bool | None = Field(
        None, description="Identifies one person on its own (the residual sweep looks for it)."
    )
    match: Literal["exact", "casefold", "phone"] | None = Field(
        None, description="Normaliser and default match mode (default exact)."
    )
    default_country_code: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,2}$", description="phone only: e.g. '44' (no '+')."
    )


class IdentityKindsConfig(RootModel[dict[str, KindConfig]]):
    """The ``identity_kinds`` section: kind name -> its rule."""

    root: dict[str, KindConfig] = Field(default_factory=dict)

    @field_validator("root")
    @classmethod
    def _names(cls, value: dict[str, KindConfig]) -> dict[str, KindConfig]:
        for name in value:
            if not valid_kind(name):
                raise ValueError(
                    f"kind {name!r}: kinds are lower-case letters, digits and '_' (e.g. loyalty_no)"
                )
        return value

    @model_validator(mode="after")
    def _builtins(self) -> IdentityKindsConfig:
        for name, spec in self.root.items():
            builtin = BUILTIN_KINDS.get(name)
            if spec.default_country_code is not None and name != "phone":
                raise ValueError(f"kind {name!r}: 'default_country_code' applies to phone only")
            if builtin is None:
                continue
            # Built-ins may be restated but not weakened: a weaker e-mail rule would let the
            # sweep or the matcher miss a person's rows.
            if spec.match is not None and spec.match != builtin.mode:
                raise ValueError(
                    f"kind {name!r} is built in with match {builtin.mode!r}; opt a column into "
                    "exact matching with the long form {kind: ..., match: exact} instead"
                )
            if spec.strong is False:
                raise ValueError(f"kind {name!r} is built in as strong; it cannot be made weak")
        return self


def build_registry(config: IdentityKindsConfig, provided: Iterable[str]) -> IdentityKinds:
    """The catalog's registry: built-ins, declared kinds, then kinds only stores provide."""
    rules: dict[str, KindRule] = dict(BUILTIN_KINDS)
    for name, spec in config.root.items():
        if name in BUILTIN_KINDS:
            continue
        rules[name] = KindRule(name, spec.match or "exact", bool(spec.strong), "declared")
    for name in provided:
        rules.setdefault(name, KindRule(name, "exact", False, "provided"))
    phone = config.root.get("phone")
    return IdentityKinds(rules, phone.default_country_code if phone else None)

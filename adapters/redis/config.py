"""Catalog schema of the Redis adapter.

Example::

    cache:
      adapter: redis
      connection: {url: "redis://cache.internal:6379/0", password_env: CACHE_PASSWORD}
      key_prefix: "shop:"                 # prepended to every template
      collections:
        sessions:
          keys: "session:{customer_id}:*" # every key of the subject: deleted
        profile:
          keys: "user:{customer_id}"
          fields: [email, name]           # only these hash fields: HDEL
        newsletter:
          keys: "newsletter:subscribers"  # a set/list/sorted set the subject is a member of
          member: "{email}"               # SREM / LREM / ZREM

``{kind}`` placeholders take the subject's identity values of that kind, normalised by the
kind's rule (glob characters in a value are escaped, so a value can never widen the match); an
e-mail (any ``casefold`` kind) matches in any letter case, a phone by its E.164 form. ``*`` in a
template matches anything.
Keys are found with SCAN, never KEYS.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """Identity kinds a template names, in order."""
    return _PLACEHOLDER.findall(template)


def named_kinds(template: str) -> list[str]:
    """Every ``{name}`` of a template, well-formed or not (``{Email}`` is an unknown kind)."""
    return _ANY_PLACEHOLDER.findall(template)


class RedisConnection(BaseModel):
    """Where Redis is. Secrets by env-var reference only, never inline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="redis:// or rediss:// URL without a password.")
    username: str | None = None
    password_env: str | None = Field(None, description="Env var holding the password.")
    timeout: float = Field(5.0, gt=0, description="Socket connect/read timeout in seconds.")

    @field_validator("url")
    @classmethod
    def _no_password(cls, url: str) -> str:
        if not re.match(r"^rediss?://", url):
            raise ValueError("'url' must start with redis:// or rediss://")
        if re.match(r"^rediss?://[^@/]*:[^@/]*@", url):
            raise ValueError(
                "'url' must not contain a password; put it in an env var and name it with "
                "'password_env'"
            )
        return url


class RedisCollection(BaseModel):
    """One key template and what of it belongs to the subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: str = Field(min_length=1, description="Key template, e.g. 'session:{customer_id}:*'.")
    fields: list[str] = Field(default_factory=list, description="Hash fields (HDEL), not keys.")
    member: str | None = Field(None, description="Member template in a set/list/sorted set.")

    @model_validator(mode="after")
    def _shape(self) -> RedisCollection:
        if self.fields and self.member:
            raise ValueError("give 'fields' (hash) or 'member' (set/list), not both")
        if self.member is None and not placeholders(self.keys):
            raise ValueError(
                "'keys' must name an identity, e.g. 'session:{customer_id}:*' "
                "(or give 'member' for a shared set/list)"
            )
        if self.member is not None and not placeholders(self.member):
            raise ValueError("'member' must name an identity, e.g. '{email}'")
        return self

    @property
    def kind(self) -> str:
        """``key``, ``hash_fields`` or ``member``."""
        if self.member is not None:
            return "member"
        return "hash_fields" if self.fields else "key"


class RedisConfig(BaseModel):
    """The Redis adapter's part of a store entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: RedisConnection
    key_prefix: str = Field("", description="Prepended to every key template.")
    collections: dict[str, RedisCollection] = Field(min_length=1)
    batch_size: int = Field(500, ge=1, description="SCAN COUNT hint and keys per pipeline.")

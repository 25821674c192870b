"""What the orchestrator hands an adapter: its ``AdapterContext`` and a ``Progress`` callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dsrflow.adapters.sdk.errors import PermanentAdapterError
from dsrflow.adapters.sdk.identity import DEFAULT_KINDS, IdentityKinds

Progress = Callable[[int], None]
"""Called by long-running verbs with a running count; the activity turns it into a heartbeat,
so a long erasure or sweep is not mistaken for a dead worker."""


@dataclass(frozen=True)
class AdapterContext:
    """What the composition root gives every adapter instance.

    Attributes:
        store: The store's name in the catalog.
        base_dir: The catalog file's folder; relative paths in store config resolve against it.
        env: Environment to resolve ``*_env`` secret references from (never read os.environ
            directly).
        identity_kinds: The catalog's identity kinds: match mode per kind, strong kinds and the
            default phone country code.

    """

    store: str
    base_dir: Path
    env: Mapping[str, str]
    identity_kinds: IdentityKinds = DEFAULT_KINDS
    locate: Callable[[tuple[str | int, ...]], str | None] | None = None
    """``FILE:LINE`` of a field of this store's catalog entry (path under the entry), if known."""

    def where(self, *path: str | int) -> str:
        """``"FILE:LINE: "`` of a field of this store's catalog entry, or ``""`` when unknown.

        Errors found online (a column the table lacks) name the catalog line to fix, as
        ``catalog validate`` does for what it can check offline.
        """
        found = self.locate(path) if self.locate is not None else None
        return f"{found}: " if found else ""

    def secret(self, var: str, what: str) -> str:
        """Resolve a secret by env-var name.

        Raises:
            PermanentAdapterError: The variable is not set.

        """
        value = self.env.get(var)
        if value is None:
            raise PermanentAdapterError(f"store {self.store!r}: {what} env var {var} is not set")
        return value

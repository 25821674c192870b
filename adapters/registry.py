"""Find adapters by name through the ``dsrflow.adapters`` entry-point group, and check them.

Built-in adapters are registered the same way as third-party ones (see ``pyproject.toml``), so an
outside package adds a store type by declaring an entry point, nothing more. An adapter is
imported only when a catalog names it; it then registers: its class's declaration is checked
once (``sdk.capabilities.describe``) and everything else asks the resulting ``AdapterSpec``.
Names the operator blocks (``DSRFLOW_ADAPTERS_BLOCKED``) are never imported at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from importlib.metadata import EntryPoint, entry_points

from dsrflow.adapters.sdk.capabilities import AdapterSpec, describe
from dsrflow.adapters.sdk.contract import Adapter
from dsrflow.adapters.sdk.errors import ContractError
from dsrflow.errors import ConfigError

GROUP = "dsrflow.adapters"
BLOCKED_VAR = "DSRFLOW_ADAPTERS_BLOCKED"


class AdapterRegistry:
    """Maps adapter names to checked adapter classes, loading each lazily.

    Args:
        entry_points_by_name: Installed adapters, not imported yet.
        classes: Adapter classes given directly (tests, embedding); checked here, at once.
        blocked: Adapter names that must not load (the operator's blocklist).

    Raises:
        ConfigError: A class given directly does not fit the contract.

    """

    def __init__(
        self,
        entry_points_by_name: Mapping[str, EntryPoint] | None = None,
        classes: Mapping[str, type] | None = None,
        *,
        blocked: Collection[str] = (),
    ) -> None:
        self._eps = dict(entry_points_by_name or {})
        self._blocked = frozenset(blocked)
        self._specs: dict[str, AdapterSpec] = {}
        for name, cls in (classes or {}).items():
            if name not in self._blocked:
                self._specs[name] = _register(name, f"{cls.__module__}:{cls.__qualname__}", cls)
        self._given = frozenset(classes or {})

    @classmethod
    def from_entry_points(
        cls, group: str = GROUP, *, blocked: Collection[str] = ()
    ) -> AdapterRegistry:
        """Registry of every installed adapter, less the blocked ones."""
        return cls({ep.name: ep for ep in entry_points(group=group)}, blocked=blocked)

    @property
    def blocked(self) -> frozenset[str]:
        """Names the operator blocked (whether installed or not)."""
        return self._blocked

    def names(self) -> list[str]:
        """Names of the adapters a catalog may use (installed and not blocked)."""
        return sorted((set(self._eps) | self._given) - self._blocked)

    def get(self, name: str) -> type[Adapter]:
        """The adapter class registered under ``name`` (see ``spec``)."""
        return self.spec(name).cls

    def spec(self, name: str) -> AdapterSpec:
        """The checked declaration of the adapter registered under ``name``.

        Raises:
            ConfigError: One line: the adapter is blocked, unknown, fails to import, or does
                not fit the contract (naming the adapter, its entry point and what is wrong).

        """
        if name in self._blocked:
            raise ConfigError(f"adapter {name!r} is blocked by the operator ({BLOCKED_VAR})")
        found = self._specs.get(name)
        if found is not None:
            return found
        ep = self._eps.get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown adapter {name!r} (installed adapters: {known})")
        try:
            adapter_cls = ep.load()
        except Exception as exc:  # any import failure is a config problem for the user
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ConfigError(
                f"adapter {name!r} ({ep.value}) failed to load: {type(exc).__name__}: {first}"
            ) from None
        self._specs[name] = _register(name, ep.value, adapter_cls)
        return self._specs[name]


def _register(name: str, where: str, adapter_cls: object) -> AdapterSpec:
    try:
        return describe(adapter_cls)
    except ContractError as exc:
        raise ConfigError(f"adapter {name!r} ({where}) does not fit the contract: {exc}") from None

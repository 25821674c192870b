"""Find adapters by name through the ``dsrflow.adapters`` entry-point group.

Built-in adapters are registered the same way as third-party ones (see ``pyproject.toml``), so an
outside package adds a store type by declaring an entry point, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from dsrflow.adapters.base import Adapter, Capability
from dsrflow.errors import ConfigError

GROUP = "dsrflow.adapters"


class AdapterRegistry:
    """Maps adapter names to adapter classes, loading each lazily and checking its shape."""

    def __init__(
        self,
        entry_points_by_name: Mapping[str, EntryPoint] | None = None,
        classes: Mapping[str, type[Adapter]] | None = None,
    ) -> None:
        self._eps = dict(entry_points_by_name or {})
        self._classes: dict[str, type[Adapter]] = dict(classes or {})

    @classmethod
    def from_entry_points(cls, group: str = GROUP) -> AdapterRegistry:
        """Registry of every installed adapter."""
        return cls({ep.name: ep for ep in entry_points(group=group)})

    def names(self) -> list[str]:
        """Names of all known adapters."""
        return sorted(set(self._eps) | set(self._classes))

    def get(self, name: str) -> type[Adapter]:
        """The adapter class registered under ``name``.

        Raises:
            ConfigError: No such adapter, or it fails to import, or it does not fit the contract.

        """
        if name in self._classes:
            return self._classes[name]
        ep = self._eps.get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown adapter {name!r} (installed adapters: {known})")
        try:
            adapter_cls = ep.load()
        except Exception as exc:  # any import failure is a config problem for the user
            raise ConfigError(
                f"adapter {name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
            ) from None
        problems = _contract_problems(adapter_cls)
        if problems:
            raise ConfigError(
                f"adapter {name!r} ({ep.value}) does not fit the contract: {problems}"
            )
        self._classes[name] = adapter_cls
        return adapter_cls


def _contract_problems(adapter_cls: object) -> str:
    missing = [
        attr
        for attr in ("name", "version", "capabilities", "config_model", "create")
        if not hasattr(adapter_cls, attr)
    ]
    if missing:
        return "missing " + ", ".join(missing)
    caps = adapter_cls.capabilities  # type: ignore[attr-defined]
    if not all(isinstance(c, Capability) for c in caps):
        return "capabilities must be adapters.Capability members"
    return ""

"""Adapter instances for the stores of a catalog, created once per process and reused."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping

from adapters.base import Adapter, AdapterContext
from adapters.registry import AdapterRegistry
from dsrflow.catalog.model import Catalog, StoreEntry
from dsrflow.errors import ConfigError


class AdapterPool:
    """Builds each store's adapter on first use and keeps it (connection pools are per adapter)."""

    def __init__(self, catalog: Catalog, registry: AdapterRegistry, env: Mapping[str, str]) -> None:
        self.catalog = catalog
        self._registry = registry
        self._env = env
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def entry(self, store: str) -> StoreEntry:
        """The catalog entry of a store.

        Raises:
            ConfigError: The catalog has no such store.

        """
        try:
            return self.catalog.stores[store]
        except KeyError:
            raise ConfigError(f"unknown store {store!r} (not in {self.catalog.path})") from None

    def get(self, store: str) -> Adapter:
        """The adapter instance for a store."""
        with self._lock:
            adapter = self._adapters.get(store)
            if adapter is None:
                entry = self.entry(store)
                cls = self._registry.get(entry.common.adapter)
                ctx = AdapterContext(
                    store=store,
                    base_dir=self.catalog.base_dir,
                    env=self._env,
                    identity_kinds=self.catalog.identity_kinds,
                    locate=functools.partial(self.catalog.locate, store),
                )
                adapter = cls.create(entry.config, ctx)
                self._adapters[store] = adapter
            return adapter

    def close(self) -> None:
        """Close every adapter that was opened."""
        with self._lock:
            for adapter in self._adapters.values():
                adapter.close()
            self._adapters.clear()

"""Adapter instances for the stores of a catalog, and the catalog a running worker uses.

The worker picks up a changed catalog file without a restart: at most once per ``check_every``
seconds the file's content digest is compared (a catalog is small, and modification times can
be too coarse to see two quick edits); a changed file is loaded and validated. A valid one
replaces the catalog in use (adapters of stores whose entry changed are rebuilt on next use);
an invalid one is refused with one log line and the old catalog stays.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import Adapter, AdapterContext
from dsrflow.catalog.model import Catalog, StoreEntry
from dsrflow.errors import ConfigError

log = structlog.get_logger(__name__)

CHECK_EVERY_S = 1.0
"""How often (at most) the catalog file is looked at for changes."""


class AdapterPool:
    """Builds each store's adapter on first use and keeps it (connection pools are per adapter)."""

    def __init__(
        self,
        catalog: Catalog,
        registry: AdapterRegistry,
        env: Mapping[str, str],
        *,
        check_every: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._registry = registry
        self._env = env
        self._adapters: dict[str, Adapter] = {}
        # Adapters of changed stores may still be in use by a running activity: closed at the end.
        self._retired: list[Adapter] = []
        self._lock = threading.Lock()
        self._check_every = check_every
        self._clock = clock
        self._next_check = clock() + check_every
        self._file_digest = _file_digest(catalog.path)
        self._refused: str | None = None  # digest of an invalid file already logged

    @property
    def catalog(self) -> Catalog:
        """The catalog in use (reloaded first if its file changed and is valid)."""
        self.reload_if_changed()
        return self._catalog

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Reload the catalog if its file changed; True when a new catalog is in use.

        Args:
            force: Look at the file now, whenever it was last looked at.
        """
        now = self._clock()
        with self._lock:
            if not force and now < self._next_check:
                return False
            self._next_check = now + self._check_every
            digest = _file_digest(self._catalog.path)
            if digest == self._file_digest or digest == self._refused:
                return False
            try:
                new = _load(self._catalog.path, self._registry)
            except Exception as exc:  # whatever is wrong with the file, the worker keeps going
                self._refused = digest
                lines = (
                    str(exc).splitlines() or [""]
                    if isinstance(exc, ConfigError)
                    else [f"internal error loading the catalog: {type(exc).__name__}"]
                )
                log.warning(
                    "catalog change refused; the catalog in use stays",
                    path=str(self._catalog.path),
                    problems=len(lines),
                    first=lines[0],
                )
                return False
            self._file_digest = digest
            self._refused = None
            if new.digest == self._catalog.digest:
                return False  # same meaning (formatting, comments)
            changed = _changed_stores(self._catalog, new)
            for name in changed:
                adapter = self._adapters.pop(name, None)
                if adapter is not None:
                    self._retired.append(adapter)
            log.info(
                "catalog reloaded",
                path=str(new.path),
                digest=new.digest,
                changed_stores=sorted(changed),
            )
            self._catalog = new
            return True

    def entry(self, store: str) -> StoreEntry:
        """The catalog entry of a store.

        Raises:
            ConfigError: The catalog has no such store.

        """
        catalog = self.catalog
        try:
            return catalog.stores[store]
        except KeyError:
            raise ConfigError(f"unknown store {store!r} (not in {catalog.path})") from None

    def get(self, store: str) -> Adapter:
        """The adapter instance for a store (built from the catalog in use)."""
        return self.checkout(store)[0]

    def checkout(self, store: str) -> tuple[Adapter, Catalog]:
        """The store's adapter and the catalog it was built from, read together.

        Another activity thread may reload the catalog between this thread's read of the entry
        and its build of the adapter: the adapter is built from the catalog in use *under the
        lock*, otherwise one built from the old entry would be cached under the new catalog and
        serve every later request (and a receipt would name a digest its adapter never ran).

        Raises:
            ConfigError: The catalog has no such store.

        """
        self.entry(store)  # reloads if the file changed; an unknown store is refused here
        with self._lock:
            catalog = self._catalog
            entry = catalog.stores.get(store)
            if entry is None:  # removed by a reload since
                raise ConfigError(f"unknown store {store!r} (not in {catalog.path})")
            adapter = self._adapters.get(store)
            if adapter is None:
                spec = self._registry.spec(entry.common.adapter)
                ctx = AdapterContext(
                    store=store,
                    base_dir=catalog.base_dir,
                    env=self._env,
                    identity_kinds=catalog.identity_kinds,
                    locate=functools.partial(catalog.locate, store),
                )
                adapter = spec.create(entry.config, ctx)  # the adapter's create(), or cls()
                self._adapters[store] = adapter
            return adapter, catalog

    def close(self) -> None:
        """Close every adapter that was opened."""
        with self._lock:
            for adapter in [*self._adapters.values(), *self._retired]:
                adapter.close()
            self._adapters.clear()
            self._retired.clear()


def _load(path: Path, registry: AdapterRegistry) -> Catalog:
    from dsrflow.catalog.loader import load_catalog

    return load_catalog(path, registry)


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:  # missing or unreadable: a state of its own, refused when loaded
        return f"unreadable:{exc.errno}"


def _changed_stores(old: Catalog, new: Catalog) -> set[str]:
    """Stores whose entry differs (or that were removed): their adapters are rebuilt."""
    before = old.raw.get("stores") or {}
    after = new.raw.get("stores") or {}
    return {name for name in before if before.get(name) != after.get(name)}

"""Load and validate a catalog file, reporting every problem with file, line and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog.identities import IdentityKindsConfig, build_registry
from dsrflow.catalog.model import (
    GENERIC_KEYS,
    STORE_NAME_PATTERN,
    Catalog,
    StoreCommon,
    StoreEntry,
)
from dsrflow.catalog.policies import PoliciesConfig
from dsrflow.catalog.yamlpos import Path_, line_for, load_with_positions
from dsrflow.errors import ConfigError
from dsrflow.graph import find_cycle
from dsrflow.identity import IdentityKinds, valid_kind

SUPPORTED_VERSIONS = (1,)
TOP_LEVEL = frozenset({"version", "stores", "policies", "identity_kinds"})


_SHOWN = 40


def shown(value: object) -> str:
    """A value as an error line quotes it: ``repr`` (escapes control characters), cut short.

    A catalog can hold anything a person pasted; an error line names the field and, at most,
    the start of the wrong value, never a whole long one.
    """
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class Problems:
    """Collects problems so one run reports all of them, each on its own line."""

    def __init__(self, filename: str, positions: dict[Path_, int]) -> None:
        self.filename = filename
        self.positions = positions
        self.lines: list[str] = []

    def add(self, path: Path_, message: str) -> None:
        """Record a problem at a data path (its line is looked up)."""
        line = line_for(self.positions, path)
        where = f"{self.filename}:{line}" if line else self.filename
        dotted = (
            ".".join(
                str(p) if str(p).isprintable() and len(str(p)) <= _SHOWN else shown(p) for p in path
            )
            or "(top level)"
        )
        self.lines.append(f"{where}: {dotted}: {message}")

    def add_validation(self, base: Path_, exc: ValidationError) -> None:
        """Record every error of a pydantic validation under ``base``."""
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            self.add((*base, *loc), msg)

    def fail(self, path: Path_, message: str) -> NoReturn:
        """Record a problem the rest of the file cannot be checked past, and raise all so far."""
        self.add(path, message)
        raise ConfigError("\n".join(self.lines))

    def raise_if_any(self) -> None:
        """Raise one ``ConfigError`` listing every problem, if there are any."""
        if self.lines:
            raise ConfigError("\n".join(self.lines))


def load_catalog(path: Path, registry: AdapterRegistry) -> Catalog:
    """Read, parse and validate a catalog file.

    Args:
        path: The YAML file.
        registry: Where adapters are looked up by name.

    Returns:
        The validated catalog.

    Raises:
        ConfigError: Anything is wrong; the message has one line per problem, each naming file,
            line and field.

    """
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{filename}: catalog file not found") from None
    except OSError as exc:
        raise ConfigError(f"{filename}: cannot read catalog: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{filename}: the catalog is not UTF-8 (byte {exc.start})") from None
    data, positions = load_with_positions(text, filename)
    problems = Problems(filename, positions)
    if not isinstance(data, dict):
        problems.fail((), "the catalog must be a mapping with 'version' and 'stores'")
    for key in sorted(set(data) - TOP_LEVEL):
        problems.add((key,), f"unknown field (expected {', '.join(map(repr, sorted(TOP_LEVEL)))})")
    if data.get("version") not in SUPPORTED_VERSIONS:
        problems.add(("version",), f"must be one of {list(SUPPORTED_VERSIONS)}")
    stores_raw = data.get("stores")
    if not isinstance(stores_raw, dict) or not stores_raw:
        problems.fail(("stores",), "must be a non-empty mapping of store name to store entry")

    stores: dict[str, StoreEntry] = {}
    for name, entry in stores_raw.items():
        store = _load_store(name, entry, registry, problems)
        if store is not None:
            stores[name] = store
    _check_ordering(stores, set(stores_raw), problems)
    policies = PoliciesConfig()
    try:
        policies = PoliciesConfig.model_validate(data.get("policies") or {})
    except ValidationError as exc:
        problems.add_validation(("policies",), exc)
    kinds = _identity_kinds(data.get("identity_kinds"), stores, registry, problems)
    problems.raise_if_any()
    return Catalog(
        path=path.resolve(),
        stores=stores,
        raw=data,
        policies=policies,
        identity_kinds=kinds,
        positions=positions,
    )


def _identity_kinds(
    raw: Any, stores: dict[str, StoreEntry], registry: AdapterRegistry, problems: Problems
) -> IdentityKinds:
    """Build the kind registry and check every kind a store names against it.

    Adapters say which kinds their config names (and where) through an optional classmethod
    ``identity_kinds_used(config) -> [(path under the store entry, kind, provides)]`` (read by
    the registry's ``AdapterSpec``); a kind that is provided becomes known (exact, weak).
    """
    config = IdentityKindsConfig()
    try:
        config = IdentityKindsConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems.add_validation(("identity_kinds",), exc)
    uses: list[tuple[Path_, str, bool]] = []
    for name, store in stores.items():
        used = registry.spec(store.common.adapter).identity_kinds_used(store.config)
        uses += [(("stores", name, *path), kind, prov) for path, kind, prov in used]
    kinds = build_registry(config, sorted({k for _, k, prov in uses if prov and valid_kind(k)}))
    for path, kind, _ in uses:
        if not valid_kind(kind) or not kinds.known(kind):
            problems.add(
                path, f"unknown identity kind {shown(kind)} (known: {', '.join(kinds.names())})"
            )
    return kinds


def _load_store(
    name: str, entry: Any, registry: AdapterRegistry, problems: Problems
) -> StoreEntry | None:
    base: Path_ = ("stores", name)
    if not re.match(STORE_NAME_PATTERN, name):
        problems.add(base, "store names are lower-case letters, digits, '-' and '_'")
        return None
    if not isinstance(entry, dict):
        problems.add(base, "must be a mapping")
        return None
    common_raw = {k: v for k, v in entry.items() if k in GENERIC_KEYS}
    specific_raw = {k: v for k, v in entry.items() if k not in GENERIC_KEYS}
    try:
        common = StoreCommon.model_validate(common_raw)
    except ValidationError as exc:
        problems.add_validation(base, exc)
        return None
    try:
        spec = registry.spec(common.adapter)  # blocked, unknown, broken: one line each
    except ConfigError as exc:
        problems.add((*base, "adapter"), str(exc))
        return None
    try:
        config: BaseModel = spec.config_model.model_validate(specific_raw)
    except ValidationError as exc:
        problems.add_validation(base, exc)
        return None
    _check_processing(base, common, config, problems)
    return StoreEntry(
        name=name,
        common=common,
        config=config,
        # An adapter whose verbs depend on its config (manual: what the person does) narrows them.
        capabilities=frozenset(str(c) for c in spec.capabilities_for(config)),
        adapter_version=spec.version,
        # Stores without an API (adapter marks itself ``human_task``) become a person's task.
        human_task=spec.human_task,
        instructions=str(getattr(config, "instructions", "") or ""),
        kind=spec.store_kind(config),
        batch_erase=spec.erase_many_for(config),
    )


def _check_processing(
    base: Path_, common: StoreCommon, config: BaseModel, problems: Problems
) -> None:
    """Processing information may only name collections the adapter config declares.

    Adapters with a ``collections`` mapping (SQL, document stores) are checked; others (a
    Redis pattern, a manual store) name collections the catalog cannot know in advance.
    """
    declared = getattr(config, "collections", None)
    if not isinstance(declared, dict):
        return
    for name in common.processing.collections:
        if name not in declared:
            problems.add(
                (*base, "processing", "collections", name),
                f"unknown collection {shown(name)} "
                f"(the store declares: {', '.join(sorted(declared))})",
            )


def _check_ordering(stores: dict[str, StoreEntry], declared: set[str], problems: Problems) -> None:
    for name, store in stores.items():
        for i, dep in enumerate(store.common.after):
            if dep not in declared:
                problems.add(("stores", name, "after", i), f"unknown store {shown(dep)}")
            elif dep == name:
                problems.add(("stores", name, "after", i), "a store cannot run after itself")
    cycle = find_cycle({n: [d for d in s.common.after if d in stores] for n, s in stores.items()})
    if cycle:
        problems.add(("stores", cycle[0], "after"), "ordering cycle: " + " -> ".join(cycle))

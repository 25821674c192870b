"""What an adapter class declares, read and checked once: the only place that looks.

``describe(cls)`` reads the contract's attributes and optional hooks from an adapter class and
checks the declaration against the class: a declared verb without its method, a verb method
that is not declared, a ``supports_*`` flag the verb's signature does not honour, a hook that is
not callable. Each problem is one ``ContractError`` line. The registry calls it when an adapter
registers; everything else (catalog loader, adapter pool, activities, the conformance kit, the
CLI) asks the resulting ``AdapterSpec`` or ``require``, never the adapter object itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from dsrflow.adapters.sdk.context import AdapterContext
from dsrflow.adapters.sdk.contract import (
    Accessor,
    Adapter,
    Capability,
    Eraser,
    IdentityResolver,
    Rectifier,
    Restrictor,
    Sweeper,
    Verifier,
)
from dsrflow.adapters.sdk.errors import ContractError, NotSupportedError
from dsrflow.adapters.sdk.subject import Subject

if TYPE_CHECKING:
    from pydantic import BaseModel

REQUIRED = ("name", "version", "capabilities", "config_model", "check_connection", "close")
FLAGS = (
    "human_task",
    "supports_on_commit",
    "supports_dry_run",
    "sweep_uses_all_identities",
    "supports_erase_many",
)
CLASS_HOOKS = ("create", "capabilities_for", "identity_kinds_used", "store_kind", "erase_many_for")
INSTANCE_HOOKS = ("access_digest", "dry_run_store")

KindUse = tuple[tuple[str | int, ...], str, bool]
"""``(path under the store entry, identity kind, provided)`` from ``identity_kinds_used``."""


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter class's checked declaration: its verbs, flags and optional hooks.

    Attributes:
        cls: The adapter class.
        name: ``cls.name``, what ``adapter:`` says in the catalog.
        version: ``cls.version``, recorded in every receipt.
        capabilities: The verbs the class declares (each has its method).
        config_model: The pydantic model of the store's catalog entry.
        human_task: A person performs the verbs (the workflow opens a human task).
        supports_on_commit: ``erase`` takes the keyword ``on_commit``.
        supports_dry_run: ``erase`` takes the keyword ``dry_run``.
        sweep_uses_all_identities: ``sweep`` gets every identity, not only the strong ones.
        supports_erase_many: The class offers ``erase_many``/``verify_many`` (``BatchEraser``).
        sweep_takes_progress: ``sweep`` takes the keyword ``progress`` (heartbeats).
        has_access_digest: The adapter offers ``access_digest`` (else the digest is ``""``).
        has_store_dry_run: The adapter offers ``dry_run_store`` (``stores test --subject``).
    """

    cls: type[Any]
    name: str
    version: str
    capabilities: frozenset[Capability]
    config_model: type[BaseModel]
    human_task: bool = False
    supports_on_commit: bool = False
    supports_dry_run: bool = False
    sweep_uses_all_identities: bool = False
    supports_erase_many: bool = False
    sweep_takes_progress: bool = False
    has_access_digest: bool = False
    has_store_dry_run: bool = False
    _hooks: tuple[tuple[str, Callable[..., Any]], ...] = field(default=(), repr=False)

    def _hook(self, name: str) -> Callable[..., Any] | None:
        return dict(self._hooks).get(name)

    def supports(self, capability: Capability) -> bool:
        """Whether the class declares ``capability``."""
        return capability in self.capabilities

    def create(self, config: BaseModel, ctx: AdapterContext) -> Adapter:
        """An instance for one store: the class's ``create`` hook, else ``cls(config, ctx)``."""
        factory = self._hook("create") or self.cls
        return cast(Adapter, factory(config, ctx))

    def capabilities_for(self, config: BaseModel) -> frozenset[Capability]:
        """The verbs one store offers: the class's narrowing hook, else ``capabilities``."""
        narrow = self._hook("capabilities_for")
        return frozenset(narrow(config)) if narrow else self.capabilities

    def identity_kinds_used(self, config: BaseModel) -> list[KindUse]:
        """Every identity kind a store's config names, with where (``[]`` without the hook)."""
        used = self._hook("identity_kinds_used")
        return list(used(config)) if used else []

    def erase_many_for(self, config: BaseModel) -> bool:
        """Whether one store is erased set-based in batches (the class's hook narrows it)."""
        if not self.supports_erase_many:
            return False
        narrow = self._hook("erase_many_for")
        return bool(narrow(config)) if narrow else True

    def store_kind(self, config: BaseModel) -> str:
        """What kind of store this is (``postgresql``...), for evidence; else the name."""
        kind_of = self._hook("store_kind")
        return str(kind_of(config)) if kind_of else self.name

    def access_digest(self, adapter: Adapter, subject: Subject) -> str:
        """The access receipt's operation digest (``""`` when the adapter has no hook)."""
        digest = self._hook("access_digest")
        return str(digest(adapter, subject)) if digest else ""


def describe(cls: Any) -> AdapterSpec:
    """Read and check an adapter class's declaration (cached per class).

    Raises:
        ContractError: One line listing what does not fit, e.g. ``declares rectify but has no
            rectify() method``.

    """
    if not isinstance(cls, type):
        raise ContractError(f"{cls!r} is not a class")
    return _describe(cls)


@functools.cache
def _describe(cls: type) -> AdapterSpec:
    missing = [attr for attr in REQUIRED if not hasattr(cls, attr)]
    if missing:
        raise ContractError("missing " + ", ".join(missing))
    problems: list[str] = []
    name, version = cls.name, cls.version  # type: ignore[attr-defined]
    for attr, value in (("name", name), ("version", version)):
        if not isinstance(value, str) or not value:
            problems.append(f"{attr} must be a non-empty string")
    caps = _capabilities(cls.capabilities, problems)  # type: ignore[attr-defined]
    config_model = cls.config_model  # type: ignore[attr-defined]
    if not (
        isinstance(config_model, type) and callable(getattr(config_model, "model_validate", None))
    ):
        problems.append("config_model must be a pydantic model class")
    for attr in ("check_connection", "close"):
        if not callable(getattr(cls, attr)):
            problems.append(f"{attr} must be a method")
    problems += _verb_problems(cls, caps)
    flags = {flag: getattr(cls, flag, False) for flag in FLAGS}
    problems += [
        f"{flag} must be True or False" for flag, v in flags.items() if type(v) is not bool
    ]
    problems += _flag_problems(cls, caps, flags)
    hooks: list[tuple[str, Callable[..., Any]]] = []
    for hook in (*CLASS_HOOKS, *INSTANCE_HOOKS):
        found = getattr(cls, hook, None)
        if found is None:
            continue
        if not callable(found):
            problems.append(f"{hook} must be a method")
        elif hook in CLASS_HOOKS and not isinstance(
            inspect.getattr_static(cls, hook), classmethod | staticmethod
        ):
            problems.append(f"{hook} must be a classmethod (it is called on the class)")
        else:
            hooks.append((hook, found))
    if not any(h == "create" for h, _ in hooks) and not _takes(cls, 2):
        problems.append("no create() classmethod, and the constructor does not take (config, ctx)")
    if problems:
        raise ContractError("; ".join(problems))
    sweep = getattr(cls, "sweep", None)
    return AdapterSpec(
        cls=cls,
        name=name,
        version=version,
        capabilities=caps,
        config_model=config_model,
        human_task=flags["human_task"],
        supports_on_commit=flags["supports_on_commit"],
        supports_dry_run=flags["supports_dry_run"],
        sweep_uses_all_identities=flags["sweep_uses_all_identities"],
        supports_erase_many=flags["supports_erase_many"],
        sweep_takes_progress=sweep is not None and _keyword(sweep, "progress"),
        has_access_digest=any(h == "access_digest" for h, _ in hooks),
        has_store_dry_run=any(h == "dry_run_store" for h, _ in hooks),
        _hooks=tuple(hooks),
    )


def _capabilities(declared: Any, problems: list[str]) -> frozenset[Capability]:
    if not isinstance(declared, Collection) or isinstance(declared, str):
        problems.append("capabilities must be a frozenset of Capability members")
        return frozenset()
    wrong = sorted(repr(c) for c in declared if not isinstance(c, Capability))
    if wrong:
        problems.append(f"capabilities must be Capability members, not {', '.join(wrong)}")
    return frozenset(c for c in declared if isinstance(c, Capability))


def _verb_problems(cls: type, caps: frozenset[Capability]) -> list[str]:
    out = []
    for cap in Capability:
        has = callable(getattr(cls, cap.value, None))
        if cap in caps and not has:
            out.append(f"declares {cap.value} but has no {cap.value}() method")
        elif has and cap not in caps:
            out.append(
                f"has a {cap.value}() method but does not declare Capability.{cap.name} "
                "(declare it, or remove the method)"
            )
    return out


def _flag_problems(cls: type, caps: frozenset[Capability], flags: dict[str, Any]) -> list[str]:
    out = []
    for flag, keyword in (("supports_on_commit", "on_commit"), ("supports_dry_run", "dry_run")):
        if flags[flag] is True:
            erase = getattr(cls, "erase", None)
            if Capability.ERASE not in caps or erase is None:
                out.append(f"{flag} = True without Capability.ERASE")
            elif not _keyword(erase, keyword):
                out.append(f"{flag} = True but erase() takes no keyword {keyword!r}")
    if flags["supports_erase_many"] is True:
        if Capability.ERASE not in caps:
            out.append("supports_erase_many = True without Capability.ERASE")
        for method in ("erase_many", "verify_many"):
            if not callable(getattr(cls, method, None)):
                out.append(f"supports_erase_many = True but there is no {method}() method")
    if flags["sweep_uses_all_identities"] is True and Capability.SWEEP not in caps:
        out.append("sweep_uses_all_identities = True without Capability.SWEEP")
    return out


def _parameters(fn: Callable[..., Any]) -> Sequence[inspect.Parameter] | None:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: cannot tell, trust it
        return None


def _keyword(fn: Callable[..., Any], name: str) -> bool:
    params = _parameters(fn)
    if params is None:
        return True
    return any(
        p.kind is p.VAR_KEYWORD or (p.name == name and p.kind is not p.POSITIONAL_ONLY)
        for p in params
    )


def _takes(cls: type, n: int) -> bool:
    try:
        inspect.signature(cls).bind(*([None] * n))
    except TypeError:
        return False
    except ValueError:  # no signature to read
        return True
    return True


def spec_of(adapter: Adapter | type) -> AdapterSpec:
    """The checked declaration of an adapter instance's (or class's) class.

    Raises:
        ContractError: The class does not fit the contract (named in the message).

    """
    cls = adapter if isinstance(adapter, type) else type(adapter)
    try:
        return describe(cls)
    except ContractError as exc:
        raise ContractError(f"adapter class {cls.__qualname__}: {exc}") from None


@overload
def require(
    adapter: Adapter, capability: Literal[Capability.ACCESS], *, store: str
) -> Accessor: ...
@overload
def require(adapter: Adapter, capability: Literal[Capability.ERASE], *, store: str) -> Eraser: ...
@overload
def require(
    adapter: Adapter, capability: Literal[Capability.VERIFY], *, store: str
) -> Verifier: ...
@overload
def require(
    adapter: Adapter, capability: Literal[Capability.RECTIFY], *, store: str
) -> Rectifier: ...
@overload
def require(
    adapter: Adapter, capability: Literal[Capability.RESTRICT], *, store: str
) -> Restrictor: ...
@overload
def require(
    adapter: Adapter, capability: Literal[Capability.RESOLVE_IDENTITIES], *, store: str
) -> IdentityResolver: ...
@overload
def require(adapter: Adapter, capability: Literal[Capability.SWEEP], *, store: str) -> Sweeper: ...
@overload
def require(adapter: Adapter, capability: Capability, *, store: str) -> Any: ...
def require(adapter: Adapter, capability: Capability, *, store: str) -> Any:
    """The adapter as the verb's protocol, if its class declares ``capability``.

    Raises:
        NotSupportedError: It does not (``store 'crm' does not support rectify``).

    """
    if capability not in spec_of(adapter).capabilities:
        raise NotSupportedError(f"store {store!r} does not support {capability.value}")
    return adapter

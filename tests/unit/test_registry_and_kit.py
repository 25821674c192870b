"""The registry finds adapters by entry point, checks each one's declaration when it registers
and refuses broken or blocked ones with a line naming them; the conformance kit runs against an
outside adapter (the docs' example) and the manual one."""

from __future__ import annotations

import itertools
import json
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from dsrflow.adapters.manual import ManualAdapter, ManualConfig
from dsrflow.adapters.registry import GROUP, AdapterRegistry
from dsrflow.adapters.sdk import (
    AdapterContext,
    Capability,
    CheckReport,
    ContractError,
    Identity,
    NotSupportedError,
    OperationReceipt,
    Subject,
    require,
    spec_of,
)
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded
from dsrflow.catalog import load_catalog
from dsrflow.errors import ConfigError
from dsrflow.runtime import Runtime
from dsrflow.settings import Settings
from tests.unit.example_adapter import JsonFileAdapter, JsonFileConfig

EXAMPLE = "tests.unit.example_adapter:JsonFileAdapter"


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_builtins_are_registered_by_entry_point() -> None:
    reg = AdapterRegistry.from_entry_points()
    assert {"sql", "redis", "files", "opendsr", "manual"} <= set(reg.names())
    for name in ("sql", "redis", "files", "opendsr", "manual"):
        assert reg.spec(name).name == name  # each one passes the registration checks


def test_outside_adapter_loads_by_entry_point() -> None:
    reg = AdapterRegistry({"jsonfile": ep("jsonfile", EXAMPLE)})
    assert reg.get("jsonfile") is JsonFileAdapter
    assert reg.spec("jsonfile").capabilities == {"access", "erase", "verify"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no_such_package.adapter:Thing", "adapter 'broken' (no_such_package.adapter:Thing) "
                                          "failed to load: ModuleNotFoundError"),
        ("tests.unit.example_adapter:JsonFileConfig", "adapter 'broken' "
         "(tests.unit.example_adapter:JsonFileConfig) does not fit the contract: missing name"),
    ],
)  # fmt: skip
def test_broken_adapter_fails_naming_it(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        AdapterRegistry({"broken": ep("broken", value)}).get("broken")
    assert message in str(exc.value) and "\n" not in str(exc.value)


# -- what registration checks --------------------------------------------------------------------


class _Config(BaseModel):
    pass


class _Base:
    """The smallest adapter: no verbs, no create()."""

    name = "tiny"
    version = "1"
    capabilities: frozenset[Capability] = frozenset()
    config_model = _Config

    def __init__(self, config: _Config, ctx: AdapterContext) -> None:
        self.store = ctx.store

    def check_connection(self) -> CheckReport:
        return CheckReport(self.store, [])

    def close(self) -> None:
        pass


class DeclaresRectifyWithoutIt(_Base):
    capabilities = frozenset({Capability.RECTIFY})


class HasRestrictUndeclared(_Base):
    def restrict(self, subject: Subject) -> OperationReceipt:
        return OperationReceipt("restrict", 0, 0, "sha256:0")


class OnCommitWithoutKeyword(_Base):
    capabilities = frozenset({Capability.ERASE})
    supports_on_commit = True

    def erase(self, subject: Subject, progress: Any = None) -> OperationReceipt:
        return OperationReceipt("erase", 0, 0, "sha256:0")


class DryRunNotABool(_Base):
    supports_dry_run = "yes"


class CreateNotAClassmethod(_Base):
    def create(self, config: _Config, ctx: AdapterContext) -> None:
        pass


class NoWayToBuild(_Base):
    def __init__(self) -> None:
        pass


class StringCapabilities(_Base):
    capabilities = frozenset({"erase"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        (DeclaresRectifyWithoutIt, "declares rectify but has no rectify() method"),
        (HasRestrictUndeclared, "has a restrict() method but does not declare "
                                "Capability.RESTRICT (declare it, or remove the method)"),
        (OnCommitWithoutKeyword, "supports_on_commit = True but erase() takes no keyword "
                                 "'on_commit'"),
        (DryRunNotABool, "supports_dry_run must be True or False"),
        (CreateNotAClassmethod, "create must be a classmethod (it is called on the class)"),
        (NoWayToBuild, "no create() classmethod, and the constructor does not take (config, ctx)"),
        (StringCapabilities, "capabilities must be Capability members, not 'erase'"),
    ],
)  # fmt: skip
def test_registration_refuses_a_declaration_the_class_does_not_keep(
    cls: type, problem: str
) -> None:
    """One line naming the adapter, where it came from, and the verb or attribute at fault."""
    with pytest.raises(ConfigError) as exc:
        AdapterRegistry(classes={"odd": cls})
    where = f"{cls.__module__}:{cls.__qualname__}"
    assert str(exc.value) == f"adapter 'odd' ({where}) does not fit the contract: {problem}"
    with pytest.raises(ContractError, match=r"^adapter class "):  # the kit says the same
        spec_of(cls)


def test_the_registry_is_where_capabilities_are_asked() -> None:
    """A verb a class does not declare is refused before its method is looked for."""
    spec = spec_of(_Base)
    assert spec.capabilities == frozenset() and not spec.human_task
    adapter = spec.create(_Config(), AdapterContext("tiny-store", Path("."), {}))
    with pytest.raises(NotSupportedError, match=r"^store 'tiny-store' does not support erase$"):
        require(adapter, Capability.ERASE, store="tiny-store")
    assert spec.access_digest(adapter, Subject({})) == ""  # no hook: an empty digest
    assert spec.store_kind(_Config()) == "tiny" and spec.identity_kinds_used(_Config()) == []


def test_default_create_is_the_constructor(tmp_path: Path) -> None:
    """An adapter without create() is built as cls(config, ctx); one with it, through it."""
    ctx = AdapterContext("notes", tmp_path, {})
    built = spec_of(JsonFileAdapter).create(JsonFileConfig(path="n.json"), ctx)
    assert isinstance(built, JsonFileAdapter) and built.path == tmp_path / "n.json"
    assert not hasattr(JsonFileAdapter, "create")
    manual = spec_of(ManualAdapter).create(ManualConfig(instructions="Shred folder B."), ctx)
    assert isinstance(manual, ManualAdapter)


# -- the operator's blocklist --------------------------------------------------------------------


def test_a_blocked_adapter_is_never_imported() -> None:
    module = "tests.unit.blocked_adapter_never_imported"
    reg = AdapterRegistry({"jsonfile": ep("jsonfile", f"{module}:Thing")}, blocked={"jsonfile"})
    with pytest.raises(ConfigError) as exc:
        reg.spec("jsonfile")
    assert str(exc.value) == (
        "adapter 'jsonfile' is blocked by the operator (DSRFLOW_ADAPTERS_BLOCKED)"
    )
    assert module not in sys.modules and reg.names() == []


def test_a_catalog_naming_a_blocked_adapter_fails_with_file_and_line(tmp_path: Path) -> None:
    """Through the composition root, as `dsrflow catalog validate` and the worker load it."""
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(
        "version: 1\nstores:\n  notes:\n    adapter: files\n    root: notes\n"
        "    collections: {n: {paths: '{email}.txt'}}\n"
        "  archive:\n    adapter: manual\n"
        "    instructions: Shred the paper folder in cabinet B.\n"
    )
    env = {"DSRFLOW_ADAPTERS_BLOCKED": " manual , redis", "DSRFLOW_CATALOG": str(catalog)}
    runtime = Runtime(Settings.load(env), env)
    assert runtime.registry.blocked == {"manual", "redis"}
    assert "manual" not in runtime.registry.names() and "files" in runtime.registry.names()
    with pytest.raises(ConfigError) as exc:
        runtime.catalog  # noqa: B018
    assert str(exc.value) == (
        f"{catalog}:8: stores.archive.adapter: adapter 'manual' is blocked by the operator "
        "(DSRFLOW_ADAPTERS_BLOCKED)"
    )


def test_a_bad_blocklist_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^settings: DSRFLOW_ADAPTERS_BLOCKED: .*'sql;redis'"):
        Settings.load({"DSRFLOW_ADAPTERS_BLOCKED": "sql;redis"})


# -- the conformance kit ---------------------------------------------------------------------------


class JsonHarness(Harness):
    def __init__(self, base: Path) -> None:
        self.file = base / "records.json"
        self.file.write_text("{}")
        self.adapter = spec_of(JsonFileAdapter).create(
            JsonFileConfig(path="records.json"), AdapterContext("jsonstore", base, {})
        )
        self.ids = itertools.count(1)

    def seed(self, tag: str) -> Seeded:
        email = f"{tag}-{next(self.ids)}@example.com"
        seeded = Seeded(Subject.of([Identity("email", email)]), records=2)
        data = json.loads(self.file.read_text())
        data[email] = [{"note": seeded.marker}, {"note": "second"}]
        self.file.write_text(json.dumps(data))
        return seeded


class TestExampleAdapterConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> JsonHarness:
        return JsonHarness(tmp_path)


class ManualHarness(Harness):
    def __init__(self, base: Path) -> None:
        cfg = ManualConfig(instructions="Shred the paper folder in cabinet B.", verbs=["erase"])
        self.adapter = ManualAdapter.create(cfg, AdapterContext("archive", base, {}))


class TestManualConformance(AdapterConformance):
    """Only the contract checks run: every data check skips, saying a person does the work."""

    @pytest.fixture
    def harness(self, tmp_path: Path) -> ManualHarness:
        return ManualHarness(tmp_path)


def test_manual_store_capabilities_are_the_persons_verbs(tmp_path: Path) -> None:
    (tmp_path / "dsrflow.yaml").write_text(
        "version: 1\nstores:\n  archive:\n    adapter: manual\n"
        "    instructions: Shred the paper folder in cabinet B.\n"
        "    assignee_role: analyst\n    verbs: [erase, restrict]\n"
    )
    cat = load_catalog(tmp_path / "dsrflow.yaml", AdapterRegistry.from_entry_points())
    plan = cat.stores["archive"].plan()
    assert plan.capabilities == ["erase", "restrict"] and plan.adapter == "manual"
    assert plan.human_task is True
    assert ManualAdapter.human_task is True
    adapter = ManualAdapter.create(
        cat.stores["archive"].config, AdapterContext("archive", tmp_path, {})
    )
    with pytest.raises(NotSupportedError, match="store 'archive' is a manual store"):
        adapter.erase(Subject.of([Identity("email", "a@example.com")]))
    assert Capability.ACCESS not in ManualAdapter.capabilities_for(cat.stores["archive"].config)

"""The registry finds adapters by entry point and refuses broken ones with a line naming them;
the conformance kit runs against an outside adapter (the docs' example) and the manual one."""

from __future__ import annotations

import itertools
import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from dsrflow.adapters import AdapterContext, Subject
from dsrflow.adapters.base import Capability
from dsrflow.adapters.manual import ManualAdapter, ManualConfig
from dsrflow.adapters.registry import GROUP, AdapterRegistry
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded
from dsrflow.catalog import load_catalog
from dsrflow.domain import Identity
from dsrflow.errors import ConfigError


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_builtins_are_registered_by_entry_point() -> None:
    names = AdapterRegistry.from_entry_points().names()
    assert {"sql", "redis", "files", "opendsr", "manual"} <= set(names)


def test_outside_adapter_loads_by_entry_point() -> None:
    reg = AdapterRegistry(
        {"jsonfile": ep("jsonfile", "tests.unit.example_adapter:JsonFileAdapter")}
    )
    assert reg.get("jsonfile").name == "jsonfile"


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


class JsonHarness(Harness):
    def __init__(self, base: Path) -> None:
        from tests.unit.example_adapter import JsonFileAdapter, JsonFileConfig

        self.file = base / "records.json"
        self.file.write_text("{}")
        self.adapter = JsonFileAdapter.create(
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
    from dsrflow.adapters.base import NotSupportedError

    with pytest.raises(NotSupportedError, match="store 'archive' is a manual store"):
        adapter.erase(Subject.of([Identity("email", "a@example.com")]))
    assert Capability.ACCESS not in ManualAdapter.capabilities_for(cat.stores["archive"].config)

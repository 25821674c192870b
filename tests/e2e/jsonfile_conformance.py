"""The conformance test the docs' example package ships (``tests/test_conformance.py`` there).

``tests/e2e/test_packaging.py`` copies this file into the ``dsrflow-jsonfile`` distribution it
builds and runs it with pytest against the installed wheels only: the adapter is found through
its ``dsrflow.adapters`` entry point, registers (the registry's checks), and passes the kit.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import AdapterContext, Identity, Subject
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded


class JsonHarness(Harness):
    """A JSON file in the test's own folder, the adapter built as the worker builds it."""

    def __init__(self, base: Path) -> None:
        spec = AdapterRegistry.from_entry_points().spec("jsonfile")
        self.file = base / "records.json"
        self.file.write_text("{}")
        config = spec.config_model.model_validate({"path": "records.json"})
        self.adapter = spec.create(config, AdapterContext("notes", base, {}))
        self.ids = itertools.count(1)

    def seed(self, tag: str) -> Seeded:
        email = f"{tag}-{next(self.ids)}@example.com"
        seeded = Seeded(Subject.of([Identity("email", email)]), records=2)
        data = json.loads(self.file.read_text())
        data[email] = [{"note": seeded.marker}, {"note": "second"}]
        self.file.write_text(json.dumps(data))
        return seeded


class TestJsonFile(AdapterConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> JsonHarness:
        return JsonHarness(tmp_path)

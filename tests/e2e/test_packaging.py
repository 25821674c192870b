"""The wheel installs one top-level package, and an outside adapter works against it alone.

Builds dsrflow's wheel from (a copy of) the repository and the docs' example adapter as a
distribution of its own (``dsrflow-jsonfile``: ``tests/unit/example_adapter.py`` as its module,
the ``pyproject.toml`` of docs/writing-an-adapter.md, ``tests/e2e/jsonfile_conformance.py`` as its
test), installs each with ``pip install --no-deps --target`` into a folder of its own, and runs
Python on those folders plus the venv's third-party packages only: no source checkout, no
editable install (``-S`` skips the venv's ``.pth`` files, which hold the editable finder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "dsrflow", "workflows", "activities",
           "adapters")  # fmt: skip
DOC = REPO / "docs" / "writing-an-adapter.md"
BUILD_TIMEOUT = 900


@dataclass(frozen=True)
class Installed:
    """The two wheels and the folders each was installed into."""

    wheel: Path
    target: Path
    example_wheel: Path
    example_target: Path
    example_project: Path


def _pip(*args: str | Path, cwd: Path | None = None) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        cwd=cwd,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]


def _one_wheel(folder: Path) -> Path:
    wheels = list(folder.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _example_pyproject() -> str:
    """The example package's ``pyproject.toml``, exactly as the adapter guide shows it."""
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    found = [b for b in blocks if 'name = "dsrflow-jsonfile"' in b]
    assert len(found) == 1, "docs/writing-an-adapter.md: one pyproject.toml for the example"
    return found[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    src = base / "dsrflow-src"  # a copy: the build writes build/ and *.egg-info next to it
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():  # symlinks kept: dsrflow/adapters -> ../adapters, as in the checkout
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    _pip("wheel", "--no-deps", "-q", "-w", base / "dist", src)
    wheel = _one_wheel(base / "dist")
    _pip("install", "--no-deps", "-q", "--target", base / "site", wheel)

    project = base / "dsrflow-jsonfile"  # the layout docs/writing-an-adapter.md shows
    (project / "src" / "dsrflow_jsonfile").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(_example_pyproject())
    shutil.copy2(
        REPO / "tests/unit/example_adapter.py", project / "src/dsrflow_jsonfile/__init__.py"
    )
    shutil.copy2(REPO / "tests/e2e/jsonfile_conformance.py", project / "tests/test_conformance.py")
    _pip("wheel", "--no-deps", "-q", "-w", base / "example-dist", project)
    example = _one_wheel(base / "example-dist")
    _pip("install", "--no-deps", "-q", "--target", base / "example-site", example)
    return Installed(wheel, base / "site", example, base / "example-site", project)


def _run(paths: list[Path], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Python on ``paths`` plus the venv's third-party packages, nothing else of dsrflow."""
    site = Path(sysconfig.get_paths()["purelib"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": os.pathsep.join(str(p) for p in [*paths, site]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [sys.executable, "-S", *args], capture_output=True, text=True, env=env, cwd=cwd,
        timeout=BUILD_TIMEOUT,
    )  # fmt: skip


def test_the_wheel_installs_only_dsrflow(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = whl.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        record = whl.read(f"{info}/RECORD").decode().splitlines()
        top_level = whl.read(f"{info}/top_level.txt").decode().split()
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert top_level == ["dsrflow"]
    roots = {line.split(",")[0].split("/")[0] for line in record if line}
    assert roots == {"dsrflow", info}, roots
    for module in ("adapters/sdk/__init__.py", "adapters/sdk/capabilities.py",
                   "workflows/dsr.py", "activities/stores.py", "py.typed"):  # fmt: skip
        assert f"dsrflow/{module}" in names, module
    assert "sql = dsrflow.adapters.sql:SqlAdapter" in entry_points
    assert sorted(p.name for p in installed.target.iterdir()) == ["bin", "dsrflow", info]


def test_only_the_sdk_is_there_to_import(installed: Installed, tmp_path: Path) -> None:
    """``import adapters`` fails; the SDK imports alone (no core module, no pydantic)."""
    script = """
import importlib, json, sys
out = {}
for name in ("adapters", "workflows", "activities"):
    try:
        importlib.import_module(name)
        out[name] = "imported"
    except ModuleNotFoundError:
        out[name] = "missing"
import dsrflow.adapters.sdk as sdk
out["sdk"] = sdk.__file__
out["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] == "dsrflow")
out["pydantic"] = "pydantic" in sys.modules
print(json.dumps(out))
"""
    r = _run([installed.target], "-c", script, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["adapters"], out["workflows"], out["activities"]) == ("missing",) * 3
    assert out["sdk"].startswith(str(installed.target / "dsrflow" / "adapters" / "sdk"))
    core = [m for m in out["loaded"] if m not in ("dsrflow", "dsrflow.adapters")]
    assert core and all(m.startswith("dsrflow.adapters.sdk") for m in core), out["loaded"]
    assert out["pydantic"] is False


def test_the_outside_adapter_registers_and_passes_the_kit(installed: Installed) -> None:
    project = installed.example_project
    paths = [installed.example_target, installed.target]
    script = """
import json, sys
import dsrflow
from dsrflow.adapters.registry import AdapterRegistry
spec = AdapterRegistry.from_entry_points().spec("jsonfile")
print(json.dumps({"module": sys.modules[spec.cls.__module__].__file__,
                  "dsrflow": dsrflow.__file__, "caps": sorted(spec.capabilities)}))
"""
    r = _run(paths, "-c", script, cwd=project)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["module"].startswith(str(installed.example_target / "dsrflow_jsonfile"))
    assert found["dsrflow"].startswith(str(installed.target / "dsrflow"))
    assert found["caps"] == ["access", "erase", "verify"]

    r = _run(paths, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "tests", cwd=project)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    passed = set(re.findall(r"^PASSED tests/test_conformance.py::TestJsonFile::(\w+)", r.stdout,
                            flags=re.MULTILINE))  # fmt: skip
    assert {
        "test_declares_the_contract",
        "test_check_connection_passes",
        "test_access_round_trip",
        "test_erase_then_verify_is_zero",
        "test_erase_is_idempotent",
        "test_other_subjects_untouched",
    } <= passed, r.stdout[-4000:]

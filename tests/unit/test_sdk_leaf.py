"""The adapter SDK is a leaf, and the built-in adapters stand on it alone.

Reads every import statement (the source, not what happens to be loaded): the SDK imports the
standard library, ``rfc8785`` and itself, and pydantic only for type checking; each built-in
adapter imports the SDK, its own package and its drivers, nothing else of dsrflow.
``tests/e2e/test_packaging.py`` shows the same from an installed wheel.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
SDK = "dsrflow.adapters.sdk"
SDK_THIRD_PARTY = {"rfc8785"}
BUILT_INS = {
    "sql": ADAPTERS / "sql",
    "redis": ADAPTERS / "redis",
    "files": ADAPTERS / "files",
    "opendsr": ADAPTERS / "opendsr",
    "manual": ADAPTERS / "manual.py",
    "testing": ADAPTERS / "testing",  # the conformance kit: the SDK and pytest
}


def _imports(path: Path) -> Iterator[tuple[int, str, bool]]:
    """``(line, module, only while type checking)`` of every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            checking |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in checking
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, id(node) in checking


def _files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def test_the_sdk_imports_nothing_of_dsrflow_but_itself() -> None:
    wrong = []
    for path in _files(ADAPTERS / "sdk"):
        for line, module, type_only in _imports(path):
            ok = (
                _stdlib(module)
                or module == SDK
                or module.startswith(SDK + ".")
                or module in SDK_THIRD_PARTY
                or (type_only and module.split(".")[0] == "pydantic")
            )
            if not ok:
                wrong.append(f"{path.relative_to(ADAPTERS)}:{line}: {module}")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_a_built_in_adapter_imports_the_sdk_and_its_own_package_only(name: str) -> None:
    own = f"dsrflow.adapters.{name}"
    wrong = [
        f"{path.relative_to(ADAPTERS)}:{line}: {module}"
        for path in _files(BUILT_INS[name])
        for line, module, _ in _imports(path)
        if module.split(".")[0] == "dsrflow"
        and not (module in (SDK, own) or module.startswith((SDK + ".", own + ".")))
    ]
    assert wrong == []


def test_the_scan_sees_a_core_import() -> None:
    """The checks above can fail: the scanner finds the imports the SDK must not have."""
    seen = {module for _, module, _ in _imports(ADAPTERS / "registry.py")}
    assert "dsrflow.errors" in seen
    checking = {m for _, m, type_only in _imports(ADAPTERS / "sdk" / "contract.py") if type_only}
    assert checking == {"pydantic"}

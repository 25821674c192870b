"""Catalog validation: every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog import load_catalog
from dsrflow.errors import ConfigError

GOOD = """\
version: 1
stores:
  shop:
    adapter: sql
    identity_source: true
    connection:
      url: sqlite:///shop.db
    collections:
      customers:
        identities: {email: email}
        provides: {id: customer_id}
      orders:
        references: {customer_id: customers.id}
        erase: {strategy: anonymize, fields: {name: null, note: {fixed: "gone"}}}
  tickets:
    adapter: sql
    after: [shop]
    connection: {url_env: TICKETS_URL}
    collections:
      tickets:
        identities: {email: email}
"""


@pytest.fixture
def registry() -> AdapterRegistry:
    return AdapterRegistry.from_entry_points()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dsrflow.yaml"
    path.write_text(text)
    return path


def errors_of(tmp_path: Path, text: str, registry: AdapterRegistry) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_catalog(write(tmp_path, text), registry)
    return str(exc.value).splitlines()


def test_good_catalog_loads(tmp_path: Path, registry: AdapterRegistry) -> None:
    cat = load_catalog(write(tmp_path, GOOD), registry)
    assert list(cat.stores) == ["shop", "tickets"]
    plan = cat.stores["tickets"].plan()
    assert plan.after == ["shop"] and plan.adapter == "sql"
    assert "erase" in plan.capabilities
    assert cat.stores["shop"].plan().identity_source is True
    assert cat.digest.startswith("sha256:")


def test_demo_catalog_is_valid(registry: AdapterRegistry) -> None:
    from importlib import resources

    path = Path(str(resources.files("dsrflow.demo").joinpath("catalog.yaml")))
    assert set(load_catalog(path, registry).stores) == {"shop", "support"}


def test_unknown_adapter_names_line_and_field(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace("adapter: sql\n    after", "adapter: nosuch\n    after")
    [line] = errors_of(tmp_path, text, registry)
    assert line.startswith(f"{tmp_path / 'dsrflow.yaml'}:16: stores.tickets.adapter:")
    assert "unknown adapter 'nosuch'" in line and "sql" in line


def test_inline_password_is_refused(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace("sqlite:///shop.db", "postgresql://app:hunter2@db/shop")
    [line] = errors_of(tmp_path, text, registry)
    assert ":6: stores.shop.connection:" in line
    assert "password_env" in line and "hunter2" not in line


def test_unknown_field_and_bad_value_reported_together(
    tmp_path: Path, registry: AdapterRegistry
) -> None:
    text = GOOD.replace("identity_source: true", "identity_source: true\n    colour: blue")
    text = text.replace("strategy: anonymize", "strategy: shred")
    lines = errors_of(tmp_path, text, registry)
    assert any(":6: stores.shop.colour: unknown field" in line for line in lines), lines
    assert any("stores.shop.collections.orders.erase.strategy" in line and ":15:" in line
               for line in lines), lines  # fmt: skip


def test_duplicate_key(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace("  tickets:\n    adapter", "  shop:\n    adapter")
    [line] = errors_of(tmp_path, text, registry)
    assert ":15: stores.shop: duplicate key (first defined on line 3)" in line


def test_invalid_yaml_names_line(tmp_path: Path, registry: AdapterRegistry) -> None:
    [line] = errors_of(tmp_path, "version: 1\nstores:\n  a: [unclosed\n", registry)
    assert "invalid YAML" in line and "dsrflow.yaml:" in line


def test_unknown_yaml_tag_names_line(tmp_path: Path, registry: AdapterRegistry) -> None:
    # Found by the bytes property test: a tag plain YAML data cannot construct (``!$``, ``!env``)
    # raised a constructor error with a stack trace instead of a config line.
    [line] = errors_of(tmp_path, "version: 1\nstores:\n  a: !env SECRET\n", registry)
    assert "dsrflow.yaml:3: invalid YAML" in line and "'!env'" in line


def test_ordering_cycle_rejected(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace(
        "    identity_source: true", "    identity_source: true\n    after: [tickets]"
    )
    [line] = errors_of(tmp_path, text, registry)
    assert "ordering cycle" in line and "shop" in line and "tickets" in line


def test_unknown_after_store(tmp_path: Path, registry: AdapterRegistry) -> None:
    [line] = errors_of(tmp_path, GOOD.replace("after: [shop]", "after: [crm]"), registry)
    assert "stores.tickets.after.0: unknown store 'crm'" in line and ":17:" in line


def test_reference_to_unknown_collection(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace("customers.id}", "people.id}")
    [line] = errors_of(tmp_path, text, registry)
    assert "stores.shop.collections" in line and "unknown 'people'" in line


def test_unreachable_collection(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace("        references: {customer_id: customers.id}\n", "")
    [line] = errors_of(tmp_path, text, registry)
    assert "not reachable from any identity column: orders" in line


def test_keep_needs_basis(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = GOOD.replace(
        'erase: {strategy: anonymize, fields: {name: null, note: {fixed: "gone"}}}',
        "erase: {strategy: keep}",
    )
    [line] = errors_of(tmp_path, text, registry)
    assert "stores.shop.collections.orders.erase" in line and "basis" in line


def test_missing_file(tmp_path: Path, registry: AdapterRegistry) -> None:
    with pytest.raises(ConfigError, match="catalog file not found"):
        load_catalog(tmp_path / "nope.yaml", registry)


def test_bad_store_name(tmp_path: Path, registry: AdapterRegistry) -> None:
    [line] = errors_of(
        tmp_path, GOOD.replace("  tickets:\n    adapter", "  Tick ets:\n    adapter"), registry
    )
    assert "stores.Tick ets" in line and "lower-case" in line

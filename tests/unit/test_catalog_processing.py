"""Processing information in the catalog: what access packages state, checked with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog import load_catalog
from dsrflow.catalog.fides import import_fides
from dsrflow.errors import ConfigError

CATALOG = """\
version: 1
stores:
  shop:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      customers:
        identities: {email: email}
      orders:
        references: {customer_id: customers.id}
    processing:
      purposes: [Order fulfilment]
      legal_basis: Art. 6(1)(b) contract
      retention: 6 years after the last order
      source: the subject, at sign-up
      recipients:
        - {name: ParcelCo, country: US, outside_eea: true, safeguard: SCC Art. 46(2)(c)}
      collections:
        customers:
          fields: {email: [user.contact.email], name: [user.name]}
          provided: [email, name]
          exclude: [{field: password_hash, reason: internal helper column}]
          redact:
            - {field: referrer, ground: other_people, reason: names another customer}
        orders:
          purposes: [Invoicing]
          legal_basis: Art. 6(1)(c) legal obligation
"""


@pytest.fixture
def registry() -> AdapterRegistry:
    return AdapterRegistry.from_entry_points()


def load(tmp_path: Path, text: str, registry: AdapterRegistry):  # type: ignore[no-untyped-def]
    path = tmp_path / "dsrflow.yaml"
    path.write_text(text)
    return load_catalog(path, registry)


def test_processing_resolves_store_defaults_per_collection(
    tmp_path: Path, registry: AdapterRegistry
) -> None:
    proc = load(tmp_path, CATALOG, registry).stores["shop"].common.processing
    customers = proc.resolved("customers")
    assert customers["purposes"] == ["Order fulfilment"]
    assert customers["data_categories"] == ["user.contact.email", "user.name"]
    assert customers["provided_fields"] == ["email", "name"]
    assert customers["recipients"][0]["safeguard"] == "SCC Art. 46(2)(c)"
    orders = proc.resolved("orders")
    assert orders["purposes"] == ["Invoicing"]
    assert orders["legal_basis"].startswith("Art. 6(1)(c)")
    assert orders["retention"] == "6 years after the last order"  # inherited
    assert orders["provided_fields"] is None  # not declared


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("legal_basis: Art. 6(1)(b) contract", "legal_basis: because", 13, "legal_basis"),
        ("outside_eea: true, safeguard: SCC Art. 46(2)(c)", "outside_eea: true", 17,
         "needs its 'safeguard'"),
        ("[user.contact.email]", "[contact-email]", 20, "not a Fides data category"),
        ("ground: other_people", "ground: gossip", 24, "ground"),
        ("        orders:\n          purposes", "        invoices:\n          purposes", 25,
         "unknown collection 'invoices'"),
        ("field: password_hash", "field: referrer", 19, "both excluded and redacted"),
    ],
)  # fmt: skip
def test_bad_processing_names_file_line_and_field(
    tmp_path: Path, registry: AdapterRegistry, old: str, new: str, line: int, message: str
) -> None:
    assert old in CATALOG
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, CATALOG.replace(old, new), registry)
    text = str(exc.value)
    assert f"dsrflow.yaml:{line}: stores.shop.processing" in text, text
    assert message in text
    assert "Traceback" not in text


def test_import_fides_carries_data_categories(tmp_path: Path, registry: AdapterRegistry) -> None:
    sample = Path(__file__).parent.parent / "fixtures" / "fides_sample"
    catalog, _ = import_fides(
        sample / "postgres_example_test_dataset.yml", {"url": "sqlite:///x.db"}, "shop"
    )
    proc = catalog["stores"]["shop"]["processing"]["collections"]
    assert proc["customer"]["fields"]["email"] == ["user.contact.email"]
    assert proc["address"]["fields"]["city"] == ["user.contact.address.city"]
    from dsrflow.catalog.yamlpos import dump

    loaded = load(tmp_path, dump(catalog, sort_keys=False), registry)  # the loader accepts it
    resolved = loaded.stores["shop"].common.processing.resolved("customer")
    assert "user.contact.email" in resolved["data_categories"]

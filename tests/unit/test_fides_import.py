"""Fides dataset import: mapping decisions and file:line errors (offline, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.catalog.fides import SchemaInfo, import_fides
from dsrflow.errors import ConfigError

CONN = {"url": "sqlite:///db.sqlite"}

DATASET = """\
dataset:
  - fides_key: My Shop
    collections:
      - name: users
        fields:
          - {name: id, data_categories: [user.unique_id], fides_meta: {primary_key: true}}
          - {name: email, data_categories: [user.contact.email], fides_meta: {identity: email}}
          - {name: plan, data_categories: [system.operations]}
      - name: carts
        fields:
          - name: user_id
            data_categories: [user.unique_id]
            fides_meta: {references: [{dataset: My Shop, field: users.id}]}
          - {name: total, data_categories: [system.operations]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dataset.yml"
    path.write_text(text)
    return path


def test_mapping_and_default_policy(tmp_path: Path) -> None:
    catalog, notes = import_fides(write(tmp_path, DATASET), CONN)
    store = catalog["stores"]["my_shop"]
    users, carts = store["collections"]["users"], store["collections"]["carts"]
    assert users == {"identities": {"email": "email"},
                     "erase": {"strategy": "anonymize", "fields": {"email": None}}}  # fmt: skip
    # an undirected reference is oriented away from the side reachable from an identity
    assert carts["references"] == {"user_id": "users.id"}
    assert carts["erase"] == {"strategy": "anonymize", "fields": {"user_id": None}}
    assert "users: set NULL email" in notes


def test_identity_in_key_or_not_null_deletes_rows(tmp_path: Path) -> None:
    schema = SchemaInfo(columns={"users": {"id", "email", "plan"}, "carts": {"user_id", "total"}},
                        primary_key={"users": {"id"}, "carts": set()},
                        not_null={"carts": {"user_id"}})  # fmt: skip
    catalog, _ = import_fides(write(tmp_path, DATASET), CONN, reflect=lambda tables: schema)
    assert catalog["stores"]["my_shop"]["collections"]["carts"]["erase"] == "delete"


def test_missing_table_names_file_and_line(tmp_path: Path) -> None:
    schema = SchemaInfo(columns={"users": {"id", "email", "plan"}})
    with pytest.raises(ConfigError) as exc:
        import_fides(write(tmp_path, DATASET), CONN, reflect=lambda tables: schema)
    assert (
        f"{tmp_path / 'dataset.yml'}:9: dataset.0.collections.1.name: table 'carts' not found"
        in str(exc.value)
    )


def test_unmappable_input_is_reported_line_by_line(tmp_path: Path) -> None:
    text = DATASET.replace("{dataset: My Shop, field: users.id}",
                           "{dataset: other, field: users.id}")  # fmt: skip
    text = text.replace("{name: plan, data_categories: [system.operations]}",
                        "{name: plan, fields: [{name: tier}]}")  # fmt: skip
    with pytest.raises(ConfigError) as exc:
        import_fides(write(tmp_path, text), CONN)
    lines = str(exc.value).splitlines()
    assert any(":8: dataset.0.collections.0.fields.2.fields: nested fields" in x for x in lines)
    assert any(":13: " in x and "reference to another dataset (other)" in x for x in lines)


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="non-empty 'dataset' list"):
        import_fides(write(tmp_path, "collections: []\n"), CONN)

"""Adversarial: a catalog reload between reading a store's entry and building its adapter.

``AdapterPool.get`` read the store's entry (from the catalog in use), then, under the lock,
built and cached the adapter from that entry. A reload by another activity thread in between
retired nothing (no adapter yet) and installed the new catalog; the adapter built from the old
entry was then cached under the new catalog and served every later request until the store
changed again: erasures ran the old mapping while the record named the new digest.

The interleaving is reproduced deterministically: the other thread's reload is run at the
point it would interleave (after ``entry`` returned).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog.loader import load_catalog
from dsrflow.catalog.model import StoreEntry
from dsrflow.catalog.pool import AdapterPool

CATALOG = """\
version: 1
stores:
  shop:
    adapter: sql
    connection: {{url: "sqlite:///{db}"}}
    collections:
      customers: {{identities: {{email: email}}, erase: delete}}
{extra}"""
SIGNIN = "      signin_log: {identities: {user_email: email}, erase: delete}\n"


class RacingPool(AdapterPool):
    """A pool where another thread reloads the catalog right after ``entry`` returned, once."""

    raced = False

    def entry(self, store: str) -> StoreEntry:
        got = super().entry(store)
        if not self.raced:
            self.raced = True
            self._catalog.path.write_text(self.next_text)
            assert self.reload_if_changed(force=True)
        return got


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[RacingPool]:
    db = tmp_path / "shop.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(100));"
        "CREATE TABLE signin_log (id INTEGER PRIMARY KEY, user_email VARCHAR(100));"
    )
    conn.close()
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.format(db=db, extra=""))
    registry = AdapterRegistry.from_entry_points()
    racing = RacingPool(load_catalog(path, registry), registry, {})
    racing.next_text = CATALOG.format(db=db, extra=SIGNIN)  # type: ignore[attr-defined]
    yield racing
    racing.close()


def test_the_adapter_in_use_is_built_from_the_catalog_in_use(pool: RacingPool) -> None:
    adapter = pool.get("shop")
    assert pool.raced
    in_use = pool.catalog.stores["shop"].config
    assert "signin_log" in in_use.collections  # the reload took effect
    # The adapter this and every later request of the worker gets must map the same tables.
    assert set(pool.get("shop").config.collections) == set(in_use.collections)
    assert adapter.config == in_use

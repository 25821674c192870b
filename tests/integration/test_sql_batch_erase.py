"""Batch erasure in the SQL adapter: one set-based statement per collection, counts per subject.

On SQLite, PostgreSQL and MariaDB (a schema/database of its own per test): every subject of the
chunk loses exactly her rows, others keep theirs, each receipt counts her own rows only, a kept
collection is counted not changed, a subject with no rows gets zeros (not a missing receipt),
and ``verify_many`` counts each subject's residual by another query than the DELETE.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dsrflow.adapters.sdk import AdapterContext, NotSupportedError, OperationReceipt, Subject
from dsrflow.adapters.sdk.capabilities import spec_of
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from tests.fixtures.databases import PG_ADMIN, engines

ANN, BOB, CAT, DAN = "ann@example.org", "bob@example.org", "cat@example.org", "dan@example.org"
ROWS = {
    "customers": [(1, " Ann@Example.ORG"), (2, BOB), (3, DAN), (4, "ann@example.org")],
    "orders": [(10, ANN), (11, ANN), (12, DAN), (13, "BOB@example.org")],
    "invoices": [(20, ANN), (21, DAN)],
}
COLLECTIONS = {
    "customers": {"identities": {"email": "email"}, "erase": "delete"},
    "orders": {"identities": {"email": "email"}, "erase": "delete"},
    "invoices": {
        "identities": {"email": "email"},
        "erase": {"strategy": "keep", "basis": "Art. 17(3)(b)"},
    },
}


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlAdapter, Any]]:
    prefix = ""
    if request.param == "sqlite":
        url = admin = f"sqlite:///{tmp_path / 's.db'}"
        conn_cfg: dict[str, Any] = {"url": url}
    elif request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        admin, prefix = PG_ADMIN, f'"{schema}".'
        conn_cfg = {"url": PG_ADMIN.replace("+psycopg", ""), "schema": schema}
    else:
        db = request.getfixturevalue("mariadb_database")
        admin = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
        conn_cfg = {"url": admin.replace("+pymysql", "")}
    engine = create_engine(admin)
    with engine.begin() as conn:
        for table, rows in ROWS.items():
            conn.execute(
                text(f"CREATE TABLE {prefix}{table} (id INT PRIMARY KEY, email VARCHAR(100))")
            )
            for row in rows:
                conn.execute(
                    text(f"INSERT INTO {prefix}{table} VALUES (:i, :e)"), {"i": row[0], "e": row[1]}
                )
    cfg = SqlConfig.model_validate({"connection": conn_cfg, "collections": COLLECTIONS})
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))

    def ids(table: str) -> list[int]:
        with engine.connect() as conn:
            return sorted(i for (i,) in conn.execute(text(f"SELECT id FROM {prefix}{table}")))

    yield adapter, ids
    adapter.close()
    engine.dispose()


def subject(email: str) -> Subject:
    return Subject.of([Identity("email", email)])


def by_collection(receipt: OperationReceipt) -> dict[str, tuple[str, int, int, int | None]]:
    return {
        c.collection: (c.action, c.matched, c.affected, c.residual) for c in receipt.collections
    }


def test_batch_erases_each_subject_with_her_own_counts(shop: tuple[SqlAdapter, Any]) -> None:
    adapter, ids = shop
    committed: list[list[OperationReceipt]] = []
    ann, bob, cat = adapter.erase_many(
        [subject(ANN), subject(BOB), subject(CAT)], on_commit=committed.append
    )
    assert by_collection(ann) == {
        "customers": ("delete", 2, 2, 0),
        "orders": ("delete", 2, 2, 0),
        "invoices": ("keep", 1, 0, None),
    }
    assert (ann.matched, ann.affected) == (5, 4)
    assert by_collection(bob)["customers"] == ("delete", 1, 1, 0)
    assert by_collection(bob)["orders"] == ("delete", 1, 1, 0)  # stored upper-case: folded
    assert (cat.matched, cat.affected) == (0, 0)  # no rows: zeros, still a receipt of her own
    assert committed == [[ann, bob, cat]]
    assert ann.operation_digest == cat.operation_digest  # one set of statements for the chunk
    assert ids("customers") == [3]
    assert ids("orders") == [12]
    assert ids("invoices") == [20, 21]  # kept by policy
    left = adapter.verify_many([subject(ANN), subject(DAN), subject(CAT)])
    assert [r.matched for r in left] == [0, 2, 0]  # Dan was not in the batch: his rows stay
    assert {c.collection for c in left[1].collections} == {"customers", "orders"}


def test_a_failing_commit_hook_rolls_the_whole_chunk_back(shop: tuple[SqlAdapter, Any]) -> None:
    adapter, ids = shop

    def refuse(_: list[OperationReceipt]) -> None:
        raise RuntimeError("journal down")

    with pytest.raises(Exception, match=r"journal down|erasing a batch"):
        adapter.erase_many([subject(ANN), subject(BOB)], on_commit=refuse)
    assert ids("customers") == [1, 2, 3, 4]
    assert ids("orders") == [10, 11, 12, 13]


def test_a_repeated_batch_changes_nothing(shop: tuple[SqlAdapter, Any]) -> None:
    adapter, _ = shop
    adapter.erase_many([subject(ANN)])
    (again,) = adapter.erase_many([subject(ANN)])
    assert (again.matched, again.affected) == (1, 0)  # only the kept invoice still matches


def test_stores_with_references_are_left_to_the_single_subject_erasure(tmp_path: Path) -> None:
    cfg = SqlConfig.model_validate(
        {
            "connection": {"url": f"sqlite:///{tmp_path / 'x.db'}"},
            "collections": {
                "customers": {"identities": {"email": "email"}, "provides": {"id": "cid"}},
                "orders": {"references": {"customer_id": "customers.id"}},
            },
        }
    )
    assert spec_of(SqlAdapter).erase_many_for(cfg) is False
    with create_engine(cfg.connection.url or "").begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100))"))
        conn.execute(text("CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT)"))
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
    with pytest.raises(NotSupportedError, match="not erasable in batches"):
        adapter.erase_many([subject(ANN)])
    adapter.close()

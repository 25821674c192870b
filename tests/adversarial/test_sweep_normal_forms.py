"""Adversarial: copies of the subject's e-mail that neither the matcher nor the sweep sees.

The Python normaliser (``str.strip().lower()``) trims every Unicode whitespace and lower-cases
every letter; the SQL form ``lower(trim(col))`` trims only the space character, and SQLite's
``lower()`` folds ASCII only. A sign-in log imported from a CRLF file (``...org\\r``), a
non-breaking space pasted from a web form, or an address with an upper-case non-ASCII letter on
SQLite is then invisible to both the erase matcher and the "independent" sweep: the store ends
``done`` (or ``not_found``) with a clean sweep, and the bundle verifies, while her data stays.

Fixed: the SQL casefold form now trims every white space Python does (``identity.TRIMMED``)
and SQLite compares by Python's own rule (``dsrflow_casefold``); these tests keep it so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from tests.fixtures.databases import PG_ADMIN, engines

SUBJECT = "mia.park@example.org"


class Store:
    def __init__(self, url: str, admin: str, schema: str | None, base: Path) -> None:
        self.engine = create_engine(admin)
        self.q = (lambda n: f'"{schema}".{n}') if schema else (lambda n: n)
        ddl = ("customers (id INT PRIMARY KEY, email VARCHAR(100))",
               "signin_log (id INT PRIMARY KEY, user_email VARCHAR(200))")  # fmt: skip
        with self.engine.begin() as conn:
            for table in ddl:
                conn.execute(text(f"CREATE TABLE {self.q('')}{table}"))
        conn_cfg: dict[str, Any] = {"url": url}
        if schema:
            conn_cfg["schema"] = schema
        cfg = SqlConfig.model_validate(
            {
                "connection": conn_cfg,
                "collections": {"customers": {"identities": {"email": "email"}, "erase": "delete"}},
            }
        )
        self.adapter = SqlAdapter.create(cfg, AdapterContext("shop", base, {}))

    def put(self, table: str, value: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {self.q(table)} VALUES (1, :v)"), {"v": value})

    def left(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.q(table)}")).scalar() or 0)

    def close(self) -> None:
        self.adapter.close()
        self.engine.dispose()


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
        s = Store(url, url, None, tmp_path)
    elif request.param == "postgres":
        url = PG_ADMIN.replace("+psycopg", "")
        s = Store(url, PG_ADMIN, request.getfixturevalue("pg_schema"), tmp_path)
    else:
        db = request.getfixturevalue("mariadb_database")
        admin = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
        s = Store(admin.replace("+pymysql", ""), admin, None, tmp_path)
    yield s
    s.close()


def _erase_then_sweep(store: Store) -> int:
    subject = Subject.of([Identity("email", SUBJECT)])
    store.adapter.erase(subject)
    return store.adapter.sweep(subject, SweepBudget()).hit_count


@pytest.mark.parametrize("pad", ["\r", "\t", "\u00a0"], ids=["cr", "tab", "nbsp"])
def test_sweep_finds_an_unmapped_copy_padded_with_other_whitespace(store: Store, pad: str) -> None:
    store.put("customers", "Mia.Park@Example.org")
    store.put("signin_log", "Mia.Park@Example.org" + pad)  # a CRLF import, a pasted NBSP
    assert _erase_then_sweep(store) == 1, "her sign-in row is left and the sweep says clean"


def test_a_crlf_padded_identity_row_is_never_a_clean_not_found(store: Store) -> None:
    store.put("customers", "Mia.Park@Example.org\r\n")
    hits = _erase_then_sweep(store)
    # Either the erase removes her row or the sweep names it: never both silent.
    assert store.left("customers") == 0 or hits == 1


def test_sqlite_non_ascii_upper_case_is_never_a_clean_not_found(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(url, url, None, tmp_path)
    try:
        store.put("customers", "JOSÉ.Park@Example.org")
        subject = Subject.of([Identity("email", "josé.park@example.org")])
        store.adapter.erase(subject)
        hits = store.adapter.sweep(subject, SweepBudget()).hit_count
        assert store.left("customers") == 0 or hits == 1
    finally:
        store.close()

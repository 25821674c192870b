"""The newcomer's shop on each engine, in a database/schema of its own per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.newcomer import NewcomerStore
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=ENGINES)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> NewcomerStore:
    """The loaded store; its catalogs render into ``tmp_path``."""
    folder = tmp_path / "newcomer"
    folder.mkdir()
    if request.param == "sqlite":
        db = folder / "shop.db"
        store = NewcomerStore("sqlite", f"sqlite:///{db}", f"sqlite:///{db}", None, folder)
    elif request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        url = PG_ADMIN.replace("+psycopg", "")
        store = NewcomerStore("postgres", PG_ADMIN, url, schema, folder)
    else:
        name = request.getfixturevalue("mariadb_database")
        sa_url = MARIADB_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        store = NewcomerStore("mariadb", sa_url, sa_url.replace("+pymysql", ""), None, folder)
    store.load()
    return store

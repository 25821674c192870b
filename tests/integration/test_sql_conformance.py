"""The conformance kit against the SQL adapter on SQLite, PostgreSQL and MariaDB (real services)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dsrflow.adapters.testing import AdapterConformance
from tests.fixtures.databases import engines
from tests.integration.sql_harness import SqlHarness


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def sql_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlHarness]:
    if request.param == "sqlite":
        harness = SqlHarness(f"sqlite:///{tmp_path / 'conf.db'}", None, tmp_path)
    elif request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        harness = SqlHarness("postgresql+psycopg://postgres@127.0.0.1:5432/test", schema, tmp_path)
    else:
        db = request.getfixturevalue("mariadb_database")
        harness = SqlHarness(f"mysql+pymysql://root@127.0.0.1:3306/{db}", None, tmp_path)
    yield harness
    harness.close()


class TestSqlConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, sql_harness: SqlHarness) -> SqlHarness:
        return sql_harness

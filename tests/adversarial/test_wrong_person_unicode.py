"""Adversarial: an address with a KELVIN SIGN must never reach Mia's data.

``"mia.par\\u212a@example.org".lower() == "mia.park@example.org"``: U+212A KELVIN SIGN lower-
cases to an ASCII ``k``. A shop that does not verify sign-up addresses lets Eve register that
look-alike address and file an access request from her account; the submitted value was
normalised onto Mia's address, and the matcher returned (or erased) Mia's rows and keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from dsrflow.adapters.redis import RedisAdapter, RedisConfig
from dsrflow.adapters.sdk import AdapterContext, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from dsrflow.identity import normalize_value
from tests.fixtures.databases import PG_ADMIN, engines
from tests.fixtures.redis_store import REDIS_URL

MIA = "mia.park@example.org"
EVE = "mia.par\u212a@example.org"  # KELVIN SIGN, not K


def test_the_normaliser_keeps_the_look_alike_apart() -> None:
    assert normalize_value("email", EVE) != normalize_value("email", MIA)
    assert normalize_value("email", " Mia.Park@Example.ORG ") == MIA  # ordinary folding stays


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlAdapter, Any]]:
    if request.param == "sqlite":
        url = admin = f"sqlite:///{tmp_path / 's.db'}"
        table, conn_cfg = "customers", {"url": url}
    elif request.param == "postgres":
        schema = request.getfixturevalue("pg_schema")
        admin, table = PG_ADMIN, f'"{schema}".customers'
        conn_cfg = {"url": PG_ADMIN.replace("+psycopg", ""), "schema": schema}
    else:
        db = request.getfixturevalue("mariadb_database")
        admin = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
        table, conn_cfg = "customers", {"url": admin.replace("+pymysql", "")}
    engine = create_engine(admin)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id INT PRIMARY KEY, email VARCHAR(100))"))
        conn.execute(text(f"INSERT INTO {table} VALUES (1, :m)"), {"m": MIA})
    cfg = SqlConfig.model_validate(
        {
            "connection": conn_cfg,
            "collections": {"customers": {"identities": {"email": "email"}, "erase": "delete"}},
        }
    )
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))

    def rows() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text(f"SELECT email FROM {table}")).all())

    yield adapter, rows
    adapter.close()
    engine.dispose()


def test_sql_request_for_the_look_alike_gets_and_erases_nothing_of_mias(
    shop: tuple[SqlAdapter, Any],
) -> None:
    adapter, rows = shop
    eve = Subject.of([Identity("email", normalize_value("email", EVE))])
    assert list(adapter.access(eve)) == []
    assert adapter.erase(eve).affected == 0
    assert [r[0] for r in rows()] == [MIA]


def test_redis_request_for_the_look_alike_gets_nothing_of_mias(
    redis_prefix: str, tmp_path: Path
) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    p = redis_prefix
    r.set(f"{p}profile:{MIA}", "mia")
    r.sadd(f"{p}news", MIA)
    r.rpush(f"{p}recent", MIA)
    cfg = RedisConfig.model_validate(
        {
            "connection": {"url": REDIS_URL},
            "key_prefix": p,
            "collections": {
                "profile": {"keys": "profile:{email}"},
                "news": {"keys": "news", "member": "{email}"},
                "recent": {"keys": "recent", "member": "{email}"},
            },
        }
    )
    adapter = RedisAdapter.create(cfg, AdapterContext("cache", tmp_path, {}))
    try:
        eve = Subject.of([Identity("email", normalize_value("email", EVE))])
        assert list(adapter.access(eve)) == []
    finally:
        adapter.close()

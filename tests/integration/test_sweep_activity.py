"""The ``sweep_store`` activity: catalog budget, stamping, errors and logs, on a real SQLite store
and a real Redis."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import structlog
import structlog.testing
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from dsrflow.activities.sweep import SweepActivities
from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog.loader import load_catalog
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import Identity, SweepInput
from dsrflow.errors import ConfigError
from tests.fixtures.redis_store import REDIS_URL

CANARY = "canary.s9z@example.org"

CATALOG = """\
version: 1
stores:
  shop:
    adapter: sql
    connection: {{url: "sqlite:///shop.db"}}
    sweep: {{max_rows: 3, free_text: [signin_log.detail], statement_timeout: 5}}
    collections:
      customers:
        identities: {{email: email}}
        provides: {{id: customer_id}}
  cache:
    adapter: redis
    connection: {{url: "{redis}"}}
    key_prefix: "{prefix}"
    collections:
      sessions: {{keys: "session:{{customer_id}}:*"}}
  desk:
    adapter: manual
    instructions: "Delete the subject in the helpdesk."
"""


@pytest.fixture
def pool(tmp_path: Path, redis_prefix: str) -> AdapterPool:
    db = sqlite3.connect(tmp_path / "shop.db")
    db.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(100));"
        "CREATE TABLE signin_log (id INTEGER PRIMARY KEY, who VARCHAR(100), detail VARCHAR(60));"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, note VARCHAR(20));"
        "INSERT INTO audit VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');"
        f"INSERT INTO signin_log VALUES (1, ' {CANARY.upper()}', 'via sso for {CANARY}');"
    )
    db.commit()
    db.close()
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.format(redis=REDIS_URL, prefix=redis_prefix))
    registry = AdapterRegistry.from_entry_points()
    pool = AdapterPool(load_catalog(path, registry), registry, {})
    yield pool
    pool.close()


def run(pool: AdapterPool, store: str, after: str = "erasure"):  # type: ignore[no-untyped-def]
    inp = SweepInput("req-1", store, [Identity("email", CANARY), Identity("customer_id", "7")],
                     after=after, catalog_digest="sha256:planned")  # fmt: skip
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *d: beats.append(d)
    return env.run(SweepActivities(pool).sweep_store, inp), beats


def test_sql_store_swept_with_the_catalogs_budget_and_stamped(
    pool: AdapterPool, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        report, beats = run(pool, "shop")
    assert {(h.location, h.count, h.mode) for h in report.hits} == {
        ("signin_log.who", 1, "equality"),
        ("signin_log.detail", 1, "substring"),  # listed in sweep.free_text
    }
    assert report.not_swept == ["audit: over max_rows (more than 3 rows)"]  # sweep.max_rows
    assert report.kinds == ["email"]  # customer_id is weak: not searched
    assert report.checked_at is not None
    assert report.catalog_digest == pool.catalog.digest
    assert len(beats) == 3  # one heartbeat per table
    [swept] = [e for e in events if e["event"] == "swept"]
    assert (swept["store"], swept["hits"], swept["not_swept"]) == ("shop", 2, 1)
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err + repr(events)
    assert CANARY not in (logged + repr(report) + report.reason()).lower()


def test_redis_store_swept(pool: AdapterPool, redis_prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.set(f"{redis_prefix}session:7:a", CANARY)
    r.set(f"{redis_prefix}mail:{CANARY}", "x")
    r.close()
    report, _ = run(pool, "cache")
    assert {(h.location, h.count) for h in report.hits} == {
        (f"keys:{redis_prefix}*", 1),
        ("values:string", 1),
    }
    accessed, _ = run(pool, "cache", after="access")
    assert [(e.location, e.count, e.reason) for e in accessed.excluded] == [
        ("values:string", 1, "accessed")
    ]


def test_store_without_sweep_is_not_supported(pool: AdapterPool) -> None:
    with pytest.raises(ApplicationError) as err:
        run(pool, "desk")
    assert err.value.type == "NotSupported" and err.value.non_retryable
    assert "desk" in str(err.value) and CANARY not in str(err.value)


def test_bad_after_is_a_config_error(pool: AdapterPool) -> None:
    with pytest.raises(ApplicationError) as err:
        run(pool, "shop", after="rectify")
    assert err.value.type == "ConfigError" and err.value.non_retryable


def test_catalog_rejects_a_bad_sweep_option(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "version: 1\nstores:\n  shop:\n    adapter: sql\n"
        '    connection: {url: "sqlite:///x.db"}\n'
        "    sweep: {max_rows: 0, free_text: [notes]}\n"
        "    collections:\n      c: {identities: {email: email}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_catalog(path, AdapterRegistry.from_entry_points())
    lines = str(err.value).splitlines()
    assert any(":6: stores.shop.sweep.max_rows:" in line for line in lines)
    assert any("stores.shop.sweep.free_text: " in line and "table.column" in line for line in lines)

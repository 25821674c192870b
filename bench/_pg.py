"""Shared setup of the PostgreSQL benchmarks: a throw-away database and a SQL adapter on it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from dsrflow.adapters.sdk import AdapterContext
from dsrflow.adapters.sql import SqlAdapter, SqlConfig

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database for one benchmark run, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def engine(db: str) -> Engine:
    return create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}")


def adapter(db: str, collections: dict, **extra: object) -> SqlAdapter:
    cfg = SqlConfig.model_validate({
        "connection": {"url": f"postgresql://postgres@127.0.0.1:5432/{db}"},
        "collections": collections, **extra,
    })  # fmt: skip
    return SqlAdapter.create(cfg, AdapterContext("bench", Path("."), {}))


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start

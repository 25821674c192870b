"""SQL adapter behaviour that differs per engine, on real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from dsrflow.adapters.sdk import AdapterContext, PermanentAdapterError
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from tests.fixtures.databases import PG_ADMIN, engines
from tests.integration.sql_harness import HMAC_ENV, SqlHarness


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlHarness]:
    if request.param == "sqlite":
        h = SqlHarness(f"sqlite:///{tmp_path / 'b.db'}", None, tmp_path)
    elif request.param == "postgres":
        h = SqlHarness(PG_ADMIN, request.getfixturevalue("pg_schema"), tmp_path)
    else:
        db = request.getfixturevalue("mariadb_database")
        h = SqlHarness(f"mysql+pymysql://root@127.0.0.1:3306/{db}", None, tmp_path)
    yield h
    h.close()


def adapter_for(h: SqlHarness, collections: dict, env: dict | None = None) -> SqlAdapter:
    conn = {"url": h.url.replace("+psycopg", "").replace("+pymysql", "")}
    if h.meta.schema:
        conn["schema"] = h.meta.schema
    cfg = SqlConfig.model_validate({"connection": conn, "collections": collections})
    return SqlAdapter.create(cfg, AdapterContext("shop", Path("."), env or {HMAC_ENV: "k"}))


def test_hmac_and_random_rewrites(backend: SqlHarness) -> None:
    seeded = backend.seed("a")
    adapter = adapter_for(backend, {
        "customers": {"identities": {"email": "email"}, "erase": {"strategy": "anonymize",
                      "fields": {"email": {"hmac": {"key_env": HMAC_ENV, "length": 40}},
                                 "name": {"random": {"length": 16}}}}},
    })  # fmt: skip
    email = seeded.subject.values("email")[0]
    receipt = adapter.erase(seeded.subject)
    [count] = receipt.collections
    assert (count.matched, count.affected, count.residual) == (1, 1, 0)
    with backend.engine.connect() as conn:
        t = backend.table("customers")
        [(new_email, new_name)] = conn.execute(select(t.c.email, t.c.name).where(t.c.id == 1))
    assert new_email == hmac.new(b"k", email.encode(), hashlib.sha256).hexdigest()[:40]
    assert len(new_name) == 16 and int(new_name, 16) >= 0 and seeded.marker not in new_name
    assert adapter.verify(seeded.subject).matched == 0
    adapter.close()


def test_verify_sees_values_not_yet_rewritten(backend: SqlHarness) -> None:
    """Orders stay linked to a kept customer; only their note is HMAC'd. verify (without the
    old values) counts notes that do not have the shape of a rewrite yet."""
    seeded = backend.seed("a")
    backend.seed("b")
    adapter = adapter_for(backend, {
        "customers": {"identities": {"email": "email"},
                      "erase": {"strategy": "keep", "basis": "Art. 17(3)(b)"}},
        "orders": {"references": {"customer_id": "customers.id"},
                   "erase": {"strategy": "anonymize",
                             "fields": {"note": {"hmac": {"key_env": HMAC_ENV}}}}},
    })  # fmt: skip
    assert adapter.verify(seeded.subject).matched == 2
    receipt = adapter.erase(seeded.subject)
    assert {c.collection: (c.affected, c.residual) for c in receipt.collections} == {
        "orders": (2, 0), "customers": (0, None)}  # fmt: skip
    assert adapter.verify(seeded.subject).matched == 0
    assert adapter.erase(seeded.subject).affected == 0  # rewritten values are not rewritten again
    adapter.close()


def test_rectify_and_restrict_are_set_based(backend: SqlHarness) -> None:
    a, b = backend.seed("a"), backend.seed("b")
    adapter = backend.adapter
    r = adapter.rectify(a.subject, {"full_name": "New Name", "unknown_field": "x"})
    assert [(c.collection, c.matched, c.affected) for c in r.collections] == [("customers", 1, 1)]
    assert adapter.restrict(a.subject).affected == 1
    with backend.engine.connect() as conn:
        t = backend.table("customers")
        rows = conn.execute(select(t.c.id, t.c.name, t.c.restricted).order_by(t.c.id)).all()
    assert [(n, bool(x)) for _, n, x in rows] == [("New Name", True), (f"Name {b.marker}", False)]


def test_driver_errors_carry_no_personal_data(backend: SqlHarness) -> None:
    backend.seed("a")
    b = backend.seed("b")
    with backend.engine.begin() as conn:
        name = f"{backend.meta.schema}.customers" if backend.meta.schema else "customers"
        conn.execute(text(f"CREATE UNIQUE INDEX ux_{uuid.uuid4().hex[:6]} ON {name} (name)"))
    with pytest.raises(PermanentAdapterError) as exc:  # rectify into someone else's name
        backend.adapter.rectify(b.subject, {"full_name": "Name " + backend.seed("c").marker})
    message = str(exc.value)
    assert "store 'conformance'" in message and "rectifying" in message
    assert "@example.com" not in message and "Name m" not in message


def test_check_connection_reports_missing_privileges(pg_schema: str, tmp_path: Path) -> None:
    h = SqlHarness(PG_ADMIN, pg_schema, tmp_path)
    role = f"ro_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{pg_schema}" TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{pg_schema}" TO "{role}"'))
    try:
        cfg = SqlConfig.model_validate({
            "connection": {"url": f"postgresql://{role}@127.0.0.1:5432/test", "schema": pg_schema},
            "collections": {"customers": {"identities": {"email": "email"}, "erase": "delete"}},
        })  # fmt: skip
        ro = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
        report = ro.check_connection()
        ro.close()
        by = {c.name: c for c in report.checks}
        assert by["connect"].ok and by["schema"].ok
        assert not by["privileges:customers"].ok
        assert "permission denied" in by["privileges:customers"].detail
    finally:
        h.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_large_subject_erasure_is_batched_in_one_transaction(backend: SqlHarness) -> None:
    seeded = backend.seed_large(backend.batch_size * 4)
    beats: list[int] = []
    receipt = backend.adapter.erase(seeded.subject, progress=beats.append)
    events = {c.collection: c for c in receipt.collections}["events"]
    assert (events.matched, events.affected, events.residual) == (200, 200, 0)
    assert {50, 100, 150, 200} <= set(beats) and beats == sorted(beats)  # one beat per batch

"""Driver errors that quote row data leave none of it behind (real triggers, real databases).

A trigger's message is free text a schema author wrote; here it names the person being erased
(the canary) and quotes her e-mail. A unique constraint's DETAIL and MariaDB's "Duplicate
entry" quote the value. The adapter's error keeps the class, the SQLSTATE / error code and the
table/column/constraint, and nothing else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from temporalio.exceptions import ApplicationError

from dsrflow.activities.errors import store_errors
from dsrflow.adapters.sdk import AdapterContext, PermanentAdapterError, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from dsrflow.redact import describe_exception
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN, engines

CANARY = "Zelda Quennell-Canary"
EMAIL = "zelda.q@canary.example"
OTHER = "other.person@canary.example"

PG_SCHEMA = """
CREATE TABLE {s}.people (id int PRIMARY KEY, email text, name text);
CREATE UNIQUE INDEX people_name_key ON {s}.people (name);
CREATE FUNCTION {s}.no_delete() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'cannot delete {canary} (%)', OLD.email; END $$ LANGUAGE plpgsql;
CREATE TRIGGER people_keep BEFORE DELETE ON {s}.people FOR EACH ROW
    EXECUTE FUNCTION {s}.no_delete();
"""  # fmt: skip

MARIADB_SCHEMA = [
    "CREATE TABLE people (id int PRIMARY KEY, email varchar(80), name varchar(80),"
    " UNIQUE KEY people_name_key (name))",
    "CREATE TRIGGER people_keep BEFORE DELETE ON people FOR EACH ROW"
    f" SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'cannot delete {CANARY} <{EMAIL}>'",
]

SQLITE_SCHEMA = f"""
CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT UNIQUE);
CREATE TRIGGER people_keep BEFORE DELETE ON people
BEGIN SELECT RAISE(ABORT, 'cannot delete {CANARY} <{EMAIL}>'); END;
"""

ROWS = f"INSERT INTO {{t}} VALUES (1, '{EMAIL}', '{CANARY}'), (2, '{OTHER}', 'Other Person')"


def _adapter(url: str, tmp_path: Path, schema: str | None = None) -> SqlAdapter:
    cfg = SqlConfig.model_validate({
        "connection": {"url": url, **({"schema": schema} if schema else {})},
        "collections": {"people": {"identities": {"email": "email"}, "erase": "delete",
                                   "rectify": {"full_name": "name"}}},
    })  # fmt: skip
    return SqlAdapter.create(cfg, AdapterContext("crm", tmp_path, {}))


@pytest.fixture(params=engines("postgresql", "mariadb", "sqlite"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAdapter]:
    if request.param == "postgresql":
        schema = request.getfixturevalue("pg_schema")
        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(PG_SCHEMA.format(s=f'"{schema}"', canary=CANARY)))
            conn.execute(text(ROWS.format(t=f'"{schema}".people')))
        engine.dispose()
        adapter = _adapter("postgresql://postgres@127.0.0.1:5432/test", tmp_path, schema)
    elif request.param == "mariadb":
        db = request.getfixturevalue("mariadb_database")
        engine = create_engine(MARIADB_ADMIN.replace("/test", f"/{db}"))
        with engine.begin() as conn:
            for stmt in [*MARIADB_SCHEMA, ROWS.format(t="people")]:
                conn.execute(text(stmt))
        engine.dispose()
        adapter = _adapter(f"mysql://root@127.0.0.1:3306/{db}", tmp_path)
    else:
        with sqlite3.connect(tmp_path / "crm.db") as conn:
            conn.executescript(SQLITE_SCHEMA + ROWS.format(t="people") + ";")
        conn.close()
        adapter = _adapter("sqlite:///crm.db", tmp_path)
    yield adapter
    adapter.close()


def _clean(message: str) -> None:
    for secret in (CANARY, "Zelda", "Quennell", EMAIL, "zelda.q", OTHER, "Other Person"):
        assert secret.lower() not in message.lower(), message


def test_a_trigger_message_naming_the_person_is_dropped(store: SqlAdapter) -> None:
    subject = Subject.of([Identity("email", EMAIL)])
    with pytest.raises(PermanentAdapterError) as err:  # a trigger will not change its mind
        store.erase(subject)
    message = str(err.value)
    _clean(message)
    assert message.startswith("store 'crm': ") and "while erasing" in message
    code = {"postgresql": "[SQLSTATE P0001]", "mysql": "[MySQL 1644]",
            "sqlite": "[SQLITE_CONSTRAINT_TRIGGER]"}[store.engine.dialect.name]  # fmt: skip
    assert code in message
    # ...and through the activity boundary, the ApplicationError Temporal records.
    with pytest.raises(ApplicationError) as app, _activity(), store_errors("crm"):
        store.erase(subject)
    _clean(app.value.message)
    assert app.value.type == "PermanentStoreError" and app.value.non_retryable


def test_a_constraint_detail_quoting_a_value_is_dropped(store: SqlAdapter) -> None:
    # Rectify the other person's name into the canary's: the unique index refuses it, and the
    # driver's message quotes the value (Key (name)=(...), Duplicate entry '...').
    other = Subject.of([Identity("email", OTHER)])
    with pytest.raises(PermanentAdapterError) as err:
        store.rectify(other, {"full_name": CANARY})
    message = str(err.value)
    _clean(message)
    expected = {
        "postgresql": ("UniqueViolation [SQLSTATE 23505]", "constraint people_name_key"),
        "mysql": ("IntegrityError [MySQL 1062]", "key people_name_key"),
        "sqlite": ("IntegrityError [SQLITE_CONSTRAINT_UNIQUE]", "people.name"),
    }[store.engine.dialect.name]
    assert all(part in message for part in expected), message


def test_describe_exception_unwraps_any_driver_error(store: SqlAdapter) -> None:
    # What the activity's catch-all prints for a third-party adapter passing a driver error on.
    from sqlalchemy import delete
    from sqlalchemy.exc import DBAPIError

    table = store.plan().tables["people"]
    with pytest.raises(DBAPIError) as err, store.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.id == 1))
    assert CANARY in str(err.value.orig)  # the raw driver text does hold it...
    for exc in (err.value, err.value.orig):
        _clean(describe_exception(exc))  # ...the description does not
        assert describe_exception(exc).startswith(type(err.value.orig).__name__)


class _activity:
    """Just enough activity context for ``store_errors`` (it reads the attempt number)."""

    def __enter__(self) -> None:
        from unittest import mock

        from temporalio import activity

        info = mock.Mock(attempt=1)
        self._patch = mock.patch.object(activity, "info", return_value=info)
        self._patch.start()

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()

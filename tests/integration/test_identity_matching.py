"""Identity matching on real SQLite, PostgreSQL and MariaDB: casefold e-mail, E.164 phone, exact.

The wrong-person rule is checked on every engine: ``Mia.Park+shop@Example.org`` is matched by
``mia.park+shop@example.org`` and never by ``mia.park@example.org`` (nor the other way round).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from dsrflow.adapters.sdk import AdapterContext, Subject
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from dsrflow.identity import BUILTIN_KINDS, IdentityKinds
from tests.fixtures.databases import PG_ADMIN, engines

KINDS_44 = IdentityKinds(dict(BUILTIN_KINDS), default_country_code="44")

ROWS = [
    # id, email as the application stored it, phone as typed
    (1, "Mia.Park+shop@Example.org", "+44 20 7946 0018"),
    (2, "mia.park@example.org", "+44 20 7946 0019"),
    (3, "  MIA.PARK+SHOP@EXAMPLE.ORG ", "020 7946 0018"),
    (4, "mia.park+shop@example.org", "0044 (0)20 7946 0018"),
    (5, "miapark+shop@example.org", "+1 415 555 0100"),
    (6, None, None),
    (7, "José@example.org", None),
]


@dataclass
class Db:
    url: str
    schema: str | None
    engine: Any
    dialect: str

    def adapter(self, collections: dict[str, Any], kinds: IdentityKinds = KINDS_44) -> SqlAdapter:
        conn: dict[str, Any] = {"url": self.url.replace("+psycopg", "").replace("+pymysql", "")}
        if self.schema:
            conn["schema"] = self.schema
        cfg = SqlConfig.model_validate({"connection": conn, "collections": collections})
        return SqlAdapter.create(cfg, AdapterContext("shop", Path("."), {}, kinds))

    def ids(self, adapter: SqlAdapter, subject: Subject) -> list[int]:
        return sorted(r.data["id"] for r in adapter.access(subject))


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        url, schema, dialect = f"sqlite:///{tmp_path / 'm.db'}", None, "sqlite"
    elif request.param == "postgres":
        url, schema, dialect = PG_ADMIN, request.getfixturevalue("pg_schema"), "postgresql"
    else:
        name = request.getfixturevalue("mariadb_database")
        url, schema, dialect = f"mysql+pymysql://root@127.0.0.1:3306/{name}", None, "mysql"
    engine = create_engine(url)
    meta = MetaData(schema=schema)
    people = Table(
        "people",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("email", String(100)),
        Column("phone", String(40)),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(people), [{"id": i, "email": e, "phone": p} for i, e, p in ROWS])
    yield Db(url, schema, engine, dialect)
    engine.dispose()


def subject(**values: str) -> Subject:
    return Subject.of([Identity(kind, value) for kind, value in values.items()])


def test_email_casefold_keeps_plus_tags_apart(db: Db) -> None:
    adapter = db.adapter({"people": {"identities": {"email": "email"}}})
    try:
        # Every stored case/padding variant of the plus-tagged address, and nothing else.
        assert db.ids(adapter, subject(email="mia.park+shop@example.org")) == [1, 3, 4]
        # The untagged address is a different person: only her own row.
        assert db.ids(adapter, subject(email="mia.park@example.org")) == [2]
        # Dots are kept too.
        assert db.ids(adapter, subject(email="miapark+shop@example.org")) == [5]
        # Accents are kept: MariaDB's accent-insensitive collation must not merge these two.
        assert db.ids(adapter, subject(email="jose@example.org")) == []
        assert db.ids(adapter, subject(email="josé@example.org")) == [7]
        # A value that reached the subject unnormalised still compares like for like.
        assert db.ids(adapter, subject(email=" Mia.Park+shop@Example.org")) == [1, 3, 4]
    finally:
        adapter.close()


def test_exact_is_opt_in(db: Db) -> None:
    adapter = db.adapter({"people": {"identities": {"email": {"kind": "email", "match": "exact"}}}})
    try:
        # Only the row already stored in normal form; on MariaDB too, whose default collation
        # is case-insensitive (the comparison is byte-wise).
        assert db.ids(adapter, subject(email="mia.park+shop@example.org")) == [4]
        assert db.ids(adapter, subject(email="jose@example.org")) == []
    finally:
        adapter.close()


def test_phone_forms_match_e164(db: Db) -> None:
    adapter = db.adapter({"people": {"identities": {"phone": "phone"}}})
    try:
        expected = [1, 3, 4]  # +44 20..., 020... (country code 44), 0044 (0)20...
        for typed in ("+44 20 7946 0018", "020 7946 0018", "0044 20 7946 0018", "+442079460018"):
            assert db.ids(adapter, subject(phone=typed)) == expected, typed
        assert db.ids(adapter, subject(phone="+44 20 7946 0019")) == [2]
        assert db.ids(adapter, subject(phone="+1 (415) 555-0100")) == [5]
    finally:
        adapter.close()


def test_phone_without_country_code_matches_only_international_forms(db: Db) -> None:
    adapter = db.adapter({"people": {"identities": {"phone": "phone"}}}, IdentityKinds())
    try:
        # Without a default country code, 020... cannot be placed: it matches only itself.
        assert db.ids(adapter, subject(phone="+44 20 7946 0018")) == [1, 4]
        assert db.ids(adapter, subject(phone="020 7946 0018")) == [3]
    finally:
        adapter.close()


def test_erase_and_verify_use_the_same_rule(db: Db) -> None:
    adapter = db.adapter({"people": {"identities": {"email": "email"}, "erase": "delete"}})
    try:
        receipt = adapter.erase(subject(email="mia.park+shop@example.org"))
        assert (receipt.matched, receipt.affected) == (3, 3)
        assert adapter.verify(subject(email="mia.park+shop@example.org")).matched == 0
        t = Table("people", MetaData(schema=db.schema), autoload_with=db.engine)
        with db.engine.connect() as conn:
            left = sorted(conn.execute(select(t.c.id, t.c.email)).all())
        # The untagged and the dot-less customers are untouched.
        assert left == [
            (2, "mia.park@example.org"),
            (5, "miapark+shop@example.org"),
            (6, None),
            (7, "José@example.org"),
        ]
    finally:
        adapter.close()


def index_notes(adapter: SqlAdapter) -> dict[str, tuple[bool, str]]:
    report = adapter.check_connection()
    return {c.name: (c.ok, c.detail) for c in report.checks if c.name.startswith("index:")}


def test_stores_test_says_when_a_full_scan_happens(db: Db) -> None:
    collections = {"people": {"identities": {"email": "email", "phone": "phone"}}}
    adapter = db.adapter(collections)
    try:
        before = index_notes(adapter)
        assert before["index:people.email"][0] and "full scan" in before["index:people.email"][1]
        assert before["index:people.phone"][0] and "full scan" in before["index:people.phone"][1]
    finally:
        adapter.close()
    if db.dialect == "sqlite":
        # lower() folds ASCII only there: the casefold form is an application function that
        # cannot be indexed safely, and stores test says so instead of suggesting an index.
        assert "cannot index the casefold form safely" in before["index:people.email"][1]
        return
    table = f"{db.schema}.people" if db.schema else "people"
    if db.dialect == "postgresql":
        # The advice is the exact statement to run: taking it turns the scan into an index.
        advice = before["index:people.email"][1]
        expr = advice.split("CREATE INDEX ... ON people ", 1)[1].removesuffix(" to serve it")
        index = f"CREATE INDEX people_email_ci ON {table} {expr}"
    else:
        index = "CREATE INDEX people_email ON people (email)"  # general_ci: case-insensitive
    with db.engine.begin() as conn:
        conn.exec_driver_sql(index)
    adapter = db.adapter(collections)
    try:
        after = index_notes(adapter)
        assert after["index:people.email"] == (True, "people.email (casefold): served by an index")
        assert "full scan" in after["index:people.phone"][1]
        # The index-served form matches exactly what the scan did.
        assert db.ids(adapter, subject(email="mia.park+shop@example.org")) == [1, 3, 4]
        assert db.ids(adapter, subject(email="mia.park@example.org")) == [2]
        assert db.ids(adapter, subject(email="jose@example.org")) == []
    finally:
        adapter.close()


def test_mariadb_binary_collation_column_still_matches_case_insensitively(
    mariadb_database: str,
) -> None:
    url = f"mysql+pymysql://root@127.0.0.1:3306/{mariadb_database}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100) COLLATE utf8mb4_bin,"
            " phone VARCHAR(40), KEY (email))"
        )
        conn.execute(
            insert(Table("people", MetaData(), autoload_with=conn)),
            [{"id": i, "email": e, "phone": p} for i, e, p in ROWS],
        )
    db = Db(url, None, engine, "mysql")
    adapter = db.adapter({"people": {"identities": {"email": "email"}}})
    try:
        assert db.ids(adapter, subject(email="mia.park+shop@example.org")) == [1, 3, 4]
        note = index_notes(adapter)["index:people.email"]
        assert note[0] and "full scan" in note[1] and "case-insensitive collation" in note[1]
    finally:
        adapter.close()
        engine.dispose()


def test_resolved_emails_come_back_normalised(db: Db) -> None:
    adapter = db.adapter(
        {"people": {"identities": {"phone": "phone"}, "provides": {"email": "email"}}}
    )
    try:
        found = adapter.resolve_identities(subject(phone="020 7946 0018"))
        # Rows 1, 3 and 4 store one address three ways: one identity, in its normal form.
        assert found == [Identity("email", "mia.park+shop@example.org")]
    finally:
        adapter.close()

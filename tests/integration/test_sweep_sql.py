"""The SQL residual sweep on real SQLite, PostgreSQL and MariaDB.

The store holds the subject where the catalog does not look (an unmapped sign-in log with her
address padded and in other cases, a free-text note, a phone book), a plus-tag neighbour who is
another person, and a kept-by-policy invoice. The sweep must name each location with its count,
never the value, and never count the neighbour.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert, text

from dsrflow.adapters.sdk import AdapterContext, Subject, SweepBudget
from dsrflow.adapters.sdk.sweeping import NO_STRONG_IDENTIFIER
from dsrflow.adapters.sql import SqlAdapter, SqlConfig
from dsrflow.domain import Identity
from tests.fixtures.databases import PG_ADMIN, engines

SUBJECT = "mia.park@example.org"
TWIN = "mia.park+shop@example.org"  # another person: never a hit
CANARY = "canary.q7x@example.org"
KEPT = "Art. 17(3)(b): tax law"

COLLECTIONS: dict[str, Any] = {
    "customers": {
        "identities": {"email": "email"},
        "provides": {"id": "customer_id"},
        "erase": "delete",
    },
    "invoices": {
        "references": {"customer_id": "customers.id"},
        "erase": {"strategy": "keep", "basis": KEPT},
    },
}


class Store:
    """One backend's test schema and an adapter on it."""

    def __init__(self, url: str, schema: str | None, base: Path) -> None:
        self.url, self.schema = url, schema
        self.engine = create_engine(url)
        meta = MetaData(schema=schema)
        Table("customers", meta, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("email", String(100)), Column("phone", String(30)),
              Column("referred_by", String(100)))  # fmt: skip
        Table("invoices", meta, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("customer_id", Integer), Column("billing_email", String(100)))  # fmt: skip
        Table("signin_log", meta, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("user_email", String(200)), Column("detail", String(60)))  # fmt: skip
        Table("notes", meta, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("body", Text))  # fmt: skip
        Table("contacts", meta, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("phone", String(30)))  # fmt: skip
        meta.create_all(self.engine)
        self.meta = meta
        rows = {
            "customers": [(1, SUBJECT, None, None), (2, TWIN, "+44 20 7946 0019", None)],
            "invoices": [(10, 1, SUBJECT), (11, 2, TWIN)],
            "signin_log": [
                (1, "  Mia.Park@Example.ORG ", "sso"),
                (2, "MIA.PARK@example.org", "password; was mia.park@example.org"),
                (3, TWIN, "sso"),
            ],
            "notes": [
                (1, "Please call Mia.Park@Example.org back about 50%_off"),
                (2, f"{TWIN} asked too"),
                (3, "nothing here"),
            ],
            "contacts": [(1, "+44 20 7946 0018"), (2, "+44 20 7946 0019")],
        }
        with self.engine.begin() as conn:
            for name, values in rows.items():
                table = self.table(name)
                keys = [c.name for c in table.columns]
                conn.execute(insert(table), [dict(zip(keys, v, strict=True)) for v in values])
        self.adapter = self.make_adapter(base)

    def table(self, name: str) -> Table:
        return self.meta.tables[f"{self.schema}.{name}" if self.schema else name]

    def make_adapter(self, base: Path) -> SqlAdapter:
        conn: dict[str, Any] = {"url": self.url.replace("+psycopg", "").replace("+pymysql", "")}
        if self.schema:
            conn["schema"] = self.schema
        cfg = SqlConfig.model_validate({"connection": conn, "collections": COLLECTIONS})
        return SqlAdapter.create(cfg, AdapterContext("shop", base, {}))

    def close(self) -> None:
        self.adapter.close()
        self.engine.dispose()


@pytest.fixture(params=engines("sqlite", "postgres", "mariadb"))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 's.db'}", None, tmp_path)
    elif request.param == "postgres":
        s = Store(PG_ADMIN, request.getfixturevalue("pg_schema"), tmp_path)
    else:
        db = request.getfixturevalue("mariadb_database")
        s = Store(f"mysql+pymysql://root@127.0.0.1:3306/{db}", None, tmp_path)
    yield s
    s.close()


def subject(*extra: Identity) -> Subject:
    return Subject.of([Identity("email", SUBJECT), Identity("customer_id", "1"), *extra])


def hits(report: Any) -> dict[str, tuple[int, str, str]]:
    return {h.location: (h.count, h.kind, h.mode) for h in report.hits}


def test_after_erasure_finds_unmapped_copies_and_records_kept_rows(store: Store) -> None:
    phone = Identity("phone", "+44 20 7946 0018")
    report = store.adapter.sweep(subject(phone), SweepBudget(), after="erasure")
    assert hits(report) == {
        "customers.email": (1, "email", "equality"),
        # padded and mixed case, in a table the catalog does not mention; the twin is not counted
        "signin_log.user_email": (2, "email", "equality"),
        "notes.body": (1, "email", "substring"),  # free text (TEXT), case-insensitive
        "contacts.phone": (1, "phone", "equality"),  # E.164 of "+44 20 7946 0018"
    }
    # the invoice kept for tax law holds her address: excluded, and the exclusion recorded
    assert [(e.location, e.count, e.reason) for e in report.excluded] == [
        ("invoices.billing_email", 1, f"kept:{KEPT}")
    ]
    assert {"invoices.billing_email", "signin_log.detail", "customers.phone", "notes.body"} <= set(
        report.searched
    )
    assert "invoices.customer_id" not in report.searched  # numbers are not text
    assert report.complete and report.method == "sql-sweep"
    assert report.kinds == ["email", "phone"]  # customer_id is not strong: not searched
    assert any(r.startswith("email: casefold(column) = value") for r in report.rules)
    assert report.reason() == (
        "subject still found in contacts.phone (1 row), customers.email (1 row), notes.body "
        "(1 row), signin_log.user_email (2 rows): the catalog's mapping misses them"
    )
    assert SUBJECT not in repr(report) and "Mia.Park" not in repr(report)


def test_plus_tag_neighbour_is_never_a_hit(store: Store) -> None:
    report = store.adapter.sweep(
        Subject.of([Identity("email", TWIN)]), SweepBudget(), after="erasure"
    )
    # the twin's own rows only: the subject's rows never count for her, nor hers for the subject
    assert hits(report) == {
        "customers.email": (1, "email", "equality"),
        "signin_log.user_email": (1, "email", "equality"),
        "notes.body": (1, "email", "substring"),
    }
    # her invoice is kept by policy (matched through her customer row): recorded, not a hit
    assert [(e.location, e.count) for e in report.excluded] == [("invoices.billing_email", 1)]


def test_after_access_rows_the_package_holds_are_not_hits(store: Store) -> None:
    report = store.adapter.sweep(subject(), SweepBudget(), after="access")
    assert hits(report) == {
        "signin_log.user_email": (2, "email", "equality"),
        "notes.body": (1, "email", "substring"),
    }
    assert sorted((e.location, e.count, e.reason) for e in report.excluded) == [
        ("customers.email", 1, "accessed"),
        ("invoices.billing_email", 1, "accessed"),
    ]


def test_listed_free_text_column_is_searched_by_substring(store: Store) -> None:
    plain = store.adapter.sweep(subject(), SweepBudget(), after="erasure")
    assert "signin_log.detail" not in hits(plain)  # VARCHAR(60): equality only
    budget = SweepBudget(free_text=("signin_log.detail", "signin_log.nope"))
    listed = store.adapter.sweep(subject(), budget, after="erasure")
    assert hits(listed)["signin_log.detail"] == (1, "email", "substring")
    assert "signin_log.nope: listed in sweep.free_text, no such column" in listed.not_swept


def test_table_over_row_budget_is_named_not_skipped(store: Store) -> None:
    report = store.adapter.sweep(subject(), SweepBudget(max_rows=2), after="erasure")
    over = sorted(r for r in report.not_swept if "over max_rows" in r)
    assert [r.split(":")[0] for r in over] == ["notes", "signin_log"]  # 3 rows each
    assert not report.complete
    assert "signin_log.user_email" not in report.searched
    assert hits(report) == {"customers.email": (1, "email", "equality")}


def test_statement_timeout_is_named(store: Store) -> None:
    big = Table("clickstream", MetaData(schema=store.schema),
                Column("id", Integer, primary_key=True, autoincrement=False),
                Column("ref", String(120)))  # fmt: skip
    big.create(store.engine)
    n = 300_000
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            sql = "INSERT INTO {t} SELECT g, 'ref-' || g FROM generate_series(1, :n) g"
        elif store.engine.dialect.name == "sqlite":
            sql = ("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
                   "INSERT INTO {t} SELECT g, 'ref-' || g FROM s")  # fmt: skip
        else:
            sql = "INSERT INTO {t} SELECT seq, CONCAT('ref-', seq) FROM seq_1_to_300000"
        name = store.engine.dialect.identifier_preparer.format_table(big)
        conn.execute(text(sql.format(t=name)), {"n": n})
    report = store.adapter.sweep(subject(), SweepBudget(statement_timeout_s=0.001), after="erasure")
    [reason] = [r for r in report.not_swept if r.startswith("clickstream:")]
    assert "statement timeout" in reason
    assert "clickstream.ref" not in report.searched


def test_no_strong_identifier_is_not_swept_loudly(store: Store) -> None:
    report = store.adapter.sweep(
        Subject.of([Identity("customer_id", "1")]), SweepBudget(), after="erasure"
    )
    assert report.not_swept == [NO_STRONG_IDENTIFIER] and not report.hits


def test_canary_never_in_report_or_logs(
    store: Store, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(store.table("signin_log")).values(id=9, user_email=CANARY.upper()))
    caplog.set_level("DEBUG")
    budget = SweepBudget(max_rows=3, statement_timeout_s=5)
    report = store.adapter.sweep(Subject.of([Identity("email", CANARY)]), budget, after="erasure")
    [over] = report.not_swept  # a bounded count, or the statistics (MariaDB)
    assert over.startswith("signin_log: over max_rows (")
    report = store.adapter.sweep(Subject.of([Identity("email", CANARY)]), SweepBudget())
    assert hits(report) == {"signin_log.user_email": (1, "email", "equality")}
    out = capsys.readouterr()
    for blob in (repr(report), report.reason(), caplog.text, out.out, out.err):
        assert CANARY not in blob.lower()


def test_sweep_changes_nothing(store: Store) -> None:
    """The sweep's transaction is read-only and rolled back (SQLite: query_only)."""

    def dump() -> list[Any]:
        with store.engine.connect() as conn:
            return [list(conn.execute(store.table(n).select().order_by(text("1"))))
                    for n in ("customers", "signin_log", "notes")]  # fmt: skip

    before = dump()
    store.adapter.sweep(subject(), SweepBudget(), after="erasure")
    assert dump() == before
    with store.adapter.engine.connect() as conn:  # the pooled connection is writable again
        conn.execute(text("SELECT 1"))


def test_postgres_partitions_read_once_and_materialized_views_swept(
    pg_schema: str, tmp_path: Path
) -> None:
    """A partition is read through its parent (never counted twice); a materialized view holds
    a copy that outlives the erasure until refreshed, so it is swept; a plain view is not."""
    store = Store(PG_ADMIN, pg_schema, tmp_path)
    try:
        with store.engine.begin() as conn:
            conn.execute(text(
                f'CREATE TABLE "{pg_schema}".events (id int, who varchar(100))'
                " PARTITION BY RANGE (id);"
                f'CREATE TABLE "{pg_schema}".events_a PARTITION OF "{pg_schema}".events'
                " FOR VALUES FROM (0) TO (10);"
                f'CREATE TABLE "{pg_schema}".events_b PARTITION OF "{pg_schema}".events'
                " FOR VALUES FROM (10) TO (20);"
                f"INSERT INTO \"{pg_schema}\".events VALUES (1, '{SUBJECT}'), (11, '{SUBJECT}');"
                f'CREATE MATERIALIZED VIEW "{pg_schema}".logins AS'
                f' SELECT user_email FROM "{pg_schema}".signin_log;'
                f'CREATE VIEW "{pg_schema}".recent AS'
                f' SELECT user_email FROM "{pg_schema}".signin_log'
            ))  # fmt: skip
        report = store.adapter.sweep(subject(), SweepBudget(), after="erasure")
        assert hits(report)["events.who"] == (2, "email", "equality")
        assert not any(h.location.startswith("events_") for h in report.hits)
        assert hits(report)["logins.user_email"] == (2, "email", "equality")
        assert not any(h.location.startswith("recent.") for h in report.hits)
    finally:
        store.close()


def test_pointer_column_in_other_peoples_rows_is_recorded_not_a_hit(
    store: Store, tmp_path: Path
) -> None:
    """A colleague's row names her in a pointer column: not her row, not a hit, recorded."""
    t = store.table("customers")
    with store.engine.begin() as conn:
        conn.execute(t.insert().values(id=3, email="colleague@example.org", referred_by=SUBJECT))
    pointer = {"referred_by": {"to": "customers.email"}}
    pointing = {**COLLECTIONS, "customers": {**COLLECTIONS["customers"], "pointers": pointer}}
    conn_cfg: dict[str, Any] = {"url": store.url.replace("+psycopg", "").replace("+pymysql", "")}
    if store.schema:
        conn_cfg["schema"] = store.schema
    cfg = SqlConfig.model_validate({"connection": conn_cfg, "collections": pointing})
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", tmp_path, {}))
    try:
        report = adapter.sweep(subject(), SweepBudget(), after="access")
    finally:
        adapter.close()
    assert "customers.referred_by" not in hits(report)
    assert ("customers.referred_by", 1, "pointer") in {
        (e.location, e.count, e.reason) for e in report.excluded
    }

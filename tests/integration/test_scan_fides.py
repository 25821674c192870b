"""Must-show of ``dsrflow scan`` on PostgreSQL with the Fides sample data set.

The catalog is imported from the data set's YAML; the tables outside the data set that hold
personal data (the backup schema, loyalty, the e-mail connector's config) are ignored with a
reason, so the baseline gate passes. Then one table is dropped from the catalog and one new
table with e-mails and valid-Luhn card numbers is added to the database: the scan reports
exactly those two as unmapped, with the right classes, and ``--fail-on-unmapped`` exits 1;
once they are mapped (one) and ignored with a reason (the other) it exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine

from dsrflow.discovery.validators import luhn_ok
from tests.fixtures.cli import invoke
from tests.integration.test_fides_sample import SAMPLE, load_mariadb, load_postgres

CARDS = ["4539578763621486", "5425233430109903", "4716108999716531", "371449635398431"]
ORDER_IDS = ["1234567812345678", "8765432187654321", "1111222233334445", "9999000011112223"]
BASELINE_IGNORES = {
    "backup_schema.*": "point-in-time copies, restored only by the DBA and purged after 30 days",
    "loyalty": "legacy loyalty program, frozen read-only until its deletion in Q3",
    "dynamic_email_address_config": "the e-mail connector's own settings, not subjects' data",
}


def scan(folder: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    run = invoke("scan", "--all", "--format", "json", *args, env=env, cwd=folder)
    assert "Traceback" not in run.output
    return run.returncode, json.loads(run.stdout)


def unmapped(report: dict[str, Any]) -> dict[str, set[str]]:
    """``schema.table`` -> classes found in its unmapped columns (confident findings only)."""
    out: dict[str, set[str]] = {}
    for store in report["stores"]:
        for t in store["tables"]:
            if t["status"] == "unmapped":
                out[f"{t['schema']}.{t['table']}"] = {
                    f["class"] for c in t["columns"] if c["status"] == "unmapped"
                    for f in c["findings"] if f["confidence"] >= report["min_confidence"]
                }  # fmt: skip
    return out


def edit(catalog: Path, change: Any) -> None:
    data = yaml.safe_load(catalog.read_text())
    change(data["stores"]["shop"])
    catalog.write_text(yaml.safe_dump(data, sort_keys=False))


def test_scan_reports_exactly_the_dropped_and_the_new_table(
    pg_database: str, tmp_path: Path
) -> None:
    url = load_postgres(pg_database)
    catalog = tmp_path / "dsrflow.yaml"
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ACTOR": "local:eng"}  # fmt: skip
    plain = url.replace("+psycopg", "")
    dataset = str(SAMPLE / "postgres_example_test_dataset.yml")
    args = ("--url", plain, "--store", "shop", "--out", str(catalog))
    run = invoke("catalog", "import-fides", dataset, *args, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.output
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0

    # Before any reason is recorded, the tables outside the data set are found, not hidden.
    code, report = scan(tmp_path, env, "--fail-on-unmapped")
    assert code == 1
    assert {"public.loyalty", "backup_schema.customer"} <= set(unmapped(report))

    edit(catalog, lambda s: s.update(scan={"ignore": BASELINE_IGNORES}))
    code, report = scan(tmp_path, env, "--fail-on-unmapped")
    assert (code, unmapped(report)) == (0, {})
    budget = report["stores"][0]["budget"]
    assert 0 < budget["rows_read"] <= budget["max_rows"] and budget["statements"] > 0

    # One table leaves the catalog; a new one with e-mails and cards joins the database.
    def drop_report(store: dict[str, Any]) -> None:
        store["collections"].pop("report")
        # and what the access package says about it (import-fides wrote both)
        store.get("processing", {}).get("collections", {}).pop("report", None)

    edit(catalog, drop_report)
    assert all(luhn_ok(c) for c in CARDS) and not any(luhn_ok(o) for o in ORDER_IDS)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE public.newsletter_signup (id INT PRIMARY KEY, "
            "subscriber VARCHAR(200), payment_ref VARCHAR(30), order_ref VARCHAR(30))"
        )
        for i, (card, order) in enumerate(zip(CARDS, ORDER_IDS, strict=True)):
            conn.exec_driver_sql(
                "INSERT INTO public.newsletter_signup VALUES (%s, %s, %s, %s)",
                (i, f"reader{i}@example.org", card, order),
            )
    engine.dispose()

    code, report = scan(tmp_path, env, "--fail-on-unmapped")
    assert code == 1
    assert unmapped(report) == {
        "public.report": {"email"},
        "public.newsletter_signup": {"email", "payment_card"},
    }
    signup = next(t for t in report["stores"][0]["tables"] if t["table"] == "newsletter_signup")
    status = {c["column"]: c["status"] for c in signup["columns"]}
    assert status == {
        "id": "clean",
        "subscriber": "unmapped",
        "payment_ref": "unmapped",
        "order_ref": "clean",
    }  # fmt: skip  (16 digits failing Luhn: no card)
    sarif = invoke("scan", "--all", "--format", "sarif", env=env, cwd=tmp_path)
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    assert {r["properties"]["table"] for r in results} == {"report", "newsletter_signup"}

    # A person maps the new table and records why the dropped one stays out: the gate passes.
    def settle(store: dict[str, Any]) -> None:
        store["collections"]["newsletter_signup"] = {
            "identities": {"subscriber": "email"}, "erase": "delete"}  # fmt: skip
        store["scan"]["ignore"]["report"] = "aggregate report, anonymised monthly by the BI job"

    edit(catalog, settle)
    code, report = scan(tmp_path, env, "--fail-on-unmapped")
    assert (code, unmapped(report)) == (0, {})
    tables = {f"{t['schema']}.{t['table']}": t["status"] for t in report["stores"][0]["tables"]}
    assert tables["public.newsletter_signup"] == "mapped"
    assert tables["public.report"] == "ignored"


def test_scan_on_mariadb_reads_the_stores_database_only(
    mariadb_database: str, tmp_path: Path
) -> None:
    url = load_mariadb(mariadb_database)
    catalog = tmp_path / "dsrflow.yaml"
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ACTOR": "local:eng"}  # fmt: skip
    dataset = str(SAMPLE / "mariadb_example_test_dataset.yml")
    args = ("--url", url.replace("+pymysql", ""), "--store", "shop", "--out", str(catalog))
    assert invoke("catalog", "import-fides", dataset, *args, env=env, cwd=tmp_path).returncode == 0
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE contacts (id INT PRIMARY KEY, phone_number TEXT)")
        conn.exec_driver_sql("INSERT INTO contacts VALUES (1, '+44 20 7946 0958')")
    engine.dispose()
    code, report = scan(tmp_path, env)
    store = report["stores"][0]
    assert (code, store["error"], store["dialect"]) == (0, None, "mysql")
    assert {t["schema"] for t in store["tables"]} == {mariadb_database}  # not other databases
    statuses = {t["table"]: t["status"] for t in store["tables"]}
    assert statuses["customer"] == "mapped"
    assert statuses["contacts"] == "unmapped"  # sampled under MariaDB's statement limit
    assert unmapped(report) == {f"{mariadb_database}.contacts": {"phone"}}
    assert store["budget"]["statements"] == 1


def test_a_large_postgres_table_is_sampled_within_the_budget(
    pg_database: str, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE known (id INT PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE events AS SELECT g AS id, 'user' || g || '@example.net' AS actor, "
            'mod(g, 7) AS "share%%" FROM generate_series(1, 200000) g'
        )
        conn.exec_driver_sql("ANALYZE events")  # the planner's estimate picks TABLESAMPLE
    engine.dispose()
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(
        "version: 1\nstores:\n  big:\n    adapter: sql\n"
        f'    connection: {{url: "postgresql://postgres@127.0.0.1:5432/{pg_database}"}}\n'
        "    collections:\n      known:\n        identities: {email: email}\n"
    )
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ACTOR": "local:eng", "DSRFLOW_SCAN_SAMPLE_ROWS": "500",
           "DSRFLOW_SCAN_MAX_ROWS": "600"}  # fmt: skip
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    code, report = scan(tmp_path, env, "--fail-on-unmapped")
    assert code == 1
    assert unmapped(report) == {"public.events": {"email"}}
    store = report["stores"][0]
    events = next(t for t in store["tables"] if t["table"] == "events")
    assert 0 < events["sampled_rows"] <= 500
    assert [c["status"] for c in events["columns"]] == ["clean", "unmapped", "clean"]
    assert store["budget"]["rows_read"] <= 600


def test_a_locked_table_costs_one_statement_timeout_not_a_hang(
    pg_database: str, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE known (id INT PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql("CREATE TABLE locked (id INT PRIMARY KEY, contact TEXT)")
        conn.exec_driver_sql("CREATE TABLE open_one (id INT PRIMARY KEY, contact TEXT)")
        conn.exec_driver_sql("INSERT INTO open_one VALUES (1, 'a@example.com')")
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(
        "version: 1\nstores:\n  db:\n    adapter: sql\n"
        f'    connection: {{url: "postgresql://postgres@127.0.0.1:5432/{pg_database}"}}\n'
        "    collections:\n      known:\n        identities: {email: email}\n"
    )
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog),
           "DSRFLOW_ACTOR": "local:eng", "DSRFLOW_SCAN_STATEMENT_TIMEOUT_S": "0.5"}  # fmt: skip
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    holder = engine.connect()
    try:
        holder.exec_driver_sql("BEGIN")
        holder.exec_driver_sql("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        code, report = scan(tmp_path, env)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    tables = {t["table"]: t for t in report["stores"][0]["tables"]}
    assert code == 0 and report["stores"][0]["error"] is None
    assert tables["locked"]["not_sampled"] == "statement timeout (0.5 s)"
    # The timeout aborted only its savepoint: the next table was still read.
    assert tables["open_one"]["status"] == "unmapped"
    assert tables["open_one"]["sampled_rows"] == 1

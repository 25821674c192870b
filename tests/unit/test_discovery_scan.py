"""``dsrflow scan`` on SQLite, in-process: coverage statuses, ignores, budget, RBAC, and canary
values that must never appear in any output, log or file the scan writes."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from pathlib import Path

import pytest

from dsrflow.runtime import Runtime
from dsrflow.service.principal import NotAllowed
from dsrflow.service.scan import ScanStores
from dsrflow.settings import Settings
from tests.fixtures.cli import invoke
from tests.unit.service_kit import ANALYST, ENGINEER

CANARY_EMAILS = [f"canary-{uuid.uuid4().hex[:10]}@example.com" for _ in range(3)]
CANARY_CARDS = ["4539578763621486", "5425233430109903", "4716108999716531"]  # valid Luhn
CANARY_NAME = "Ottilie Canarywing"


def make_shop(folder: Path, *, ignore: str = "") -> Path:
    db = folder / "shop.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT);
        CREATE TABLE leads (id INTEGER PRIMARY KEY, contact TEXT, card TEXT, note TEXT,
                            customer_id INTEGER REFERENCES customers(id));
        CREATE TABLE orders (id INTEGER PRIMARY KEY, ref TEXT, total REAL);
        CREATE TABLE audit_copy (id INTEGER PRIMARY KEY, who TEXT);
        """
    )
    conn.execute("INSERT INTO customers VALUES (1, 'x@example.com', 'Ann Example')")
    for i, (mail, card) in enumerate(zip(CANARY_EMAILS, CANARY_CARDS, strict=True)):
        note = f"customer {CANARY_NAME} wrote from {mail} about card {card}"
        conn.execute("INSERT INTO leads VALUES (?, ?, ?, ?, 1)", (i, mail, card, note))
        conn.execute("INSERT INTO orders VALUES (?, ?, 9.5)", (i, "1234567812345678"))
        conn.execute("INSERT INTO audit_copy VALUES (?, ?)", (i, mail))
    conn.commit()
    conn.close()
    catalog = folder / "dsrflow.yaml"
    catalog.write_text(
        "version: 1\nstores:\n  shop:\n    adapter: sql\n"
        '    connection: {url: "sqlite:///shop.db"}\n'
        f"{ignore}"
        "    collections:\n      customers:\n        identities: {email: email}\n"
    )
    return catalog


IGNORE = '    scan:\n      ignore: {audit_copy: "copy of the auditors\' export, purged daily"}\n'


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    return {"DSRFLOW_STATE_DIR": str(folder / "state"), "DSRFLOW_CATALOG": str(folder /
            "dsrflow.yaml"), "DSRFLOW_ACTOR": "local:eng", "DSRFLOW_LOG_LEVEL": "debug",
            **extra}  # fmt: skip


def runtime(folder: Path, **extra: str) -> Runtime:
    env = env_for(folder, **extra)
    return Runtime(Settings.load(env), env, migrate_ledger=True)


def test_coverage_statuses_and_json(tmp_path: Path) -> None:
    make_shop(tmp_path, ignore=IGNORE)
    result = ScanStores(runtime(tmp_path)).run(ENGINEER, "shop", all_stores=False)
    (store,) = result.stores
    assert store.error is None
    status = {t.table: t.status for t in store.tables}
    assert status == {"customers": "mapped", "leads": "unmapped", "orders": "clean",
                      "audit_copy": "ignored"}  # fmt: skip
    leads = {c.name: c for t in store.tables if t.table == "leads" for c in t.columns}
    assert {f.cls for f in leads["contact"].findings} >= {"email"}
    assert leads["card"].findings[0].cls == "payment_card"
    assert leads["card"].findings[0].evidence == "both"
    assert {f.cls for f in leads["note"].findings if f.in_text} >= {"email", "payment_card"}
    assert leads["id"].status == "clean"
    assert [t.reason for t in store.tables if t.table == "audit_copy"] == [
        "copy of the auditors' export, purged daily"]  # fmt: skip
    assert store.budget is not None and store.budget.rows_read == 6  # leads and orders only
    assert result.unmapped_count == 1


def test_budget_is_kept_and_reported(tmp_path: Path) -> None:
    make_shop(tmp_path)
    rt = runtime(tmp_path, DSRFLOW_SCAN_MAX_ROWS="2")
    (store,) = ScanStores(rt).run(ENGINEER, None, all_stores=True).stores
    assert store.budget is not None
    assert store.budget.rows_read <= 2
    skipped = [t.table for t in store.tables if t.not_sampled]
    assert skipped and all("row budget" in (t.not_sampled or "") for t in store.tables
                           if t.table in skipped)  # fmt: skip


def test_scan_is_for_engineers_and_admins(tmp_path: Path) -> None:
    make_shop(tmp_path)
    with pytest.raises(NotAllowed):
        ScanStores(runtime(tmp_path)).run(ANALYST, "shop", all_stores=False)


def test_fail_on_unmapped_and_after_mapping(tmp_path: Path) -> None:
    make_shop(tmp_path, ignore=IGNORE)
    env = env_for(tmp_path)
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert invoke("scan", "--all", env=env, cwd=tmp_path).returncode == 0
    run = invoke("scan", "--all", "--fail-on-unmapped", env=env, cwd=tmp_path)
    assert run.returncode == 1, run.output
    assert "leads" in run.stdout and "unmapped" in run.stdout
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(catalog.read_text() + "      leads:\n        identities: {contact: email}\n"
                       "        references: {customer_id: customers.id}\n")  # fmt: skip
    run = invoke("scan", "--all", "--fail-on-unmapped", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.output


def test_bad_ignore_names_file_and_line(tmp_path: Path) -> None:
    make_shop(tmp_path, ignore="    scan:\n      ignore: {leads: '  ', 'a b': x}\n")
    env = env_for(tmp_path)
    run = invoke("catalog", "validate", env=env, cwd=tmp_path)
    assert run.returncode != 0
    assert f"{tmp_path / 'dsrflow.yaml'}:7: stores.shop.scan.ignore" in run.stderr
    assert "needs a reason" in run.stderr or "must be" in run.stderr
    assert "Traceback" not in run.output


def test_suggest_prints_a_snippet_with_identities_and_references(tmp_path: Path) -> None:
    make_shop(tmp_path)
    env = env_for(tmp_path)
    invoke("ledger", "upgrade", env=env, cwd=tmp_path)
    run = invoke("scan", "shop", "--format", "json", "--suggest", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.output
    snippet = run.stdout[run.stdout.index("# store shop, table main.leads") :]
    assert "contact: email" in snippet
    assert "customer_id: customers.id" in snippet
    assert "table main.audit_copy" in run.stdout  # not ignored in this catalog: suggested too


def test_canary_values_never_leave_the_scan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_shop(tmp_path)
    env = env_for(tmp_path)
    invoke("ledger", "upgrade", env=env, cwd=tmp_path)
    caplog.set_level(logging.DEBUG)
    outputs = []
    for fmt in ("table", "json", "sarif", "html"):
        run = invoke("scan", "--all", "--format", fmt, "--suggest", env=env, cwd=tmp_path)
        assert run.returncode == 0, run.output
        outputs += [run.stdout, run.stderr]
    for fmt in ("json", "sarif", "html"):
        target = tmp_path / f"report.{fmt}"
        run = invoke("scan", "shop", "--format", fmt, "--output", str(target), env=env,
                     cwd=tmp_path)  # fmt: skip
        assert run.returncode == 0, run.output
        outputs += [run.stdout, run.stderr]
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert {r["properties"]["table"] for r in sarif["runs"][0]["results"]} == {
        "leads",
        "audit_copy",
    }
    outputs.append(caplog.text)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "shop.db"]
    assert any(p.suffix == ".sarif" for p in written) and any("ledger" in p.name for p in written)
    blobs = [o.encode() for o in outputs] + [p.read_bytes() for p in written]
    canaries = [*CANARY_EMAILS, *CANARY_CARDS, CANARY_NAME, "Canarywing", "canary-"]
    for blob in blobs:
        for canary in canaries:
            assert canary.encode() not in blob
            assert canary.encode("utf-16-le") not in blob
    # ... and the scan did see them: the classes are reported.
    assert "payment_card" in outputs[2] and "email" in outputs[2]
    html = (tmp_path / "report.html").read_text()
    assert "payment_card" in html and 'data-store="shop"' in html


def test_html_report_per_table_and_column_with_budget(tmp_path: Path) -> None:
    make_shop(tmp_path, ignore=IGNORE)
    env = env_for(tmp_path)
    invoke("ledger", "upgrade", env=env, cwd=tmp_path)
    run = invoke("scan", "--all", "--format", "html", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.output
    html = run.stdout
    assert html.lstrip().startswith("<!DOCTYPE html>")
    for status in ("mapped", "unmapped", "ignored", "clean"):
        assert f'<td class="{status}">{status}</td>' in html
    assert "1 mapped" in html and "1 unmapped" in html and "1 ignored" in html
    assert "main.leads" in html and "copy of the auditors" in html
    assert "Budget used: 6 of" in html
    assert re.search(r"payment_card \(\d\.\d\d, both, 3/3\)", html), html
    assert not re.search(r"<script|\bsrc=|<link|@import|url\(|https?://", html, re.I)


def test_bad_input_and_unreachable_stores_are_one_line(tmp_path: Path) -> None:
    catalog = make_shop(tmp_path)
    catalog.write_text(
        catalog.read_text()
        + "  crm:\n    adapter: sql\n    connection: {url_env: CRM_URL}\n"
        + "    collections:\n      people:\n        identities: {email: email}\n"
        + "  cache:\n    adapter: manual\n    instructions: Shred the folder in cabinet B.\n"
    )
    env = env_for(tmp_path)
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    for args, code, text in [
        (("scan",), 2, "give a STORE or --all"),
        (("scan", "shop", "--all"), 2, "give a STORE or --all"),
        (("scan", "nope"), 2, "unknown store 'nope'"),
        (("scan", "cache"), 2, "not a SQL, Redis or files store"),
        (("scan", "shop", "--output", "x.txt"), 2, "--output: needs --format json, html or sarif"),
        (("scan", "crm"), 1, "crm"),
    ]:
        run = invoke(*args, env=env, cwd=tmp_path)
        assert run.returncode == code, (args, run.output)
        assert text in run.output, (args, run.output)
        assert "Traceback" not in run.output
    run = invoke("scan", "--all", "--format", "json", env=env, cwd=tmp_path)
    report = json.loads(run.stdout)
    assert run.returncode == 1  # crm could not be scanned: a gate must not pass on it
    by_store = {s["store"]: s for s in report["stores"]}
    assert by_store["cache"]["skipped"] and by_store["crm"]["error"]
    assert by_store["shop"]["tables"]


def test_column_and_schema_ignores(tmp_path: Path) -> None:
    ignore = (
        "    scan:\n      ignore:\n        leads.contact: sales leads, erased by the CRM itself\n"
        "        main.leads.card: tokenised by the processor, not a PAN\n"
        "        leads.note: 'free text, anonymised nightly'\n"
        "        main.*: everything else in main is the app's own data\n"
    )
    make_shop(tmp_path, ignore=ignore)
    (store,) = ScanStores(runtime(tmp_path)).run(ENGINEER, "shop", all_stores=False).stores
    status = {t.table: t.status for t in store.tables}
    assert status == {"customers": "mapped", "leads": "ignored", "orders": "ignored",
                      "audit_copy": "ignored"}  # fmt: skip
    leads = {c.name: c for t in store.tables if t.table == "leads" for c in t.columns}
    # The most specific key's reason wins; the classes found are still reported.
    assert leads["card"].reason == "tokenised by the processor, not a PAN"
    assert leads["contact"].reason == "sales leads, erased by the CRM itself"
    assert leads["card"].findings[0].cls == "payment_card"

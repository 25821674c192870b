"""The access package: documented JSON (schema-valid), CSVs, the offline HTML report,
projections and redactions applied before anything is written, export limited to provided
fields, large collections paged."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import Record
from dsrflow.artifacts import ArtifactStore
from dsrflow.artifacts.report import PAGE_SIZE
from dsrflow.catalog import load_catalog
from dsrflow.crypto.keystore import KeyStore
from dsrflow.ledger import Ledger
from tests.fixtures.packages import open_package, package_json, records_by_store
from tests.unit.test_catalog_processing import CATALOG

SECRET_REFERRER = "canary-referrer@example.org"
SECRET_HASH = "canary-hash-9f8e7d"


@pytest.fixture
def artifacts(tmp_path: Path) -> Iterator[ArtifactStore]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    yield ArtifactStore(tmp_path / "artifacts", KeyStore(ledger, b"k" * 32))
    ledger.close()


@pytest.fixture
def sheet(tmp_path: Path) -> dict:
    path = tmp_path / "dsrflow.yaml"
    path.write_text(CATALOG)
    cat = load_catalog(path, AdapterRegistry.from_entry_points())
    return cat.stores["shop"].common.processing.sheet()


def customers(n_orders: int = 2) -> list[Record]:
    recs = [
        Record(
            "customers",
            {
                "email": "ann@example.com",
                "name": "Ann",
                "plan": "gold",
                "referrer": SECRET_REFERRER,
                "password_hash": SECRET_HASH,
            },
        )
    ]
    recs += [Record("orders", {"id": i, "total": i * 1.5, "lines": [{"sku": "a"}]})
             for i in range(n_orders)]  # fmt: skip
    return recs


def build(artifacts: ArtifactStore, rid: str, sheet: dict, kind: str, n_orders: int = 2) -> Path:
    n = artifacts.stage_records(rid, "shop", customers(n_orders), sheet=sheet)
    staged = (artifacts.dir(rid) / "staging" / "shop.jsonl.enc").read_bytes()
    assert b"ann@example.com" not in staged  # encrypted at rest
    manifest = {"request_id": rid, "request_type": kind,
                "stores": {"shop": {"status": "done", "records": n},
                           "crm": {"status": "not_found", "records": 0}}}  # fmt: skip
    return artifacts.assemble_package(rid, {"shop": n, "crm": None}, manifest,
                                      authority="the Irish Data Protection Commission")  # fmt: skip


def all_text(zf: zipfile.ZipFile) -> str:
    return "".join(zf.read(n).decode() for n in zf.namelist())


def test_access_package_layout_processing_rights_and_redaction(
    artifacts: ArtifactStore, sheet: dict
) -> None:
    zf = open_package(artifacts, build(artifacts, "r-1", sheet, "access"))
    data = package_json(zf)
    assert records_by_store(data) == {"shop": 3}
    shop = next(s for s in data["stores"] if s["store"] == "shop")
    coll = {c["collection"]: c for c in shop["collections"]}
    cust = coll["customers"]
    assert cust["records"] == [{"email": "ann@example.com", "name": "Ann", "plan": "gold"}]
    assert cust["processing"]["data_categories"] == ["user.contact.email", "user.name"]
    assert cust["processing"]["recipients"][0]["outside_eea"] is True
    assert cust["excluded_fields"] == [
        {"field": "password_hash", "reason": "internal helper column"}
    ]
    assert cust["redacted_fields"][0]["ground"] == "other_people"
    assert coll["orders"]["processing"]["purposes"] == ["Invoicing"]
    assert "the Irish Data Protection Commission" in " ".join(data["rights"]["notice"])
    text = all_text(zf)
    assert SECRET_REFERRER not in text and SECRET_HASH not in text  # nowhere in the package
    rows = list(csv.reader(io.StringIO(zf.read(cust["csv"]).decode())))
    assert rows == [["email", "name", "plan"], ["ann@example.com", "Ann", "gold"]]
    orders = list(csv.reader(io.StringIO(zf.read(coll["orders"]["csv"]).decode())))
    assert orders[:2] == [["id", "lines", "total"], ["0", '[{"sku": "a"}]', "0.0"]]
    index = zf.read("report/index.html").decode()
    # Layered: summary first, then categories, then what was left out, then rights.
    order = [index.index(h) for h in ("Summary", "Your data by category", "user.contact.email",
                                      "Details per system", "Your rights")]  # fmt: skip
    assert order == sorted(order)
    assert "names another customer" in index and "internal helper column" in index
    assert "SCC Art. 46(2)(c)" in index and "Irish Data Protection Commission" in index
    assert "crm</td><td>—</td><td>0</td><td>Status: nothing found" in index  # searched, empty
    assert "manifest.json" in zf.namelist()  # the earlier consumers' file stays


def test_the_report_opens_offline(artifacts: ArtifactStore, sheet: dict) -> None:
    zf = open_package(artifacts, build(artifacts, "r-2", sheet, "access"))
    pages = [n for n in zf.namelist() if n.endswith(".html")]
    assert "report/shop/customers-1.html" in pages
    for name in pages:
        html = zf.read(name).decode()
        assert "<script" not in html.lower(), name
        assert not re.search(r"(src|href)\s*=\s*\"(https?:|//)", html), name  # no external asset
        assert "@media print" in html
        for link in re.findall(r'href="([^"]+)"', html):  # every link resolves in the package
            target = (Path(name).parent / link).as_posix()
            assert re.sub(r"[^/]+/\.\./", "", target) in zf.namelist(), (name, link)


def test_large_collections_are_paged(artifacts: ArtifactStore, sheet: dict) -> None:
    n = PAGE_SIZE * 2 + 1
    zf = open_package(artifacts, build(artifacts, "r-3", sheet, "access", n_orders=n))
    pages = sorted(x for x in zf.namelist() if x.startswith("report/shop/orders-"))
    assert pages == [f"report/shop/orders-{i}.html" for i in (1, 2, 3)]
    rows = sum(zf.read(p).decode().count("<tr><td>") for p in pages)
    assert rows == n
    assert "Page 3 of 3" in zf.read(pages[-1]).decode()
    assert len(package_json(zf)["stores"][1]["collections"][1]["records"]) == n


def test_export_holds_provided_fields_only_and_no_report(
    artifacts: ArtifactStore, sheet: dict
) -> None:
    zf = open_package(artifacts, build(artifacts, "r-4", sheet, "export"))
    data = package_json(zf)
    coll = {c["collection"]: c for s in data["stores"] for c in s["collections"]}
    assert coll["customers"]["records"] == [{"email": "ann@example.com", "name": "Ann"}]
    assert coll["customers"]["export_scope"] == "provided"
    assert coll["orders"]["export_scope"] == "all (provided fields not declared)"
    assert len(coll["orders"]["records"]) == 2
    rows = list(csv.reader(io.StringIO(zf.read(coll["customers"]["csv"]).decode())))
    assert rows == [["email", "name"], ["ann@example.com", "Ann"]]
    assert not [n for n in zf.namelist() if n.startswith("report/")]
    assert "gold" not in all_text(zf)  # not provided by her: not exported


def test_a_package_without_processing_information_still_validates(
    artifacts: ArtifactStore,
) -> None:
    rid = "r-5"
    artifacts.stage_records(rid, "shop", [Record("weird name/é", {"x": None})])
    manifest = {"request_id": rid, "request_type": "access",
                "stores": {"shop": {"status": "done", "records": 1}}}  # fmt: skip
    zf = open_package(artifacts, artifacts.assemble_package(rid, {"shop": 1}, manifest))
    data = package_json(zf)
    coll = data["stores"][0]["collections"][0]
    assert coll["collection"] == "weird name/é" and coll["csv"] == "csv/shop/weird_name.csv"
    assert "supervisory authority" in data["rights"]["authority"]


def test_csv_cells_never_start_a_formula_but_json_keeps_the_value() -> None:
    import json

    from dsrflow.artifacts.package import spreadsheet_safe

    def dump(v: object) -> str:
        return json.dumps(v)

    for text in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"):
        assert spreadsheet_safe(text, dump) == "'" + text
    # numbers stay numbers, ordinary text stays as it is
    assert spreadsheet_safe(-5, dump) == "-5" and spreadsheet_safe(2.5, dump) == "2.5"
    assert spreadsheet_safe("Ann = 1", dump) == "Ann = 1" and spreadsheet_safe(None, dump) == ""

"""``dsrflow datamap``: the Art. 30(1) record from a catalog with processing information, every
heading for every store, JSON structure, a store marked from a scan report, HTML with nothing
external and no script, RBAC, and FILE:LINE for a bad subjects entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dsrflow.catalog.datamap import HEADINGS, render_html
from dsrflow.service.datamap import DataMap
from dsrflow.service.principal import NotAllowed, Principal
from dsrflow.service.scan import ScanStores
from tests.fixtures.cli import invoke
from tests.unit.service_kit import ANALYST, ENGINEER
from tests.unit.test_discovery_scan import env_for, make_shop, runtime

AUDITOR = Principal.of("staff:audrey", ["auditor"])

PROCESSING = """    processing:
      purposes: [Order fulfilment]
      legal_basis: Art. 6(1)(b) contract
      retention: 6 years after the last order (tax law)
      subjects: [customers]
      security: Disk encryption; access limited to the shop team
      recipients:
        - {name: ParcelCo, country: US, outside_eea: true, safeguard: SCC Art. 46(2)(c)}
        - {name: PrintHouse, country: DE}
      categories: [user.contact]
      collections:
        customers:
          fields: {email: [user.contact.email], name: [user.name]}
          subjects: [newsletter subscribers]
"""

SECOND = """  crm:
    adapter: sql
    connection: {url: "sqlite:///crm.db"}
    collections:
      people:
        identities: {email: email}
"""


def shop_with_processing(folder: Path) -> None:
    catalog = make_shop(folder)
    text = catalog.read_text().replace("    collections:\n", PROCESSING + "    collections:\n", 1)
    catalog.write_text(text + SECOND)


def test_every_heading_for_every_store_and_json(tmp_path: Path) -> None:
    shop_with_processing(tmp_path)
    model = DataMap(runtime(tmp_path)).run(AUDITOR)
    assert model["controller"]["name"]
    assert [s["store"] for s in model["stores"]] == ["shop", "crm"]
    for store in model["stores"]:
        for key, _ in HEADINGS:
            assert key in store, (store["store"], key)
    shop = model["stores"][0]
    assert shop["purposes"] == ["Order fulfilment"]
    assert shop["legal_basis"] == ["Art. 6(1)(b) contract"]
    assert shop["data_subjects"] == ["customers", "newsletter subscribers"]
    assert shop["data_categories"] == ["user.contact", "user.contact.email", "user.name"]
    assert [r["name"] for r in shop["recipients"]] == ["ParcelCo", "PrintHouse"]
    assert shop["transfers"] == [{"name": "ParcelCo", "country": "US", "outside_eea": True,
                                  "safeguard": "SCC Art. 46(2)(c)"}]  # fmt: skip
    assert shop["retention"] == ["6 years after the last order (tax law)"]
    assert shop["security"] == ["Disk encryption; access limited to the shop team"]
    assert model["stores"][1]["purposes"] == [] and model["stores"][1]["unmapped"] == []
    assert any("Crypto-shredding" in m for m in model["dsrflow_measures"])
    json.dumps(model)  # JSON-ready throughout

    html = render_html(model)
    for store in ("shop", "crm"):
        section = html[html.index(f'data-store="{store}"') :]
        section = section[: section.index("</section>")]
        for key, label in HEADINGS:
            assert f'data-heading="{key}"' in section and label in section
    assert "Not declared in the catalog" in html  # crm says nothing: shown, not hidden


def test_store_marked_from_scan_report_and_html_is_self_contained(tmp_path: Path) -> None:
    shop_with_processing(tmp_path)
    env = env_for(tmp_path)
    assert invoke("ledger", "upgrade", env=env, cwd=tmp_path).returncode == 0
    report = tmp_path / "scan.json"
    run = invoke("scan", "shop", "--format", "json", "--output", str(report), env=env,
                 cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.output
    out = tmp_path / "map.html"
    run = invoke("datamap", "--scan-report", str(report), "--out", str(out), env=env,
                 cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.output
    html = out.read_text()
    assert 'data-unmapped="shop"' in html and 'data-unmapped="crm"' not in html
    assert "main.leads" in html and "payment_card" in html
    assert not re.search(r"<script|\bsrc=|<link|@import|url\(|https?://", html, re.I)
    assert "@media print" in html

    run = invoke("datamap", "--format", "json", "--scan-report", str(report), env=env,
                 cwd=tmp_path)  # fmt: skip
    model = json.loads(run.stdout)
    assert model["scan"]["stores_with_unmapped"] == ["shop"]
    marked = {t["table"]: t["classes"] for t in model["stores"][0]["unmapped"]}
    assert "email" in marked["main.leads"] and "payment_card" in marked["main.leads"]
    assert "main.customers" not in marked


def test_bad_scan_report_is_one_line(tmp_path: Path) -> None:
    shop_with_processing(tmp_path)
    env = env_for(tmp_path)
    invoke("ledger", "upgrade", env=env, cwd=tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"stores": [{"tables": []}]}')
    run = invoke("datamap", "--scan-report", str(bad), env=env, cwd=tmp_path)
    assert run.returncode != 0
    assert "stores[0].store" in run.stderr and "Traceback" not in run.output


def test_datamap_roles(tmp_path: Path) -> None:
    shop_with_processing(tmp_path)
    rt = runtime(tmp_path)
    assert DataMap(rt).run(ENGINEER)["stores"]
    with pytest.raises(NotAllowed):
        DataMap(rt).run(ANALYST)
    ScanStores(rt)  # the scan stays engineers' and admins': the map does not widen it


def test_bad_subjects_names_file_and_line(tmp_path: Path) -> None:
    shop_with_processing(tmp_path)
    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(catalog.read_text().replace("subjects: [customers]", "subjects: ['  ']"))
    run = invoke("catalog", "validate", env=env_for(tmp_path), cwd=tmp_path)
    assert run.returncode != 0
    assert f"{catalog}:" in run.stderr and "subjects" in run.stderr
    assert "Traceback" not in run.output

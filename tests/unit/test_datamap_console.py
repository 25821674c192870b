"""GET /console/datamap: the Art. 30(1) record for auditors and admins (the same fragment as the
CLI's HTML), refused to analysts, linked from the nav only for roles that may, under the CSP."""

from __future__ import annotations

from pathlib import Path

from dsrflow.catalog.datamap import HEADINGS
from dsrflow.runtime import Runtime
from tests.unit.api_kit import api_runtime
from tests.unit.console_pages_kit import app_as, checked, role
from tests.unit.test_datamap import shop_with_processing


def runtime(tmp: Path) -> Runtime:
    shop_with_processing(tmp)
    return api_runtime(tmp, DSRFLOW_CATALOG=str(tmp / "dsrflow.yaml"))


def test_auditor_and_admin_see_the_record(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    stores = list(rt.catalog.stores)
    assert stores == ["shop", "crm"]
    for name in ("auditor", "admin"):
        r = app_as(rt, role(name)).get("/console/datamap")
        assert r.status_code == 200, r.text
        checked(r)  # page CSP, no inline script or style
        html = r.text
        assert "Record of processing activities" in html
        assert 'href="/console/datamap"' in html
        for store in stores:
            assert f'data-store="{store}"' in html
        for key, _ in HEADINGS:
            assert html.count(f'data-heading="{key}"') == len(stores)
        assert "SCC Art. 46(2)(c)" in html and "newsletter subscribers" in html


def test_analyst_is_refused_and_has_no_link(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    c = app_as(rt, role("analyst"))
    assert c.get("/console/datamap").status_code == 403
    assert 'href="/console/datamap"' not in c.get("/console/").text

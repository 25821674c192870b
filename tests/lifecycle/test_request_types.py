"""Rectification, restriction, export and exemption-with-restriction on real SQLite stores."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

from dsrflow.domain import FieldChange, RequestType
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT

NO_GATES = {
    t: {"identity_verification": False, "approval": False}
    for t in ("access", "export", "erasure", "rectification", "restriction")
}


def rows(demo_dir: Path, db: str, sql: str) -> list[tuple]:
    with sqlite3.connect(demo_dir / "stores" / f"{db}.db") as conn:
        return conn.execute(sql).fetchall()


async def test_rectification_sets_fields_where_stores_hold_them(harness) -> None:
    async with harness(policies=NO_GATES) as h:
        handle = await h.submit(
            RequestType.RECTIFICATION, "bob@example.com",
            changes=[FieldChange("full_name", "Robert Builder")],
        )  # fmt: skip
        result = await handle.result()
    assert result.status == "completed"
    outcome = {o.store: o for o in result.stores}
    assert outcome["shop"].status == "done"
    counts = {c.collection: c.affected for c in outcome["shop"].receipt.collections}
    assert counts == {"customers": 1, "orders": 1}
    # The support store holds no rectifiable field: recorded, not hidden.
    assert outcome["support"].status == "not_supported"
    assert outcome["support"].error == "store 'support' (sql) does not support rectify"
    assert rows(h.demo_dir, "shop", "SELECT full_name FROM customers WHERE id = 2") == [
        ("Robert Builder",)
    ]
    assert rows(h.demo_dir, "shop", "SELECT shipping_name FROM orders WHERE id = 102") == [
        ("Robert Builder",)
    ]
    assert rows(h.demo_dir, "shop", "SELECT full_name FROM customers WHERE id = 3") == [
        ("Carol Client",)
    ]


async def test_restriction_marks_the_subject_where_supported(harness) -> None:
    async with harness(policies=NO_GATES) as h:
        handle = await h.submit(RequestType.RESTRICTION, "carol@example.com")
        result = await handle.result()
    outcome = {o.store: o.status for o in result.stores}
    assert outcome == {"shop": "done", "support": "not_supported"}
    restricted = rows(
        h.demo_dir, "shop", "SELECT id FROM customers WHERE processing_restricted = 1"
    )
    assert restricted == [(3,)]


async def test_export_builds_an_encrypted_package(harness, tmp_path: Path) -> None:
    async with harness(policies=NO_GATES) as h:
        handle = await h.submit(RequestType.EXPORT, "carol@example.com")
        result = await handle.result()
        assert result.artifact.kind == "access_package"
        assert b"carol" not in Path(result.artifact.path).read_bytes()  # encrypted at rest
        written = h.rt.artifacts.export(handle.id, tmp_path / "out")
    package = next(p for p in written if p.name.endswith("access-package.zip"))
    with zipfile.ZipFile(package) as zf:
        assert b"carol@example.com" in zf.read("access-package.json")
        assert b'"request_type": "export"' in zf.read("manifest.json")


async def test_catalog_exemption_restricts_instead_of_erasing(harness) -> None:
    shop = {
        **DEMO_SHOP,
        "exemption": {"ground": "Art. 17(3)(b)", "note": "open tax audit", "until": "2030-12-31"},
    }
    async with harness(stores={"shop": shop, "support": DEMO_SUPPORT}, policies=NO_GATES) as h:
        handle = await h.submit(RequestType.ERASURE, "carol@example.com")
        result = await handle.result()
    outcome = {o.store: o for o in result.stores}
    assert outcome["shop"].status == "exempt"
    assert outcome["shop"].exemption.note == "open tax audit"
    assert outcome["shop"].receipt.action == "restrict" and outcome["shop"].receipt.affected == 1
    assert outcome["support"].status == "done"
    assert rows(h.demo_dir, "shop", "SELECT processing_restricted FROM customers WHERE id = 3") == [
        (1,)
    ]
    assert rows(h.demo_dir, "support", "SELECT count(*) FROM tickets WHERE id = 503") == [(0,)]

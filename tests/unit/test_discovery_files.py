"""`dsrflow scan` on a files store: groups of files the path templates miss, by shape; never a
file name or a value in the report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from dsrflow.discovery.filescan import shape
from tests.fixtures.cli import invoke

EMAIL = f"canary-{uuid.uuid4().hex[:10]}@example.com"
CARD = "4539578763621486"  # valid Luhn


def make_store(folder: Path) -> dict[str, str]:
    root = folder / "uploads"
    (root / "avatars").mkdir(parents=True)
    (root / "avatars" / "c-1.jpg").write_bytes(b"\xff\xd8 not text")
    # a folder the catalog does not know, named after a person, holding their export
    (root / "exports" / EMAIL).mkdir(parents=True)
    (root / "exports" / EMAIL / "orders.csv").write_text(f"email,card\n{EMAIL},{CARD}\n")
    (root / "readme.txt").write_text("Nothing personal here.\n")
    (folder / "dsrflow.yaml").write_text(
        "version: 1\nstores:\n  uploads:\n    adapter: files\n    root: uploads\n    collections:\n"
        "      avatars:\n        paths: 'avatars/{customer_id}.*'\n"
        "identity_kinds:\n  customer_id: {strong: true}\n"
    )
    return {
        "DSRFLOW_STATE_DIR": str(folder / "state"),
        "DSRFLOW_CATALOG": str(folder / "dsrflow.yaml"),
        "DSRFLOW_ACTOR": "local:eng",
        "DSRFLOW_ROLES": "engineer",
    }


def test_shapes_keep_plain_words_only() -> None:
    assert shape("avatars/c-1.jpg") == "avatars/*.jpg"
    assert shape(f"exports/{EMAIL}/orders.csv") == "exports/*/*.csv"
    assert shape("a b/x.weird~ext") == "*/*"


def test_unmapped_files_are_found_without_naming_them(tmp_path: Path) -> None:
    env = make_store(tmp_path)
    admin = {**env, "DSRFLOW_ROLES": "admin"}
    assert invoke("ledger", "upgrade", env=admin, cwd=tmp_path).returncode == 0
    run = invoke("scan", "uploads", "--format", "json", "--fail-on-unmapped", env=env,
                 cwd=tmp_path)  # fmt: skip
    assert run.returncode == 1, run.output
    report = json.loads(run.stdout)
    tables = {t["table"]: t for s in report["stores"] for t in s["tables"]}
    assert tables["avatars/*.jpg"]["status"] == "mapped"
    assert tables["*.txt"]["status"] == "clean"
    export = tables["exports/*/*.csv"]
    assert export["status"] == "unmapped"
    classes = {f["class"] for c in export["columns"] for f in c["findings"]}
    assert {"email", "payment_card"} <= classes, classes
    for fmt in ("json", "table", "sarif", "html"):
        out = invoke("scan", "uploads", "--format", fmt, env=env, cwd=tmp_path)
        assert EMAIL not in out.output and CARD not in out.output, fmt
        assert "Traceback" not in out.output

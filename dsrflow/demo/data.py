"""Seeding and checking the demo stores.

The demo subject is Alice (customer 1). Her rows are known by key, so the demo can show that
exactly her rows went away (or were anonymised) and that everyone else's rows are byte-for-byte
unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from importlib import resources
from pathlib import Path

SUBJECT_EMAIL = "alice@example.com"
# Strings that identify Alice anywhere in a store file (after erasure none may remain).
SUBJECT_MARKERS = ("alice", "Acacia", "Work Street", "7946 0101")
STORES = ("shop", "support")

# (table, key columns, predicate selecting the subject's rows before erasure)
SUBJECT_ROWS = {
    "shop": {
        "customers": ("id", "id = 1"),
        "addresses": ("id", "customer_id = 1"),
        "orders": ("id", "customer_id = 1"),
        "order_items": ("order_id, line_no", "order_id IN (100, 101, 103)"),
    },
    "support": {
        "tickets": ("id", "id IN (500, 502, 504)"),
        "ticket_messages": ("id", "ticket_id IN (500, 502, 504)"),
    },
}


def seed(out_dir: Path) -> Path:
    """Create fresh demo stores and the demo catalog under ``out_dir``; returns the catalog."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "stores").mkdir(parents=True)
    pkg = resources.files("dsrflow.demo")
    for store in STORES:
        with sqlite3.connect(out_dir / "stores" / f"{store}.db") as db:
            db.executescript(pkg.joinpath(f"{store}.sql").read_text())
        db.close()
    catalog = out_dir / "catalog.yaml"
    catalog.write_text(pkg.joinpath("catalog.yaml").read_text())
    return catalog


def _rows(db: sqlite3.Connection, table: str, where: str) -> list[tuple[object, ...]]:
    return sorted(db.execute(f"SELECT * FROM {table} WHERE {where}").fetchall())  # noqa: S608 - constants


def others_digest(out_dir: Path) -> dict[str, str]:
    """Digest of every row that does not belong to the subject, per table."""
    digests = {}
    for store, tables in SUBJECT_ROWS.items():
        with sqlite3.connect(out_dir / "stores" / f"{store}.db") as db:
            for table, (_, pred) in tables.items():
                rows = _rows(db, table, f"NOT ({pred})")
                digests[f"{store}.{table}"] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
        db.close()
    return digests


def subject_counts(out_dir: Path) -> dict[str, int]:
    """How many of the subject's original rows still identify her, per table.

    Orders are kept anonymised, so an order row counts only while it still links to her.
    """
    counts = {}
    for store, tables in SUBJECT_ROWS.items():
        with sqlite3.connect(out_dir / "stores" / f"{store}.db") as db:
            for table, (_, pred) in tables.items():
                if table == "orders":
                    pred = (
                        "id IN (100, 101, 103) "
                        "AND (customer_id IS NOT NULL OR shipping_name IS NOT NULL)"
                    )
                if table == "order_items":
                    continue  # kept by policy; holds no personal data once orders are anonymised
                counts[f"{store}.{table}"] = len(_rows(db, table, pred))
        db.close()
    return counts


def raw_mentions(out_dir: Path) -> dict[str, list[str]]:
    """Subject markers found anywhere in the raw bytes of each store file (incl. free pages)."""
    found = {}
    for store in STORES:
        path = out_dir / "stores" / f"{store}.db"
        blob = b"".join(p.read_bytes() for p in path.parent.glob(f"{store}.db*"))
        hits = [m for m in SUBJECT_MARKERS if m.lower().encode() in blob.lower()]
        found[store] = hits
    return found

"""The newcomer's shop (issue 8): one logical store on SQLite, PostgreSQL and MariaDB.

``tests/fixtures/newcomer/`` holds the schema, the rows and the two catalogs; this module loads
them into a per-test database/schema, renders the catalogs for it, and dumps every table so a
test can prove what changed and what did not, byte for byte.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml
from sqlalchemy import Engine, create_engine, text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "newcomer"
REPO = Path(__file__).parents[2]

# What the subject typed into the request form, and how the shop stored her.
SUBMITTED_EMAIL = "Mia.Park+shop@Example.org"
STORED_EMAIL = "Mia.Park+shop@Example.org"

TABLES = (
    "customers",
    "orders",
    "order_items",
    "addresses",
    "newsletter_signups",
    "reviews",
    "signin_log",
)

# Every row of the subject's, by table and primary key (see data.sql).
SUBJECT_ROWS: dict[str, frozenset[int]] = {
    "customers": frozenset({1}),
    "orders": frozenset({10, 11}),
    "order_items": frozenset({100, 101, 102}),
    "addresses": frozenset({1000, 1001}),
    "newsletter_signups": frozenset({1}),
    "reviews": frozenset({1, 2}),
    "signin_log": frozenset({1}),
}
SUBJECT_ROW_COUNT = 12
assert sum(len(ids) for ids in SUBJECT_ROWS.values()) == SUBJECT_ROW_COUNT

# The tables the newcomer's catalog maps, and the subject's rows there (9 of her 12).
NEWCOMER_MAPPED = ("customers", "orders", "order_items", "addresses", "newsletter_signups")
MAPPED_SUBJECT_ROWS = {t: SUBJECT_ROWS[t] for t in NEWCOMER_MAPPED}

# The plus-tag customer (a different person) and Noah (referred by the subject).
PLUS_TAG_CUSTOMER = 2
NOAH = 3

# Personal data of the subject that must never appear in a log, CLI output, error, ledger row,
# Temporal status or evidence file. Lower-case; compared against lower-cased text. The phone
# forms cannot occur by chance in hex digests or base64.
CANARIES = (
    "mia.park",  # her e-mail (and the plus-tag customer's) in any case
    "park+shop",
    "example.org",
    "mia park",  # her name
    "7946 0321",  # her phone, as stored and in common forms
    "2079460321",
    "linden court",  # her address
)


def canaries_in(text_or_bytes: str | bytes) -> list[str]:
    """The canaries found in some output (empty when it is clean)."""
    if isinstance(text_or_bytes, bytes):
        text_or_bytes = text_or_bytes.decode("utf-8", "replace")
    low = text_or_bytes.lower()
    return [c for c in CANARIES if c in low]


@dataclass
class NewcomerStore:
    """The shop loaded into one per-test database/schema of one engine."""

    engine_name: str  # sqlite | postgres | mariadb
    sa_url: str  # SQLAlchemy URL with the driver, for the test's own reads
    catalog_url: str  # the URL as a newcomer writes it in the catalog (no driver)
    schema: str | None
    folder: Path  # where the rendered catalogs go

    def engine(self) -> Engine:
        """A fresh engine on the store (disposed by the caller)."""
        args: dict[str, Any] = {}
        if self.schema:
            args["connect_args"] = {"options": f"-csearch_path={self.schema}"}
        return create_engine(self.sa_url, **args)

    def load(self) -> None:
        """Create the tables and insert the rows (schema, data, then the engine's extras)."""
        dialect = {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mariadb"}
        scripts = ["schema.sql", "data.sql", f"{dialect[self.engine_name]}.sql"]
        eng = self.engine()
        try:
            with eng.begin() as conn:
                for script in scripts:
                    for stmt in statements((FIXTURES / script).read_text()):
                        conn.execute(text(stmt))
        finally:
            eng.dispose()

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in key order, exactly as the database returns it."""
        eng = self.engine()
        try:
            with eng.connect() as conn:
                return {
                    t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
                    for t in TABLES
                }
        finally:
            eng.dispose()

    def connection_yaml(self) -> str:
        conn: dict[str, str] = {"url": self.catalog_url}
        if self.schema:
            conn["schema"] = self.schema
        return yaml.safe_dump(conn, default_flow_style=True).strip()

    def render(self, name: str = "catalog.yaml", drop: tuple[str, ...] = ()) -> Path:
        """Write one of the fixture catalogs for this store; ``drop`` leaves collections out.

        Returns:
            The path of the rendered catalog file.
        """
        src = Template((FIXTURES / name).read_text()).substitute(connection=self.connection_yaml())
        if drop:
            doc = yaml.safe_load(src)
            for coll in drop:
                del doc["stores"]["shop"]["collections"][coll]
            src = yaml.safe_dump(doc, sort_keys=False)
        out = self.folder / f"{Path(name).stem}{'-minus-' + '-'.join(drop) if drop else ''}.yaml"
        out.write_text(src)
        return out

    def catalog_doc(self, name: str = "catalog.yaml", drop: tuple[str, ...] = ()) -> dict:
        """A rendered catalog as a dict (for the lifecycle harness, which writes its own)."""
        return yaml.safe_load(self.render(name, drop).read_text())


def statements(script: str) -> list[str]:
    """Split a fixture script into statements (no ';' inside literals in our fixtures)."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def rows_by_id(dump: dict[str, list[tuple[Any, ...]]], table: str) -> dict[int, tuple[Any, ...]]:
    """One table of a dump, keyed by primary key (the first column)."""
    return {int(r[0]): r for r in dump[table]}


def others(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, dict[int, tuple[Any, ...]]]:
    """Every row that is NOT the subject's, by table and key."""
    return {
        t: {k: r for k, r in rows_by_id(dump, t).items() if k not in SUBJECT_ROWS[t]}
        for t in TABLES
    }


def subject_rows_left(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[int]]:
    """The subject's rows that still hold her data after an erasure.

    Deleted collections must have lost her rows; ``orders`` is anonymised by both catalogs
    (customer_id and shipping_name nulled, note fixed), so an order row counts as hers while
    it still points at her or still names her.
    """
    left: dict[str, list[int]] = {}
    for table, ids in SUBJECT_ROWS.items():
        rows = rows_by_id(dump, table)
        if table == "orders":
            still = [k for k in ids if k in rows and (rows[k][1] is not None or rows[k][2])]
        else:
            still = [k for k in ids if k in rows]
        if still:
            left[table] = sorted(still)
    return left


def without_noah_pointer(
    before: dict[str, list[tuple[Any, ...]]],
) -> dict[str, dict[int, tuple[Any, ...]]]:
    """Other people's rows as they must be after the fixed catalog's erasure: unchanged, except
    Noah's ``referrer_id`` (the last customers column), nulled by the pointer rule."""
    expected = others(before)
    noah = expected["customers"][NOAH]
    expected["customers"][NOAH] = (*noah[:-1], None)
    return expected


def run_cli(catalog: Path, state_dir: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    """The real CLI in a subprocess (no Temporal needed for catalog/stores/verify commands).

    Returns:
        Exit code and combined stdout/stderr.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DSRFLOW_CATALOG": str(catalog),
        "DSRFLOW_STATE_DIR": str(state_dir),
        "DSRFLOW_ACTOR": "engineer:newcomer",
        "COLUMNS": "200",
    }
    if not (state_dir / "ledger.db").exists():
        # What the refusal tells a newcomer to do first: create the ledger on purpose.
        up = [sys.executable, "-m", "dsrflow.cli.main", "ledger", "upgrade"]
        subprocess.run(up, env=env, capture_output=True, timeout=timeout, check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "dsrflow.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


FK_CONSTRAINTS = ("fk_reviews_customer", "fk_customers_referrer")
# How an error may name a blocking foreign key: by constraint, or by the referencing column.
FK_NAMES = (*FK_CONSTRAINTS, "reviews.customer_id", "customers.referrer_id")
UNMAPPED_HIT = "signin_log.user_email"


def one_line_reasons(outcome: Any) -> str:
    """Everything a person is told about one store outcome, as one text (for assertions)."""
    parts = [str(outcome.status), outcome.error or "", outcome.note or ""]
    parts += list(getattr(outcome, "warnings", []) or [])
    sweep = getattr(outcome, "sweep", None)
    if sweep is not None:
        parts += [f"{h.location} ({h.count})" for h in sweep.hits]
        if sweep.hits:
            parts.append(sweep.reason())
    return " | ".join(parts)


def hit_counts(sweep: Any) -> dict[str, int]:
    """A sweep report's hits as ``{location: count}``."""
    return {h.location: h.count for h in sweep.hits}


_SPACES = re.compile(r"\s+")


def squash(text_: str) -> str:
    """Collapse whitespace (rich may wrap long CLI lines)."""
    return _SPACES.sub(" ", text_)

"""Bad stores give one clear line naming the store: SQL in a table or column name, an unreachable
store, wrong credentials, an unknown adapter. Through the CLI, as a person would meet them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import require_service

DSRFLOW = [sys.executable, "-m", "dsrflow.cli.main"]

CATALOG = """\
version: 1
stores:
  evil-table:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      c: {table: "customer; DROP TABLE orders; --", identities: {email: email}}
  evil-column:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      customer: {identities: {"email) OR 1=1 --": email}}
  down:
    adapter: sql
    connection: {url: "postgresql://postgres@127.0.0.1:1/test"}
    collections:
      customer: {identities: {email: email}}
  bad-password:
    adapter: sql
    connection: {url: "mysql://root@127.0.0.1:3306/test", password_env: WRONG_PW}
    collections:
      customer: {identities: {email: email}}
  bad-role:
    adapter: sql
    connection: {url: "postgresql://no_such_role@127.0.0.1:5432/test"}
    collections:
      customer: {identities: {email: email}}
  cache-bad-password:
    adapter: redis
    connection: {url: "redis://127.0.0.1:6379/0", username: nobody, password_env: WRONG_PW}
    collections:
      sessions: {keys: "session:{customer_id}:*"}
identity_kinds: {customer_id: {}}   # no store here provides it: declared
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DSRFLOW_STATE_DIR": str(tmp_path), "WRONG_PW": "not-the-password",
           "DSRFLOW_CATALOG": str(tmp_path / "dsrflow.yaml")}  # fmt: skip
    if not (tmp_path / "ledger.db").exists():  # the ledger is created on purpose, first
        subprocess.run([*DSRFLOW, "ledger", "upgrade"], env=env, cwd=tmp_path, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    return subprocess.run([*DSRFLOW, *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)  # fmt: skip


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.executescript("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT);"
                         "CREATE TABLE orders (id INTEGER PRIMARY KEY);")  # fmt: skip
    db.close()
    (tmp_path / "dsrflow.yaml").write_text(CATALOG)
    return tmp_path


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.redis
@pytest.mark.parametrize(
    ("store", "expected"),
    [
        ("evil-table", "table customer; DROP TABLE orders; -- not found"),
        ("evil-column", "has no column 'email) OR 1=1 --'"),
        ("down", "connection"),
        ("bad-password", "Access denied"),
        ("bad-role", "no_such_role"),
        ("cache-bad-password", "invalid username-password pair"),
    ],
)
def test_bad_store_is_one_line_naming_it(catalog: Path, store: str, expected: str) -> None:
    require_service("postgres")
    require_service("mariadb")
    require_service("redis")
    r = run(catalog, "stores", "test", store)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    failed = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, r.stdout
    assert f"{store}: " in failed[0] and f"store {store!r}" in failed[0] and expected in failed[0]
    assert "not-the-password" not in r.stdout + r.stderr
    with sqlite3.connect(catalog / "shop.db") as db:  # the "SQL" in names ran nowhere
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    db.close()


def test_unknown_adapter_is_one_line_naming_the_store(catalog: Path) -> None:
    text = CATALOG.replace("adapter: redis", "adapter: mongodb")
    (catalog / "dsrflow.yaml").write_text(text)
    r = run(catalog, "catalog", "validate")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert "dsrflow.yaml:29: stores.cache-bad-password.adapter: unknown adapter 'mongodb'" in line


def test_import_fides_refuses_to_overwrite_and_reports_bad_files(tmp_path: Path) -> None:
    (tmp_path / "out.yaml").write_text("keep me")
    (tmp_path / "ds.yml").write_text("dataset: [{fides_key: x, collections: []}]\n")
    r = run(tmp_path, "catalog", "import-fides", "ds.yml", "--url", "sqlite:///x.db",
            "--out", "out.yaml")  # fmt: skip
    assert r.returncode == 2 and "already exists (use --force" in r.stderr
    r = run(tmp_path, "catalog", "import-fides", "ds.yml", "--url", "sqlite:///x.db", "--offline")
    assert r.returncode == 2 and "ds.yml:1: dataset.0.collections: no collection" in r.stderr
    assert (tmp_path / "out.yaml").read_text() == "keep me"

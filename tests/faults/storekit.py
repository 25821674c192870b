"""Several real stores and several people for the outage and failure fault tests.

Three stores, each on its real local service: ``crm`` (PostgreSQL: customers and their orders),
``cache`` (Redis: session keys and a profile hash) and ``shop`` (MariaDB: members). Each holds
the same few people and one bystander who is never erased. Any store can be reached through a
``TcpProxy`` (its port) and with a database role of the test's own, so a test can cut it or
take a privilege away while the others run untouched.

The history helpers tell, from Temporal's own record, how often each store's activity ran:
"the other stores ran once" is read from the history, not inferred from the end state.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from dsrflow.catalog import yamlpos
from dsrflow.domain import RequestStatus, StatusView, StoreOutcome
from dsrflow.runtime import Runtime
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN
from tests.fixtures.redis_store import REDIS_URL
from tests.fixtures.stack import run_cli

PEOPLE = ["ana.lima@example.org", "ben.okafor@example.org", "chloe.brandt@example.org"]
NAMES = ["Ana Lima", "Ben Okafor", "Chloe Brandt"]
BYSTANDER = "dora.kent@example.org"  # in every store, never erased
STORES = ("crm", "cache", "shop")

# What an erasure of one person removes in each store (matched = affected).
ERASED = {"crm": 3, "cache": 3, "shop": 1}  # customer + 2 orders; 2 sessions + profile; member


def settled(view: StatusView) -> bool:
    """Whether a request ended or waits for a person (a wait ends the test's wait early)."""
    return view.status.terminal or view.status == RequestStatus.NEEDS_ATTENTION


FAST = {"max_attempts": 3, "initial_interval": 0.2, "backoff": 1.0, "max_interval": 0.5,
        "heartbeat": 5, "timeout": 30}  # fmt: skip
"""A store's retry policy in these tests unless a test gives its own."""


@dataclass(frozen=True)
class Stores:
    """Where this test's stores are: names, and ports (a proxy's, or the service's own)."""

    pg_schema: str
    redis_prefix: str
    mariadb: str
    pg_port: int = 5432
    redis_port: int = 6379
    mariadb_port: int = 3306
    pg_user: str = "postgres"


# -- seeding --------------------------------------------------------------------------------


def seed(stores: Stores, *, malformed_profile: str | None = None) -> None:
    """Every person and the bystander in all three stores.

    ``malformed_profile``: that person's Redis profile is a plain string where a hash is
    expected (a record written by an old version of the application): the adapter's HMGET on
    it fails with WRONGTYPE.
    """
    everyone = [*PEOPLE, BYSTANDER]
    names = [*NAMES, "Dora Kent"]
    pg = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    s = f'"{stores.pg_schema}"'
    with pg.connect() as conn:
        conn.execute(text(f"CREATE TABLE {s}.customers (id int PRIMARY KEY, email text, "
                          "name text)"))  # fmt: skip
        conn.execute(text(f"CREATE TABLE {s}.orders (id int PRIMARY KEY, "
                          f"customer_id int REFERENCES {s}.customers(id), total int)"))  # fmt: skip
        for i, (email, name) in enumerate(zip(everyone, names, strict=True), start=1):
            conn.execute(text(f"INSERT INTO {s}.customers VALUES (:i, :e, :n)"),
                         {"i": i, "e": email, "n": name})  # fmt: skip
            conn.execute(text(f"INSERT INTO {s}.orders VALUES (:a, :i, 5), (:b, :i, 7)"),
                         {"a": 10 * i, "b": 10 * i + 1, "i": i})  # fmt: skip
    pg.dispose()
    maria = create_engine(_mariadb_url(stores.mariadb))
    with maria.begin() as conn:
        conn.execute(text("CREATE TABLE members (id int PRIMARY KEY, email varchar(80), "
                          "nickname varchar(80))"))  # fmt: skip
        for i, (email, name) in enumerate(zip(everyone, names, strict=True), start=1):
            conn.execute(text("INSERT INTO members VALUES (:i, :e, :n)"),
                         {"i": i, "e": email, "n": name.split()[0]})  # fmt: skip
    maria.dispose()
    r = redis.Redis.from_url(REDIS_URL)
    p = stores.redis_prefix
    for email, name in zip(everyone, names, strict=True):
        r.set(f"{p}session:{email}:1", "cart=2")
        r.set(f"{p}session:{email}:2", "cart=0")
        if email == malformed_profile:
            r.set(f"{p}profile:{email}", f"{name};{email};gold")  # not a hash
        else:
            # Its two fields are the catalog's: once both are deleted Redis drops the key (whose
            # name holds the e-mail, which the independent sweep would rightly find).
            r.hset(f"{p}profile:{email}", mapping={"email": email, "name": name})
    r.close()


def grant_store_role(schema: str, role: str) -> None:
    """A login role of this test's own that may read and delete in ``schema`` (nothing more)."""
    pg = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with pg.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        conn.execute(text(f'GRANT SELECT, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
    pg.dispose()


def drop_store_role(schema: str, role: str) -> None:
    """Remove the role again (its grants first: a role holding privileges cannot be dropped)."""
    pg = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with pg.connect() as conn:
        conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"'))
        conn.execute(text(f'REVOKE ALL ON SCHEMA "{schema}" FROM "{role}"'))
        # Connections the store's pool still holds would keep the role "in use".
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        )
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    pg.dispose()


def pg_admin(sql: str) -> None:
    """Run one statement as the administrator (a GRANT, a REVOKE)."""
    pg = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with pg.connect() as conn:
        conn.execute(text(sql))
    pg.dispose()


def _mariadb_url(db: str, port: int = 3306) -> str:
    return MARIADB_ADMIN.rsplit("/", 1)[0].replace(":3306", f":{port}") + f"/{db}"


# -- what is left ------------------------------------------------------------------------------


def left(stores: Stores) -> dict[str, set[str]]:
    """Who each store still holds (by e-mail; Redis: whose session keys or profile remain)."""
    pg = create_engine(PG_ADMIN)
    with pg.connect() as conn:
        emails = conn.execute(text(f'SELECT email FROM "{stores.pg_schema}".customers'))
        crm = {r[0] for r in emails}
        orphans = conn.execute(text(
            f'SELECT count(*) FROM "{stores.pg_schema}".orders o WHERE NOT EXISTS '
            f'(SELECT 1 FROM "{stores.pg_schema}".customers c WHERE c.id = o.customer_id)'
        )).scalar_one()  # fmt: skip
    pg.dispose()
    assert orphans == 0, "orders left behind without their customer"
    maria = create_engine(_mariadb_url(stores.mariadb))
    with maria.connect() as conn:
        shop = {r[0] for r in conn.execute(text("SELECT email FROM members"))}
    maria.dispose()
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    cache: set[str] = set()
    for key in r.scan_iter(match=f"{stores.redis_prefix}*", count=1000):
        kind, rest = key.removeprefix(stores.redis_prefix).split(":", 1)
        if kind == "session":
            cache.add(rest.rsplit(":", 1)[0])
        elif r.type(key) != "hash" or r.hexists(key, "email"):  # the profile's personal fields
            cache.add(rest)
    r.close()
    return {"crm": crm, "cache": cache, "shop": shop}


# -- the catalog ------------------------------------------------------------------------------


def write_catalog(folder: Path, stores: Stores, **retry: dict[str, float]) -> Path:
    """The three stores (through their ports), each with ``FAST`` retries unless given."""
    pg_url = f"postgresql://{stores.pg_user}@127.0.0.1:{stores.pg_port}/test?sslmode=disable"
    maria_url = _mariadb_url(stores.mariadb, stores.mariadb_port).replace("+pymysql", "")
    catalog = {
        "version": 1,
        "policies": {"erasure": {"identity_verification": False, "approval": False}},
        "stores": {
            "crm": {
                "adapter": "sql",
                "retry": {**FAST, **retry.get("crm", {})},
                "connection": {"url": pg_url, "schema": stores.pg_schema},
                "collections": {
                    "customers": {"identities": {"email": "email"}, "erase": "delete"},
                    "orders": {"references": {"customer_id": "customers.id"}, "erase": "delete"},
                },
            },
            "cache": {
                "adapter": "redis",
                "retry": {**FAST, **retry.get("cache", {})},
                "connection": {"url": f"redis://127.0.0.1:{stores.redis_port}/0", "timeout": 2},
                "key_prefix": stores.redis_prefix,
                "collections": {
                    "sessions": {"keys": "session:{email}:*"},
                    "profile": {"keys": "profile:{email}", "fields": ["email", "name"]},
                },
            },
            "shop": {
                "adapter": "sql",
                "retry": {**FAST, **retry.get("shop", {})},
                "connection": {"url": maria_url},
                "collections": {"members": {"identities": {"email": "email"}, "erase": "delete"}},
            },
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    return path


# -- outcomes and history ------------------------------------------------------------------------


def outcome(view: StatusView, store: str) -> StoreOutcome:
    """One store's outcome in a status view."""
    found = next((o for o in view.stores if o.store == store), None)
    assert found is not None, f"{store} not in {view}"
    return found


async def activity_runs(client: Client, rid: str) -> dict[tuple[str, str], list[int]]:
    """Per (activity, store): the attempt each scheduled run of it ended on, from the history.

    One entry per ``ActivityTaskScheduled`` (a new run: the first, or a person's retry-store);
    the number is the attempt its ``ActivityTaskStarted`` records (the last one, as Temporal
    writes a retried activity's start once it ends), 0 if it never started.
    """
    history = await client.get_workflow_handle(rid).fetch_history()
    codec = client.data_converter.payload_codec
    assert codec is not None
    which: dict[int, tuple[str, str]] = {}
    runs: dict[tuple[str, str], list[int]] = defaultdict(list)
    started: dict[int, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            payloads = list(attrs.input.payloads)
            arg: Any = json.loads((await codec.decode(payloads))[0].data) if payloads else {}
            store = arg.get("store", "") if isinstance(arg, dict) else ""
            which[event.event_id] = (attrs.activity_type.name, store)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_s = event.activity_task_started_event_attributes
            started[attrs_s.scheduled_event_id] = attrs_s.attempt
    for event_id, key in which.items():
        runs[key].append(started.get(event_id, 0))
    return dict(runs)


async def bundle_verifies(rt: Runtime, rid: str, tmp_path: Path) -> None:
    """The request's signed evidence bundle, fetched through the CLI, verifies offline."""
    out = tmp_path / f"out-{rid}"
    keyring = tmp_path / f"keyring-{rid}.json"
    for args in (("request", "result", rid, "--out", str(out)),
                 ("keys", "export-public", "--out", str(keyring))):  # fmt: skip
        code, text_ = await run_cli(rt, *args)
        assert code == 0, text_
    from dsrflow.keys.keyring import load_keyring

    root = load_keyring(keyring.read_bytes()).root_key_id  # the fingerprint the controller shows
    code, text_ = await run_cli(
        rt, "verify", str(out / f"{rid}-evidence-bundle.zip"), "--keyring", str(keyring),
        "--root-keyid", root,
        "--request-id", rid, "--subject-opening", str(out / f"{rid}-subject-opening.json"),
        "--state", str(tmp_path / f"verifier-{rid}.json"), "--json",
    )  # fmt: skip
    assert code == 0, text_
    assert json.loads(text_)["verdict"] == "VERIFIED", text_

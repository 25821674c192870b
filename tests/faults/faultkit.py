"""Fault-injection helpers: a TCP proxy the test controls, worker subprocesses, checks.

Every test starts and stops only its own processes (by pid), on its own task queue, schema and
state folder. Nothing here mocks a store: the proxy forwards real PostgreSQL, Redis or MariaDB
traffic and cuts it at the moment a test needs (e.g. right after the server answered an
erasure's COMMIT, or for an outage of a few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import create_engine, text
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from dsrflow.catalog import yamlpos
from dsrflow.crypto.codec import EncryptionCodec
from dsrflow.devserver import DevServer, find_binary
from dsrflow.domain import DsrInput, Identity, RequestType, StatusView, StoreStatus
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.fixtures.databases import PG_ADMIN
from tests.fixtures.stack import make_runtime

ROOT = Path(__file__).resolve().parents[2]

# The reply PostgreSQL sends when a transaction commits: CommandComplete "COMMIT".
COMMIT_REPLY = b"C\x00\x00\x00\x0bCOMMIT\x00"

SUBJECT = "mia.park+shop@example.org"
OTHER = "mia.park@example.org"  # a different person (plus-tags are never stripped)
ERASED_ROWS = 3  # the subject's customer row and her two orders


POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
MARIADB = ("127.0.0.1", 3306)


class TcpProxy:
    """A TCP proxy in front of a server (PostgreSQL, Redis, MariaDB) that a test can take down
    and bring back.

    ``down()`` is an outage: new connections are refused and open ones cut. Given the bytes of
    a server ``reply`` (e.g. PostgreSQL's answer to a COMMIT), ``arm(action)`` makes the proxy,
    on the next server reply holding them, hold that reply back, run ``action`` (kill the
    worker, take the proxy down) and drop the client's connection: the server has acted, the
    client never hears it. With ``deliver=True`` the reply is relayed first (the client knows)
    and ``action`` runs right after.
    """

    def __init__(self, target: tuple[str, int], *, reply: bytes | None = None) -> None:
        self.target = target
        self.reply = reply
        # The port stays ours from here on: bound but not listening while the proxy is down
        # (a connection is refused, as by a stopped server), so nobody else can take it.
        self._reserved: socket.socket | None = _bound(0)
        self.port = self._reserved.getsockname()[1]
        self._listener: socket.socket | None = None
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._armed: Callable[[], None] | None = None
        self._deliver = False
        self.commits_cut = 0
        self.connections = 0
        """Connections accepted and relayed so far (a test can see that a client came back)."""

    def up(self) -> None:
        """Accept connections (again) on the same port."""
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        sock = _bound(self.port)
        sock.listen(64)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut every open one (an outage)."""
        with self._lock:
            listener, self._listener = self._listener, None
            socks, self._socks = self._socks, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            if self._reserved is None:
                self._reserved = _bound(self.port)
        for s in socks:
            _close(s)

    def arm(self, action: Callable[[], None], *, deliver: bool = False) -> None:
        """Run ``action`` on the next server reply holding ``reply`` (instead of relaying it,
        by default)."""
        if not self.reply:
            raise ValueError("arm() needs the proxy built with the reply to act on")
        self._armed, self._deliver = action, deliver

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._socks.update((client, server))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_server and self._armed is not None and self.reply and self.reply in data:
                    action, self._armed = self._armed, None
                    self.commits_cut += 1
                    if self._deliver:
                        dst.sendall(data)
                    action()
                    break
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)


class PgProxy(TcpProxy):
    """The proxy in front of the local PostgreSQL; ``arm`` acts on a COMMIT's reply."""

    def __init__(self, target: tuple[str, int] = POSTGRES) -> None:
        super().__init__(target, reply=COMMIT_REPLY)


def _bound(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# -- the store ------------------------------------------------------------------------------


def seed_store(schema: str, *, trigger_message: str | None = None) -> None:
    """Customers and orders in ``schema``: the subject, and a person differing by a plus-tag."""
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    s = f'"{schema}"'
    with engine.connect() as conn:
        conn.execute(text(f"CREATE TABLE {s}.customers (id int PRIMARY KEY, email text, "
                          "name text)"))  # fmt: skip
        conn.execute(text(f"CREATE TABLE {s}.orders (id int PRIMARY KEY, "
                          f"customer_id int REFERENCES {s}.customers(id), total int)"))  # fmt: skip
        conn.execute(text(f"INSERT INTO {s}.customers VALUES (1, :a, 'Mia Park'), "
                          "(2, :b, 'Mia Park')"), {"a": SUBJECT, "b": OTHER})  # fmt: skip
        conn.execute(text(f"INSERT INTO {s}.orders VALUES (10, 1, 5), (11, 1, 7), (12, 2, 9)"))
        if trigger_message is not None:
            # A schema author's trigger whose message names the person and quotes her e-mail.
            msg = trigger_message.replace("'", "''")
            conn.execute(text(
                f"CREATE FUNCTION {s}.keep_customers() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{msg} (%)', OLD.email; END $$ LANGUAGE plpgsql"
            ))  # fmt: skip
            conn.execute(text(f"CREATE TRIGGER keep BEFORE DELETE ON {s}.customers FOR EACH ROW "
                              f"EXECUTE FUNCTION {s}.keep_customers()"))  # fmt: skip
    engine.dispose()


def store_rows(schema: str) -> dict[str, list[tuple]]:
    """Every row of the store (to check what is erased and what is untouched)."""
    engine = create_engine(PG_ADMIN)
    with engine.connect() as conn:
        out = {
            t: [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{schema}".{t} ORDER BY 1'))]
            for t in ("customers", "orders")
        }
    engine.dispose()
    return out


def write_catalog(folder: Path, schema: str, port: int = 5432, **retry: float) -> Path:
    """A catalog with one PostgreSQL store ``crm`` (through ``port``) and fast retries."""
    policy = {"max_attempts": 3, "initial_interval": 0.2, "backoff": 1.0, "max_interval": 0.5,
              "heartbeat": 3, "timeout": 30, **retry}  # fmt: skip
    catalog = {
        "version": 1,
        "policies": {"erasure": {"identity_verification": False, "approval": False}},
        "stores": {
            "crm": {
                "adapter": "sql",
                "retry": policy,
                # No TLS: the proxy must see the protocol to cut right after a COMMIT.
                "connection": {
                    "url": f"postgresql://postgres@127.0.0.1:{port}/test?sslmode=disable",
                    "schema": schema,
                },
                "collections": {
                    "customers": {"identities": {"email": "email"}, "erase": "delete"},
                    "orders": {"references": {"customer_id": "customers.id"}, "erase": "delete"},
                },
            }
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    return path


def runtime(server: DevServer, tmp_path: Path, catalog: Path) -> Runtime:
    """A runtime of this test's own: state folder, ledger, keys and task queue."""
    return make_runtime(server, tmp_path / "state", catalog, DSRFLOW_LOG_FORMAT="json")


# -- workers ----------------------------------------------------------------------------------


class WorkerProcess:
    """``dsrflow worker`` in a subprocess of this test (this worktree's code), output to a file."""

    def __init__(self, rt: Runtime, log: Path, **env_over: str) -> None:
        self.log = log
        # ``env_over``: where this worker differs from the test's runtime (e.g. it reaches the
        # ledger through a proxy the test cuts, while the test reads it directly).
        env = {**os.environ, **rt.env, **env_over, "PYTHONPATH": str(ROOT)}
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dsrflow.cli.main", "worker"],
            env=env, cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no shutdown, no completion reported (the fault under test)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop this worker (SIGTERM, then SIGKILL after a grace period)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(timeout=10)
        self._fh.close()

    def output(self) -> str:
        """What the worker has written so far (all of it once ``stop()`` returned)."""
        return self.log.read_text(errors="replace")


async def wait_worker_ready(worker: WorkerProcess) -> None:
    """Until the subprocess says it polls its task queue."""
    for _ in range(600):
        if "task queue" in worker.output():
            return
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker exited early: {worker.output()[-2000:]}")
        await asyncio.sleep(0.1)
    raise AssertionError("worker did not start")


# -- requests -------------------------------------------------------------------------------


async def submit_erasure(rc: RequestClient, email: str = SUBJECT) -> str:
    rid = f"fault-{uuid.uuid4().hex[:10]}"
    await rc.submit(
        DsrInput(rid, RequestType.ERASURE, [Identity("email", email)], datetime.now(UTC))
    )
    return rid


async def until(rc: RequestClient, rid: str, check: Callable[[StatusView], bool],
                what: str, seconds: float = 120) -> StatusView:  # fmt: skip
    """Poll the status query until ``check`` holds (bounded)."""
    view = None
    for _ in range(int(seconds * 10)):
        try:
            view = await rc.status(rid)
        except Exception:  # no worker answering the query yet (between workers)
            view = None
        if view is not None and check(view):
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last status {view}")


def crm(view: StatusView) -> Any:
    """The crm store's outcome (None before the plan lists it)."""
    return next((o for o in view.stores if o.store == "crm"), None)


async def decoded_history(client: Client, rid: str) -> list[str]:
    """Every payload of a request's history, decrypted with the request's key, as text."""
    handle = client.get_workflow_handle(rid)
    history = await handle.fetch_history()
    payloads: list[Payload] = []
    for event in history.events:
        _collect(event, payloads)
    codec = client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    decoded = await codec.decode(payloads)
    return [p.data.decode("utf-8", errors="replace") for p in decoded]


def _collect(msg: Message, out: list[Payload]) -> None:
    if isinstance(msg, Payload):
        out.append(msg)
        return
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            _collect(value, out)
            continue
        # A repeated field or a map (whose values are the messages).
        items = value.values() if callable(getattr(value, "values", None)) else value
        for item in items:
            if isinstance(item, Message):
                _collect(item, out)


async def temporal_show(address: str, rid: str) -> str:
    """``temporal workflow show --output json`` of a request: what an operator with the CLI and
    no codec sees (payloads in base64)."""
    proc = await asyncio.create_subprocess_exec(
        str(find_binary("temporal")), "workflow", "show", "--workflow-id", rid,
        "--address", address, "--output", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def never_not_found(texts: list[str]) -> bool:
    """No payload of the history ever recorded the store as not found."""
    return not any('"not_found"' in t for t in texts)


DONE = StoreStatus.DONE
NEEDS = StoreStatus.FAILED_NEEDS_ATTENTION

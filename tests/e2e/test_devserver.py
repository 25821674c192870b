"""The embedded Temporal server: clear errors, and no orphans when its parent is killed."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dsrflow.devserver import DevServer, _alive, ensure_port_free, find_binary
from dsrflow.errors import UserError
from tests.fixtures.stack import free_port, start_dev_server

pytestmark = pytest.mark.e2e


def test_busy_port_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(
            UserError, match=f"port {port} on 127.0.0.1 \\(Temporal frontend\\) is already in use"
        ):
            ensure_port_free("127.0.0.1", port, "Temporal frontend")


def test_missing_binary_is_named() -> None:
    with pytest.raises(UserError, match="binary 'no-such-temporal' not found"):
        find_binary("no-such-temporal")


def test_binaries_come_from_the_wheels() -> None:
    venv_bin = Path(sys.executable).parent
    assert find_binary("temporal") == venv_bin / "temporal"
    assert find_binary("temporal-test-server") == venv_bin / "temporal-test-server"


def test_killed_parent_leaves_no_orphan(tmp_path: Path) -> None:
    """SIGKILL the process that started the server: the server must go too."""
    port = free_port()
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from dsrflow.devserver import DevServer\n"
        f"s = DevServer(Path({str(tmp_path)!r}), port={port}, ui_port=None, ephemeral=True)\n"
        "s.start()\n"
        "print(s.proc.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()  # after start(): the server answers its health check
        assert line.strip().isdigit(), f"the parent did not start a server (said {line!r})"
        server_pid = int(line)
        assert _alive(server_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server_pid), "temporal server outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_stale_server_from_a_killed_run_is_stopped(tmp_path: Path) -> None:
    """A server whose pid file survives (parent gone) is stopped at the next start."""
    port = free_port()
    first = DevServer(tmp_path, port=port, ui_port=None, ephemeral=True)
    # Start it detached from us, as a killed `dsrflow dev` would have left it.
    cmd = first.command()
    stale = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
    first.pidfile.write_text(str(stale.pid))
    second = DevServer(tmp_path, port=port, ui_port=None, ephemeral=True)
    try:
        # Serving, not merely listening: the stale server really holds the port.
        deadline = time.monotonic() + 30
        while not first._serving() and stale.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first._serving(), f"the stale server never served on {port}"
        second.start()
        stale.wait(10)
        assert stale.returncode is not None
        assert second.proc is not None and second.proc.poll() is None
    finally:
        second.stop()
        if stale.poll() is None:
            stale.kill()


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Workflow histories live in the state folder's SQLite file, not in the process."""
    from temporalio.client import Client

    server = start_dev_server(tmp_path, ui_port=None)
    port = server.port
    try:
        client = await Client.connect(server.address)
        handle = await client.start_workflow(
            "NoSuchWorkflowType", id="survivor", task_queue="nobody-polls-this"
        )
    finally:
        server.stop()
    server = DevServer(tmp_path, port=port, ui_port=None)
    server.start()
    try:
        client = await Client.connect(server.address)
        desc = await client.get_workflow_handle("survivor").describe()
        assert desc.run_id == handle.result_run_id
    finally:
        server.stop()

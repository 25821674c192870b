"""The HTTP API end to end: `dsrflow serve` (a real process) against a real Temporal dev server
and a worker on the demo stores. An erasure is submitted, verified, approved and finished through
the API by three people with their own tokens; its evidence bundle, downloaded through the API,
verifies offline with `dsrflow verify`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dsrflow.runtime import Runtime
from dsrflow.service.principal import Principal
from dsrflow.service.tokens import CreateToken
from tests.fixtures.stack import DSRFLOW, free_port, run_cli

pytestmark = pytest.mark.e2e

ADMIN = Principal.of("staff:root", ["admin"])


class Api:
    """A tiny HTTP client for the API (urllib in a thread: the worker shares this loop)."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def call(
        self, method: str, path: str, token: str | None, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        return await asyncio.to_thread(self._call, method, path, token, body)

    def _call(self, method: str, path: str, token: str | None, body: Any):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    async def json(self, method: str, path: str, token: str | None, body: Any = None):
        status, _, raw = await self.call(method, path, token, body)
        return status, json.loads(raw)


@pytest_asyncio.fixture(loop_scope="session")
async def served(demo_stack: Runtime, tmp_path: Path) -> AsyncIterator[Api]:
    """`dsrflow serve` on a free port, next to the demo stack's worker."""
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*DSRFLOW, "serve", "--port", str(port)],
        env={**os.environ, **demo_stack.env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    api = Api(f"http://127.0.0.1:{port}/api/v1")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = await api.call("GET", "/openapi.json", None)
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "serve.log").read_text())
            await asyncio.sleep(0.2)
        yield api
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


async def test_erasure_through_the_api_and_its_bundle_verifies(
    demo_stack: Runtime, served: Api, tmp_path: Path
) -> None:
    rt, api = demo_stack, served
    tokens = {
        role: CreateToken(rt).run(ADMIN, actor=f"staff:{who}", roles=[role], expires_in="1h").token
        for role, who in (("intake", "ivy"), ("approver", "abe"), ("analyst", "ann"),
                          ("auditor", "aud"))
    }  # fmt: skip
    rid = f"api-era-{uuid.uuid4().hex[:8]}"
    submission = {"type": "erasure", "request_id": rid, "case_ref": "CASE-API-1",
                  "identities": [{"kind": "email", "value": "alice@example.com"}]}  # fmt: skip

    status, body = await api.json("POST", "/requests", tokens["intake"], submission)
    assert status == 201 and body["created"] and body["status"] == "awaiting_verification", body
    status, body = await api.json("POST", "/requests", tokens["intake"], submission)
    assert status == 200 and body["created"] is False  # a retry creates nothing

    status, body = await api.json("POST", f"/requests/{rid}/approve", tokens["intake"], {})
    assert status == 403 and "staff:ivy may not approve" in body["error"]
    status, body = await api.json("POST", f"/requests/{rid}/approve", tokens["approver"], {})
    assert status == 409 and "refused" in body["error"], body  # identity not verified yet
    status, body = await api.json(
        "POST", f"/requests/{rid}/verify-identity", tokens["intake"],
        {"method": "email_link", "reference": "CHK-API-1"},
    )  # fmt: skip
    assert status == 200 and body["status"] == "awaiting_approval", body
    status, body = await api.json(
        "POST", f"/requests/{rid}/approve", tokens["approver"], {"reason": "verified, in scope"}
    )
    assert status == 200, body

    for _ in range(600):
        status, report = await api.json("GET", f"/requests/{rid}", tokens["analyst"])
        if status == 200 and report["request"]["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"request {rid} did not complete: {report}")
    assert report["request"]["completed_at"].endswith("Z")  # RFC 3339, UTC
    trail = [(x["actor"], x["action"]) for x in report["audit"]]
    assert trail[:3] == [("staff:ivy", "submit"), ("staff:ivy", "verify_identity"),
                         ("staff:abe", "approve")]  # fmt: skip

    status, headers, bundle = await api.call("GET", f"/requests/{rid}/bundle", tokens["auditor"])
    assert status == 200 and headers["cache-control"] == "no-store"
    assert b"alice" not in bundle.lower()
    (tmp_path / "bundle.zip").write_bytes(bundle)
    status, _, opening = await api.call("GET", f"/requests/{rid}/opening", tokens["analyst"])
    assert status == 200
    (tmp_path / "opening.json").write_bytes(opening)
    status, headers, cert = await api.call("GET", f"/requests/{rid}/certificate", tokens["auditor"])
    assert status == 200 and rid.encode() in cert and "attachment" in headers["content-disposition"]

    keyring = tmp_path / "keyring.json"
    code, text = await run_cli(rt, "keys", "export-public", "--out", str(keyring))
    assert code == 0, text
    from dsrflow.keys.keyring import load_keyring

    root = load_keyring(keyring.read_bytes()).root_key_id
    code, text = await run_cli(
        rt, "verify", str(tmp_path / "bundle.zip"), "--keyring", str(keyring), "--root-keyid",
        root, "--request-id", rid, "--subject-opening", str(tmp_path / "opening.json"),
        "--state", str(tmp_path / "verifier.json"), "--json",
    )  # fmt: skip
    assert code == 0, text
    assert json.loads(text)["ok"] is True

    status, _, exported = await api.call("GET", "/audit/export", tokens["auditor"])
    actions = [json.loads(line)["action"] for line in exported.splitlines()]
    assert status == 200 and actions.count("download") == 3 and actions[-1] == "audit.export"
    status, verdict = await api.json("POST", "/audit/verify", tokens["auditor"], {})
    assert status == 200 and verdict["ok"], verdict


async def test_dev_serves_the_api_and_prints_its_url(demo_dir: Path, tmp_path: Path) -> None:
    port, state = free_port(), tmp_path / "state"
    env = {
        **os.environ, "DSRFLOW_STATE_DIR": str(state),
        "DSRFLOW_CATALOG": str(demo_dir / "catalog.yaml"),
        "DSRFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "DSRFLOW_CODEC_PORT": str(free_port()), "DSRFLOW_API_PORT": str(port),
    }  # fmt: skip
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        dev = subprocess.Popen([*DSRFLOW, "dev", "--no-ui"], env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (state / "dev.ready").exists():
            assert dev.poll() is None and time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.2)
        url = f"http://127.0.0.1:{port}/api/v1"
        printed = log_path.read_text()
        assert f"API           {url} (tokens: dsrflow tokens create)" in printed
        assert f"Console       http://127.0.0.1:{port}/console/ (first account:" in printed
        api = Api(url)
        assert (await api.call("GET", "/openapi.json", None))[0] == 200
        status, body = await api.json("GET", "/metrics", None)
        assert status == 401 and body == {
            "error": "a bearer token is required (dsrflow tokens create)"
        }
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
    assert dev.returncode == 0, log_path.read_text()

    # Its port taken, `dsrflow dev` says so in one line before starting anything.
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        sock.bind(("127.0.0.1", port))
        sock.listen()
        busy = subprocess.run([*DSRFLOW, "dev", "--no-ui"], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    assert busy.returncode == 2
    assert f"error: port {port} on 127.0.0.1 (API) is already in use" in busy.stderr
    assert "Traceback" not in busy.stderr

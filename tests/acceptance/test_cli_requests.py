"""Issue 8, "Must show", as an analyst runs it: the real CLI against a real Temporal dev server
(a worker on its own task queue in this process), on the newcomer's shop, on every engine.

`request submit --dry-run` changes nothing; a request that needs a person says so and returns;
the fixed catalog's erasure verifies offline; no CLI output, log line or evidence file holds
the subject's e-mail, phone, name or address.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from dsrflow.devserver import DevServer
from dsrflow.runtime import Runtime
from tests.acceptance.newcomer import (
    FK_NAMES,
    REPO,
    SUBMITTED_EMAIL,
    UNMAPPED_HIT,
    NewcomerStore,
    canaries_in,
    others,
    squash,
    subject_rows_left,
    without_noah_pointer,
)
from tests.fixtures.stack import DSRFLOW, make_runtime

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(loop_scope="session")
async def stack_for(
    temporal_server: DevServer, tmp_path: Path
) -> AsyncIterator[Callable[[Path], object]]:
    """``async with stack_for(catalog) as rt`` runs a worker for the catalog."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(catalog: Path) -> AsyncIterator[Runtime]:
        rt = make_runtime(temporal_server, tmp_path / "state", catalog)
        client = await rt.client()
        try:
            async with rt.worker(client):
                yield rt
        finally:
            rt.ledger.close()

    yield make


async def cli(rt: Runtime, *args: str, timeout: float = 120) -> tuple[int, str]:
    """The real CLI in a subprocess; killed (and the test failed) if it does not return."""
    env = {**os.environ, **rt.env, "PYTHONPATH": str(REPO), "DSRFLOW_ACTOR": "analyst:test",
           "COLUMNS": "200"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *DSRFLOW, *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        what = " ".join(args[:2])
        raise AssertionError(f"`dsrflow {what}` did not return in {timeout}s") from None
    return proc.returncode or 0, out.decode()


def rid() -> str:
    return f"acc-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("catalog", ["catalog.yaml", "catalog-fixed.yaml"])
async def test_submit_dry_run_ends_and_changes_no_store(
    shop: NewcomerStore, stack_for, catalog: str, caplog, capfd
) -> None:
    caplog.set_level("DEBUG")
    before = shop.dump()
    request_id = rid()
    async with stack_for(shop.render(catalog)) as rt:
        code, submitted = await cli(rt, "request", "submit", "--type", "erasure", "--email",
                                    SUBMITTED_EMAIL, "--request-id", request_id, "--dry-run",
                                    "--wait")  # fmt: skip
        _, shown = await cli(rt, "request", "show", request_id)
    assert "No such option" not in submitted and "Traceback" not in submitted, submitted
    assert f"request {request_id}:" in submitted, submitted  # it ended (watch printed the end)
    if catalog == "catalog.yaml":
        text = squash(submitted + shown)
        assert any(name in text for name in (*FK_NAMES, UNMAPPED_HIT)), text
    else:
        assert code == 0, submitted
    assert shop.dump() == before  # every table byte-identical
    captured = capfd.readouterr()
    for output in (submitted, shown, caplog.text, captured.out, captured.err):
        assert canaries_in(output) == [], output


async def test_erasure_that_needs_a_person_returns_and_says_so(
    shop: NewcomerStore, stack_for, caplog, capfd
) -> None:
    """`submit --wait` (and `watch`) on the newcomer's catalog: the store parks, and the
    command returns with a non-zero code naming the problem instead of waiting forever."""
    caplog.set_level("DEBUG")
    before = shop.dump()
    request_id = rid()
    async with stack_for(shop.render()) as rt:
        code, submitted = await cli(
            rt, "request", "submit", "--type", "erasure", "--email", SUBMITTED_EMAIL,
            "--request-id", request_id, "--wait",
        )  # fmt: skip
        _, shown = await cli(rt, "request", "show", request_id)
        _, listed = await cli(rt, "request", "list", "--status", "needs-attention")
    text = squash(submitted + shown)
    # A code of its own: not success, failure, usage error, internal error or interrupt.
    assert code not in (0, 1, 2, 70, 130), submitted
    assert "needs_attention" in text or "needs attention" in text, text
    assert "completed" not in squash(submitted), submitted
    assert any(name in text for name in (*FK_NAMES, UNMAPPED_HIT)), text
    assert request_id in listed
    assert shop.dump() == before  # nothing half-done
    captured = capfd.readouterr()
    for output in (submitted, shown, listed, caplog.text, captured.out, captured.err):
        assert canaries_in(output) == [], output


async def test_fixed_catalog_erasure_verifies_offline_with_no_personal_data_anywhere(
    shop: NewcomerStore, stack_for, tmp_path: Path, caplog, capfd
) -> None:
    caplog.set_level("DEBUG")
    before = shop.dump()
    request_id = rid()
    out_dir = tmp_path / "out"
    async with stack_for(shop.render("catalog-fixed.yaml")) as rt:
        code, submitted = await cli(rt, "request", "submit", "--type", "erasure", "--email",
                                    SUBMITTED_EMAIL, "--request-id", request_id, "--wait",
                                    "--out", str(out_dir))  # fmt: skip
        assert code == 0, submitted
        _, shown = await cli(rt, "request", "show", request_id)
        keyring = tmp_path / "keyring.json"
        kcode, ktext = await cli(rt, "keys", "export-public", "--out", str(keyring))
        assert kcode == 0, ktext
        root = rt.keys.keyring().root_key_id  # what the controller publishes, pinned
    assert f"request {request_id}: completed" in submitted, submitted
    bundle = out_dir / f"{request_id}-evidence-bundle.zip"
    code, verified = await cli(rt, "verify", str(bundle), "--keyring", str(keyring),
                               "--root-keyid", root, "--request-id", request_id,
                               "--subject-opening",
                               str(out_dir / f"{request_id}-subject-opening.json"),
                               "--state", str(tmp_path / "verifier.json"), "--json")  # fmt: skip
    assert code == 0, verified
    report = json.loads(verified[verified.find("{") :])
    assert report["ok"] is True
    after = shop.dump()
    assert subject_rows_left(after) == {}
    assert others(after) == without_noah_pointer(before)
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            assert canaries_in(zf.read(name)) == [], name
    for path in out_dir.iterdir():
        if "access-package" not in path.name and "subject-opening" not in path.name:
            assert canaries_in(path.read_bytes()) == [], path.name
    captured = capfd.readouterr()
    for output in (submitted, shown, verified, caplog.text, captured.out, captured.err):
        assert canaries_in(output) == [], output
    # What Temporal stores (read without the codec) holds none of it either.
    raw = await Client.connect(rt.settings.temporal_address)
    history = await raw.get_workflow_handle(request_id).fetch_history()
    blob = history.to_json().encode() + b"".join(e.SerializeToString() for e in history.events)
    assert canaries_in(blob) == []

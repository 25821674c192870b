"""``request watch`` returns when a person is needed, when the request ends, or when it closed."""

from __future__ import annotations

import pytest
import typer

from dsrflow.cli import progress
from dsrflow.domain import RequestType
from tests.fixtures.lifecycle import DEMO_SHOP, broken_store

NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}


async def test_watch_returns_when_a_store_needs_a_person(
    harness, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(stores={"shop": DEMO_SHOP, "crm": broken_store()}, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        with pytest.raises(typer.Exit) as exited:
            await progress.watch(h.rc, handle.id)
    assert exited.value.exit_code == progress.NEEDS_PERSON_EXIT == 3
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"request {handle.id} needs a person: crm failed_needs_attention;")


async def test_watch_returns_at_a_gate(harness, capsys: pytest.CaptureFixture[str]) -> None:
    async with harness(stores={"shop": DEMO_SHOP}) as h:
        handle = await h.submit(RequestType.ACCESS, email="bob@example.com")
        with pytest.raises(typer.Exit) as exited:
            await progress.watch(h.rc, handle.id)
    assert exited.value.exit_code == 3
    assert "needs a person: identity verification" in capsys.readouterr().out


async def test_watch_returns_on_a_closed_workflow(
    harness, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(stores={"shop": DEMO_SHOP}) as h:
        handle = await h.submit(RequestType.ACCESS, email="bob@example.com")
        await handle.terminate(reason="test")
        with pytest.raises(typer.Exit) as exited:
            await progress.watch(h.rc, handle.id)
    assert exited.value.exit_code == progress.CLOSED_EXIT == 4
    assert "its workflow was terminated while the request was awaiting_verification" in (
        capsys.readouterr().out
    )


async def test_watch_follows_a_request_to_its_end(
    harness, capsys: pytest.CaptureFixture[str]
) -> None:
    async with harness(stores={"shop": DEMO_SHOP}, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        view = await progress.watch(h.rc, handle.id)
    assert view.status == "completed"
    assert f"request {handle.id}: completed" in capsys.readouterr().out

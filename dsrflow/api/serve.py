"""Run an ASGI app inside an existing asyncio program (the dev stack, the worker process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host program."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do nothing: the host program owns SIGINT/SIGTERM and stops us in order."""
        yield


async def start(
    app: FastAPI, host: str, port: int, **options: Any
) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start serving; returns the server (set ``should_exit``) and its task.

    ``options`` are further ``uvicorn.Config`` arguments (TLS files, proxy settings...).
    """
    # No access log: a URL can carry a subject search (``?subject=email=...``).
    options = {"log_level": "warning", "lifespan": "off", "access_log": False, **options}
    server = EmbeddedServer(uvicorn.Config(app, host=host, port=port, **options))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # re-raise why it could not start
    return server, task


async def stop(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    """Stop serving and wait for it."""
    server.should_exit = True
    await task

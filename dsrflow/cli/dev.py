"""``dsrflow dev`` (embedded stack), ``dsrflow worker`` and ``dsrflow demo``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from dsrflow.cli.common import out, run, state
from dsrflow.errors import UserError
from dsrflow.runtime import WORKER_SHUTDOWN_GRACE

if TYPE_CHECKING:
    from temporalio.client import Client

    from dsrflow.api.serve import EmbeddedServer
    from dsrflow.runtime import Runtime

READY_FILE = "dev.ready"


class ForcedStop(Exception):
    """The worker did not stop in time; the process exits without waiting for its threads."""


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise UserError(f"DSRFLOW_TEMPORAL_ADDRESS: {address!r} is not HOST:PORT") from None


def dev(
    ctx: typer.Context,
    ui: Annotated[bool, typer.Option(help="Serve the Temporal UI.")] = True,
    api: Annotated[bool, typer.Option(help="Serve the HTTP API (DSRFLOW_API_PORT).")] = True,
) -> None:
    """Run the embedded stack: Temporal dev server (SQLite), worker, ledger, API. Ctrl-C stops."""
    from dsrflow.devserver import DevServer, ensure_port_free

    rt = state(ctx).runtime()
    _ = rt.catalog  # a bad catalog is reported before anything starts
    rt.templates.check()  # so is a broken message template (one line: file and line)
    s = rt.settings
    host, port = _host_port(s.temporal_address)
    codec = f"http://{host}:{s.codec_port}" if ui else None
    if codec:
        ensure_port_free(host, s.codec_port, "codec server")
    if api:
        ensure_port_free(s.api.host, s.api.port, "API")
    server = DevServer(s.state_dir, host, port, s.ui_port if ui else None, codec_endpoint=codec)
    server.start()
    try:
        out.print(
            f"Temporal      {server.address} (state {s.state_dir / 'temporal.db'})", markup=False
        )
        if ui:
            out.print(
                f"Temporal UI   http://{host}:{s.ui_port} (decodes via {codec})", markup=False
            )
        out.print(f"Ledger        {s.ledger_database_url}", markup=False)
        out.print(
            f"Catalog       {rt.catalog.path} ({len(rt.catalog.stores)} stores)", markup=False
        )
        run(_serve(rt, write_ready=True, codec=(host, s.codec_port) if codec else None, api=api))
    except ForcedStop:
        server.stop()
        out.print("worker did not stop in time; stopped the server and exiting")
        os._exit(3)  # activity threads may be stuck in I/O; do not wait for them
    finally:
        server.stop()
        out.print("stopped")


def worker(ctx: typer.Context) -> None:
    """Run a worker against the configured Temporal (scale out by running more of these)."""
    rt = state(ctx).runtime()
    _ = rt.catalog
    rt.templates.check()
    try:
        run(_serve(rt, write_ready=False))
    except ForcedStop:
        out.print("worker did not stop in time; exiting")
        os._exit(3)


def codec_server(ctx: typer.Context, host: str = "127.0.0.1") -> None:
    """Serve the codec endpoint on its own (point the Temporal UI's codec endpoint at it)."""
    rt = state(ctx).runtime()

    async def go() -> None:
        from dsrflow.api.serve import start, stop

        server, task = await start(rt.codec_app(), host, rt.settings.codec_port)
        out.print(
            f"Codec server  http://{host}:{rt.settings.codec_port} - Ctrl-C to stop", markup=False
        )
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, done.set)
        await done.wait()
        await stop(server, task)

    run(go())


async def _serve(
    rt: Runtime, write_ready: bool, codec: tuple[str, int] | None = None, *, api: bool = False
) -> None:
    from dsrflow.api.serve import start
    from dsrflow.devserver import ensure_port_free

    m = rt.settings.metrics
    if m.worker_port is not None:  # one line now, not uvicorn's exit once the worker runs
        ensure_port_free(
            m.worker_host, m.worker_port, "worker endpoint (DSRFLOW_METRICS_WORKER_PORT)"
        )
    client = await rt.client(sdk_metrics=True)
    codec_server = await start(rt.codec_app(), *codec) if codec is not None else None
    api_server = await _start_api(rt) if api else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready = rt.settings.state_dir / READY_FILE
    worker = rt.worker(client)
    running = asyncio.create_task(worker.run())
    # Prometheus, liveness and readiness of this worker (DSRFLOW_METRICS_WORKER_PORT; off unset).
    ops_server = await _start_worker_endpoint(rt, client, running)
    # Requests ended outside dsrflow (a Temporal terminate or timeout) and projection drift
    # are found on a schedule, not only when someone runs `dsrflow ledger reconcile`.
    reconciling = asyncio.create_task(rt.reconcile_forever(client))
    # The audit chain's head goes into the transparency log on a schedule, so a cut-off tail
    # is detectable (docs/operations.md, "The audit log").
    anchoring = asyncio.create_task(rt.anchor_forever())
    # Messages the projection put in the outbox go out from here (docs/messages.md).
    messaging = asyncio.create_task(rt.messages_forever())
    out.print(f"Worker        task queue {rt.settings.task_queue!r} - Ctrl-C to stop", markup=False)
    if write_ready:
        ready.write_text(json.dumps({"address": rt.settings.temporal_address}))
    try:
        await asyncio.wait(
            {running, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED"
        )
    finally:
        ready.unlink(missing_ok=True)
        reconciling.cancel()
        anchoring.cancel()
        messaging.cancel()
    from dsrflow.api.serve import stop as stop_server

    for started in (codec_server, api_server, ops_server):
        if started is not None:
            await stop_server(*started)
    if running.done():
        running.result()  # the worker died on its own: report why
        return
    out.print("shutting down worker...")
    # Activities get a grace period to finish; a second Ctrl-C, or a stuck activity, must not
    # keep the whole stack alive.
    stop.clear()
    shutdown = asyncio.create_task(worker.shutdown())
    await asyncio.wait(
        {shutdown, asyncio.create_task(stop.wait())},
        timeout=WORKER_SHUTDOWN_GRACE.total_seconds() + 5,
        return_when="FIRST_COMPLETED",
    )
    if not shutdown.done():
        raise ForcedStop


async def _start_worker_endpoint(
    rt: Runtime, client: Client, running: asyncio.Task[None]
) -> tuple[EmbeddedServer, asyncio.Task[None]] | None:
    """Serve the worker's /metrics, /healthz and /readyz when its port is set."""
    from dsrflow.api.serve import start

    m = rt.settings.metrics
    if m.worker_port is None:
        return None
    started = await start(rt.worker_endpoint_app(client, running), m.worker_host, m.worker_port)
    shown = f"[{m.worker_host}]" if ":" in m.worker_host else m.worker_host
    out.print(
        f"Metrics       http://{shown}:{m.worker_port}/metrics (/healthz, /readyz)", markup=False
    )
    return started


async def _start_api(rt: Runtime) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start the HTTP API next to the worker and say where it is."""
    from dsrflow.api.serve import start
    from dsrflow.cli.serve_cmd import api_url, print_pages, server_options

    a = rt.settings.api
    started = await start(rt.api_app(), a.host, a.port, **server_options(rt))
    url = api_url(a.host, a.port, tls=a.tls_cert is not None)
    out.print(f"API           {url} (tokens: dsrflow tokens create)", markup=False)
    print_pages(url)
    return started


def demo(
    ctx: typer.Context,
    out_dir: Annotated[
        str, typer.Option("--out", help="Where the demo writes its files.")
    ] = "demo-out",
) -> None:
    """Seed two demo stores, run an access and an erasure request end to end, verify the bundle."""
    from pathlib import Path

    from dsrflow.demo.run import run_demo

    code = run_demo(Path(out_dir), state(ctx).overrides)
    if code:
        raise typer.Exit(code)

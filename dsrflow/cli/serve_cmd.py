"""``dsrflow serve``: run the HTTP API (docs/api.md) against the configured ledger and Temporal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsrflow.cli.common import out, state

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Listen here (default DSRFLOW_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default DSRFLOW_API_PORT).")] = None,
) -> None:
    """Serve the HTTP API until Ctrl-C (HTTPS when DSRFLOW_API_TLS_CERT/_KEY are set)."""
    import uvicorn

    from dsrflow.devserver import ensure_port_free

    rt = state(ctx).runtime()
    api = rt.settings.api
    host = host or api.host
    port = api.port if port is None else port
    if not 0 < port < 65536:
        from dsrflow.errors import UserError

        raise UserError("--port: between 1 and 65535")
    ensure_port_free(host, port, "API")
    app = rt.api_app()  # a ledger at another revision is refused here, in one line
    url = api_url(host, port, tls=api.tls_cert is not None)
    out.print(f"API           {url} - Ctrl-C to stop", markup=False)
    print_pages(url)
    uvicorn.run(app, host=host, port=port, **server_options(rt))


def api_url(host: str, port: int, *, tls: bool) -> str:
    """The API's base URL."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/api/v1"


def print_pages(base_api_url: str) -> None:
    """Say where the console and the privacy center are, next to the API's line."""
    site = base_api_url.removesuffix("/api/v1")
    out.print(
        f"Console       {site}/console/ (first account: dsrflow accounts create NAME --role admin "
        "--prompt)",
        markup=False,
    )
    out.print(f"Privacy       {site}/privacy/ (the subjects' request forms)", markup=False)


def server_options(rt: Runtime) -> dict[str, Any]:
    """Options for uvicorn from the API settings: TLS, trusted proxies, no access log."""
    api = rt.settings.api
    options: dict[str, Any] = {
        "log_level": "warning", "access_log": False,
        "server_header": False, "proxy_headers": bool(api.forwarded_allow_ips),
    }  # fmt: skip
    if api.forwarded_allow_ips:
        options["forwarded_allow_ips"] = api.forwarded_allow_ips
    if api.tls_cert is not None:
        options["ssl_certfile"] = str(api.tls_cert)
        options["ssl_keyfile"] = str(api.tls_key)
    return options

"""Entry point of the ``dsrflow`` command.

Modules imported at start-up stay light (no Temporal, no SQLAlchemy): ``dsrflow verify`` must
work where only the verifier's dependencies are installed, and every command starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dsrflow.cli import common
from dsrflow.errors import UserError

app = typer.Typer(
    name="dsrflow",
    help="Orchestrate GDPR data-subject requests with verifiable erasure evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    state_dir: Annotated[
        Path | None, typer.Option(help="State folder (default .dsrflow, env DSRFLOW_STATE_DIR).")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalog file (default dsrflow.yaml, env DSRFLOW_CATALOG).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Who is acting, for the audit log (env DSRFLOW_ACTOR).")
    ] = None,
) -> None:
    overrides = {}
    if state_dir is not None:
        overrides["DSRFLOW_STATE_DIR"] = str(state_dir)
    if catalog is not None:
        overrides["DSRFLOW_CATALOG"] = str(catalog)
    ctx.obj = common.CliState(overrides=overrides, actor=actor)


def _register() -> None:
    from dsrflow.cli import actions, dev, ledger_cmd, log_cmd, purge, requests, stores, verify_cmd

    _ = actions  # registers its commands on the request app

    app.command("verify")(verify_cmd.verify)
    app.add_typer(verify_cmd.keys_app, name="keys")
    app.add_typer(log_cmd.log_app, name="log")
    app.add_typer(ledger_cmd.ledger_app, name="ledger")
    app.command("dev")(dev.dev)
    app.command("worker")(dev.worker)
    app.command("codec-server")(dev.codec_server)
    app.command("purge")(purge.purge)
    app.command("demo")(dev.demo)
    app.add_typer(requests.app, name="request")
    app.add_typer(stores.catalog_app, name="catalog")
    app.add_typer(stores.stores_app, name="stores")


_register()


def main() -> None:
    """Run the CLI; user errors print one line and exit non-zero, never a stack trace."""
    try:
        app(prog_name="dsrflow")
    except UserError as exc:
        common.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        common.error("interrupted")
        sys.exit(130)
    except ModuleNotFoundError as exc:
        # The base install carries only what offline verification needs (docs/evidence-format.md).
        # "\\[" because common.error prints rich markup, which would eat "[server]".
        common.error(
            f"this command needs the orchestrator stack (missing module {exc.name!r}); "
            "install it with: pip install 'dsrflow\\[server]'"
        )
        sys.exit(2)
    except Exception as exc:  # a bug: say so briefly, trace only on request
        if os.environ.get("DSRFLOW_DEBUG"):
            raise
        from dsrflow.redact import first_line

        common.error(
            f"internal error: {type(exc).__name__}: {first_line(str(exc))} "
            "(set DSRFLOW_DEBUG=1 for a trace)"
        )
        sys.exit(70)


if __name__ == "__main__":
    main()

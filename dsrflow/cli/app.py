"""The ``dsrflow`` command as a Typer app (``dsrflow.cli.main`` runs it).

Modules imported at start-up stay light (no Temporal, no SQLAlchemy): ``dsrflow verify`` must
work where only the verifier's dependencies are installed, and every command starts fast. A
command's module is imported only when that command runs (``_COMMANDS``); ``--help`` imports all.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dsrflow.cli import common

# name -> (module, attribute: a Typer app or a command function, modules that add to it)
_COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "request": ("dsrflow.cli.requests", "app", ("dsrflow.cli.actions", "dsrflow.cli.batch_cmd")),
    "catalog": ("dsrflow.cli.stores", "catalog_app", ()),
    "stores": ("dsrflow.cli.stores", "stores_app", ()),
    "scan": ("dsrflow.cli.scan_cmd", "scan", ()),
    "datamap": ("dsrflow.cli.datamap_cmd", "datamap", ()),
    "verify": ("dsrflow.cli.verify_cmd", "verify", ()),
    "keys": ("dsrflow.cli.verify_cmd", "keys_app", ()),
    "log": ("dsrflow.cli.log_cmd", "log_app", ()),
    "ledger": ("dsrflow.cli.ledger_upgrade", "ledger_app", ()),
    "audit": ("dsrflow.cli.audit_cmd", "audit_app", ()),
    "messages": ("dsrflow.cli.messages_cmd", "messages_app", ()),
    "purge": ("dsrflow.cli.purge", "purge", ()),
    "package": ("dsrflow.cli.package_cmd", "package_app", ()),
    "dev": ("dsrflow.cli.dev", "dev", ()),
    "worker": ("dsrflow.cli.dev", "worker", ()),
    "codec-server": ("dsrflow.cli.dev", "codec_server", ()),
    "serve": ("dsrflow.cli.serve_cmd", "serve", ()),
    "tokens": ("dsrflow.cli.tokens_cmd", "tokens_app", ()),
    "accounts": ("dsrflow.cli.accounts_cmd", "accounts_app", ()),
    "opendsr": ("dsrflow.cli.opendsr_cmd", "opendsr_app", ()),
    "demo": ("dsrflow.cli.dev", "demo", ()),
}

# Commands that own their embedded ledger and bring it to this version's schema themselves.
MIGRATING_COMMANDS = frozenset({"dev", "demo"})


class _LazyGroup(TyperGroup):
    """The top-level group: builds a command from its module the first time it is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module, attr, extras = _COMMANDS[cmd_name]
            for extra in extras:
                importlib.import_module(extra)
            target = getattr(importlib.import_module(module), attr)
            if not isinstance(target, typer.Typer):
                single = typer.Typer(add_completion=False)
                single.command(cmd_name)(target)
            # A sub-app stays a group even with one command; a function becomes that command.
            command = (
                typer.main.get_group(target)
                if isinstance(target, typer.Typer)
                else typer.main.get_command(single)
            )
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # Typer suggests only among commands already built; suggest among all of them.
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            matches = get_close_matches(name, self.list_commands(ctx))
            hint = f". Did you mean {', '.join(map(repr, matches))}?" if matches else "."
            ctx.fail(f"No such command {name!r}{hint}")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_LazyGroup,
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
    ctx.obj = common.CliState(
        overrides=overrides,
        actor=actor,
        migrate_ledger=ctx.invoked_subcommand in MIGRATING_COMMANDS,
    )

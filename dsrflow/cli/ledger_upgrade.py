"""``dsrflow ledger upgrade``: bring the ledger to this dsrflow's schema, on purpose.

Every other command only checks the ledger's revision and refuses to start when it is behind;
this is the one place (with ``dsrflow dev`` for its embedded ledger) that changes the schema.
"""

from __future__ import annotations

import typer

from dsrflow.cli.common import out, state

ledger_app = typer.Typer(help="The ledger database.", no_args_is_help=True)


@ledger_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply the ledger's pending migrations (a new ledger gets the whole schema)."""
    from dsrflow.service.operations import UpgradeLedger

    st = state(ctx)
    shown, before, after = UpgradeLedger(st.runtime()).run(st.principal())
    if before == after:
        line = f"ledger {shown}: already at revision {after}"
    else:
        line = f"ledger {shown}: upgraded from {before or 'an empty database'} to {after}"
    out.print(line, soft_wrap=True, markup=False, highlight=False)


def _register_reconcile() -> None:
    from dsrflow.cli.ledger_cmd import reconcile

    ledger_app.command("reconcile")(reconcile)


_register_reconcile()

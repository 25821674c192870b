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
    from dsrflow.ledger import Ledger

    url = state(ctx).runtime().settings.ledger_database_url
    ledger = Ledger(url, migrate=True)
    try:
        shown = ledger.engine.url.render_as_string(hide_password=True)
        done = ledger.upgraded
        assert done is not None  # opened with migrate=True
    finally:
        ledger.close()
    if done.before == done.after:
        line = f"ledger {shown}: already at revision {done.after}"
    else:
        line = f"ledger {shown}: upgraded from {done.before or 'an empty database'} to {done.after}"
    out.print(line, soft_wrap=True, markup=False, highlight=False)

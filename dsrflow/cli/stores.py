"""``dsrflow catalog ...`` and ``dsrflow stores ...``: inspect and test the store catalog."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dsrflow.cli.common import out, state

catalog_app = typer.Typer(help="The store catalog (config-as-code).", no_args_is_help=True)
stores_app = typer.Typer(help="Registered data stores.", no_args_is_help=True)


@catalog_app.command("validate")
def validate(ctx: typer.Context) -> None:
    """Validate the catalog; every problem is reported with file, line and field."""
    cat = state(ctx).runtime().catalog
    out.print(f"{cat.path}: OK, {len(cat.stores)} stores ({cat.digest})")


@stores_app.command("validate")
def stores_validate(ctx: typer.Context) -> None:
    """Same as ``dsrflow catalog validate``."""
    validate(ctx)


@stores_app.command("list")
def list_stores(ctx: typer.Context) -> None:
    """List the stores in the catalog."""
    cat = state(ctx).runtime().catalog
    table = Table()
    for col in ("store", "adapter", "capabilities", "identity source", "after", "enabled"):
        table.add_column(col)
    for s in cat.stores.values():
        table.add_row(
            s.name, s.common.adapter, ", ".join(sorted(s.capabilities)),
            "yes" if s.common.identity_source else "", ", ".join(s.common.after),
            "yes" if s.common.enabled else "no",
        )  # fmt: skip
    out.print(table)


@stores_app.command("show")
def show_store(ctx: typer.Context, name: str) -> None:
    """Show one store's validated configuration (secrets are env-var names only)."""
    from dsrflow.catalog.pool import AdapterPool

    rt = state(ctx).runtime()
    entry = AdapterPool(rt.catalog, rt.registry, rt.env).entry(name)
    out.print_json(data={"store": name, **entry.common.model_dump(mode="json"),
                         **entry.config.model_dump(mode="json", by_alias=True)})  # fmt: skip


@stores_app.command("test")
def test_store(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Store to test (default: all).")] = None,
) -> None:
    """Connect to a store and check every declared table, column and privilege."""
    from dsrflow.catalog.pool import AdapterPool

    rt = state(ctx).runtime()
    pool = AdapterPool(rt.catalog, rt.registry, rt.env)
    names = [name] if name else list(rt.catalog.stores)
    failed = 0
    try:
        for store in names:
            pool.entry(store)
            report = pool.get(store).check_connection()
            for check in report.checks:
                mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
                out.print(f"{mark} {store}: {check.name}: {check.detail}", soft_wrap=True)
            failed += 0 if report.ok else 1
    finally:
        pool.close()
    if failed:
        out.print(f"[red]{failed} store(s) failed[/]")
        raise typer.Exit(1)

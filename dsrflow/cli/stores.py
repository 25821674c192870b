"""``dsrflow catalog ...`` and ``dsrflow stores ...``: inspect and test the store catalog."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli.common import out, state
from dsrflow.errors import ConfigError, UserError

catalog_app = typer.Typer(help="The store catalog (config-as-code).", no_args_is_help=True)
stores_app = typer.Typer(help="Registered data stores.", no_args_is_help=True)


def _catalog(ctx: typer.Context) -> Any:
    from dsrflow.service.operations import ReadCatalog

    st = state(ctx)
    return ReadCatalog(st.runtime()).run(st.principal())


@catalog_app.command("validate")
def validate(ctx: typer.Context) -> None:
    """Validate the catalog; every problem is reported with file, line and field."""
    cat = _catalog(ctx)
    out.print(f"{cat.path}: OK, {len(cat.stores)} stores ({cat.digest})", markup=False)


@stores_app.command("validate")
def stores_validate(ctx: typer.Context) -> None:
    """Same as ``dsrflow catalog validate``."""
    validate(ctx)


@stores_app.command("list")
def list_stores(ctx: typer.Context) -> None:
    """List the stores in the catalog."""
    cat = _catalog(ctx)
    table = Table()
    for col in ("store", "adapter", "capabilities", "identity source", "after", "enabled"):
        table.add_column(col)
    for s in cat.stores.values():
        table.add_row(
            escape(s.name), escape(s.common.adapter), escape(", ".join(sorted(s.capabilities))),
            "yes" if s.common.identity_source else "", escape(", ".join(s.common.after)),
            "yes" if s.common.enabled else "no",
        )  # fmt: skip
    out.print(table)


@stores_app.command("show")
def show_store(ctx: typer.Context, name: str) -> None:
    """Show one store's validated configuration (secrets are env-var names only)."""
    from dsrflow.service.operations import ReadCatalog

    st = state(ctx)
    out.print_json(data=ReadCatalog(st.runtime()).store(st.principal(), name))


@stores_app.command("test")
def test_store(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Store to test (default: all).")] = None,
    subject: Annotated[
        list[str] | None,
        typer.Option(
            "--subject",
            help="KIND=VALUE of a test subject (repeatable): also run the real access in a "
            "transaction that is rolled back, and print what it finds.",
        ),
    ] = None,
    erase: Annotated[
        bool, typer.Option("--erase", help="With --subject: also run the real erasure.")
    ] = False,
) -> None:
    """Connect to a store and check every table, column, foreign key and privilege.

    With ``--subject``, a dry run follows: the real access (and with ``--erase`` the real
    erasure), then the residual sweep, all in one transaction that is rolled back. It prints
    counts, foreign-key problems, sweep hits and statement templates, never a value.
    """
    from dsrflow.service.operations import TestStores

    if erase and not subject:
        raise UserError("--erase needs --subject KIND=VALUE")
    if subject and not name:
        raise UserError("--subject needs a STORE: the dry run tests one store")
    identities = _parse_subject(subject or [])
    st = state(ctx)
    pool, names = TestStores(st.runtime()).open(
        st.principal(), name, subject_given=bool(identities), erase=erase
    )
    failed = 0
    try:
        for store in names:
            pool.entry(store)
            report = pool.get(store).check_connection()
            for check in report.checks:
                mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
                if check.ok and getattr(check, "warning", False):
                    mark = "[yellow]WARN[/]"
                # Details come from drivers and name things in brackets ([redacted]): no markup.
                line = escape(f"{store}: {check.name}: {check.detail}")
                out.print(f"{mark} {line}", soft_wrap=True)
            ok = report.ok
            if identities:
                ok = _dry_run(pool, store, report, identities, erase) and ok
            failed += 0 if ok else 1
    finally:
        pool.close()
    if failed:
        out.print(f"[red]{failed} store(s) failed[/]")
        raise typer.Exit(1)


def _parse_subject(pairs: list[str]) -> list[tuple[str, str]]:
    """``KIND=VALUE`` options as (kind, normalised value); errors never echo the value."""
    from dsrflow.identity import normalize_value, valid_kind
    from dsrflow.service import checks

    out = []
    for i, pair in enumerate(pairs, 1):
        kind, sep, value = pair.partition("=")
        if not sep or not value.strip() or not valid_kind(kind):
            raise UserError(f"--subject #{i}: expected KIND=VALUE with a lower-case kind")
        checks.text(value, f"--subject #{i}")
        out.append((kind, normalize_value(kind, value)))
    return out


def _dry_run(
    pool: Any, store: str, report: Any, identities: list[tuple[str, str]], erase: bool
) -> bool:
    """Print the store-level dry run; True when it found no problem."""
    from dsrflow.adapters.sdk import AdapterError, Subject, spec_of
    from dsrflow.domain import Identity

    adapter = pool.get(store)
    spec = spec_of(adapter)
    if not (spec.supports_dry_run and spec.has_store_dry_run):
        out.print(escape(f"dry run: store {store} (adapter {adapter.name}) has none"))
        return False
    if any(not c.ok and c.name.startswith(("connect", "schema")) for c in report.checks):
        out.print(escape(f"dry run: {store}: skipped until connect and schema pass"))
        return False
    subject = Subject.of([Identity(k, v) for k, v in identities])
    try:
        # The same sweep budget the workflow's sweep would use for this store.
        budget = pool.entry(store).common.sweep.budget()
        dry = adapter.dry_run_store(subject, erase=erase, budget=budget)
    except AdapterError as exc:  # the store went away, or its schema changed meanwhile
        out.print(f"[red]FAIL[/] {escape(f'{store}: dry run: {exc}')}", soft_wrap=True)
        return False
    _print_dry_run(dry, erase)
    return bool(dry.ok)


def _print_dry_run(d: Any, erase: bool) -> None:
    """Counts, problems and statement shapes of a dry run (no values)."""
    what = "access, erasure and sweep" if erase else "access and sweep"
    out.print(escape(f"dry run {d.store}: {what} in one transaction, rolled back"))
    for line in d.resolved:
        out.print(escape(f"  resolved   {line}"))
    for coll, rows in d.access:
        out.print(escape(f"  access     {coll}: {rows} {'row' if rows == 1 else 'rows'}"))
    for c in d.erase or []:
        left = "" if c.residual is None else f", residual {c.residual}"
        out.print(escape(f"  erase      {c.collection}: {c.action} matched {c.matched}, "
                         f"affected {c.affected}{left}"), soft_wrap=True)  # fmt: skip
    if d.refused:
        out.print(f"[red]FAIL[/] {escape('erase: ' + d.refused)}", soft_wrap=True)
    # Foreign-key problems and widening references are the FAIL/WARN lines of the checks above;
    # here, what the widening means for this subject.
    for line in d.shared:
        out.print(f"[yellow]WARN[/] {escape(line)}", soft_wrap=True)
    if d.sweep is None:
        out.print(escape(f"  {d.sweep_note or 'sweep: not run'}"))
    elif d.sweep.hit_count:
        out.print(f"[red]FAIL[/] {escape('sweep: ' + d.sweep.reason())}", soft_wrap=True)
    else:
        n = len(d.sweep.searched)
        out.print(escape(f"  sweep      no hits in {n} column(s) searched"))
    if d.sweep is not None:
        for gap in d.sweep.not_swept:
            out.print(f"[yellow]WARN[/] {escape('sweep: not swept: ' + gap)}", soft_wrap=True)
    out.print("  statements (templates, no values):")
    for stmt in d.statements:
        out.print(escape("    " + " ".join(stmt.split())), soft_wrap=True)


@catalog_app.command("import-fides")
def import_fides(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="Fides dataset YAML file.")],
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (no password).")] = None,
    url_env: Annotated[str | None, typer.Option(help="Env var holding the URL.")] = None,
    password_env: Annotated[str | None, typer.Option(help="Env var holding the password.")] = None,
    schema: Annotated[str | None, typer.Option(help="Database schema of the tables.")] = None,
    store: Annotated[str | None, typer.Option(help="Store name (default: fides_key).")] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the catalog here (default: stdout).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
    offline: Annotated[
        bool, typer.Option(help="Do not read the live schema (keys/NOT NULL from Fides only).")
    ] = False,
) -> None:
    """Turn a Fides dataset into SQL-adapter catalog entries, validated before writing."""
    from dsrflow.catalog import load_catalog
    from dsrflow.catalog.fides import import_fides as build
    from dsrflow.catalog.fides import render, sql_reflector

    if output is not None and output.exists() and not force:
        raise UserError(f"{output}: already exists (use --force to overwrite)")
    connection = {k: v for k, v in {"url": url, "url_env": url_env,
                  "password_env": password_env, "schema": schema}.items() if v}  # fmt: skip
    if ("url" in connection) == ("url_env" in connection):
        raise UserError("give exactly one of --url or --url-env")
    base = (output or Path.cwd() / "dsrflow.yaml").resolve().parent
    reflect = None
    if not offline:
        reflect = sql_reflector(store or "imported", connection, dict(os.environ), base)
    catalog, notes = build(dataset, connection, store, reflect)
    text = render(catalog, dataset.name, notes)
    # Validate exactly what will be written, as `dsrflow catalog validate` would.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=base, delete=False) as tmp:
        tmp.write(text)
    try:
        load_catalog(Path(tmp.name), state(ctx).runtime().registry)  # honours the blocklist
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(tmp.name, f"{dataset} (imported)")) from None
    finally:
        Path(tmp.name).unlink()
    if output is None:
        typer.echo(text, nl=False)  # plain: the YAML must reach the pipe byte for byte
        return
    output.write_text(text, encoding="utf-8")
    for note in notes:
        typer.echo(f"  {note}", err=True)
    count = sum(len(s["collections"]) for s in catalog["stores"].values())
    out.print(f"{output}: {len(catalog['stores'])} store(s), {count} collections; "
              "run `dsrflow catalog validate`", markup=False, soft_wrap=True)  # fmt: skip

"""Reading a SQL store's declared tables, blaming each missing thing on the line that names it."""

from __future__ import annotations

import warnings

from sqlalchemy import Engine, MetaData, Table

from dsrflow.adapters.sdk import AdapterContext
from dsrflow.adapters.sql.config import CollectionConfig, SqlConfig
from dsrflow.adapters.sql.engine import map_error


class SchemaReader:
    """Reflects every collection's table and checks the columns the catalog names."""

    def __init__(self, store: str, config: SqlConfig, ctx: AdapterContext) -> None:
        self.store = store
        self.config = config
        self.ctx = ctx

    def read(self, engine: Engine) -> tuple[dict[str, Table], list[tuple[str, str]]]:
        """Every collection's table, and ``(collection, message)`` for each thing missing.

        A column is blamed on the collection (and catalog line) that names it: a reference to
        ``customers.idd`` is a problem of the referencing collection, not of ``customers``.

        Raises:
            AdapterError: A retryable failure (an outage, not a catalog problem).

        """
        meta = MetaData(schema=self.config.connection.schema_)
        tables: dict[str, Table] = {}
        problems: list[tuple[str, str]] = []
        for name, coll in self.config.collections.items():
            try:
                with warnings.catch_warnings():
                    # The expression indexes docs/catalog.md recommends (lower(trim(email)))
                    # are not reflected by SQLAlchemy; expected, not news for the person.
                    warnings.filterwarnings(
                        "ignore", "Skipped unsupported reflection of expression"
                    )
                    tables[name] = Table(coll.table or name, meta, autoload_with=engine)
            except Exception as exc:
                error = map_error(self.store, exc, f"reading collection {name}")
                if error.retryable:
                    raise error from None  # an outage, not a catalog problem: retry later
                where = self.ctx.where("collections", name, *(("table",) if coll.table else ()))
                problems.append((name, f"{where}{error}"))
                continue
            for col, path in declared_columns(coll).items():
                if col not in tables[name].c:
                    problems.append((name, self._missing(name, path, tables[name].name, col)))
        for name, coll in self.config.collections.items():
            targets: list[tuple[str, str, tuple[str, ...], str, str]] = [
                ("reference", c, ("references", c), p, pc) for c, p, pc in coll.referenced()
            ]
            targets += [
                ("pointer", c, ("pointers", c, "to"), *r.target()) for c, r in coll.pointers.items()
            ]
            for label, col, path, parent, pcol in targets:
                ptable = tables.get(parent)
                if ptable is not None and pcol not in ptable.c:
                    what = f"{label} {col} -> {parent}.{pcol}: table {ptable.name}"
                    problems.append((name, self._missing(name, path, ptable.name, pcol, what)))
        return tables, problems

    def _missing(
        self, name: str, path: tuple[str, ...], table: str, col: str, what: str | None = None
    ) -> str:
        where = self.ctx.where("collections", name, *path)
        what = what or f"table {table}"
        return f"{where}store {self.store!r}: collection {name}: {what} has no column {col!r}"


def declared_columns(coll: CollectionConfig) -> dict[str, tuple[str, ...]]:
    """Every column of its own table a collection names -> where the catalog names it first."""
    cols: dict[str, tuple[str, ...]] = {}
    named: list[tuple[str, tuple[str, ...]]] = [(c, ("identities", c)) for c in coll.identities]
    named += [(c, ("provides", c)) for c in coll.provides]
    named += [(c, ("references", c)) for c in coll.references]
    named += [(c, ("erase", "fields", c)) for c in coll.erase.fields]
    named += [(c, ("rectify", f)) for f, c in coll.rectify.items()]
    named += [(coll.restrict.column, ("restrict", "column"))] if coll.restrict else []
    named += [(c, ("pointers", c)) for c in coll.pointers]
    for col, path in named:
        cols.setdefault(col, path)
    return cols

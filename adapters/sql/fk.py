"""Foreign keys of the store's schema: reflection, erasure order, and what blocks an erasure.

The catalog says which rows are the subject's; the database says, through its foreign keys,
which rows must go first and which deletes it will refuse or cascade. Both are needed: a first
correct-looking catalog must not fail half-way through an erasure on a constraint it did not
mention, and a cascade must not change rows the receipt does not count.

An incoming foreign key into a collection the erasure changes (deletes, or rewrites the
referenced columns of) is *covered* when a catalog collection on the referencing table is found
through exactly that key (a declared reference) and clears the link (deletes its rows or rewrites
the key columns), or when a pointer rule unlinks the referencing rows. Everything else is a
problem: ``stores test`` names it, and ``erase`` counts the rows that would be hit, inside its
transaction, before it changes anything, and refuses if there are any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    UniqueConstraint,
    and_,
    column,
    false,
    func,
    inspect,
    not_,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    from dsrflow.adapters.sql.plan import SqlPlan

_CASCADING = ("CASCADE", "SET NULL", "SET DEFAULT")


@dataclass(frozen=True)
class ForeignKey:
    """One reflected foreign-key constraint (names only, no data).

    Attributes:
        name: The constraint's name (None where the engine has none, e.g. unnamed in SQLite).
        table: The referencing table.
        columns: Its key columns.
        referred_table: The referenced table.
        referred_columns: The referenced columns, in the same order.
        ondelete: ``NO ACTION``, ``RESTRICT``, ``CASCADE``, ``SET NULL`` or ``SET DEFAULT``.
        onupdate: The same for updates of the referenced columns.

    """

    name: str | None
    table: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str = "NO ACTION"
    onupdate: str = "NO ACTION"

    @property
    def label(self) -> str:
        """``fk <name>`` as ``stores test`` prints it."""
        return f"fk {self.name}" if self.name else "fk (unnamed)"

    @property
    def arrow(self) -> str:
        """``orders.customer_id -> customers.id`` (composite keys in parentheses)."""

        def side(tbl: str, cols: tuple[str, ...]) -> str:
            return f"{tbl}.{cols[0]}" if len(cols) == 1 else f"{tbl}.({', '.join(cols)})"

        to = side(self.referred_table, self.referred_columns)
        return f"{side(self.table, self.columns)} -> {to}"

    def on(self, action: str) -> str:
        """The rule for ``delete`` or ``update`` of the referenced row."""
        return self.ondelete if action == "delete" else self.onupdate


@dataclass(frozen=True)
class FkProblem:
    """An incoming foreign key the catalog does not cover.

    Attributes:
        fk: The constraint.
        parent: The catalog collection whose erasure it blocks or cascades from.
        action: ``delete`` or ``update`` (an anonymisation rewriting a referenced column).
        reason: Why it is not covered, naming tables and columns.
        unlinked_by: Collections on the referencing table whose own erasure clears the link
            first; rows they match are not counted as blocking.

    """

    fk: ForeignKey
    parent: str
    action: str
    reason: str
    unlinked_by: tuple[str, ...] = ()

    @property
    def cascades(self) -> bool:
        """Whether the database would change the referencing rows itself."""
        return self.fk.on(self.action) in _CASCADING

    def detail(self) -> str:
        """``orders.customer_id -> customers.id blocks delete of customers (...)``."""
        if self.cascades:
            rule = f"ON {self.action.upper()} {self.fk.on(self.action)}"
            verb = f"cascades ({rule}) from {self.parent} into {self.fk.table}"
        else:
            verb = f"blocks {self.action} of {self.parent}"
        return f"{self.fk.arrow} {verb} ({self.reason})"


_FkKey = tuple[str, str, tuple[str, ...]]
"""(table, referred table, constrained columns): one foreign key of a table."""


def reflect_foreign_keys(bind: Any, schema: str | None) -> list[ForeignKey]:
    """Every foreign key between tables of the store's schema (one catalog query per engine)."""
    found = inspect(bind).get_multi_foreign_keys(schema=schema)
    rules = _sqlite_rules(bind, [t for _, t in found]) if bind.dialect.name == "sqlite" else {}
    out = []
    for (_, tbl), fks in sorted(found.items(), key=lambda kv: kv[0][1]):
        for fk in fks:
            if fk.get("referred_schema") not in (None, schema):
                continue  # into another schema: none of the catalog's tables
            options = fk.get("options") or {}
            key = (tbl, fk["referred_table"], tuple(fk["constrained_columns"]))
            options = {**rules.get(key, {}), **options}
            out.append(
                ForeignKey(
                    name=fk.get("name"),
                    table=tbl,
                    columns=tuple(fk["constrained_columns"]),
                    referred_table=fk["referred_table"],
                    referred_columns=tuple(fk["referred_columns"]),
                    ondelete=(options.get("ondelete") or "NO ACTION").upper(),
                    onupdate=(options.get("onupdate") or "NO ACTION").upper(),
                )
            )
    return out


def _sqlite_rules(bind: Any, tables: list[str]) -> dict[_FkKey, dict[str, str]]:
    """ON DELETE/UPDATE rules from SQLite itself (SQLAlchemy's DDL parsing misses inline ones)."""
    out: dict[_FkKey, dict[str, str]] = {}
    with bind.connect() as conn:
        for tbl in tables:
            quoted = conn.dialect.identifier_preparer.quote(tbl)
            by_id: dict[int, list[Any]] = {}
            for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list({quoted})"):
                by_id.setdefault(row[0], []).append(row)
            for fk_rows in by_id.values():
                fk_rows.sort(key=lambda r: r[1])
                key = (tbl, fk_rows[0][2], tuple(r[3] for r in fk_rows))
                out[key] = {"onupdate": fk_rows[0][5], "ondelete": fk_rows[0][6]}
    return out


def by_table(plan: SqlPlan) -> dict[str, list[str]]:
    """Table name -> the catalog collections on it, in declaration order."""
    out: dict[str, list[str]] = {}
    for name, tbl in plan.tables.items():
        out.setdefault(tbl.name, []).append(name)
    return out


def changes(plan: SqlPlan, name: str, columns: tuple[str, ...]) -> str | None:
    """Whether erasing a collection deletes its rows or rewrites one of ``columns``."""
    spec = plan.coll(name).erase
    if spec.strategy == "delete":
        return "delete"
    if spec.strategy == "anonymize" and set(columns) & set(spec.fields):
        return "update"
    return None


def unlinks(plan: SqlPlan, name: str, columns: tuple[str, ...]) -> bool:
    """Whether erasing a collection removes its rows' link through ``columns``."""
    return changes(plan, name, columns) is not None


def _declares(plan: SqlPlan, child: str, fk: ForeignKey, parent: str) -> bool:
    refs = set(plan.coll(child).referenced())
    return all((c, parent, p) in refs for c, p in zip(fk.columns, fk.referred_columns, strict=True))


def _pointer_covers(plan: SqlPlan, holder: str, fk: ForeignKey, parent: str) -> bool:
    if len(fk.columns) != 1:
        return False
    rule = plan.coll(holder).pointers.get(fk.columns[0])
    if rule is None or rule.target() != (parent, fk.referred_columns[0]):
        return False
    # The holder's own (the subject's) rows are not unlinked by the rule: its erasure must.
    coll = plan.coll(holder)
    return not (coll.identities or coll.references) or unlinks(plan, holder, fk.columns)


def order_constraints(plan: SqlPlan) -> list[tuple[str, str]]:
    """``(first, then)``: a collection that clears a link before the collection it points at."""
    tables = by_table(plan)
    out = []
    for fk in plan.fks:
        for parent in tables.get(fk.referred_table, []):
            if changes(plan, parent, fk.referred_columns) is None:
                continue
            for child in tables.get(fk.table, []):
                if child != parent and unlinks(plan, child, fk.columns):
                    out.append((child, parent))
    return out


def fk_problems(plan: SqlPlan) -> list[FkProblem]:
    """Every incoming foreign key that would block or cascade beyond what the catalog covers."""
    tables = by_table(plan)
    out = []
    for fk in plan.fks:
        for parent in tables.get(fk.referred_table, []):
            action = changes(plan, parent, fk.referred_columns)
            if action is None:
                continue
            children = tables.get(fk.table, [])
            clearing = tuple(c for c in children if unlinks(plan, c, fk.columns))
            if any(_declares(plan, c, fk, parent) for c in clearing) or any(
                _pointer_covers(plan, h, fk, parent) for h in children
            ):
                continue
            out.append(FkProblem(fk, parent, action, _reason(plan, fk, parent), clearing))
    return out


def _reason(plan: SqlPlan, fk: ForeignKey, parent: str) -> str:
    children = by_table(plan).get(fk.table, [])
    if not children:
        return f"{fk.table} is not in the catalog"
    link = f"{', '.join(fk.columns)} -> {parent}.{', '.join(fk.referred_columns)}"
    declaring = [c for c in children if _declares(plan, c, fk, parent)]
    if declaring:
        names = ", ".join(declaring)
        return f"{names} keeps its rows and their {', '.join(fk.columns)}"
    if fk.table == plan.tables[parent].name and len(fk.columns) == 1:
        example = f"{{{fk.columns[0]}: {{to: {parent}.{fk.referred_columns[0]}, set: null}}}}"
        return f"other rows of {fk.table} may point at the subject's: add pointers: {example}"
    verb = "is" if len(children) == 1 else "are"
    return (
        f"{', '.join(children)} {verb} not found through {link}: rows that point at the "
        f"subject's {parent} rows without matching her otherwise would be left pointing"
    )


def blocking_rows(
    conn: Connection,
    plan: SqlPlan,
    problem: FkProblem,
    clauses: dict[str, ColumnElement[bool] | None],
) -> int:
    """Rows of the referencing table that point at the rows the erasure will change.

    Counted before anything changes, inside the erasing transaction; rows the referencing
    table's own collections clear first are not counted.
    """
    fk, parent_clause = problem.fk, clauses.get(problem.parent)
    if parent_clause is None:
        return 0
    children = by_table(plan).get(fk.table, [])
    child = plan.tables[children[0]] if children else _light_table(plan, fk)
    ptable = plan.tables[problem.parent]
    sub = select(*[ptable.c[c] for c in fk.referred_columns]).where(parent_clause)
    keys = [child.c[c] for c in fk.columns]
    cond = keys[0].in_(sub) if len(keys) == 1 else tuple_(*keys).in_(sub)
    cleared = [cl for c in problem.unlinked_by if (cl := clauses.get(c)) is not None]
    if cleared:
        either = or_(*cleared) if len(cleared) > 1 else cleared[0]
        cond = and_(cond, not_(func.coalesce(either, false(), type_=Boolean)))
    stmt = select(func.count()).select_from(child).where(cond)
    return int(conn.execute(stmt).scalar_one())


def _light_table(plan: SqlPlan, fk: ForeignKey) -> Any:
    """A table outside the catalog, named (and quoted) by SQLAlchemy, with its key columns."""
    return table(fk.table, *[column(c) for c in fk.columns], schema=plan.config.connection.schema_)


def is_unique(plan: SqlPlan, name: str, col: str) -> bool:
    """Whether a column alone is a key of its table (primary key, unique constraint or index)."""
    tbl = plan.tables[name]
    if {c.name for c in tbl.primary_key.columns} == {col}:
        return True
    if any(ix.unique and [c.name for c in ix.columns] == [col] for ix in tbl.indexes):
        return True
    return any(
        isinstance(con, UniqueConstraint) and [c.name for c in con.columns] == [col]
        for con in tbl.constraints
    )


def widening_edges(plan: SqlPlan) -> list[tuple[str, str, str, str]]:
    """``(collection, column, parent, parent column)`` of references others' rows can share.

    A reference matched through a parent column that is neither unique nor one of the parent's
    identity or ``provides`` columns.
    """
    identity_cols = {
        (n, c)
        for n, coll in plan.config.collections.items()
        for c in [*coll.identities, *coll.provides]
    }
    return [
        (name, col, parent, pcol)
        for name, coll in plan.config.collections.items()
        for col, parent, pcol in coll.referenced()
        if (parent, pcol) not in identity_cols and not is_unique(plan, parent, pcol)
    ]


def widening_references(plan: SqlPlan) -> list[tuple[str, str]]:
    """``(check name, detail)`` for every reference matched through a column others can share.

    ``addresses.references: {id: orders.shipping_address_id}`` makes an address the subject's
    when one of her orders points at it; if other people's orders may point at the same address
    (the column is not unique), erasing her takes it from them too.
    """
    out = []
    for name, col, parent, pcol in widening_edges(plan):
        strategy = plan.coll(name).erase.strategy
        out.append(
            (
                f"reference {name}.{col}",
                f"{name}.{col} = {parent}.{pcol} widens matching: {parent}.{pcol} is not "
                f"unique, so other people's {parent} rows can point at the same {name} row "
                f"and erasing the subject ({strategy}) would take it from them "
                f"too; key {name} by its owner, or make sure its rows are never shared",
            )
        )
    return out


def shared_rows(
    conn: Connection, plan: SqlPlan, subject: Any, edge: tuple[str, str, str, str]
) -> int:
    """Rows a widening reference gives the subject that other people's rows point at too."""
    name, col, parent, pcol = edge
    mine = plan.match(parent, subject)
    if mine is None:
        return 0
    ptable, tbl = plan.tables[parent], plan.tables[name]
    hers = select(ptable.c[pcol]).where(mine)
    theirs = select(ptable.c[pcol]).where(
        not_(func.coalesce(mine, false(), type_=Boolean)), ptable.c[pcol].is_not(None)
    )
    stmt = select(func.count()).select_from(tbl).where(tbl.c[col].in_(hers), tbl.c[col].in_(theirs))
    return int(conn.execute(stmt).scalar_one())

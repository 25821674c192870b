"""Statement building for the SQL adapter: which rows belong to a subject, and in what order.

Rows are matched set-based: a collection matches on its identity columns, each by its match mode
(``lower(trim(col)) IN :values`` for e-mail, see ``normalize.py``), and through references to a
parent collection (``col IN (SELECT parent_col FROM parent WHERE ...)``, exact).
All names come from reflected ``Table`` objects, so the dialect quotes them and a name that is not
a real table or column never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Delete, Update
from sqlalchemy.sql.elements import ColumnElement

from dsrflow.adapters.sdk import PermanentAdapterError, Subject
from dsrflow.adapters.sdk.graph import find_cycle, topo_levels
from dsrflow.adapters.sdk.identity import DEFAULT_KINDS, TRIMMED, IdentityKinds
from dsrflow.adapters.sdk.sweeping import escape_like
from dsrflow.adapters.sql.config import (
    CollectionConfig,
    FixedValue,
    HmacValue,
    PointerSpec,
    RandomValue,
    SqlConfig,
)
from dsrflow.adapters.sql.fk import ForeignKey, order_constraints
from dsrflow.adapters.sql.normalize import is_mysql, normalized

Edge = tuple[str, str]  # (parent collection, parent column)


class SqlPlan:
    """Match clauses and erasure order for one store's collections over reflected tables."""

    def __init__(
        self,
        store: str,
        config: SqlConfig,
        tables: dict[str, Table],
        dialect: str = "sqlite",
        *,
        kinds: IdentityKinds | None = None,
        ci_columns: frozenset[tuple[str, str]] = frozenset(),
        fks: Sequence[ForeignKey] = (),
    ) -> None:
        self.store = store
        self.config = config
        self.tables = tables
        self.dialect = dialect
        self.kinds = kinds or DEFAULT_KINDS
        # MariaDB/MySQL (collection, column) pairs with a case-insensitive pad-space collation.
        self.ci_columns = ci_columns
        self.fks = list(fks)  # every foreign key of the schema (see fk.py)
        self._order: list[str] | None = None
        self._provided = {
            (name, col): kind
            for name, coll in config.collections.items()
            for col, kind in {**coll.identity_kinds(), **coll.provides}.items()
        }

    def coll(self, name: str) -> CollectionConfig:
        """Config of one collection."""
        return self.config.collections[name]

    def is_key_edge(self, parent: str, parent_col: str) -> bool:
        """Whether a reference targets the parent's primary key (the child holds the FK)."""
        pk = {c.name for c in self.tables[parent].primary_key.columns}
        return pk == {parent_col}

    def value_edges(self) -> list[Edge]:
        """Parent columns whose values must be read before anything changes.

        A reference whose parent is erased before its child (the parent holds the foreign key,
        or the database's keys demand it) can no longer find the child through a subquery
        afterwards; neither can a pointer rule once the rows pointed at are gone.
        """
        pos = {name: i for i, name in enumerate(self.erase_order())}
        edges = {
            (parent, pcol)
            for name, coll in self.config.collections.items()
            for _, parent, pcol in coll.referenced()
            if pos[parent] < pos[name]
        }
        edges |= {rule.target() for _, _, rule in self.pointer_rules()}
        return sorted(edges)

    def match(
        self,
        name: str,
        subject: Subject,
        values: dict[Edge, list[Any]] | None = None,
    ) -> ColumnElement[bool] | None:
        """WHERE clause selecting the subject's rows of one collection (None: cannot match)."""
        coll, table = self.coll(name), self.tables[name]
        values = values or {}
        clauses: list[ColumnElement[bool]] = []
        for column, spec in coll.identities.items():
            clause = self.identity_clause(name, column, subject.values(spec.kind))
            if clause is not None:
                clauses.append(clause)
        for column, parent, pcol in coll.referenced():
            kind = self._provided.get((parent, pcol))
            if kind and subject.values(kind):
                # The parent's column is itself an identity: match directly, so the rows stay
                # findable (and verifiable) after the parent rows are gone.
                clauses.append(table.c[column].in_(coerce(table.c[column], subject.values(kind))))
            if (parent, pcol) in values:
                vals = values[(parent, pcol)]
                clauses.append(table.c[column].in_(vals) if vals else false())
                continue
            parent_clause = self.match(parent, subject, values)
            if parent_clause is not None:
                ptable = self.tables[parent]
                sub = select(ptable.c[pcol]).where(parent_clause, ptable.c[pcol].is_not(None))
                clauses.append(table.c[column].in_(sub))
        if not clauses:
            return None
        return or_(*clauses) if len(clauses) > 1 else clauses[0]

    def identity_mode(self, name: str, column: str) -> str:
        """Match mode of one identity column: its own ``match``, else its kind's default."""
        spec = self.coll(name).identities[column]
        return spec.match or self.kinds.mode(spec.kind)

    def identity_clause(
        self, name: str, column: str, values: tuple[str, ...]
    ) -> ColumnElement[bool] | None:
        """``normalised(col) IN (normalised values)`` for one identity column (None: no value).

        The values are normalised by the column's mode here too, so a value that reached the
        subject unnormalised (resolved from another store) still compares like for like.
        """
        col = self.tables[name].c[column]
        mode = self.identity_mode(name, column)
        if mode == "exact":
            vals = coerce(col, values)
            if not vals:
                return None
            if is_mysql(self.dialect) and isinstance(col.type, String):
                # The column's index finds candidates; the byte-wise test keeps exact equality
                # (a case- or accent-insensitive collation must not merge two people).
                return and_(col.in_(vals), normalized(col, "binary", self.dialect).in_(vals))
            return col.in_(vals)
        normal = sorted({v for v in (self.kinds.normalize_for(mode, x) for x in values) if v})
        if not normal:
            return None
        expr = normalized(col, mode, self.dialect, country_code=self.kinds.default_country_code)
        if mode == "casefold" and (name, column) in self.ci_columns:
            # No expression indexes on MariaDB: the column's case-insensitive collation lets its
            # plain index find every case variant by prefix (so a trailing CR or tab too), and
            # values with leading white space by their first character; the byte-wise test then
            # keeps exactly the rows whose casefold form is the value.
            prefixes = [col.like(escape_like(v) + "%", escape="!") for v in normal]
            padded = [col.like(escape_like(ch) + "%", escape="!") for ch in TRIMMED]
            return and_(or_(col.in_(normal), *prefixes, *padded), expr.in_(normal))
        return expr.in_(normal)

    def erase_order(self) -> list[str]:
        """Collections in the order erasure must touch them.

        The database's foreign keys come first: a collection that clears a link (deletes its
        rows, or rewrites the key) goes before the collection it points at. Then, where the
        keys leave a choice, the declared references: a child holding the foreign key before
        its parent (the parent's rows still match while the child is processed), a parent that
        holds it first. A reference the keys order the other way round is followed through
        values read up front instead (``value_edges``).
        """
        if self._order is not None:
            return self._order
        deps: dict[str, list[str]] = {name: [] for name in self.config.collections}
        for first, then in order_constraints(self):
            if first not in deps[then]:
                deps[then].append(first)
        cycle = find_cycle(deps)
        if cycle:
            raise PermanentAdapterError(
                f"store {self.store!r}: no erasure order satisfies the foreign keys "
                f"({' -> '.join(reversed(cycle))}): each must go before the next; null one "
                "link with an anonymize rule or a pointer rule"
            )
        for name, coll in self.config.collections.items():
            for _, parent, pcol in coll.referenced():
                first, then = (name, parent) if self.is_key_edge(parent, pcol) else (parent, name)
                if first in deps[then]:
                    continue
                deps[then].append(first)
                if find_cycle(deps):
                    deps[then].remove(first)  # the keys decide; values are read up front
        self._order = [name for level in topo_levels(deps) for name in level]
        return self._order

    def pointer_rules(self) -> list[tuple[str, str, PointerSpec]]:
        """``(holder collection, column, rule)`` for every pointer rule."""
        return [
            (name, col, rule)
            for name, coll in self.config.collections.items()
            for col, rule in coll.pointers.items()
        ]

    def pointing(
        self,
        holder: str,
        column: str,
        rule: PointerSpec,
        values: dict[Edge, list[Any]],
        holder_clause: ColumnElement[bool] | None,
    ) -> ColumnElement[bool]:
        """Rows of other people that point at the subject's rows through a pointer column.

        The pointed-at values are read up front (MariaDB cannot update a table while reading
        it in a subquery, as a self-reference would); the holder's own matches (the subject's
        rows) are left to the holder's erasure. ``coalesce`` keeps rows whose identity columns
        are NULL: ``NOT (NULL IN ...)`` would drop them.
        """
        col = self.tables[holder].c[column]
        vals = [v for v in values.get(rule.target(), []) if v is not None]
        clause: ColumnElement[bool] = col.in_(vals) if vals else false()
        if holder_clause is not None:
            mine = func.coalesce(holder_clause, false(), type_=Boolean)
            clause = and_(clause, not_(mine))
        return clause

    def unlink_statement(
        self, holder: str, column: str, rule: PointerSpec, clause: ColumnElement[bool]
    ) -> Update:
        """``UPDATE holder SET column = <set> WHERE <pointing>`` (``set`` is a bound parameter)."""
        return update(self.tables[holder]).where(clause).values({column: rule.set})

    def rewritten_fields(self, name: str) -> list[str]:
        """Fields whose new value depends on the old one or on chance (hmac, random).

        Their old values are read before the rewrite so the residual check can look for them.
        """
        spec = self.coll(name).erase
        return [f for f, rule in spec.fields.items() if isinstance(rule, HmacValue | RandomValue)]

    def erase_statement(
        self,
        name: str,
        clause: ColumnElement[bool],
        hashed: dict[str, dict[Any, str]] | None = None,
    ) -> Delete | Update | None:
        """The one set-based statement that erases a collection's matched rows (None: keep).

        Args:
            name: The collection.
            clause: Which rows.
            hashed: For each ``hmac`` field, old value -> keyed hash, applied with one ``CASE``
                (the values are bound parameters; the statement template never holds them).

        """
        spec, table = self.coll(name).erase, self.tables[name]
        if spec.strategy == "delete":
            return delete(table).where(clause)
        if spec.strategy != "anonymize":
            return None
        assignments: dict[str, Any] = {}
        for field, rule in spec.fields.items():
            col = table.c[field]
            if isinstance(rule, FixedValue):
                assignments[field] = rule.fixed
            elif isinstance(rule, RandomValue):
                assignments[field] = self.random_hex(rule.random.length)
            elif isinstance(rule, HmacValue):
                mapping = (hashed or {}).get(field) or {}
                assignments[field] = case(mapping, value=col, else_=col) if mapping else col
            else:
                assignments[field] = None
        return update(table).where(clause).values(assignments)

    def random_hex(self, length: int) -> ColumnElement[Any]:
        """A per-row random hex string generated by the database (dialect-specific)."""
        dialect = self.dialect
        rnd: ColumnElement[Any]
        if dialect == "postgresql":
            rnd = func.md5(cast(func.random(), String)).op("||")(
                func.md5(cast(func.clock_timestamp(), String) + cast(func.random(), String))
            )
        elif dialect in ("mysql", "mariadb"):
            rnd = func.sha2(func.concat(func.rand(), func.uuid()), 256)
        else:
            rnd = func.lower(func.hex(func.randomblob(32)))
        return func.substr(rnd, 1, length)

    def hex_of_length(self, col: ColumnElement[Any], length: int) -> ColumnElement[bool]:
        """Whether a value has the shape of a rewrite: ``length`` lower-case hex characters."""
        if self.dialect == "postgresql":
            return col.op("~", is_comparison=True)(f"^[0-9a-f]{{{length}}}$")
        if self.dialect in ("mysql", "mariadb"):
            return col.op("REGEXP", is_comparison=True)(f"^[0-9a-f]{{{length}}}$")
        return col.op("GLOB", is_comparison=True)("[0-9a-f]" * length)

    def residual(
        self,
        name: str,
        clause: ColumnElement[bool],
        originals: dict[str, list[Any]] | None = None,
    ) -> ColumnElement[bool]:
        """Rows of a collection that still hold the subject's data after erasure.

        ``originals`` are the old values of ``hmac``/``random`` fields read before the rewrite
        (inside the erasing transaction). Without them (``verify``, later) such a field counts
        while it does not have the shape of a rewrite (``length`` hex characters).
        """
        spec, table = self.coll(name).erase, self.tables[name]
        if spec.strategy != "anonymize":
            return clause
        leftovers = []
        for field, rule in spec.fields.items():
            col = table.c[field]
            if isinstance(rule, FixedValue):
                leftovers.append(and_(col.is_not(None), col != rule.fixed))
            elif isinstance(rule, HmacValue | RandomValue):
                old = (originals or {}).get(field)
                if old:
                    leftovers.append(col.in_(old))
                elif originals is None:
                    # Later (verify): whatever is not yet a rewrite of the configured shape.
                    length = rule.hmac.length if isinstance(rule, HmacValue) else rule.random.length
                    leftovers.append(and_(col.is_not(None), not_(self.hex_of_length(col, length))))
            else:
                leftovers.append(col.is_not(None))
        if not leftovers:
            return false()
        return and_(clause, or_(*leftovers))


def coerce(column: Any, values: tuple[str, ...]) -> list[Any]:
    """Identity values arrive as strings; bind them as the column's Python type.

    Values that cannot be of that type (``"abc"`` for an integer column) cannot match and are
    dropped rather than sent to the database as a type error.
    """
    try:
        py_type = column.type.python_type
    except NotImplementedError:
        return list(values)
    if py_type is int:
        return [int(v) for v in values if v.lstrip("-").isdigit()]
    if py_type is str:
        return list(values)
    return list(values)

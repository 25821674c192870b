"""The store-level dry run: real access, erasure and sweep in one transaction, rolled back.

``dsrflow stores test STORE --subject email=... [--erase]`` is how an engineer learns, before a
real request, what her catalog finds and misses: the same statements a request would run, on one
connection, inside one transaction that always ends in ROLLBACK. The report holds counts,
locations and statement templates, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dsrflow.adapters.sdk import AdapterError, Subject, SweepBudget
from dsrflow.adapters.sdk.receipts import CollectionCount
from dsrflow.adapters.sdk.sweeps import SweepReport
from dsrflow.adapters.sql.engine import map_error
from dsrflow.adapters.sql.erase import Eraser
from dsrflow.adapters.sql.fk import fk_problems, shared_rows, widening_edges, widening_references

if TYPE_CHECKING:
    from dsrflow.adapters.sql.adapter import SqlAdapter
    from dsrflow.adapters.sql.plan import SqlPlan


@dataclass
class DryRunReport:
    """What a request would do in one store (counts and shapes only).

    Attributes:
        store: The store.
        resolved: Identity kinds the store resolved, with how many values (never the values).
        access: ``(collection, rows)`` the access would return.
        erase: Per-collection counts of the erasure (None without ``--erase``).
        refused: Why the erasure stopped (a foreign key, a driver error), if it did.
        fk_problems: Uncovered foreign keys, one line each, naming the constraint.
        warnings: References that widen matching.
        shared: For this subject, rows a widening reference makes hers that other people's
            rows point at too (erasing her would take them from those people).
        sweep: The residual sweep's report, when the sweep ran.
        sweep_note: Why there is no sweep report.
        statements: The statement templates that ran (placeholders, no values).

    """

    store: str
    resolved: list[str] = field(default_factory=list)
    access: list[tuple[str, int]] = field(default_factory=list)
    erase: list[CollectionCount] | None = None
    refused: str | None = None
    fk_problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    sweep: SweepReport | None = None
    sweep_note: str | None = None
    statements: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No foreign-key problem, no refusal, no sweep hit."""
        hits = self.sweep.hit_count if self.sweep else 0
        return not (self.fk_problems or self.refused or hits)


def dry_run(
    adapter: SqlAdapter, subject: Subject, *, erase: bool, budget: SweepBudget | None = None
) -> DryRunReport:
    """Resolve, access, (erase,) sweep on one connection; roll everything back.

    Raises:
        AdapterError: The store cannot be reached or its schema does not match the catalog.

    """
    plan = adapter.plan()
    report = DryRunReport(adapter.store)
    report.fk_problems = [f"{p.fk.label}: {p.detail()}" for p in fk_problems(plan)]
    report.warnings = [f"{name}: {detail}" for name, detail in widening_references(plan)]
    try:
        with adapter.engine.connect() as conn, conn.begin() as tx:
            try:
                subject = _resolved(adapter, conn, plan, subject, report)
                _access(adapter, conn, plan, subject, report)
                for edge in widening_edges(plan):
                    n = shared_rows(conn, plan, subject, edge)
                    if n:
                        name, col, parent, _ = edge
                        report.shared.append(
                            f"reference {name}.{col}: {n} {name} "
                            f"{'row' if n == 1 else 'rows'} of the subject's also pointed at "
                            f"by other people's {parent} rows"
                        )
                if erase:
                    _erase(adapter, conn, plan, subject, report)
                _sweep(adapter, conn, plan, subject, report, erase, budget or SweepBudget())
            finally:
                tx.rollback()
    except AdapterError:
        raise
    except Exception as exc:
        raise map_error(adapter.store, exc, "running the dry run") from None
    return report


def _resolved(
    adapter: SqlAdapter, conn: Connection, plan: SqlPlan, subject: Subject, report: DryRunReport
) -> Subject:
    """The subject plus what this store resolves (as an identity-source store would)."""
    found = adapter.resolve_on(conn, plan, subject)
    kinds: dict[str, int] = {}
    for ident in found:
        kinds[ident.kind] = kinds.get(ident.kind, 0) + 1
    report.resolved = [f"{k} ({n} {'value' if n == 1 else 'values'})" for k, n in kinds.items()]
    merged = {k: set(v) for k, v in subject.identities.items()}
    for ident in found:
        merged.setdefault(ident.kind, set()).add(ident.value)
    identities = {k: tuple(sorted(v)) for k, v in sorted(merged.items())}
    return Subject(identities, subject.request_id)


def _access(
    adapter: SqlAdapter, conn: Connection, plan: SqlPlan, subject: Subject, report: DryRunReport
) -> None:
    counts: dict[str, int] = {name: 0 for name in adapter.config.collections}
    for record in adapter.access_rows(conn, plan, subject):
        counts[record.collection] += 1  # counted, never kept
    for name in adapter.config.collections:
        clause = plan.match(name, subject)
        if clause is None:
            continue
        report.access.append((name, counts[name]))
        stmt = select(plan.tables[name]).where(clause)
        report.statements.append(str(stmt.compile(dialect=conn.dialect)))


def _erase(
    adapter: SqlAdapter, conn: Connection, plan: SqlPlan, subject: Subject, report: DryRunReport
) -> None:
    """The real erasure; a failure rolls back to a savepoint so the sweep still runs."""
    keys = adapter.hmac_keys()
    eraser = Eraser(plan, keys, adapter.config.batch_size)
    savepoint = _savepoint(conn)
    try:
        run = eraser.run(conn, subject, None)
    except Exception as exc:
        if savepoint is not None:
            savepoint.rollback()
        report.refused = str(map_error(adapter.store, exc, "erasing"))
        return
    if savepoint is not None:
        savepoint.commit()  # releases the savepoint only: the outer transaction rolls back
    report.erase = run.counts
    report.statements += run.templates


def _sweep(
    adapter: SqlAdapter,
    conn: Connection,
    plan: SqlPlan,
    subject: Subject,
    report: DryRunReport,
    erase: bool,
    budget: SweepBudget,
) -> None:
    try:
        # Written in parallel by the sweep's owner; this build may not have it yet.
        from dsrflow.adapters.sql.sweep import sweep_connection
    except ImportError:
        report.sweep_note = "sweep: not available in this build"
        return
    savepoint = _savepoint(conn)
    try:
        report.sweep = sweep_connection(
            conn,
            store=adapter.store,
            plan=plan,
            schema=adapter.config.connection.schema_,
            subject=subject,
            budget=budget,
            after="erasure" if erase else "access",
        )
    except Exception as exc:
        if savepoint is not None:
            savepoint.rollback()
        report.sweep_note = f"sweep failed: {map_error(adapter.store, exc, 'sweeping')}"
        return
    if savepoint is not None:
        savepoint.commit()


def _savepoint(conn: Connection) -> Any:
    """A savepoint, so a failed step leaves the transaction usable (None on SQLite).

    The SQLite driver opens its transaction lazily, at the first write; a SAVEPOINT issued
    before that starts one of its own, and releasing it would COMMIT. SQLite undoes a failed
    statement by itself and keeps the transaction, so it needs none.
    """
    return None if conn.dialect.name == "sqlite" else conn.begin_nested()

"""Following a request: ``request watch``, ``submit --wait`` and the dry-run report.

``watch`` returns when the request has ended (exit 0), when it needs a person (exit
``NEEDS_PERSON_EXIT``, with one line saying what), or when its workflow closed without reaching
an end state (exit ``CLOSED_EXIT``). Only counts, names and statuses are printed, never a value.
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dsrflow.cli.common import is_tty, out

if TYPE_CHECKING:
    from dsrflow.domain import StatusView, StoreOutcome
    from dsrflow.requests_client import RequestClient

NEEDS_PERSON_EXIT = 3
"""``request watch`` / ``submit --wait``: the request waits for a person (or a dry run found a
problem a real run would stop at)."""
CLOSED_EXIT = 4
"""``request watch``: the workflow closed (terminated, timed out) without an end state."""
DRY_RUN_TASK = "dry run: a person's task"  # the note a dry run leaves on a manual store
POLL_S = 0.25
CLOSED_CHECK_EVERY = 8  # polls between asking Temporal whether the workflow closed

_WAITING_STORES = ("failed_needs_attention", "incomplete", "waiting_for_human")
_GATES = {
    "awaiting_verification": "identity verification (request verify-identity {id} --method M)",
    "awaiting_approval": "approval (request approve {id} | request deny {id} --ground G)",
    "on_hold": "release of its legal hold (request release {id})",
}


def is_dry_run(view: StatusView) -> bool:
    """Whether the request is a dry run (recorded in its history when it starts)."""
    return any(a.action == "dry_run" for a in view.actions)


def needs_person(view: StatusView) -> str | None:
    """One line saying what the request waits for a person to do, or None."""
    if view.status.terminal or is_dry_run(view):
        return None
    stuck = [o for o in view.stores if str(o.status) in _WAITING_STORES]
    if stuck:
        which = ", ".join(f"{o.store} {o.status}" for o in stuck)
        return (
            f"request {view.request_id} needs a person: {which}; see `dsrflow request show "
            f"{view.request_id}` (retry-store, skip-store, exempt-store, complete-task)"
        )
    gate = _GATES.get(str(view.status))
    if gate:
        return f"request {view.request_id} needs a person: " + gate.format(id=view.request_id)
    return None


async def watch(rc: RequestClient, request_id: str) -> StatusView:
    """Follow a request until it ends; exit early when it needs a person or its workflow closed.

    Raises:
        typer.Exit: ``NEEDS_PERSON_EXIT`` or ``CLOSED_EXIT`` (after saying why in one line).
    """
    from rich.live import Live

    seen: dict[str, str] = {}
    view = await rc.status(request_id)
    polls = 0
    with ExitStack() as stack:
        live = (
            stack.enter_context(Live(status_table(view), refresh_per_second=4, console=out))
            if is_tty()
            else None
        )
        while True:
            if live is not None:
                live.update(status_table(view))
            else:
                _print_changes(view, seen)
            if view.status.terminal:
                break
            # A closed workflow first: nobody can move it on, whatever its last state says.
            if polls % CLOSED_CHECK_EVERY == 0:
                closed = await rc.closed_as(request_id)
                if closed is not None:
                    stack.close()
                    out.print(
                        f"request {request_id}: its workflow was {closed} while the request "
                        f"was {view.status}; it will not move on by itself",
                        markup=False,
                    )
                    raise typer.Exit(CLOSED_EXIT)
            polls += 1
            waiting = needs_person(view)
            if waiting is not None:
                stack.close()
                out.print(waiting, soft_wrap=True, markup=False)
                raise typer.Exit(NEEDS_PERSON_EXIT)
            await asyncio.sleep(POLL_S)
            view = await rc.status(request_id)
    out.print(
        f"request {escape(view.request_id)}: [bold]{view.status}[/]"
        + (f" ({escape(view.reason)})" if view.reason else ""),
        soft_wrap=True,
    )
    return view


def _print_changes(view: StatusView, seen: dict[str, str]) -> None:
    lines = [("request", f"  request      {view.status}")]
    for o in view.stores:
        lines.append((o.store, f"  {o.store:<12} {o.status:<22} {details(o)}"))
        lines += [(f"{o.store}/w{i}", f"    warning: {w}") for i, w in enumerate(o.warnings)]
    for key, line in lines:
        if seen.get(key) != line:
            seen[key] = line
            out.print(line, soft_wrap=True, markup=False)


def details(o: StoreOutcome) -> str:
    """Counts, checks and problems of one store, on one line (no values)."""
    receipt, check = o.receipt, o.verification
    parts = []
    if receipt is not None:
        parts.append(f"matched={receipt.matched}")
        if receipt.action != "access":
            parts.append(f"affected={receipt.affected}")
        if receipt.recovered:
            parts.append("recovered")
    if check is not None:
        parts.append(f"residual={check.residual}")
    if o.sweep is not None:
        parts.append(f"sweep_hits={o.sweep.hit_count}")
        if o.sweep.not_swept:
            parts.append(f"not_swept={len(o.sweep.not_swept)}")
    if o.exemption is not None:
        until = f" until {o.exemption.until}" if o.exemption.until else ""
        parts.append(f"exempt={o.exemption.ground}{until}")
    if o.note:
        parts.append(f"note={o.note}")
    if o.error:
        parts.append(f"error={o.error_type}: {o.error}")
    return " ".join(parts)


def status_table(view: StatusView) -> Table:
    """Rich table of a request's stores."""
    due = f"due {view.due_at:%Y-%m-%d}" if view.due_at else ""
    flags = " OVERDUE" if view.overdue else ""
    title = f"{view.request_id} ({view.request_type}) - {view.status} {due}{flags}"
    table = Table(title=Text(title))
    for col in ("store", "adapter", "status", "attempts", "details"):
        table.add_column(col)
    for o in view.stores:
        text = details(o) + "".join(f"\nwarning: {w}" for w in o.warnings)
        table.add_row(Text(o.store), Text(o.adapter), str(o.status), str(o.attempts), Text(text))
    return table


def dry_run_report(view: StatusView) -> bool:
    """Print what a real run would do, store by store; True if it would need a person."""
    say = functools.partial(out.print, soft_wrap=True, markup=False)
    say(f"dry run of {view.request_type} request {view.request_id}: nothing was changed")
    problems = False
    for o in view.stores:
        status = str(o.status)
        # A manual store's task would open in a real run: that needs a person too.
        problems |= status in _WAITING_STORES or (o.note or "").startswith(DRY_RUN_TASK)
        say(f"  {o.store:<12} {status:<22} {details(o)}")
        for c in o.receipt.collections if o.receipt is not None else []:
            residual = f", residual {c.residual}" if c.residual is not None else ""
            say(
                f"    {c.collection}: {c.action} matched {c.matched}, "
                f"would change {c.affected}{residual}"
            )
        for h in o.sweep.hits if o.sweep is not None else []:
            say(f"    sweep hit: {h.location} ({h.count}, {h.kind}, {h.mode})")
        for miss in o.sweep.not_swept if o.sweep is not None else []:
            say(f"    not swept: {miss}")
        for w in o.warnings:
            say(f"    warning: {w}")
    verdict = "a real run would need a person" if problems else "a real run would need nobody"
    say(f"dry run {view.request_id}: {verdict}")
    return problems

"""``dsrflow purge``: crypto-shred requests whose retention period has passed."""

from __future__ import annotations

from typing import Annotated

import typer

from dsrflow.cli.common import out, state


def purge(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option(help="List what would be purged; change nothing.")
    ] = False,
    older_than: Annotated[
        int | None,
        typer.Option(help="Days since the request ended (default: DSRFLOW_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Destroy the data keys of requests that ended long enough ago (run it daily, e.g. from cron).

    Destroying a request's key crypto-shreds Temporal's copy of the request (every payload in its
    history) and its encrypted artifacts (access package, subject opening), which are deleted too.
    Evidence bundles hold no personal data and stay. Access packages past their delivery window
    (DSRFLOW_DELIVERY_WINDOW_DAYS) are deleted too, even when their request is kept longer.
    """
    from dsrflow.service.results import Purge

    st = state(ctx)
    use_case = Purge(st.runtime())
    principal = st.principal()
    _, cutoff = use_case.cutoff(older_than)
    done = use_case.run(principal, older_than=older_than, dry_run=dry_run)
    if not done:
        out.print(f"nothing to purge (no request ended before {cutoff:%Y-%m-%d %H:%M}Z)")
        return
    for p in done:
        ended = f"{p.completed_at:%Y-%m-%d}" if p.completed_at else "?"
        if p.key_id is None and p.status.startswith("package"):
            out.print(f"deleted the access package of {p.request_id} ({p.status})", markup=False)
        elif dry_run:
            out.print(f"would purge {p.request_id} ({p.status}, ended {ended})", markup=False)
        else:
            out.print(
                f"purged {p.request_id}: key {p.key_id or '(none)'} destroyed, "
                f"{len(p.files)} file(s) deleted",
                markup=False,
            )

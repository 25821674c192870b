"""``dsrflow purge``: crypto-shred requests whose retention period has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    Evidence bundles hold no personal data and stay.
    """
    st = state(ctx)
    rt = st.runtime()
    days = rt.settings.retention_days if older_than is None else older_than
    cutoff = datetime.now(UTC) - timedelta(days=days)
    rows = rt.ledger.purgeable(cutoff)
    if not rows:
        out.print(f"nothing to purge (no request ended before {cutoff:%Y-%m-%d %H:%M}Z)")
        return
    for row in rows:
        if dry_run:
            out.print(f"would purge {row.id} ({row.status}, ended {row.completed_at:%Y-%m-%d})")
            continue
        key_id = rt.keystore.destroy(row.id)
        removed = rt.artifacts.purge(row.id)
        # The subject's blind index (keyed hashes) links requests only while they may overlap.
        tokens = rt.journal.forget_subject(row.id)
        rt.ledger.mark_purged(row.id)
        rt.ledger.audit(
            st.who(), "purge", row.id, key_id=key_id, files=removed, retention_days=days,
            blind_index_tokens=tokens,
        )  # fmt: skip
        out.print(
            f"purged {row.id}: key {key_id or '(none)'} destroyed, {len(removed)} file(s) deleted"
        )

"""``dsrflow audit``: verify the hash-chained audit log, anchor it, export it for a DPO."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A log checkpoint kept outside dsrflow: check the log still has it."),
    ] = None,
) -> None:
    """Check every entry's hash and link, and the anchors in the transparency log.

    Exits 1 naming the first edited, deleted, reordered or cut-off entry.
    """
    from rich.markup import escape

    from dsrflow.service.auditlog import VerifyAudit

    note = None
    if checkpoint is not None:
        try:
            note = checkpoint.read_text(errors="replace")
        except OSError as exc:
            raise UserError(f"{checkpoint}: cannot read ({exc.strerror})") from None
    st = state(ctx)
    verdict = VerifyAudit(st.runtime()).run(st.principal(), checkpoint_note=note)
    if not verdict.ok:
        raise UserError(f"audit log BROKEN: {verdict.problem}", exit_code=1)
    tail = verdict.head_seq - verdict.anchored_seq
    lines = [
        f"audit log OK: {verdict.entries} entries chained; "
        f"{verdict.anchors} anchor(s) in the transparency log, up to entry {verdict.anchored_seq}",
    ]
    if tail:
        lines.append(f"{tail} entr{'y' if tail == 1 else 'ies'} after the last anchor rest on "
                     "the chain alone until the next anchor")  # fmt: skip
    if verdict.checkpoint_size is not None:
        lines.append(f"the log matches the checkpoint at size {verdict.checkpoint_size}")
    for line in lines:
        out.print(escape(line))


@audit_app.command("anchor")
def anchor(ctx: typer.Context) -> None:
    """Write the chain's head into the transparency log now (the worker does it on a schedule)."""
    from dsrflow.service.auditlog import AnchorAudit

    st = state(ctx)
    seq, index = AnchorAudit(st.runtime()).run(st.principal())
    if index is None:
        out.print(f"nothing new to anchor (head: entry {seq})")
    else:
        out.print(f"anchored entry {seq} at log index {index}")


@audit_app.command("export")
def export(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only entries on or after this day, YYYY-MM-DD (UTC).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Export the audit log with each entry's hashes (JSON Lines or CSV); the export is audited."""
    from datetime import UTC, datetime

    from dsrflow.service import checks
    from dsrflow.service.auditlog import ExportAudit

    day = checks.day(since, "--since")
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
    checks.one_of(fmt, ("jsonl", "csv"), "--format")
    st = state(ctx)
    pieces = ExportAudit(st.runtime()).run(st.principal(), since=start, fmt=fmt)
    if out_file is None:
        for piece in pieces:
            sys.stdout.write(piece)
        return
    tmp = out_file.with_name(out_file.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for piece in pieces:
                fh.write(piece)
        tmp.replace(out_file)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{out_file}: cannot write ({exc.strerror})") from None
    out.print(f"wrote {out_file}")

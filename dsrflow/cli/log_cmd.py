"""``dsrflow log``: the controller's transparency log of evidence envelopes.

``checkpoint`` and ``prove-consistency`` run on the controller's side (they read the ledger);
``verify-consistency`` is the auditor's offline check and imports only the verifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dsrflow.cli.common import state
from dsrflow.cli.verify_cmd import (
    JsonOpt,
    KeyringOpt,
    MinVersionOpt,
    OutOpt,
    RootOpt,
    StateOpt,
    TofuOpt,
    emit,
    expect_for,
    print_report,
    read_file,
)
from dsrflow.errors import UserError

log_app = typer.Typer(help="The transparency log of evidence bundles.", no_args_is_help=True)


@log_app.command("checkpoint")
def log_checkpoint(ctx: typer.Context, out_file: OutOpt = None) -> None:
    """Print a checkpoint of the log as it is now (C2SP signed note); auditors keep these."""
    tlog, keys = _log(ctx)
    ring = keys.keyring()
    emit(tlog.checkpoint(keys.signer("log"), ring.log_origin), out_file, "checkpoint")


def _log(ctx: typer.Context) -> tuple[Any, Any]:
    """The transparency log and key manager, for an authorised caller."""
    from dsrflow.service.operations import TransparencyLog

    st = state(ctx)
    return TransparencyLog(st.runtime()).open(st.principal())


def _size_of(ctx: typer.Context, arg: str, which: str) -> tuple[int, str]:
    """A size and its checkpoint: from a checkpoint file (checked against the log) or a number."""
    from dsrflow.tlog import checkpoint

    tlog, keys = _log(ctx)
    ring = keys.keyring()
    if arg.isdigit():
        size = int(arg)
        if size > tlog.size():
            raise UserError(f"{which}: size {size} is beyond the log ({tlog.size()} entries)")
        cp = checkpoint.Checkpoint(ring.log_origin, size, tlog.root(size))
        return size, checkpoint.sign(cp, keys.signer("log"))
    note = read_file(Path(arg), "checkpoint").decode(errors="replace")
    try:
        cp = checkpoint.open_note(note, ring.log_origin, ring.log_keys())
    except checkpoint.CheckpointError as exc:
        raise UserError(f"{arg}: {exc}") from None
    if cp.size > tlog.size() or tlog.root(cp.size) != cp.root:
        raise UserError(
            f"{arg}: the log at size {cp.size} does not have this root: the log was rewritten"
        )
    return cp.size, note


@log_app.command("prove-consistency")
def prove_consistency(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="Old checkpoint file, or a tree size.")],
    new: Annotated[str, typer.Argument(help="New checkpoint file, or a tree size.")],
    out_file: OutOpt = None,
) -> None:
    """Prove the log only grew from OLD to NEW (an RFC 9162 consistency proof, as JSON)."""
    from dsrflow.evidence.format import canonical

    tlog, keys = _log(ctx)
    (m, old_note), (n, new_note) = _size_of(ctx, old, "OLD"), _size_of(ctx, new, "NEW")
    if m > n:
        raise UserError(f"OLD (size {m}) is larger than NEW (size {n})")
    doc = {
        "origin": keys.keyring().log_origin,
        "old": {"size": m, "checkpoint": old_note},
        "new": {"size": n, "checkpoint": new_note},
        "proof": [h.hex() for h in tlog.consistency(m, n)],
    }
    emit(canonical(doc).decode() + ("" if out_file else "\n"), out_file, "consistency proof")


@log_app.command("verify-consistency")
def verify_consistency(
    proof: Annotated[Path, typer.Argument(help="Proof from `log prove-consistency`.")],
    keyring: KeyringOpt,
    kept: Annotated[
        Path | None, typer.Option("--old", help="The checkpoint you kept; must be the proof's.")
    ] = None,
    root_keyid: RootOpt = None,
    min_keyring_version: MinVersionOpt = 0,
    state_file: StateOpt = None,
    trust_on_first_use: TofuOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Offline: check that the log was only appended to between two signed checkpoints."""
    from dsrflow.verify.consistency import verify_consistency as check

    expect = expect_for(
        keyring, root_keyid, min_keyring_version, state_file, trust_on_first_use=trust_on_first_use
    )
    kept_note = read_file(kept, "checkpoint").decode(errors="replace") if kept else None
    report = check(read_file(proof, "consistency proof"), expect, kept_note)
    print_report(report, str(proof), as_json)

"""``dsrflow verify`` and ``dsrflow keys``: offline, light imports only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError

keys_app = typer.Typer(help="The controller's evidence signing keys.", no_args_is_help=True)


def verify(
    bundle: Annotated[Path, typer.Argument(help="Evidence bundle (.zip).")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="Controller's Ed25519 public key (PEM).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Verify an evidence bundle offline; exit 0 only if every check passes."""
    from dsrflow.verify import verify_bundle

    if not bundle.is_file():
        raise UserError(f"{bundle}: no such bundle file")
    try:
        pem = public_key.read_bytes()
    except OSError as exc:
        raise UserError(f"{public_key}: cannot read public key ({exc.strerror})") from None
    report = verify_bundle(bundle, pem)
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        for line in report.passed:
            out.print(f"[green]PASS[/] {line}")
        if report.ok:
            out.print(f"[bold green]VERIFIED[/] {bundle} (request {report.request_id})")
            out.print("This bundle cannot prove: " + "; ".join(report.limits) + ".")
        else:
            out.print(f"[bold red]FAIL[/] {report.failure}")
            out.print(f"[bold red]NOT VERIFIED[/] {bundle}")
    if not report.ok:
        raise typer.Exit(1)


@keys_app.command("export-public")
def export_public(
    ctx: typer.Context,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write PEM here.")] = None,
) -> None:
    """Print (or write) the controller's public signing key, creating the key on first use."""
    signer = state(ctx).runtime().signer()
    pem = signer.public_pem()
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_bytes(pem)
        out.print(f"wrote {out_file} ({signer.key_id})")
    else:
        out.print(pem.decode().rstrip(), markup=False)
